#include "detect/loss_normaliser.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

namespace fathom::detect {
namespace {

TEST(LossNormaliser, RobustZOfLogLoss) {
  LossNormaliser n(1, NormaliserConfig{.min_values = 3, .mad_floor = 1e-6, .loss_epsilon = 1e-12});
  for (const float v : {1.0f, 2.0f, 4.0f, 8.0f, 16.0f}) n.add(std::span<const float>(&v, 1));
  EXPECT_FALSE(n.ready());
  n.refresh();
  ASSERT_TRUE(n.ready());
  // log losses 0, ln2 .. 4 ln2: median 2 ln2, MAD ln2.
  EXPECT_NEAR(n.median(0), 2 * std::log(2.0), 1e-6);
  EXPECT_NEAR(n.mad(0), std::log(2.0), 1e-6);
  const float loss = 64.0f;
  EXPECT_NEAR(n.score(std::span<const float>(&loss, 1)), 4.0 / 1.4826, 1e-4);
}

TEST(LossNormaliser, ScaleFreeAcrossTenants) {
  // Two tenants whose losses differ by a factor of 100 score the same.
  NormaliserConfig config{.loss_epsilon = 1e-9};
  LossNormaliser a(2, config), b(2, config);
  std::mt19937_64 rng(1);
  for (int i = 0; i < 1000; ++i) {
    const float la[2] = {static_cast<float>(0.01 * std::exp((rng() % 1000) / 500.0)),
                         static_cast<float>(0.1 * std::exp((rng() % 1000) / 500.0))};
    const float lb[2] = {la[0] * 100, la[1] * 100};
    a.add(la);
    b.add(lb);
  }
  a.refresh();
  b.refresh();
  const float qa[2] = {1.0f, 0.2f}, qb[2] = {100.0f, 20.0f};
  EXPECT_NEAR(a.score(qa), b.score(qb), 1e-3);
  EXPECT_GT(a.score(qa), 4.0f);
}

TEST(LossNormaliser, FloorOnMadAndRmsCombine) {
  LossNormaliser n(
      2,
      NormaliserConfig{
          .min_values = 1, .mad_floor = 0.5, .loss_epsilon = 1e-9, .combine = ScoreCombine::kRms});
  const float same[2] = {1.0f, 1.0f};
  for (int i = 0; i < 10; ++i) n.add(same);
  n.refresh();
  EXPECT_EQ(n.mad(0), 0.0);
  const float q[2] = {static_cast<float>(std::exp(1.4826 * 0.5 * 3)), 1.0f};  // z = 3, 0
  EXPECT_NEAR(n.score(q), 3.0 / std::sqrt(2.0), 1e-3);
}

TEST(LossNormaliser, RingKeepsTheNewest) {
  LossNormaliser n(1, NormaliserConfig{.capacity = 4, .min_values = 1, .loss_epsilon = 1e-12});
  for (int i = 1; i <= 10; ++i) {
    const float v = static_cast<float>(i);
    n.add(std::span<const float>(&v, 1));
  }
  EXPECT_EQ(n.values(0), 4u);
  n.refresh();
  EXPECT_NEAR(n.median(0), 0.5 * (std::log(8.0) + std::log(9.0)), 1e-6);
}

TEST(LossNormaliser, SerialisesAndRejectsBadInput) {
  LossNormaliser n(3, NormaliserConfig{.capacity = 16});
  for (int i = 0; i < 40; ++i) {
    const float v[3] = {static_cast<float>(i), 1.0f, 2.0f};
    n.add(v);
  }
  detail::ByteWriter w;
  n.write(w);
  LossNormaliser back;
  std::string error;
  detail::ByteReader r(w.data());
  ASSERT_TRUE(back.read(r, error)) << error;
  detail::ByteWriter w2;
  back.write(w2);
  EXPECT_EQ(w.data(), w2.data());
  for (size_t len = 0; len < w.data().size(); ++len) {
    detail::ByteReader cut(std::span(w.data()).first(len));
    LossNormaliser out;
    EXPECT_FALSE(out.read(cut, error)) << len;
  }
}

}  // namespace
}  // namespace fathom::detect
