#include "detect/loss_normaliser.h"

#include <algorithm>
#include <cmath>

namespace fathom::detect {

namespace {

// The median of `v` (reordered).
double median_of(std::vector<float>& v) {
  if (v.empty()) return 0.0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return 0.5 * (lower + upper);
}

// 1.4826 · MAD estimates the standard deviation of a normal sample (Rousseeuw & Croux 1993).
constexpr double kMadToSigma = 1.4826;

}  // namespace

LossNormaliser::LossNormaliser(size_t groups, NormaliserConfig config)
    : config_(config), rings_(std::clamp<size_t>(groups, 1, kMaxGroups)) {
  config_.capacity = std::clamp<uint32_t>(config_.capacity, 1, kMaxCapacity);
}

void LossNormaliser::add(std::span<const float> group_losses) {
  const size_t n = std::min(group_losses.size(), rings_.size());
  for (size_t g = 0; g < n; ++g) {
    const float loss = group_losses[g];
    if (!std::isfinite(loss) || loss < 0) continue;
    Ring& r = rings_[g];
    const auto v = static_cast<float>(std::log(static_cast<double>(loss) + config_.loss_epsilon));
    if (r.values.size() < config_.capacity) {
      r.values.push_back(v);
    } else {
      r.values[r.next] = v;
      r.next = (r.next + 1) % config_.capacity;
    }
  }
}

void LossNormaliser::refresh() {
  std::vector<float> scratch;
  for (Ring& r : rings_) {
    if (r.values.size() < std::max<uint32_t>(config_.min_values, 1)) {
      r.median = r.mad = r.inv_scale = 0.0;
      continue;
    }
    scratch = r.values;
    r.median = median_of(scratch);
    for (float& v : scratch) v = static_cast<float>(std::abs(v - r.median));
    r.mad = median_of(scratch);
    r.inv_scale = 1.0 / (kMadToSigma * std::max(r.mad, config_.mad_floor));
  }
}

void LossNormaliser::clear() {
  for (Ring& r : rings_) r = Ring{};
}

bool LossNormaliser::ready() const {
  return std::all_of(rings_.begin(), rings_.end(), [&](const Ring& r) { return r.inv_scale > 0; });
}

void LossNormaliser::normalise(std::span<const float> group_losses, std::span<float> z) const {
  for (size_t g = 0; g < rings_.size(); ++g) {
    const Ring& r = rings_[g];
    const float loss = g < group_losses.size() ? group_losses[g] : 0.0f;
    if (r.inv_scale == 0.0 || std::isnan(loss)) {
      z[g] = 0.0f;
      continue;
    }
    const double l = std::log(std::max(0.0, static_cast<double>(loss)) + config_.loss_epsilon);
    z[g] = static_cast<float>((l - r.median) * r.inv_scale);
  }
}

float LossNormaliser::combine(std::span<const float> z) const {
  if (config_.combine == ScoreCombine::kMax) {
    float best = 0.0f;
    for (const float v : z) best = std::max(best, v);
    return best;
  }
  double sum = 0.0;
  for (const float v : z) sum += v > 0 ? static_cast<double>(v) * v : 0.0;
  return z.empty() ? 0.0f : static_cast<float>(std::sqrt(sum / static_cast<double>(z.size())));
}

float LossNormaliser::score(std::span<const float> group_losses) const {
  float z[kMaxGroups];
  normalise(group_losses, std::span<float>(z, rings_.size()));
  return combine(std::span<const float>(z, rings_.size()));
}

void LossNormaliser::write(detail::ByteWriter& out) const {
  out.u32(config_.capacity);
  out.u32(config_.min_values);
  out.f64(config_.mad_floor);
  out.f64(config_.loss_epsilon);
  out.u8(static_cast<uint8_t>(config_.combine));
  out.u32(static_cast<uint32_t>(rings_.size()));
  for (const Ring& r : rings_) {
    out.u32(static_cast<uint32_t>(r.values.size()));
    out.u32(r.next);
    for (const float v : r.values) out.f32(v);
  }
}

bool LossNormaliser::read(detail::ByteReader& in, std::string& error) {
  NormaliserConfig config;
  config.capacity = in.u32();
  config.min_values = in.u32();
  config.mad_floor = in.f64();
  config.loss_epsilon = in.f64();
  const uint8_t combine = in.u8();
  const uint32_t groups = in.u32();
  if (in.failed()) {
    error = "normaliser: truncated";
    return false;
  }
  if (config.capacity == 0 || config.capacity > kMaxCapacity || !(config.mad_floor > 0) ||
      !std::isfinite(config.mad_floor) || !(config.loss_epsilon > 0) ||
      !std::isfinite(config.loss_epsilon) || combine > 1) {
    error = "normaliser: bad config";
    return false;
  }
  if (groups == 0 || groups > kMaxGroups) {
    error = "normaliser: bad group count";
    return false;
  }
  config.combine = static_cast<ScoreCombine>(combine);
  std::vector<Ring> rings(groups);
  for (Ring& r : rings) {
    const uint32_t n = in.u32();
    r.next = in.u32();
    if (in.failed() || n > config.capacity || (n > 0 && r.next >= n) || (n == 0 && r.next != 0) ||
        (n < config.capacity && r.next != 0) || !in.need(size_t{n} * 4)) {
      error = "normaliser: bad ring";
      return false;
    }
    r.values.resize(n);
    for (float& v : r.values) {
      v = in.f32();
      if (!std::isfinite(v)) {
        error = "normaliser: non-finite loss";
        return false;
      }
    }
  }
  config_ = config;
  rings_ = std::move(rings);
  refresh();
  return true;
}

}  // namespace fathom::detect
