#include "alert/policy.h"

#include <algorithm>
#include <climits>
#include <utility>

#include <spdlog/spdlog.h>

namespace fathom::alert {
namespace {

std::shared_ptr<spdlog::logger> log() {
  std::shared_ptr<spdlog::logger> logger = spdlog::get("alert");
  return logger ? logger : spdlog::default_logger();
}

/// Parses "id/kind/level" written by `dedup_key`.
bool parse_key(const std::string& key, std::string& id, AlertKind& kind,
               detect::SeverityLevel& level) {
  const size_t second = key.rfind('/');
  if (second == std::string::npos || second == 0) return false;
  const size_t first = key.rfind('/', second - 1);
  if (first == std::string::npos) return false;
  id = key.substr(0, first);
  const std::string kind_text = key.substr(first + 1, second - first - 1);
  const std::string level_text = key.substr(second + 1);
  bool kind_ok = false;
  for (const AlertKind k : {AlertKind::kOpen, AlertKind::kEscalation, AlertKind::kClose}) {
    if (kind_text == to_string(k)) {
      kind = k;
      kind_ok = true;
    }
  }
  bool level_ok = false;
  for (const detect::SeverityLevel l :
       {detect::SeverityLevel::kLow, detect::SeverityLevel::kMedium, detect::SeverityLevel::kHigh,
        detect::SeverityLevel::kCritical}) {
    if (level_text == detect::to_string(l)) {
      level = l;
      level_ok = true;
    }
  }
  return kind_ok && level_ok;
}

}  // namespace

AlertPolicy::AlertPolicy(const AlertConfig& config, std::unique_ptr<DedupSet> dedup)
    : config_(config), dedup_(std::move(dedup)), per_sink_(config.sinks.size()) {
  if (!dedup_) dedup_ = std::make_unique<DedupSet>(config_.dedup_capacity);
  // Replays the journal: what was alerted before a restart is tracked again.
  for (const auto& [key, sinks] : dedup_->loaded()) {
    std::string id;
    AlertKind kind = AlertKind::kOpen;
    detect::SeverityLevel level = detect::SeverityLevel::kLow;
    if (!parse_key(key, id, kind, level)) continue;
    if (kind == AlertKind::kClose) {
      tracked_.erase(id);
      continue;
    }
    Tracked& tracked = track(id);
    tracked.alerted_level = std::max(tracked.alerted_level, level);
    tracked.sinks |= sinks;
  }
}

std::string AlertPolicy::dedup_key(const std::string& id, AlertKind kind,
                                   detect::SeverityLevel level) {
  std::string key = id;
  key += '/';
  key += to_string(kind);
  key += '/';
  key += detect::to_string(level);
  return key;
}

uint64_t AlertPolicy::route(uint32_t tenant_id, detect::SeverityLevel level) const noexcept {
  uint64_t sinks = 0;
  for (size_t sink_idx = 0; sink_idx < config_.sinks.size(); ++sink_idx) {
    const SinkConfig& sink = config_.sinks[sink_idx];
    if (level < sink.min_level) continue;
    if (!sink.tenants.empty() &&
        std::find(sink.tenants.begin(), sink.tenants.end(), tenant_id) == sink.tenants.end()) {
      continue;
    }
    sinks |= uint64_t{1} << sink_idx;
  }
  return sinks;
}

void AlertPolicy::count_per_sink(uint64_t sinks, uint64_t SinkPolicyCounters::*counter) {
  for (size_t sink_idx = 0; sink_idx < per_sink_.size(); ++sink_idx) {
    if (sinks & (uint64_t{1} << sink_idx)) ++(per_sink_[sink_idx].*counter);
  }
}

AlertPolicy::Tracked& AlertPolicy::track(const std::string& id) {
  auto [it, inserted] = tracked_.try_emplace(id);
  if (!inserted) return it->second;
  it->second.seq = next_seq_++;
  tracked_order_.emplace_back(id, it->second.seq);
  // Oldest first out; entries of incidents already closed are stale and skipped.
  while (tracked_.size() > config_.max_tracked_incidents && !tracked_order_.empty()) {
    const auto& [old_id, old_seq] = tracked_order_.front();
    const auto old = tracked_.find(old_id);
    if (old != tracked_.end() && old->second.seq == old_seq && old != it) {
      tracked_.erase(old);
      ++stats_.tracked_evicted;
    }
    tracked_order_.pop_front();
  }
  if (tracked_order_.size() > 2 * size_t{config_.max_tracked_incidents} + 16) {
    std::deque<std::pair<std::string, uint64_t>> live;
    for (auto& entry : tracked_order_) {
      const auto found = tracked_.find(entry.first);
      if (found != tracked_.end() && found->second.seq == entry.second) {
        live.push_back(std::move(entry));
      }
    }
    tracked_order_ = std::move(live);
  }
  return tracked_.find(id)->second;
}

bool AlertPolicy::take_token(uint32_t tenant_id, detect::SeverityLevel level, int64_t now_ns) {
  const RateLimitConfig& limit = config_.rate_limit;
  if (limit.alerts_per_minute <= 0.0) return true;
  auto [it, inserted] = buckets_.try_emplace(tenant_id);
  Bucket& bucket = it->second;
  if (inserted) {
    bucket.tokens = limit.burst;
    bucket.refilled_ns = now_ns;
  }
  if (now_ns > bucket.refilled_ns) {
    const double elapsed_min = static_cast<double>(now_ns - bucket.refilled_ns) / 60e9;
    bucket.tokens = std::min(limit.burst, bucket.tokens + elapsed_min * limit.alerts_per_minute);
    bucket.refilled_ns = now_ns;
  }
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return true;
  }
  if (bucket.suppressed == 0) {
    bucket.first_suppressed_ns = now_ns;
    bucket.suppressed_level = level;
  }
  ++bucket.suppressed;
  bucket.suppressed_level = std::max(bucket.suppressed_level, level);
  return false;
}

