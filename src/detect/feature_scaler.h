#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "detect/detail/bytes.h"

namespace fathom::detect {

/// How one raw feature is mapped before standardising.
enum class FeatureTransform : uint8_t {
  kLinear = 0,  ///< ratios, shares and normalised entropies: already in [0, 1]
  kLog1p = 1,   ///< counts, rates and volumes: heavy-tailed, span decades across hosts
};

/// The transform of each `analyze::Feature`, in order (docs/ai-detection.md "Scaling"): log1p
/// for the six rates, the three distinct counts and mean packet size; linear for the two flag
/// ratios, the two entropies and the two shares.
std::vector<FeatureTransform> default_feature_transforms();

/// Settings of a FeatureScaler.
struct ScalerConfig {
  /// Half-life, in observed vectors, of the running mean and variance; 0 = every vector
  /// weighs the same (Welford). With a half-life the first vectors still average equally
  /// (weight max(1/n, 1 − 2^(−1/half_life))), so a young scaler is not dominated by its first.
  double half_life = 0.0;
  /// Floor of the standard deviation in transformed units: a feature that never moved
  /// (intel_share 0 throughout) must not turn a small change into an infinite z.
  double min_std = 0.05;
  /// Scaled values are clipped to ±clip so one absurd input cannot dominate training.
  double clip = 20.0;
  friend bool operator==(const ScalerConfig&, const ScalerConfig&) = default;
};

/// Per-tenant input transform: log1p of the heavy-tailed features, then standardised with the
/// tenant's running mean and variance. `observe` learns; `transform` is const, so the scaler
/// is frozen while scoring unless the owner observes. NaN, infinite and negative raw values
/// read as 0 (counted by nobody: features are computed, not received).
class FeatureScaler {
 public:
  FeatureScaler() : FeatureScaler(ScalerConfig{}, default_feature_transforms()) {}
  explicit FeatureScaler(ScalerConfig config,
                         std::vector<FeatureTransform> transforms = default_feature_transforms());

  /// Learns one raw vector (size() values; extra values ignored, missing ones read as 0).
  void observe(std::span<const float> raw);
  /// Forgets what was learnt (keeps config and transforms).
  void reset();
  /// Writes size() scaled values of `raw` into `out` (out.size() >= size()).
  void transform(std::span<const float> raw, std::span<float> out) const;
  /// The transformed, unstandardised value of feature `f`.
  double pre(size_t f, float raw) const;
  /// The typical raw value of feature `f`: the running mean mapped back (expm1 for log1p
  /// features, i.e. the geometric-type mean), 0 before anything was observed.
  double usual(size_t f) const;

  size_t size() const { return transforms_.size(); }
  uint64_t count() const { return count_; }
  const ScalerConfig& config() const { return config_; }
  const std::vector<FeatureTransform>& transforms() const { return transforms_; }
  double mean(size_t f) const { return mean_[f]; }
  double std_dev(size_t f) const;

  /// Appends the scaler to `out` (config, transforms, count, means, variances).
  void write(detail::ByteWriter& out) const;
  /// Reads what write() wrote; false with `error` set on a bad or truncated section
  /// (at most `kMaxFeatures` features; every number finite, variances >= 0).
  bool read(detail::ByteReader& in, std::string& error);

  static constexpr uint32_t kMaxFeatures = 4096;

 private:
  ScalerConfig config_;
  std::vector<FeatureTransform> transforms_;
  uint64_t count_ = 0;
  std::vector<double> mean_;
  std::vector<double> var_;
  std::vector<double> inv_std_;  // cached 1 / max(std, min_std)
  void refresh_inv_std();
};

}  // namespace fathom::detect
