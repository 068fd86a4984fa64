#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>

namespace fathom::analyze {

/// Settings of the autoscaling policy (the seed system's rule, DESIGN.md "analyze").
struct AutoscalerConfig {
  /// Scale out when the mean utilisation over `scale_out_window_ns` exceeds this (0.95: the
  /// batches take more than 95% of the slide interval).
  double scale_out_utilisation = 0.95;
  int64_t scale_out_window_ns = 600'000'000'000;  ///< 10 minutes
  /// Scale in when the mean utilisation over `scale_in_window_ns` is under this low-water mark.
  double scale_in_utilisation = 0.30;
  int64_t scale_in_window_ns = 1'800'000'000'000;  ///< 30 minutes
  /// No further change for this long after a scale-out / a scale-in.
  int64_t scale_out_cooldown_ns = 300'000'000'000;  ///< 5 minutes
  int64_t scale_in_cooldown_ns = 600'000'000'000;   ///< 10 minutes
  uint32_t min_workers = 1;
  uint32_t max_workers = 8;
  uint32_t step = 1;  ///< workers added or removed per decision
};

/// What the policy decided at one evaluation.
enum class ScaleDecision : uint8_t {
  kHold = 0,
  kScaleOut = 1,
  kScaleIn = 2,
};

/// "hold", "scale_out", "scale_in".
std::string_view to_string(ScaleDecision d) noexcept;

/// Autoscaling on micro-batch running time, as one testable component with an injectable
/// clock: every call takes `now_ns` (any monotonic clock; simulated in tests).
///
/// Each slide's batch reports its utilisation (running time / slide interval; > 1 when the
/// batch overran). `evaluate(now)` scales out by `step` when samples cover the whole
/// `scale_out_window_ns` since the last change and their mean exceeds
/// `scale_out_utilisation`; scales in by `step` when samples cover the whole
/// `scale_in_window_ns` since the last change and their mean is under
/// `scale_in_utilisation`; never outside [min_workers, max_workers]; and holds during the
/// cooldown after a change (`scale_out_cooldown_ns` after a scale-out, `scale_in_cooldown_ns`
/// after a scale-in). A window "is covered" when the oldest sample kept that was not taken
/// before the last change (time >= the change's `now_ns`) is at least that old: a fresh start
/// or a change restarts the evidence. The mean over a window is the arithmetic mean of the
/// samples with time in (now − window, now]; a window with no sample in it never decides.
/// Scale-out is tried first, then scale-in. Samples older than the longer window are
/// discarded, so memory is bounded by the number of batches in 30 minutes.
/// Not thread-safe: the scheduler's thread owns it.
class Autoscaler {
 public:
  /// `initial_workers` is clamped to [min_workers, max_workers]. Invalid configs (min 0,
  /// min > max, windows <= 0, thresholds not in (0, 10]) are the caller's to reject
  /// (`validate`).
  Autoscaler(const AutoscalerConfig& config, uint32_t initial_workers);

  /// Empty when `config` is usable, else a message naming the bad field.
  static std::string_view validate(const AutoscalerConfig& config) noexcept;

  /// One batch's utilisation (running time / slide) at `now_ns`. Negative, NaN or infinite
  /// values are ignored (counted in `ignored_samples`). A sample older than the newest is
  /// still placed in time order.
  void record(int64_t now_ns, double utilisation) noexcept;
  /// Applies the policy at `now_ns` and returns what it did; `workers()` is then the new
  /// desired count.
  ScaleDecision evaluate(int64_t now_ns);

  /// The desired worker count, always in [min_workers, max_workers] of a valid config.
  uint32_t workers() const noexcept { return workers_; }
  /// Mean utilisation of the samples with time in (now_ns − window_ns, now_ns] (0 when none).
  /// Only samples still kept (within the longer window) are seen.
  double mean_utilisation(int64_t now_ns, int64_t window_ns) const noexcept;
  /// Scale-outs decided so far.
  uint64_t scale_outs() const noexcept { return scale_outs_; }
  /// Scale-ins decided so far.
  uint64_t scale_ins() const noexcept { return scale_ins_; }
  /// Samples `record` ignored (negative, NaN or infinite utilisation).
  uint64_t ignored_samples() const noexcept { return ignored_samples_; }
  /// The settings it was built with.
  const AutoscalerConfig& config() const noexcept { return config_; }

 private:
  struct Sample {
    int64_t time_ns;
    double utilisation;
  };
  struct WindowMean {
    double mean = 0.0;
    uint64_t count = 0;  ///< samples in the window
  };

  int64_t longest_window() const noexcept;
  /// Drops samples with time < `floor_ns`.
  void discard_before(int64_t floor_ns) noexcept;
  WindowMean window_mean(int64_t now_ns, int64_t window_ns) const noexcept;
  /// True when the evidence since the start or the last change spans `window_ns`.
  bool covered(int64_t now_ns, int64_t window_ns) const noexcept;
  ScaleDecision change(int64_t now_ns, uint32_t workers, ScaleDecision decision);

  AutoscalerConfig config_;
  uint32_t workers_;
  std::deque<Sample> samples_;  // sorted by time_ns
  int64_t last_change_ns_ = 0;
  bool changed_ = false;
  ScaleDecision last_decision_ = ScaleDecision::kHold;
  uint64_t scale_outs_ = 0;
  uint64_t scale_ins_ = 0;
  uint64_t ignored_samples_ = 0;
};

/// The same policy applied to a cluster's analyzer replicas, from one member's view (docs/
/// scaling.md "Autoscaling"): the member owns `owned` of the topic's `total` partitions, so the
/// group has about total / owned members, and its own utilisation stands for theirs (the
/// partitions split the work). The policy starts from that member count and answers how many
/// members the group should have: one more after 10 minutes over the scale-out mark, one
/// fewer after 30 minutes under the low-water mark, with the cooldowns, never more than the
/// partitions. When the group's size changes (a member joined or left: the share changes),
/// the policy starts again from the new size. Every member exports its answer; the maximum
/// over the members is the group's (an overloaded member is enough to scale out, every member
/// must agree to scale in).
class ReplicaPolicy {
 public:
  /// `config`'s windows, marks and cooldowns apply; its min/max workers do not (replicas are
  /// bounded by 1 and the partition count).
  explicit ReplicaPolicy(const AutoscalerConfig& config) : config_(config) {}

  /// One observation at `now_ns`: the member's latest slide utilisation, and its share of
  /// the partitions. Owning nothing (between rebalances) observes nothing.
  void observe(int64_t now_ns, double utilisation, uint32_t owned, uint32_t total);
  /// The replicas the policy asks for; 1 before any observation.
  uint32_t desired() const noexcept { return policy_ ? policy_->workers() : 1; }
  /// The group size this member estimates (total / owned, rounded), 0 before any.
  uint32_t members() const noexcept { return members_; }

 private:
  AutoscalerConfig config_;
  std::optional<Autoscaler> policy_;
  uint32_t members_ = 0;
  uint32_t total_ = 0;
};

}  // namespace fathom::analyze
