#include "detect/autoencoder.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace fathom::detect {

namespace {

constexpr std::string_view kModelMagic = "FATHOMAE";

template <typename Matrix>
void activate(Activation act, Matrix& z) {
  if (act == Activation::kTanh) {
    z = z.array().tanh();
  } else {
    z = (z.array() > 0).select(z.array(), z.array().exp() - 1);
  }
}

// d activation / dz, from the activation's output `a`: tanh' = 1 − a², ELU' = a + 1 (z ≤ 0).
template <typename Matrix>
void times_derivative(Activation act, const Matrix& a, Matrix& delta) {
  if (act == Activation::kTanh) {
    delta.array() *= 1 - a.array().square();
  } else {
    delta.array() *=
        (a.array() > 0).select(Matrix::Ones(a.rows(), a.cols()).array(), a.array() + 1);
  }
}

template <typename Scalar>
void write_values(detail::ByteWriter& out, const Scalar* p, Eigen::Index n) {
  for (Eigen::Index i = 0; i < n; ++i) {
    if constexpr (sizeof(Scalar) == 4) {
      out.f32(p[i]);
    } else {
      out.f64(p[i]);
    }
  }
}

template <typename Scalar>
bool read_values(detail::ByteReader& in, Scalar* p, Eigen::Index n) {
  bool ok = true;
  for (Eigen::Index i = 0; i < n; ++i) {
    if constexpr (sizeof(Scalar) == 4) {
      p[i] = in.f32();
    } else {
      p[i] = in.f64();
    }
    ok &= std::isfinite(p[i]);
  }
  return ok && !in.failed();
}

}  // namespace

uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  // Reject the top partial copy of [0, n) so every residue is equally likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x = rng();
  while (x >= limit) x = rng();
  return x % n;
}

template <typename Scalar>
BasicAutoencoder<Scalar>::BasicAutoencoder(const AutoencoderShape& shape, uint64_t seed,
                                           AdamConfig adam)
    : activation_(shape.activation), adam_(adam) {
  std::vector<uint32_t> sizes{shape.inputs};
  sizes.insert(sizes.end(), shape.hidden.begin(), shape.hidden.end());
  for (size_t i = shape.hidden.size(); i-- > 1;) sizes.push_back(shape.hidden[i - 1]);
  sizes.push_back(shape.inputs);
  std::mt19937_64 rng(seed);
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    const double fan_in = sizes[l], fan_out = sizes[l + 1];
    // Glorot & Bengio 2010 for tanh; He et al. 2015 for ELU (and the linear output of ELU nets).
    const double limit = shape.activation == Activation::kTanh ? std::sqrt(6.0 / (fan_in + fan_out))
                                                               : std::sqrt(6.0 / fan_in);
    Layer layer{Matrix(sizes[l + 1], sizes[l]), Vector::Zero(sizes[l + 1])};
    for (Eigen::Index j = 0; j < layer.w.size(); ++j) {
      layer.w.data()[j] = static_cast<Scalar>((2.0 * uniform01(rng) - 1.0) * limit);
    }
    layers_.push_back(std::move(layer));
  }
  reset_optimiser();
}

template <typename Scalar>
void BasicAutoencoder<Scalar>::reset_optimiser() {
  step_ = 0;
  m_.clear();
  v_.clear();
  for (const Layer& l : layers_) {
    m_.push_back({Matrix::Zero(l.w.rows(), l.w.cols()), Vector::Zero(l.b.size())});
    v_.push_back({Matrix::Zero(l.w.rows(), l.w.cols()), Vector::Zero(l.b.size())});
  }
}

template <typename Scalar>
auto BasicAutoencoder<Scalar>::forward(const Matrix& x, Workspace& ws) const -> const Matrix& {
  ws.a.resize(layers_.size() + 1);
  ws.a[0] = x;
  for (size_t l = 0; l < layers_.size(); ++l) {
    Matrix& out = ws.a[l + 1];
    out.noalias() = layers_[l].w * ws.a[l];
    out.colwise() += layers_[l].b;
    if (l + 1 < layers_.size()) activate(activation_, out);
  }
  return ws.a.back();
}

template <typename Scalar>
void BasicAutoencoder<Scalar>::squared_errors(const Matrix& x, Matrix& e, Workspace& ws) const {
  e = (forward(x, ws) - x).array().square();
}

