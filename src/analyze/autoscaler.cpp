#include "analyze/autoscaler.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fathom::analyze {
namespace {

constexpr double kMaxUtilisation = 10.0;

bool threshold_ok(double value) noexcept {
  return std::isfinite(value) && value > 0.0 && value <= kMaxUtilisation;
}

// `now_ns - window_ns` without signed overflow (a clock near INT64_MIN, a huge window).
int64_t window_floor(int64_t now_ns, int64_t window_ns) noexcept {
  if (window_ns > 0 && now_ns < std::numeric_limits<int64_t>::min() + window_ns) {
    return std::numeric_limits<int64_t>::min();
  }
  return now_ns - window_ns;
}

// `since_ns + span_ns <= now_ns`, without signed overflow.
bool elapsed(int64_t since_ns, int64_t span_ns, int64_t now_ns) noexcept {
  if (now_ns < since_ns) return false;
  return static_cast<uint64_t>(now_ns) - static_cast<uint64_t>(since_ns) >=
         static_cast<uint64_t>(std::max<int64_t>(span_ns, 0));
}

}  // namespace

std::string_view to_string(ScaleDecision d) noexcept {
  switch (d) {
    case ScaleDecision::kHold: return "hold";
    case ScaleDecision::kScaleOut: return "scale_out";
    case ScaleDecision::kScaleIn: return "scale_in";
  }
  return "unknown";
}

Autoscaler::Autoscaler(const AutoscalerConfig& config, uint32_t initial_workers)
    : config_(config), workers_(initial_workers) {
  // Not std::clamp: an unvalidated config with min > max must not be undefined behaviour.
  if (workers_ > config_.max_workers) workers_ = config_.max_workers;
  if (workers_ < config_.min_workers) workers_ = config_.min_workers;
}

std::string_view Autoscaler::validate(const AutoscalerConfig& config) noexcept {
  if (config.min_workers == 0) return "min_workers must be at least 1";
  if (config.min_workers > config.max_workers) return "min_workers must not exceed max_workers";
  if (config.step == 0) return "step must be at least 1";
  if (config.scale_out_window_ns <= 0) return "scale_out_window_ns must be positive";
  if (config.scale_in_window_ns <= 0) return "scale_in_window_ns must be positive";
  if (config.scale_out_cooldown_ns < 0) return "scale_out_cooldown_ns must not be negative";
  if (config.scale_in_cooldown_ns < 0) return "scale_in_cooldown_ns must not be negative";
  if (!threshold_ok(config.scale_out_utilisation))
    return "scale_out_utilisation must be in (0, 10]";
  if (!threshold_ok(config.scale_in_utilisation)) return "scale_in_utilisation must be in (0, 10]";
  if (config.scale_in_utilisation >= config.scale_out_utilisation) {
    return "scale_in_utilisation must be below scale_out_utilisation";
  }
  return {};
}

void Autoscaler::record(int64_t now_ns, double utilisation) noexcept {
  // NaN, negative and infinite values are a broken measurement, not load: one +inf would
  // pin the mean for a whole window.
  if (!std::isfinite(utilisation) || utilisation < 0.0) {
    ++ignored_samples_;
    return;
  }
  const Sample sample{now_ns, utilisation};
  if (samples_.empty() || samples_.back().time_ns <= now_ns) {
    samples_.push_back(sample);
  } else {
    // A late report (the clock is monotonic, but two batches may report out of order):
    // keep the deque sorted by time so the scans below can stop early.
    const auto pos = std::upper_bound(samples_.begin(), samples_.end(), now_ns,
                                      [](int64_t t, const Sample& s) { return t < s.time_ns; });
    samples_.insert(pos, sample);
  }
  discard_before(window_floor(samples_.back().time_ns, longest_window()));
}

int64_t Autoscaler::longest_window() const noexcept {
  return std::max(config_.scale_out_window_ns, config_.scale_in_window_ns);
}

void Autoscaler::discard_before(int64_t floor_ns) noexcept {
  // A sample exactly one longest window old is kept: it is what shows that window covered.
  while (!samples_.empty() && samples_.front().time_ns < floor_ns) samples_.pop_front();
}

