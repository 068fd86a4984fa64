#include "detect/incident.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <tuple>

#include "flow/hash_mix.h"

namespace fathom::detect {
namespace {

// FNV-1a, 64-bit (FNV offset basis and prime as published by Fowler, Noll and Vo).
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

constexpr uint64_t fnv1a(uint64_t h, uint8_t byte) noexcept {
  return (h ^ byte) * kFnvPrime;
}

// Feeds `value` least significant byte first: the same bytes on every platform.
constexpr uint64_t fnv1a_le(uint64_t h, uint64_t value, int bytes) noexcept {
  for (int byte_idx = 0; byte_idx < bytes; ++byte_idx) {
    h = fnv1a(h, static_cast<uint8_t>(value >> (8 * byte_idx)));
  }
  return h;
}

// MurmurHash3's fmix64 finishes the id: FNV-1a's last bytes (the start time) mix weakly
// into the high bits.
using flow::fmix64;

// `last_seen_ns + quiet_ns <= now_ns`, without signed overflow.
bool quiet_for(int64_t last_seen_ns, int64_t quiet_ns, int64_t now_ns) noexcept {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (quiet_ns >= 0) {
    if (now_ns < kMin + quiet_ns) return false;  // now − quiet is below every last_seen
    return last_seen_ns <= now_ns - quiet_ns;
  }
  if (now_ns > kMax + quiet_ns) return true;  // now − quiet is above every last_seen
  return last_seen_ns <= now_ns - quiet_ns;
}

}  // namespace

std::string_view to_string(IncidentState state) noexcept {
  switch (state) {
    case IncidentState::kOpen: return "open";
    case IncidentState::kClosed: return "closed";
  }
  return "unknown";
}

std::string_view to_string(IncidentEventKind kind) noexcept {
  switch (kind) {
    case IncidentEventKind::kOpen: return "open";
    case IncidentEventKind::kUpdate: return "update";
    case IncidentEventKind::kClose: return "close";
  }
  return "unknown";
}

std::string incident_id(uint32_t tenant_id, DetectionType type, const flow::IpAddress& subject,
                        int64_t start_ns) {
  uint64_t h = kFnvOffset;
  h = fnv1a_le(h, tenant_id, 4);
  h = fnv1a(h, static_cast<uint8_t>(type));
  for (uint8_t b : subject.bytes) h = fnv1a(h, b);
  h = fnv1a_le(h, static_cast<uint64_t>(start_ns), 8);
  h = fmix64(h);

  constexpr std::string_view kHex = "0123456789abcdef";
  std::string id(16, '0');
  for (int digit_idx = 15; digit_idx >= 0; --digit_idx) {
    id[static_cast<size_t>(digit_idx)] = kHex[h & 0xf];
    h >>= 4;
  }
  return id;
}

IncidentTracker::IncidentTracker(const IncidentConfig& config) : config_(config) {}

IncidentTracker::Key IncidentTracker::key_of(const Detection& d) noexcept {
  return Key{d.tenant_id, d.type, d.subject};
}

Incident IncidentTracker::open_incident(const Detection& d) {
  Incident inc;
  inc.id = incident_id(d.tenant_id, d.type, d.subject, d.window_start_ns);
  inc.version = 1;
  inc.state = IncidentState::kOpen;
  inc.tenant_id = d.tenant_id;
  inc.type = d.type;
  inc.subject = d.subject;
  inc.detail = d.detail;
  inc.start_ns = d.window_start_ns;
  inc.last_seen_ns = d.window_end_ns;
  inc.severity = d.severity;
  inc.peak_severity = d.severity;
  inc.detections = 1;
  inc.first_arrival_ns = d.first_arrival_ns;
  inc.detected_ns = d.window_end_ns;
  inc.repeat_ns = d.repeat_ns;
  inc.latest = d;
  inc.peak = d;
  return inc;
}

void IncidentTracker::merge(Incident& inc, const Detection& d) {
  ++inc.detections;
  inc.repeat_ns = std::max(inc.repeat_ns, d.repeat_ns);
  if (d.first_arrival_ns != 0 &&
      (inc.first_arrival_ns == 0 || d.first_arrival_ns < inc.first_arrival_ns)) {
    inc.first_arrival_ns = d.first_arrival_ns;
  }
  if (d.severity > inc.peak_severity) {
    inc.peak_severity = d.severity;
    inc.peak = d;
  }
  // A late detection (an older window) adds to the counts and the peak, but the incident's
  // current state stays that of its newest window.
  if (d.window_end_ns >= inc.last_seen_ns) {
    inc.last_seen_ns = d.window_end_ns;
    inc.severity = d.severity;
    inc.detail = d.detail;
    inc.latest = d;
  }
}

bool IncidentTracker::needs_update(const Tracked& tracked) const noexcept {
  const Incident& inc = tracked.incident;
  if (severity_level(inc.severity) != tracked.emitted_level) return true;
  if (inc.peak_severity - tracked.emitted_peak >= config_.peak_step) return true;
  // Detection time only moves forward here (merge never moves last_seen back).
  return quiet_for(tracked.emitted_last_seen_ns, config_.refresh_interval_ns, inc.last_seen_ns);
}

IncidentEvent IncidentTracker::emit(IncidentEventKind kind, Tracked& tracked) {
  Incident& inc = tracked.incident;
  switch (kind) {
    case IncidentEventKind::kOpen: ++stats_.opened; break;
    case IncidentEventKind::kUpdate:
      ++inc.version;
      ++stats_.updated;
      break;
    case IncidentEventKind::kClose:
      ++inc.version;
      inc.state = IncidentState::kClosed;
      inc.end_ns = inc.last_seen_ns;
      ++stats_.closed;
      break;
  }
  tracked.emitted_level = severity_level(inc.severity);
  tracked.emitted_peak = inc.peak_severity;
  tracked.emitted_last_seen_ns = inc.last_seen_ns;
  return IncidentEvent{kind, inc};
}

std::vector<IncidentEvent> IncidentTracker::observe(std::span<const Detection> detections) {
  stats_.detections += detections.size();
  // Grouped by key (the event order) and, within a key, oldest window first, so the
  // incident opens with its earliest detection of the call whatever order they came in.
  // Stable: equal windows keep their input order (the later one observed is the latest).
  std::vector<size_t> order(detections.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Detection& da = detections[a];
    const Detection& db = detections[b];
    return std::tuple(key_of(da), da.window_end_ns, da.window_start_ns) <
           std::tuple(key_of(db), db.window_end_ns, db.window_start_ns);
  });