template <typename Scalar>
Scalar BasicAutoencoder<Scalar>::loss_and_gradient(const Matrix& x, std::vector<Layer>& grad,
                                                   Workspace& ws) const {
  const Matrix& y = forward(x, ws);
  const Scalar scale =
      Scalar(1) / static_cast<Scalar>(x.rows() * std::max<Eigen::Index>(x.cols(), 1));
  Matrix delta = y - x;
  const Scalar loss = delta.squaredNorm() * scale;
  delta *= 2 * scale;  // dL/dy
  grad.resize(layers_.size());
  for (size_t l = layers_.size(); l-- > 0;) {
    grad[l].w.noalias() = delta * ws.a[l].transpose();
    grad[l].b = delta.rowwise().sum();
    if (l == 0) break;
    Matrix back = layers_[l].w.transpose() * delta;
    times_derivative(activation_, ws.a[l], back);
    delta.swap(back);
  }
  return loss;
}

template <typename Scalar>
void BasicAutoencoder<Scalar>::adam_step(const std::vector<Layer>& grad) {
  if (m_.size() != layers_.size()) reset_optimiser();
  ++step_;
  const double b1 = adam_.beta1, b2 = adam_.beta2;
  const double c1 = 1.0 - std::pow(b1, static_cast<double>(step_));
  const double c2 = 1.0 - std::pow(b2, static_cast<double>(step_));
  const Scalar lr = static_cast<Scalar>(adam_.learning_rate * std::sqrt(c2) / c1);
  const Scalar eps = static_cast<Scalar>(adam_.epsilon * std::sqrt(c2));
  const Scalar decay = static_cast<Scalar>(adam_.learning_rate * adam_.weight_decay);
  const auto update = [&](auto& param, auto& m, auto& v, const auto& g) {
    m = Scalar(b1) * m + Scalar(1 - b1) * g;
    v = Scalar(b2) * v + Scalar(1 - b2) * g.cwiseProduct(g);
    param.array() -= lr * m.array() / (v.array().sqrt() + eps);
  };
  for (size_t l = 0; l < layers_.size(); ++l) {
    if (decay > 0) layers_[l].w *= Scalar(1) - decay;  // decoupled (Loshchilov & Hutter 2019)
    update(layers_[l].w, m_[l].w, v_[l].w, grad[l].w);
    update(layers_[l].b, m_[l].b, v_[l].b, grad[l].b);
  }
}

template <typename Scalar>
Scalar BasicAutoencoder<Scalar>::train_step(const Matrix& batch) {
  const Scalar loss = loss_and_gradient(batch, grad_, ws_);
  adam_step(grad_);
  return loss;
}

template <typename Scalar>
double BasicAutoencoder<Scalar>::fit(const Matrix& x, const TrainOptions& options,
                                     std::mt19937_64& rng) {
  const auto n = static_cast<size_t>(x.cols());
  if (n == 0 || layers_.empty()) return 0.0;
  const size_t batch = std::clamp<size_t>(options.batch_size, 1, n);
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  Matrix mb(x.rows(), static_cast<Eigen::Index>(batch));
  double epoch_loss = 0.0;
  for (uint32_t epoch = 0; epoch < options.epochs; ++epoch) {
    for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[uniform_below(rng, i)]);
    double sum = 0.0;
    for (size_t start = 0; start < n; start += batch) {
      const size_t len = std::min(batch, n - start);
      if (static_cast<size_t>(mb.cols()) != len)
        mb.resize(x.rows(), static_cast<Eigen::Index>(len));
      for (size_t j = 0; j < len; ++j)
        mb.col(static_cast<Eigen::Index>(j)) = x.col(order[start + j]);
      sum += static_cast<double>(train_step(mb)) * static_cast<double>(len);
    }
    epoch_loss = sum / static_cast<double>(n);
  }
  return epoch_loss;
}