Autoscaler::WindowMean Autoscaler::window_mean(int64_t now_ns, int64_t window_ns) const noexcept {
  const int64_t floor_ns = window_floor(now_ns, window_ns);
  // Neumaier's compensated sum: n equal samples then give back exactly their value, so a
  // mean of 0.95 compares equal to the 0.95 threshold instead of drifting an ulp above it.
  double sum = 0.0;
  double compensation = 0.0;
  uint64_t count = 0;
  for (auto it = samples_.rbegin(); it != samples_.rend(); ++it) {
    if (it->time_ns > now_ns) continue;
    if (it->time_ns <= floor_ns) break;
    const double t = sum + it->utilisation;
    if (std::fabs(sum) >= std::fabs(it->utilisation)) {
      compensation += (sum - t) + it->utilisation;
    } else {
      compensation += (it->utilisation - t) + sum;
    }
    sum = t;
    ++count;
  }
  if (count == 0) return {};
  return {(sum + compensation) / static_cast<double>(count), count};
}

double Autoscaler::mean_utilisation(int64_t now_ns, int64_t window_ns) const noexcept {
  return window_mean(now_ns, window_ns).mean;
}

bool Autoscaler::covered(int64_t now_ns, int64_t window_ns) const noexcept {
  // The oldest sample that may count as evidence: the oldest kept at all, or the oldest not
  // taken before the last change.
  auto oldest = samples_.begin();
  if (changed_) {
    oldest = std::lower_bound(samples_.begin(), samples_.end(), last_change_ns_,
                              [](const Sample& s, int64_t t) { return s.time_ns < t; });
  }
  if (oldest == samples_.end()) return false;
  return elapsed(oldest->time_ns, window_ns, now_ns);
}

ScaleDecision Autoscaler::evaluate(int64_t now_ns) {
  discard_before(window_floor(now_ns, longest_window()));
  if (changed_) {
    const int64_t cooldown = last_decision_ == ScaleDecision::kScaleIn
                                 ? config_.scale_in_cooldown_ns
                                 : config_.scale_out_cooldown_ns;
    if (!elapsed(last_change_ns_, cooldown, now_ns)) return ScaleDecision::kHold;
  }

  if (covered(now_ns, config_.scale_out_window_ns)) {
    const WindowMean out = window_mean(now_ns, config_.scale_out_window_ns);
    if (out.count > 0 && out.mean > config_.scale_out_utilisation &&
        workers_ < config_.max_workers) {
      const uint64_t wanted = uint64_t{workers_} + config_.step;
      const auto next = static_cast<uint32_t>(std::min<uint64_t>(wanted, config_.max_workers));
      if (next != workers_) return change(now_ns, next, ScaleDecision::kScaleOut);
    }
  }

  if (covered(now_ns, config_.scale_in_window_ns)) {
    const WindowMean in = window_mean(now_ns, config_.scale_in_window_ns);
    if (in.count > 0 && in.mean < config_.scale_in_utilisation && workers_ > config_.min_workers) {
      const uint32_t next = workers_ - std::min(config_.step, workers_ - config_.min_workers);
      if (next != workers_) return change(now_ns, next, ScaleDecision::kScaleIn);
    }
  }
  return ScaleDecision::kHold;
}

ScaleDecision Autoscaler::change(int64_t now_ns, uint32_t workers, ScaleDecision decision) {
  workers_ = workers;
  last_change_ns_ = now_ns;
  changed_ = true;
  last_decision_ = decision;
  if (decision == ScaleDecision::kScaleOut) {
    ++scale_outs_;
  } else {
    ++scale_ins_;
  }
  return decision;
}

void ReplicaPolicy::observe(int64_t now_ns, double utilisation, uint32_t owned, uint32_t total) {
  if (owned == 0 || total == 0 || owned > total) return;
  const auto members = static_cast<uint32_t>(
      std::clamp<double>(std::round(static_cast<double>(total) / static_cast<double>(owned)), 1.0,
                         static_cast<double>(total)));
  if (!policy_ || members != members_ || total != total_) {
    AutoscalerConfig c = config_;
    c.min_workers = 1;
    c.max_workers = total;
    policy_.emplace(c, members);
    members_ = members;
    total_ = total;
  }
  policy_->record(now_ns, utilisation);
  policy_->evaluate(now_ns);
}

}  // namespace fathom::analyze