  std::vector<IncidentEvent> events;
  size_t pos = 0;
  while (pos < order.size()) {
    const Key key = key_of(detections[order[pos]]);
    auto it = open_.find(key);
    bool opened = false;
    for (; pos < order.size() && key_of(detections[order[pos]]) == key; ++pos) {
      const Detection& d = detections[order[pos]];
      if (it != open_.end()) {
        merge(it->second.incident, d);
        continue;
      }
      if (open_.size() >= config_.max_open) {
        ++stats_.dropped_over_capacity;
        continue;
      }
      it = open_.emplace(key, Tracked{open_incident(d)}).first;
      opened = true;
    }
    if (it == open_.end()) continue;  // every detection of the key was dropped
    // One event per incident per call, with the state after all of the call's detections.
    if (opened) {
      events.push_back(emit(IncidentEventKind::kOpen, it->second));
    } else if (needs_update(it->second)) {
      events.push_back(emit(IncidentEventKind::kUpdate, it->second));
    }
  }
  stats_.open_now = open_.size();
  return events;
}

std::vector<IncidentEvent> IncidentTracker::advance(int64_t now_ns) {
  std::vector<IncidentEvent> events;
  // A scan per slide: O(open incidents) a few times a minute, and the map's order is the
  // event order.
  for (auto it = open_.begin(); it != open_.end();) {
    const Incident& inc = it->second.incident;
    if (quiet_for(inc.last_seen_ns, std::max(config_.quiet_period_ns, 2 * inc.repeat_ns), now_ns)) {
      events.push_back(emit(IncidentEventKind::kClose, it->second));
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
  stats_.open_now = open_.size();
  return events;
}

std::vector<IncidentEvent> IncidentTracker::flush() {
  std::vector<IncidentEvent> events;
  events.reserve(open_.size());
  for (auto& [key, tracked] : open_) events.push_back(emit(IncidentEventKind::kClose, tracked));
  open_.clear();
  stats_.open_now = 0;
  return events;
}

bool IncidentTracker::restore(Incident incident) {
  if (incident.state != IncidentState::kOpen) return false;
  const Key key{incident.tenant_id, incident.type, incident.subject};
  if (open_.count(key) != 0) return false;
  if (open_.size() >= config_.max_open) {
    ++stats_.dropped_over_capacity;
    return false;
  }
  Tracked tracked{std::move(incident)};
  // As if this tracker had emitted its latest version: the next update is due on the same
  // conditions as at the previous owner.
  tracked.emitted_level = severity_level(tracked.incident.severity);
  tracked.emitted_peak = tracked.incident.peak_severity;
  tracked.emitted_last_seen_ns = tracked.incident.last_seen_ns;
  open_.emplace(key, std::move(tracked));
  stats_.open_now = open_.size();
  return true;
}

std::vector<Incident> IncidentTracker::open_incidents() const {
  std::vector<Incident> out;
  out.reserve(open_.size());
  for (const auto& [key, tracked] : open_) out.push_back(tracked.incident);
  std::sort(out.begin(), out.end(), [](const Incident& a, const Incident& b) {
    return std::tie(a.tenant_id, a.start_ns, a.id) < std::tie(b.tenant_id, b.start_ns, b.id);
  });
  return out;
}

}  // namespace fathom::detect