template <typename Scalar>
void BasicAutoencoder<Scalar>::write(detail::ByteWriter& out) const {
  out.u8(sizeof(Scalar));
  out.u8(static_cast<uint8_t>(activation_));
  out.u32(static_cast<uint32_t>(layers_.size()));
  out.u32(inputs());
  for (const Layer& l : layers_) out.u32(static_cast<uint32_t>(l.w.rows()));
  out.f64(adam_.learning_rate);
  out.f64(adam_.beta1);
  out.f64(adam_.beta2);
  out.f64(adam_.epsilon);
  out.f64(adam_.weight_decay);
  out.u64(step_);
  const auto put = [&](const Layer& l) {
    write_values(out, l.w.data(), l.w.size());
    write_values(out, l.b.data(), l.b.size());
  };
  for (size_t l = 0; l < layers_.size(); ++l) {
    put(layers_[l]);
    // The optimiser's moments travel with the weights, so a tenant moved mid-fine-tune
    // continues exactly where it stopped.
    put(m_.size() == layers_.size() ? m_[l]
                                    : Layer{Matrix::Zero(layers_[l].w.rows(), layers_[l].w.cols()),
                                            Vector::Zero(layers_[l].b.size())});
    put(v_.size() == layers_.size() ? v_[l]
                                    : Layer{Matrix::Zero(layers_[l].w.rows(), layers_[l].w.cols()),
                                            Vector::Zero(layers_[l].b.size())});
  }
}

template <typename Scalar>
bool BasicAutoencoder<Scalar>::read(detail::ByteReader& in, std::string& error) {
  const uint8_t scalar_size = in.u8();
  const uint8_t act = in.u8();
  const uint32_t count = in.u32();
  if (in.failed()) {
    error = "network: truncated";
    return false;
  }
  if (scalar_size != sizeof(Scalar)) {
    error = "network: scalar size " + std::to_string(scalar_size) + ", expected " +
            std::to_string(sizeof(Scalar));
    return false;
  }
  if (act > 1) {
    error = "network: unknown activation " + std::to_string(act);
    return false;
  }
  if (count == 0 || count > kMaxLayers) {
    error = "network: bad layer count " + std::to_string(count);
    return false;
  }
  std::vector<uint32_t> sizes(count + 1);
  size_t values = 0;
  for (uint32_t i = 0; i <= count; ++i) {
    sizes[i] = in.u32();
    if (sizes[i] == 0 || sizes[i] > kMaxWidth) {
      error = "network: bad layer size";
      return false;
    }
    if (i > 0) values += 3 * (static_cast<size_t>(sizes[i]) * sizes[i - 1] + sizes[i]);
  }
  if (sizes.front() != sizes.back()) {
    error = "network: output size differs from input size";
    return false;
  }
  AdamConfig adam;
  adam.learning_rate = in.f64();
  adam.beta1 = in.f64();
  adam.beta2 = in.f64();
  adam.epsilon = in.f64();
  adam.weight_decay = in.f64();
  const uint64_t step = in.u64();
  if (in.failed() || !in.need(values * sizeof(Scalar))) {
    error = "network: truncated";
    return false;
  }
  if (!std::isfinite(adam.learning_rate) || adam.learning_rate < 0 || !(adam.beta1 >= 0) ||
      !(adam.beta1 < 1) || !(adam.beta2 >= 0) || !(adam.beta2 < 1) || !(adam.epsilon > 0) ||
      !std::isfinite(adam.epsilon) || !(adam.weight_decay >= 0) ||
      !std::isfinite(adam.weight_decay)) {
    error = "network: bad optimiser settings";
    return false;
  }
  std::vector<Layer> layers, m, v;
  for (uint32_t l = 0; l < count; ++l) {
    for (auto* dst : {&layers, &m, &v}) {
      Layer layer{Matrix(sizes[l + 1], sizes[l]), Vector(sizes[l + 1])};
      if (!read_values(in, layer.w.data(), layer.w.size()) ||
          !read_values(in, layer.b.data(), layer.b.size())) {
        error = "network: non-finite or truncated weights in layer " + std::to_string(l);
        return false;
      }
      dst->push_back(std::move(layer));
    }
  }
  for (const Layer& l : v) {
    if ((l.w.array() < 0).any() || (l.b.array() < 0).any()) {
      error = "network: negative second moment";
      return false;
    }
  }
  layers_ = std::move(layers);
  m_ = std::move(m);
  v_ = std::move(v);
  activation_ = static_cast<Activation>(act);
  adam_ = adam;
  step_ = step;
  return true;
}

template class BasicAutoencoder<float>;
template class BasicAutoencoder<double>;

