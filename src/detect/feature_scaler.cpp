#include "detect/feature_scaler.h"

#include <algorithm>
#include <cmath>

#include "analyze/features.h"

namespace fathom::detect {

namespace {

using analyze::Feature;

float sanitise(float v) {
  return std::isfinite(v) && v > 0.0f ? v : 0.0f;
}

bool finite(double v) {
  return std::isfinite(v);
}

}  // namespace

std::vector<FeatureTransform> default_feature_transforms() {
  std::vector<FeatureTransform> t(analyze::kFeatureCount, FeatureTransform::kLinear);
  // Rates, volumes and distinct counts span decades between a printer and a file server, and
  // between tenants; their logs vary on a scale an autoencoder can learn. The mean packet
  // size (40..1500 bytes) is a ratio of volumes: its log makes "twice as large" one step.
  for (const Feature f : {Feature::kPacketsInPerS, Feature::kPacketsOutPerS, Feature::kBytesInPerS,
                          Feature::kBytesOutPerS, Feature::kFlowsInPerS, Feature::kFlowsOutPerS,
                          Feature::kDistinctPeers, Feature::kDistinctRemotePorts,
                          Feature::kDistinctLocalPorts, Feature::kMeanPacketBytes}) {
    t[static_cast<size_t>(f)] = FeatureTransform::kLog1p;
  }
  // syn_only_ratio, rst_ratio, peer_entropy, port_entropy, intel_share, new_peer_share are
  // bounded in [0, 1]: a log would only stretch the region near 0.
  return t;
}

FeatureScaler::FeatureScaler(ScalerConfig config, std::vector<FeatureTransform> transforms)
    : config_(config), transforms_(std::move(transforms)) {
  reset();
}

void FeatureScaler::reset() {
  count_ = 0;
  mean_.assign(transforms_.size(), 0.0);
  var_.assign(transforms_.size(), 0.0);
  refresh_inv_std();
}

double FeatureScaler::pre(size_t f, float raw) const {
  const float v = sanitise(raw);
  return transforms_[f] == FeatureTransform::kLog1p ? std::log1p(static_cast<double>(v)) : v;
}

void FeatureScaler::observe(std::span<const float> raw) {
  ++count_;
  double alpha = 1.0 / static_cast<double>(count_);
  if (config_.half_life > 0.0) alpha = std::max(alpha, 1.0 - std::exp2(-1.0 / config_.half_life));
  for (size_t f = 0; f < transforms_.size(); ++f) {
    const double x = pre(f, f < raw.size() ? raw[f] : 0.0f);
    // Exponentially weighted mean and variance (West 1979); with alpha = 1/n this is the
    // plain running mean and population variance, numerically stable like Welford's.
    const double diff = x - mean_[f];
    const double incr = alpha * diff;
    mean_[f] += incr;
    var_[f] = (1.0 - alpha) * (var_[f] + diff * incr);
  }
  refresh_inv_std();
}

double FeatureScaler::std_dev(size_t f) const {
  return std::max(std::sqrt(var_[f]), config_.min_std);
}

void FeatureScaler::refresh_inv_std() {
  inv_std_.resize(transforms_.size());
  for (size_t f = 0; f < transforms_.size(); ++f) inv_std_[f] = 1.0 / std_dev(f);
}

void FeatureScaler::transform(std::span<const float> raw, std::span<float> out) const {
  const double clip = config_.clip;
  for (size_t f = 0; f < transforms_.size(); ++f) {
    const double z = (pre(f, f < raw.size() ? raw[f] : 0.0f) - mean_[f]) * inv_std_[f];
    out[f] = static_cast<float>(std::clamp(z, -clip, clip));
  }
}

double FeatureScaler::usual(size_t f) const {
  if (count_ == 0) return 0.0;
  return transforms_[f] == FeatureTransform::kLog1p ? std::expm1(mean_[f]) : mean_[f];
}

void FeatureScaler::write(detail::ByteWriter& out) const {
  out.f64(config_.half_life);
  out.f64(config_.min_std);
  out.f64(config_.clip);
  out.u32(static_cast<uint32_t>(transforms_.size()));
  out.u64(count_);
  for (size_t f = 0; f < transforms_.size(); ++f) {
    out.u8(static_cast<uint8_t>(transforms_[f]));
    out.f64(mean_[f]);
    out.f64(var_[f]);
  }
}

bool FeatureScaler::read(detail::ByteReader& in, std::string& error) {
  ScalerConfig config;
  config.half_life = in.f64();
  config.min_std = in.f64();
  config.clip = in.f64();
  const uint32_t n = in.u32();
  const uint64_t count = in.u64();
  if (in.failed()) {
    error = "scaler: truncated";
    return false;
  }
  if (!finite(config.half_life) || config.half_life < 0.0 || !finite(config.min_std) ||
      !(config.min_std > 0.0) || !finite(config.clip) || !(config.clip > 0.0)) {
    error = "scaler: bad config";
    return false;
  }
  if (n == 0 || n > kMaxFeatures || !in.need(static_cast<size_t>(n) * 17)) {
    error = "scaler: bad feature count";
    return false;
  }
  std::vector<FeatureTransform> transforms(n);
  std::vector<double> mean(n), var(n);
  for (uint32_t f = 0; f < n; ++f) {
    const uint8_t t = in.u8();
    mean[f] = in.f64();
    var[f] = in.f64();
    if (t > 1 || !finite(mean[f]) || !finite(var[f]) || var[f] < 0.0) {
      error = "scaler: bad feature " + std::to_string(f);
      return false;
    }
    transforms[f] = static_cast<FeatureTransform>(t);
  }
  config_ = config;
  transforms_ = std::move(transforms);
  count_ = count;
  mean_ = std::move(mean);
  var_ = std::move(var);
  refresh_inv_std();
  return true;
}

}  // namespace fathom::detect
