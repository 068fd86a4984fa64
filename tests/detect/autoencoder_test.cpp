#include "detect/autoencoder.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

namespace fathom::detect {
namespace {

// Points on a 2-dimensional manifold embedded in `d` dimensions (smooth functions of two
// latent values), plus a little noise: a 16 → 8 → 4 → 8 → 16 net can learn it.
template <typename Matrix>
Matrix manifold(size_t d, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Matrix x(static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(n));
  for (size_t j = 0; j < n; ++j) {
    const double u = 2 * uniform01(rng) - 1, v = 2 * uniform01(rng) - 1;
    for (size_t i = 0; i < d; ++i) {
      const double k = static_cast<double>(i + 1);
      x(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) =
          std::sin(k * 0.4 * u) + std::cos(k * 0.3 * v) * 0.5 + 0.01 * (uniform01(rng) - 0.5);
    }
  }
  return x;
}

template <Activation kAct>
void check_gradient() {
  using Net = BasicAutoencoder<double>;
  AutoencoderShape shape{6, {5, 3}, kAct};
  Net net(shape, 7);
  const Net::Matrix x = manifold<Net::Matrix>(6, 9, 3);
  Net::Workspace ws;
  std::vector<Net::Layer> grad;
  net.loss_and_gradient(x, grad, ws);
  double worst = 0;
  const double h = 1e-6;
  for (size_t l = 0; l < net.layers().size(); ++l) {
    auto probe = [&](double& p, double analytic) {
      const double keep = p;
      p = keep + h;
      std::vector<Net::Layer> unused;
      const double up = net.loss_and_gradient(x, unused, ws);
      p = keep - h;
      const double down = net.loss_and_gradient(x, unused, ws);
      p = keep;
      const double numeric = (up - down) / (2 * h);
      const double rel =
          std::abs(numeric - analytic) / std::max(1e-8, std::abs(numeric) + std::abs(analytic));
      worst = std::max(worst, rel);
    };
    auto& layer = net.layers()[l];
    for (Eigen::Index i = 0; i < layer.w.size(); ++i) probe(layer.w.data()[i], grad[l].w.data()[i]);
    for (Eigen::Index i = 0; i < layer.b.size(); ++i) probe(layer.b.data()[i], grad[l].b.data()[i]);
  }
  EXPECT_LT(worst, 1e-5);
}

TEST(Autoencoder, GradientMatchesFiniteDifferencesTanh) {
  check_gradient<Activation::kTanh>();
}
TEST(Autoencoder, GradientMatchesFiniteDifferencesElu) {
  check_gradient<Activation::kElu>();
}

TEST(Autoencoder, DefaultShapeIsSixteenEightFourEightSixteen) {
  Autoencoder net(AutoencoderShape{}, 1);
  ASSERT_EQ(net.layers().size(), 4u);
  EXPECT_EQ(net.layers()[0].w.rows(), 8);
  EXPECT_EQ(net.layers()[0].w.cols(), 16);
  EXPECT_EQ(net.layers()[1].w.rows(), 4);
  EXPECT_EQ(net.layers()[2].w.rows(), 8);
  EXPECT_EQ(net.layers()[3].w.rows(), 16);
}

TEST(Autoencoder, TrainingReducesLossOnAManifold) {
  Autoencoder net(AutoencoderShape{}, 11, AdamConfig{.learning_rate = 3e-3});
  const Autoencoder::Matrix x = manifold<Autoencoder::Matrix>(16, 2000, 5);
  Autoencoder::Workspace ws;
  Autoencoder::Matrix e;
  net.squared_errors(x, e, ws);
  const double before = e.mean();
  std::mt19937_64 rng(1);
  const double last_epoch = net.fit(x, TrainOptions{.epochs = 40, .batch_size = 32}, rng);
  net.squared_errors(x, e, ws);
  const double after = e.mean();
  EXPECT_LT(after, before / 10) << "before " << before << " after " << after;
  EXPECT_NEAR(last_epoch, after, after);  // the epoch's running mean is close to the final
  // Off the manifold the error stays large: what an anomaly looks like.
  Autoencoder::Matrix off = Autoencoder::Matrix::Constant(16, 1, 3.0f);
  net.squared_errors(off, e, ws);
  EXPECT_GT(e.mean(), 20 * after);
}

TEST(Autoencoder, SameSeedSameBytes) {
  const Autoencoder::Matrix x = manifold<Autoencoder::Matrix>(16, 300, 5);
  auto train = [&] {
    Model m = make_model(AutoencoderShape{}, 42);
    std::mt19937_64 rng(9);
    m.net.fit(x, TrainOptions{.epochs = 3, .batch_size = 16}, rng);
    return save_model(m);
  };
  const auto a = train();
  const auto b = train();
  EXPECT_EQ(a, b);
  // A different seed gives a different model.
  Model other = make_model(AutoencoderShape{}, 43);
  EXPECT_NE(save_model(other), save_model(make_model(AutoencoderShape{}, 42)));
}

TEST(Autoencoder, UniformBelowIsInRangeAndReproducible) {
  std::mt19937_64 a(3), b(3);
  for (int i = 0; i < 1000; ++i) {
    const uint64_t n = 1 + static_cast<uint64_t>(i);
    const uint64_t va = uniform_below(a, n);
    EXPECT_LT(va, n);
    EXPECT_EQ(va, uniform_below(b, n));
  }
}

class ModelFile : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = make_model(AutoencoderShape{}, 5);
    std::mt19937_64 rng(2);
    std::vector<float> raw(16);
    for (int i = 0; i < 200; ++i) {
      for (float& v : raw) v = static_cast<float>(100 * uniform01(rng));
      model_.scaler.observe(raw);
    }
    const Autoencoder::Matrix x = manifold<Autoencoder::Matrix>(16, 200, 5);
    model_.net.fit(x, TrainOptions{.epochs = 2}, rng);
    bytes_ = save_model(model_);
  }
  Model model_;
  std::vector<std::byte> bytes_;
};

