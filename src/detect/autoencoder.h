#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "analyze/features.h"
#include "detect/autoencoder_config.h"
#include "detect/detail/bytes.h"
#include "detect/feature_scaler.h"

namespace fathom::detect {

/// Uniform in [0, 1) from 53 bits of `rng`: defined by the bits alone, unlike
/// std::uniform_real_distribution, so a seed reproduces on every standard library.
inline double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}
/// Uniform integer in [0, n) (n > 0) by rejection: unbiased and library-independent.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t n);

/// A small dense autoencoder on Eigen matrices whose columns are samples. `Scalar` is float
/// for the detector (speed, memory) and double for the gradient check; both are compiled in
/// autoencoder.cpp. Not thread-safe for training; const members may run concurrently.
template <typename Scalar>
class BasicAutoencoder {
 public:
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  struct Layer {
    Matrix w;  ///< outputs × inputs
    Vector b;
  };
  /// Intermediate values of a forward pass, reusable across calls (no allocation once sized).
  struct Workspace {
    std::vector<Matrix> a;  ///< a[0] = input, a[l + 1] = output of layer l
  };

  BasicAutoencoder() = default;
  /// Xavier-uniform (tanh) or He-uniform (ELU) weights from `seed`, zero biases.
  BasicAutoencoder(const AutoencoderShape& shape, uint64_t seed, AdamConfig adam = {});

  uint32_t inputs() const {
    return layers_.empty() ? 0 : static_cast<uint32_t>(layers_[0].w.cols());
  }
  const std::vector<Layer>& layers() const { return layers_; }
  std::vector<Layer>& layers() { return layers_; }
  Activation activation() const { return activation_; }
  const AdamConfig& adam() const { return adam_; }
  void set_adam(const AdamConfig& adam) { adam_ = adam; }
  uint64_t steps() const { return step_; }
  /// Forgets the optimiser's moments (a fine-tune from a base model starts afresh).
  void reset_optimiser();

  /// Reconstruction of `x` (inputs × n) into `ws.a.back()`; returns a reference to it.
  const Matrix& forward(const Matrix& x, Workspace& ws) const;
  /// Squared reconstruction error per feature and sample, (y − x)², into `e`.
  void squared_errors(const Matrix& x, Matrix& e, Workspace& ws) const;
  /// Mean squared error over features and samples, L = Σ (y − x)² / (inputs · n), and its
  /// gradient with respect to every weight and bias (same shapes as layers()).
  Scalar loss_and_gradient(const Matrix& x, std::vector<Layer>& grad, Workspace& ws) const;
  /// One Adam update with `grad`.
  void adam_step(const std::vector<Layer>& grad);
  /// Forward, backward and Adam on one batch; returns the batch loss before the update.
  Scalar train_step(const Matrix& batch);
  /// `options.epochs` epochs of mini-batches over the columns of `x`, shuffled each epoch by
  /// Fisher–Yates from `rng`; returns the mean loss of the last epoch (0 for no samples).
  double fit(const Matrix& x, const TrainOptions& options, std::mt19937_64& rng);

  /// Appends shape, activation, Adam settings and state, weights and biases to `out`.
  void write(detail::ByteWriter& out) const;
  /// Reads what write() wrote; false with `error` on a bad shape (sizes 1..kMaxWidth, at most
  /// kMaxLayers layers, chained sizes), a non-finite number or truncation. Leaves *this
  /// unchanged on failure.
  bool read(detail::ByteReader& in, std::string& error);

  static constexpr uint32_t kMaxWidth = 1024;
  static constexpr uint32_t kMaxLayers = 16;

 private:
  std::vector<Layer> layers_;
  Activation activation_ = Activation::kTanh;
  AdamConfig adam_;
  uint64_t step_ = 0;
  std::vector<Layer> m_, v_;  // Adam's first and second moments
  std::vector<Layer> grad_;   // scratch of train_step
  Workspace ws_;              // scratch of train_step
};

using Autoencoder = BasicAutoencoder<float>;

/// Number of feature groups of the default 16-feature model.
inline constexpr size_t kFeatureGroupCount = 4;
/// Group of each `analyze::Feature`: 0 volume (packet and byte rates, mean packet size),
/// 1 connections (flow rates, distinct peers and ports: fan-in/fan-out), 2 flags (SYN-only
/// and RST ratios), 3 peers (entropies, intel share, new-peer share).
std::vector<uint8_t> default_feature_groups();
/// "volume", "connections", "flags", "peers"; "group<N>" beyond.
std::string group_name(size_t group);

/// A deployable model: the input scaler, the network and the feature groups whose losses are
/// normalised separately. The file is the versioned format of docs/ai-detection.md "File".
struct Model {
  FeatureScaler scaler;
  Autoencoder net;
  std::vector<uint8_t> feature_group;  ///< group of each input feature (< kMaxGroups)
  size_t group_count() const;
  static constexpr uint32_t kMaxGroups = 16;
};

/// A fresh model of `shape` (default groups when shape.inputs == kFeatureCount, else one).
Model make_model(const AutoencoderShape& shape, uint64_t seed, AdamConfig adam = {});

/// Scales `raw` (n vectors of model.scaler.size() floats, row-major) into the columns of `x`.
void scale_columns(const FeatureScaler& scaler, std::span<const float> raw, size_t n,
                   Autoencoder::Matrix& x);

/// Mean squared error per group of each column of `e` (features × n) into `g` (groups × n).
void group_losses(const Model& model, const Autoencoder::Matrix& e, Autoencoder::Matrix& g);

/// The model file: "FATHOMAE", format version, scaler, network, groups, FNV-1a checksum;
/// integers and IEEE floats little-endian.
std::vector<std::byte> save_model(const Model& model);
/// Parses a model file. False with `error` (one line, for logs) on a wrong magic, version,
/// checksum, shape, trailing bytes or truncation; `out` is unchanged then. Never crashes.
bool load_model(std::span<const std::byte> bytes, Model& out, std::string& error);

inline constexpr uint32_t kModelFormatVersion = 1;

}  // namespace fathom::detect
