#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "detect/detection.h"

namespace fathom::detect {

/// Lifecycle of an incident.
enum class IncidentState : uint8_t { kOpen = 0, kClosed = 1 };
/// "open", "closed".
std::string_view to_string(IncidentState state) noexcept;

/// What happened to an incident in one step: the incident stream for store and alert.
enum class IncidentEventKind : uint8_t {
  kOpen = 0,    ///< first detection of (tenant, type, subject) after a quiet period
  kUpdate = 1,  ///< severity level changed, peak rose, or the evidence refresh interval passed
  kClose = 2,   ///< no detection for `quiet_period_ns` (or flushed at shutdown)
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
  std::string detail;  ///< of the latest detection
  /// Window start of the detection that opened the incident (kept when an older detection
  /// arrives later: the id depends on it).
  int64_t start_ns = 0;
  int64_t last_seen_ns = 0;      ///< window end of the latest detection (never moves back)
  int64_t end_ns = 0;            ///< set at close: last_seen_ns
  double severity = 0.0;         ///< of the latest detection
  double peak_severity = 0.0;    ///< highest so far
  uint64_t detections = 0;       ///< detections merged
  int64_t first_arrival_ns = 0;  ///< earliest `Detection::first_arrival_ns` (0 when unknown)
  /// Detection that opened the incident: its window end is when the incident was known.
  int64_t detected_ns = 0;
  /// Longest `Detection::repeat_ns` merged: the incident closes after max(quiet period, 2 ×
  /// this) without a detection.
  int64_t repeat_ns = 0;
  /// The latest detection: the greatest window end (the later one observed on a tie), with
  /// its evidence, top peers and ports. `severity` and `detail` are its.
  Detection latest;
  Detection peak;  ///< the detection with the peak severity (the first one to reach it)
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
  uint64_t detections = 0;             ///< detections observed (dropped ones included)
  uint64_t opened = 0;                 ///< kOpen events
  uint64_t updated = 0;                ///< kUpdate events
  uint64_t closed = 0;                 ///< kClose events (quiet period or flush)
  uint64_t dropped_over_capacity = 0;  ///< detections that would have opened one too many
  uint64_t open_now = 0;               ///< incidents open after the last call
};

/// Merges detections into incidents keyed by (tenant, type, subject) and emits the incident
/// stream (open, update, close). Time is the detections' own (window ends), passed in
/// explicitly, so replays and tests are deterministic. Not thread-safe: the analysis thread
/// owns it. No I/O (DESIGN.md: detect must not do I/O).
class IncidentTracker {
 public:
  explicit IncidentTracker(const IncidentConfig& config = {});

  /// Merges `detections` (any order, any tenants) and returns the events they cause, in a
  /// deterministic order (by tenant, type, subject bytes), at most one per incident: the
  /// state after all of this call's detections. A detection of a key with no open incident
  /// opens one (kOpen, version 1; within one call, the one with the earliest window opens
  /// it). Otherwise it merges, and the incident emits kUpdate when its severity level
  /// differs from the last event's, its peak rose by `peak_step` or more since the last
  /// event, or its last_seen_ns is `refresh_interval_ns` or more past the last event's.
  /// A detection of an older window than last_seen_ns still counts (detections, peak,
  /// first arrival) but does not move last_seen_ns, severity or `latest` back. A detection
  /// that would open an incident beyond `max_open` is dropped and counted.
  std::vector<IncidentEvent> observe(std::span<const Detection> detections);
  /// Closes every open incident with last_seen_ns + max(quiet_period_ns, 2 × repeat_ns) <=
  /// `now_ns` (end_ns =
  /// last_seen_ns, version + 1), forgets it, and returns the close events in the order of
  /// `observe`. Call once per slide with the analysis clock, before `observe` of the
  /// detections of windows ending at `now_ns`: a detection after the quiet period then
  /// opens a new incident (new id) instead of extending the old one.
  std::vector<IncidentEvent> advance(int64_t now_ns);
  /// Closes every open incident (shutdown, end of a replay); events in the order of `observe`.
  std::vector<IncidentEvent> flush();
  /// Takes over an open incident that another tracker emitted (cluster mode: the tenant's
  /// Kafka partition moved to this analyzer, which read it back from the store). Later
  /// detections of its (tenant, type, subject) merge into it, so its id stays and its
  /// versions go on from `incident.version`; it closes like any other. Emits nothing. False,
  /// changing nothing, when the incident is not open, one of its key is open here already, or
  /// `max_open` is reached (counted as dropped).
  bool restore(Incident incident);

  /// Open incidents, sorted by (tenant, start, id): the read-only snapshot for the API.
  std::vector<Incident> open_incidents() const;
  /// Counters since construction.
  const IncidentStats& stats() const noexcept { return stats_; }
  /// The settings it was built with.
  const IncidentConfig& config() const noexcept { return config_; }

 private:
  struct Key {
    uint32_t tenant_id = 0;
    DetectionType type = DetectionType::kAnomaly;
    flow::IpAddress subject;
    friend auto operator<=>(const Key&, const Key&) = default;
  };
  /// An open incident and what its last event showed.
  struct Tracked {
    Incident incident;
    SeverityLevel emitted_level = SeverityLevel::kLow;
    double emitted_peak = 0.0;
    int64_t emitted_last_seen_ns = 0;
  };

  static Key key_of(const Detection& d) noexcept;
  static Incident open_incident(const Detection& d);
  static void merge(Incident& inc, const Detection& d);
  bool needs_update(const Tracked& tracked) const noexcept;
  /// Applies `kind` to the incident (version, state, counters), remembers what it showed,
  /// and returns the event.
  IncidentEvent emit(IncidentEventKind kind, Tracked& tracked);

  IncidentConfig config_;
  IncidentStats stats_;
  // Ordered by (tenant, type, subject bytes): the order events are returned in.
  std::map<Key, Tracked> open_;
};

/// The stable id of an incident (see `Incident::id`): FNV-1a 64 over the tenant (4 bytes,
/// little-endian), the type (1 byte), the 16 address bytes and `start_ns` (8 bytes,
/// little-endian), finished with MurmurHash3's fmix64, as 16 lower-case hex digits. Part of
/// the stored data: changing it changes every id.
std::string incident_id(uint32_t tenant_id, DetectionType type, const flow::IpAddress& subject,
                        int64_t start_ns);

}  // namespace fathom::detect