void AlertPolicy::process(const detect::IncidentEvent& event, int64_t now_ns, int64_t wall_ns,
                          std::vector<RoutedAlert>& out) {
  ++stats_.events;
  const detect::Incident& inc = event.incident;
  const detect::SeverityLevel level = detect::severity_level(inc.severity);
  const auto it = tracked_.find(inc.id);

  if (event.kind == detect::IncidentEventKind::kClose) {
    if (it == tracked_.end()) {
      ++stats_.unrouted;  // never alerted (filtered, limited or forgotten): nobody to tell
      return;
    }
    const uint64_t sinks = it->second.sinks;
    tracked_.erase(it);
    const std::string key = dedup_key(inc.id, AlertKind::kClose, level);
    if (!dedup_->insert(key, sinks)) {
      ++stats_.deduplicated;
      count_per_sink(sinks, &SinkPolicyCounters::deduplicated);
      return;
    }
    ++stats_.closes;
    out.push_back({make_alert(AlertKind::kClose, event, wall_ns), sinks});
    stats_.journal_errors = dedup_->journal_errors();
    return;
  }

  // An open, or the first event of an incident the policy does not know (it started before
  // the alerter, or the open was filtered or limited), is an open for the receivers.
  AlertKind kind = AlertKind::kOpen;
  if (it != tracked_.end()) {
    if (event.kind == detect::IncidentEventKind::kOpen) {
      // An open of an incident already alerted: a replayed stream.
      ++stats_.deduplicated;
      count_per_sink(it->second.sinks, &SinkPolicyCounters::deduplicated);
      return;
    }
    if (level <= it->second.alerted_level) {
      ++stats_.not_escalated;
      return;
    }
    kind = AlertKind::kEscalation;
  }
  const uint64_t sinks = route(inc.tenant_id, level);
  if (sinks == 0) {
    ++stats_.unrouted;
    return;
  }
  const std::string key = dedup_key(inc.id, kind, level);
  if (dedup_->contains(key)) {
    ++stats_.deduplicated;
    count_per_sink(sinks, &SinkPolicyCounters::deduplicated);
    // Sent before (a replayed stream): remember it so the replay's escalations and close are
    // recognised as sent too.
    Tracked& tracked = track(inc.id);
    tracked.alerted_level = std::max(tracked.alerted_level, level);
    tracked.sinks |= sinks;
    return;
  }
  if (!take_token(inc.tenant_id, level, now_ns)) {
    ++stats_.rate_limited;
    count_per_sink(sinks, &SinkPolicyCounters::rate_limited);
    return;
  }
  dedup_->insert(key, sinks);
  stats_.journal_errors = dedup_->journal_errors();
  Tracked& tracked = track(inc.id);
  tracked.alerted_level = std::max(tracked.alerted_level, level);
  tracked.sinks |= sinks;
  ++(kind == AlertKind::kOpen ? stats_.opens : stats_.escalations);
  out.push_back({make_alert(kind, event, wall_ns), sinks});
}

void AlertPolicy::tick(int64_t now_ns, int64_t wall_ns, std::vector<RoutedAlert>& out) {
  const int64_t interval_ns = config_.rate_limit.summary_interval_ms * 1'000'000;
  for (auto& [tenant_id, bucket] : buckets_) {
    if (bucket.suppressed == 0 || now_ns < bucket.first_suppressed_ns + interval_ns) continue;
    uint64_t sinks = route(tenant_id, bucket.suppressed_level);
    if (sinks == 0) sinks = route(tenant_id, detect::SeverityLevel::kCritical);
    log()->warn("alert: rate limit suppressed {} alerts for tenant={} in the last {} ms",
                bucket.suppressed, tenant_id, (now_ns - bucket.first_suppressed_ns) / 1'000'000);
    ++stats_.summaries;
    out.push_back(
        {make_suppressed_alert(tenant_id, bucket.suppressed, bucket.suppressed_level, wall_ns),
         sinks});
    bucket.suppressed = 0;
  }
}

int64_t AlertPolicy::next_tick_ns() const noexcept {
  const int64_t interval_ns = config_.rate_limit.summary_interval_ms * 1'000'000;
  int64_t next = INT64_MAX;
  for (const auto& [tenant_id, bucket] : buckets_) {
    if (bucket.suppressed != 0) next = std::min(next, bucket.first_suppressed_ns + interval_ns);
  }
  return next;
}

}  // namespace fathom::alert
