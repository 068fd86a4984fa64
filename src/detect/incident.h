#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "detect/detection.h"

namespace fathom::detect {

/// Lifecycle of an incident.
enum class IncidentState : uint8_t { kOpen = 0, kClosed = 1 };
/// "open", "closed".
std::string_view to_string(IncidentState state) noexcept;

/// What happened to an incident in one step: the incident stream for store and alert.
enum class IncidentEventKind : uint8_t {
  kOpen = 0,      ///< first detection of (tenant, type, subject) after a quiet period
  kUpdate = 1,    ///< severity level changed, peak rose, or the evidence refresh interval passed
  kClose = 2,     ///< no detection for `quiet_period_ns` (or flushed at shutdown)
};
/// "open", "update", "close".
std::string_view to_string(IncidentEventKind kind) noexcept;

/// Detections of one (tenant, type, subject) merged over time.
struct Incident {
  /// Stable id: 16 lower-case hex digits of a hash of tenant, type, subject and start time,
  /// the same on every run over the same detections (idempotent store upserts use it).
  std::string id;
  uint32_t version = 0;  ///< 1 at open, +1 per event (store upserts keep the highest)
  IncidentState state = IncidentState::kOpen;
  uint32_t tenant_id = 0;
  DetectionType type = DetectionType::kAnomaly;
  flow::IpAddress subject;
  std::string detail;           ///< of the latest detection
  int64_t start_ns = 0;         ///< window start of the first detection
  int64_t last_seen_ns = 0;     ///< window end of the latest detection
  int64_t end_ns = 0;           ///< set at close: last_seen_ns
  double severity = 0.0;        ///< of the latest detection
  double peak_severity = 0.0;   ///< highest so far
  uint64_t detections = 0;      ///< detections merged
  int64_t first_arrival_ns = 0; ///< earliest `Detection::first_arrival_ns` (0 when unknown)
  /// Detection that opened the incident: its window end is when the incident was known.
  int64_t detected_ns = 0;
  Detection latest;             ///< the latest detection (evidence, top peers and ports)
  Detection peak;               ///< the detection with the peak severity
};

/// One entry of the incident stream.
struct IncidentEvent {
  IncidentEventKind kind = IncidentEventKind::kOpen;
  Incident incident;  ///< a copy as of this event
};

/// Settings of an IncidentTracker.
struct IncidentConfig {
  /// An incident closes when no detection of its key arrives for this long (detection time,
  /// i.e. window ends, not the wall clock).
  int64_t quiet_period_ns = 60'000'000'000;
  /// An open incident emits an update at least this often while detections keep coming
  /// (fresh evidence), and at once when its severity level changes or its peak rises by
  /// `peak_step` or more.
  int64_t refresh_interval_ns = 60'000'000'000;
  double peak_step = 10.0;
  /// Open incidents kept; beyond it the detection is dropped and counted (bounded memory
  /// against an attacker spraying subjects). Closed incidents are not kept.
  uint32_t max_open = 100'000;
};

/// Counters of an IncidentTracker.
struct IncidentStats {
  uint64_t detections = 0;
  uint64_t opened = 0;
  uint64_t updated = 0;
  uint64_t closed = 0;
  uint64_t dropped_over_capacity = 0;  ///< detections that would have opened one too many
  uint64_t open_now = 0;
};

/// Merges detections into incidents keyed by (tenant, type, subject) and emits the incident
/// stream (open, update, close). Time is the detections' own (window ends), passed in
/// explicitly, so replays and tests are deterministic. Not thread-safe: the analysis thread
/// owns it. No I/O (DESIGN.md: detect must not do I/O).
class IncidentTracker {
 public:
  explicit IncidentTracker(const IncidentConfig& config = {});

  /// Merges `detections` (any order, any tenants) and returns the events they cause, in a
  /// deterministic order (by tenant, type, subject).
  std::vector<IncidentEvent> observe(std::span<const Detection> detections);
  /// Closes every open incident whose last detection is older than `now_ns` −
  /// quiet_period_ns, and returns the close events. Call once per slide with the analysis
  /// clock.
  std::vector<IncidentEvent> advance(int64_t now_ns);
  /// Closes every open incident (shutdown, end of a replay).
  std::vector<IncidentEvent> flush();

  /// Open incidents, sorted by (tenant, start, id): the read-only snapshot for the API.
  std::vector<Incident> open_incidents() const;
  const IncidentStats& stats() const noexcept { return stats_; }
  const IncidentConfig& config() const noexcept { return config_; }

 private:
  IncidentConfig config_;
  IncidentStats stats_;
  // The implementation chooses the container for open incidents (keyed by tenant, type,
  // subject); it may add private members and helpers.
};

/// The stable id of an incident (see `Incident::id`).
std::string incident_id(uint32_t tenant_id, DetectionType type, const flow::IpAddress& subject,
                        int64_t start_ns);

}  // namespace fathom::detect