TEST_F(ModelFile, RoundTripIsBitExact) {
  Model loaded;
  std::string error;
  ASSERT_TRUE(load_model(bytes_, loaded, error)) << error;
  EXPECT_EQ(save_model(loaded), bytes_);
  const Autoencoder::Matrix x = manifold<Autoencoder::Matrix>(16, 50, 8);
  Autoencoder::Workspace wa, wb;
  const Autoencoder::Matrix ya = model_.net.forward(x, wa);
  const Autoencoder::Matrix yb = loaded.net.forward(x, wb);
  EXPECT_EQ(ya, yb);
  EXPECT_EQ(loaded.feature_group, default_feature_groups());
  std::vector<float> raw(16, 7.0f), sa(16), sb(16);
  model_.scaler.transform(raw, sa);
  loaded.scaler.transform(raw, sb);
  EXPECT_EQ(sa, sb);
  // Training continues identically after a load (the optimiser state travelled).
  std::mt19937_64 r1(4), r2(4);
  model_.net.fit(x, TrainOptions{.epochs = 1}, r1);
  loaded.net.fit(x, TrainOptions{.epochs = 1}, r2);
  EXPECT_EQ(save_model(model_), save_model(loaded));
}

TEST_F(ModelFile, RejectsEveryTruncation) {
  std::string error;
  for (size_t len = 0; len < bytes_.size(); ++len) {
    Model out;
    EXPECT_FALSE(load_model(std::span(bytes_).first(len), out, error)) << len;
    EXPECT_FALSE(error.empty());
  }
}

TEST_F(ModelFile, RejectsCorruptionAndTrailingBytes) {
  std::string error;
  for (size_t pos = 0; pos < bytes_.size(); pos += 7) {
    auto bad = bytes_;
    bad[pos] ^= std::byte{0x40};
    Model out;
    EXPECT_FALSE(load_model(bad, out, error)) << pos;
  }
  auto longer = bytes_;
  longer.push_back(std::byte{0});
  Model out;
  EXPECT_FALSE(load_model(longer, out, error));
}

// A file whose checksum is right but whose content lies (a forged shape): the parser must
// reject it from the sizes, not allocate or read past the end.
TEST_F(ModelFile, RejectsForgedShapeWithValidChecksum) {
  std::vector<std::byte> body(bytes_.begin(), bytes_.end() - 8);
  // The network's layer count follows magic (8), version (4) and the scaler (3 f64, u32,
  // u64, 16 × 17 bytes); scalar size and activation are 2 bytes before it.
  const size_t count_at = 8 + 4 + 24 + 4 + 8 + 16 * 17 + 2;
  for (const uint8_t forged : {uint8_t{0}, uint8_t{15}, uint8_t{200}}) {
    auto b = body;
    b[count_at] = std::byte{forged};
    detail::ByteWriter w;
    w.bytes(b);
    w.checksum();
    Model out;
    std::string error;
    EXPECT_FALSE(load_model(w.data(), out, error));
  }
  // Version from the future.
  auto b = body;
  b[8] = std::byte{2};
  detail::ByteWriter w;
  w.bytes(b);
  w.checksum();
  Model out;
  std::string error;
  EXPECT_FALSE(load_model(w.data(), out, error));
  EXPECT_NE(error.find("version"), std::string::npos) << error;
}

// A small in-test fuzz: random mutations with the checksum recomputed, so the parser behind
// the checksum sees them. Loading must fail cleanly or succeed with a usable model.
TEST_F(ModelFile, SurvivesMutationsBehindAValidChecksum) {
  std::mt19937_64 rng(17);
  const std::vector<std::byte> body(bytes_.begin(), bytes_.end() - 8);
  size_t loaded = 0;
  for (int round = 0; round < 3000; ++round) {
    auto b = body;
    const int edits = 1 + static_cast<int>(uniform_below(rng, 4));
    for (int k = 0; k < edits; ++k) {
      const size_t pos = uniform_below(rng, b.size());
      switch (uniform_below(rng, 4)) {
        case 0: b[pos] = static_cast<std::byte>(rng()); break;
        case 1: b.resize(pos); break;
        case 2:
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos), static_cast<std::byte>(rng()));
          break;
        default: b[pos] = std::byte{0xff}; break;
      }
      if (b.empty()) b.push_back(std::byte{0});
    }
    detail::ByteWriter w;
    w.bytes(b);
    w.checksum();
    Model out;
    std::string error;
    if (load_model(w.data(), out, error)) {
      ++loaded;
      Autoencoder::Matrix x = Autoencoder::Matrix::Zero(out.net.inputs(), 2), e;
      Autoencoder::Workspace ws;
      out.net.squared_errors(x, e, ws);
    } else {
      EXPECT_FALSE(error.empty());
    }
  }
  // Most mutations break something the parser checks; a flipped weight byte may not.
  EXPECT_LT(loaded, 3000u);
}

TEST(FeatureGroups, DefaultGroupsCoverEveryFeature) {
  const auto g = default_feature_groups();
  ASSERT_EQ(g.size(), analyze::kFeatureCount);
  Model m = make_model(AutoencoderShape{}, 1);
  EXPECT_EQ(m.group_count(), kFeatureGroupCount);
  Autoencoder::Matrix e = Autoencoder::Matrix::Ones(16, 3), gl;
  group_losses(m, e, gl);
  EXPECT_EQ(gl.rows(), 4);
  EXPECT_TRUE((gl.array() - 1.0f).abs().maxCoeff() < 1e-6f);
}

}  // namespace
}  // namespace fathom::detect