std::vector<uint8_t> default_feature_groups() {
  using analyze::Feature;
  std::vector<uint8_t> g(analyze::kFeatureCount, 3);
  for (const Feature f : {Feature::kPacketsInPerS, Feature::kPacketsOutPerS, Feature::kBytesInPerS,
                          Feature::kBytesOutPerS, Feature::kMeanPacketBytes}) {
    g[static_cast<size_t>(f)] = 0;
  }
  for (const Feature f : {Feature::kFlowsInPerS, Feature::kFlowsOutPerS, Feature::kDistinctPeers,
                          Feature::kDistinctRemotePorts, Feature::kDistinctLocalPorts}) {
    g[static_cast<size_t>(f)] = 1;
  }
  for (const Feature f : {Feature::kSynOnlyRatio, Feature::kRstRatio}) {
    g[static_cast<size_t>(f)] = 2;
  }
  return g;
}

std::string group_name(size_t group) {
  static constexpr std::string_view kNames[] = {"volume", "connections", "flags", "peers"};
  if (group < std::size(kNames)) return std::string(kNames[group]);
  return "group" + std::to_string(group);
}

size_t Model::group_count() const {
  uint8_t max = 0;
  for (const uint8_t g : feature_group) max = std::max(max, g);
  return feature_group.empty() ? 0 : size_t{max} + 1;
}

Model make_model(const AutoencoderShape& shape, uint64_t seed, AdamConfig adam) {
  Model m;
  if (shape.inputs == analyze::kFeatureCount) {
    m.scaler = FeatureScaler(ScalerConfig{}, default_feature_transforms());
    m.feature_group = default_feature_groups();
  } else {
    m.scaler = FeatureScaler(
        ScalerConfig{}, std::vector<FeatureTransform>(shape.inputs, FeatureTransform::kLinear));
    m.feature_group.assign(shape.inputs, 0);
  }
  m.net = Autoencoder(shape, seed, adam);
  return m;
}

void scale_columns(const FeatureScaler& scaler, std::span<const float> raw, size_t n,
                   Autoencoder::Matrix& x) {
  const size_t d = scaler.size();
  x.resize(static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(n));
  for (size_t j = 0; j < n; ++j) {
    scaler.transform(raw.subspan(j * d, d),
                     std::span<float>(x.col(static_cast<Eigen::Index>(j)).data(), d));
  }
}

void group_losses(const Model& model, const Autoencoder::Matrix& e, Autoencoder::Matrix& g) {
  const size_t groups = model.group_count();
  g.setZero(static_cast<Eigen::Index>(groups), e.cols());
  std::vector<float> inv(groups, 0.0f);
  for (const uint8_t grp : model.feature_group) inv[grp] += 1.0f;
  for (float& v : inv) v = v > 0 ? 1.0f / v : 0.0f;
  for (size_t f = 0; f < model.feature_group.size(); ++f) {
    const auto grp = static_cast<Eigen::Index>(model.feature_group[f]);
    g.row(grp) += e.row(static_cast<Eigen::Index>(f)) * inv[static_cast<size_t>(grp)];
  }
}

std::vector<std::byte> save_model(const Model& model) {
  detail::ByteWriter out;
  out.raw(kModelMagic);
  out.u32(kModelFormatVersion);
  model.scaler.write(out);
  model.net.write(out);
  out.u32(static_cast<uint32_t>(model.feature_group.size()));
  for (const uint8_t g : model.feature_group) out.u8(g);
  out.checksum();
  return std::move(out.data());
}

bool load_model(std::span<const std::byte> bytes, Model& out, std::string& error) {
  std::span<const std::byte> body;
  if (!detail::verify_checksum(bytes, body)) {
    error = "model: truncated or bad checksum";
    return false;
  }
  detail::ByteReader in(body);
  if (!in.expect(kModelMagic)) {
    error = "model: not a Fathom model file (bad magic)";
    return false;
  }
  const uint32_t version = in.u32();
  if (version != kModelFormatVersion) {
    error = "model: format version " + std::to_string(version) + ", this build reads " +
            std::to_string(kModelFormatVersion);
    return false;
  }
  Model m;
  std::string why;
  if (!m.scaler.read(in, why) || !m.net.read(in, why)) {
    error = "model: " + why;
    return false;
  }
  const uint32_t n = in.u32();
  if (in.failed() || n != m.net.inputs() || n != m.scaler.size() || !in.need(n)) {
    error = "model: feature groups do not match the network";
    return false;
  }
  m.feature_group.resize(n);
  for (uint8_t& g : m.feature_group) {
    g = in.u8();
    if (g >= Model::kMaxGroups) {
      error = "model: bad feature group";
      return false;
    }
  }
  if (in.remaining() != 0) {
    error = "model: trailing bytes";
    return false;
  }
  out = std::move(m);
  return true;
}

}  // namespace fathom::detect
