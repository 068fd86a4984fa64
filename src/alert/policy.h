#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "alert/alert.h"
#include "alert/config.h"
#include "alert/dedup.h"
#include "detect/incident.h"

namespace fathom::alert {

/// An alert and the sinks (bit i = `AlertConfig::sinks[i]`) it goes to.
struct RoutedAlert {
  Alert alert;
  uint64_t sinks = 0;
};

/// Counters of an AlertPolicy. Per-sink counts of deduplicated and rate-limited alerts are in
/// `AlertPolicy::sink_counters()`.
struct PolicyStats {
  uint64_t events = 0;           ///< incident events observed
  uint64_t opens = 0;            ///< open alerts raised
  uint64_t escalations = 0;      ///< escalation alerts raised
  uint64_t closes = 0;           ///< close alerts raised
  uint64_t summaries = 0;        ///< "N alerts suppressed" alerts raised
  uint64_t deduplicated = 0;     ///< alerts not raised: their key was already sent
  uint64_t rate_limited = 0;     ///< alerts not raised: their tenant was over its limit
  uint64_t unrouted = 0;         ///< alerts no sink wanted (tenant or level)
  uint64_t not_escalated = 0;    ///< updates at or below the level already alerted
  uint64_t tracked_evicted = 0;  ///< incidents forgotten to bound memory
  uint64_t journal_errors = 0;   ///< dedup journal writes that failed
};

/// What the policy counted against one sink.
struct SinkPolicyCounters {
  uint64_t deduplicated = 0;
  uint64_t rate_limited = 0;
};

/// Turns the incident stream into alerts: one for an incident's open (or its first event
/// seen), one per escalation of its severity level above the highest level already alerted,
/// and one for its close, to every sink that received one of its alerts. De-duplicates by
/// (incident id, kind, level) in a bounded DedupSet (journaled when given one), and limits
/// opens and escalations per tenant with a token bucket; a tenant with suppressed alerts gets
/// a summary alert every `summary_interval_ms`. Time is passed in (tests drive it). Not
/// thread-safe; does no I/O except the dedup journal.
class AlertPolicy {
 public:
  /// `dedup` null = an in-memory set of `config.dedup_capacity`. Incidents in a journaled
  /// set's loaded entries are tracked again (level and sinks), so escalations and closes after
  /// a restart behave as before it.
  explicit AlertPolicy(const AlertConfig& config, std::unique_ptr<DedupSet> dedup = nullptr);

  /// Appends the alerts `event` causes to `out`. `now_ns` is a monotonic clock (rate limit),
  /// `wall_ns` the wall clock stamped on alerts.
  void process(const detect::IncidentEvent& event, int64_t now_ns, int64_t wall_ns,
               std::vector<RoutedAlert>& out);
  /// Appends the summary alerts that are due at `now_ns` to `out` (and logs one line each).
  void tick(int64_t now_ns, int64_t wall_ns, std::vector<RoutedAlert>& out);
  /// The earliest `now_ns` at which `tick` has something to do; INT64_MAX when nothing waits.
  int64_t next_tick_ns() const noexcept;

  const PolicyStats& stats() const noexcept { return stats_; }
  const std::vector<SinkPolicyCounters>& sink_counters() const noexcept { return per_sink_; }
  size_t tracked() const noexcept { return tracked_.size(); }

 private:
  struct Tracked {
    detect::SeverityLevel alerted_level = detect::SeverityLevel::kLow;
    uint64_t sinks = 0;  ///< sinks that received an alert of this incident
    uint64_t seq = 0;    ///< insertion order, for eviction
  };
  struct Bucket {
    double tokens = 0.0;
    int64_t refilled_ns = 0;
    uint64_t suppressed = 0;  ///< since the last summary
    detect::SeverityLevel suppressed_level = detect::SeverityLevel::kLow;
    int64_t first_suppressed_ns = 0;
  };

  uint64_t route(uint32_t tenant_id, detect::SeverityLevel level) const noexcept;
  void count_per_sink(uint64_t sinks, uint64_t SinkPolicyCounters::*counter);
  /// True when the tenant's bucket has a token (taken); else counts the suppression.
  bool take_token(uint32_t tenant_id, detect::SeverityLevel level, int64_t now_ns);
  Tracked& track(const std::string& id);
  static std::string dedup_key(const std::string& id, AlertKind kind, detect::SeverityLevel level);

  AlertConfig config_;
  std::unique_ptr<DedupSet> dedup_;
  std::unordered_map<std::string, Tracked> tracked_;
  std::deque<std::pair<std::string, uint64_t>> tracked_order_;  ///< (id, seq), oldest first
  uint64_t next_seq_ = 0;
  std::unordered_map<uint32_t, Bucket> buckets_;
  PolicyStats stats_;
  std::vector<SinkPolicyCounters> per_sink_;
};

}  // namespace fathom::alert
