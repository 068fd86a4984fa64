#include "alert/config.h"

#include <set>

namespace fathom::alert {
namespace {

bool plain_file_name(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

/// Kafka's rule for topic names (Topic.java: legal characters, at most 249, not "." or "..").
bool kafka_topic_name(std::string_view name) {
  return name.size() <= 249 && plain_file_name(name);
}

}  // namespace

std::string_view to_string(SinkKind kind) noexcept {
  switch (kind) {
    case SinkKind::kWebhook: return "webhook";
    case SinkKind::kSyslog: return "syslog";
    case SinkKind::kJsonLines: return "json_lines";
    case SinkKind::kKafka: return "kafka";
  }
  return "unknown";
}

std::string validate(const AlertConfig& config) {
  if (config.sinks.size() > 64) return "alert: at most 64 sinks";
  std::set<std::string> names;
  for (const SinkConfig& sink : config.sinks) {
    const std::string where = "alert sink '" + sink.name + "': ";
    if (!plain_file_name(sink.name)) {
      return where + "name must be letters, digits, '-', '_' or '.'";
    }
    if (!names.insert(sink.name).second) return where + "duplicate name";
    switch (sink.kind) {
      case SinkKind::kWebhook:
        if (sink.url.rfind("http://", 0) != 0 && sink.url.rfind("https://", 0) != 0) {
          return where + "url must start with http:// or https://";
        }
        if (sink.timeout_ms <= 0) return where + "timeout must be positive";
        break;
      case SinkKind::kSyslog:
        if (sink.host.empty()) return where + "host is empty";
        if (sink.port == 0) return where + "port is 0";
        if (sink.facility > 23) return where + "facility must be 0..23 (RFC 5424 §6.2.1)";
        break;
      case SinkKind::kJsonLines:
        if (sink.path.empty()) return where + "path is empty";
        break;
      case SinkKind::kKafka:
        if (sink.brokers.empty()) return where + "brokers is empty";
        if (!kafka_topic_name(sink.topic)) {
          return where + "topic must be 1-249 of A-Z a-z 0-9 '.', '_', '-' (not '.' or '..')";
        }
        if (sink.timeout_ms <= 0) return where + "timeout must be positive";
        break;
    }
  }
  if (config.retry.max_attempts == 0) return "alert retry: max_attempts must be >= 1";
  if (config.retry.initial_backoff_ms < 0 ||
      config.retry.max_backoff_ms < config.retry.initial_backoff_ms) {
    return "alert retry: need 0 <= initial_backoff <= max_backoff";
  }
  if (config.retry.jitter < 0.0 || config.retry.jitter > 1.0) {
    return "alert retry: jitter must be in [0, 1]";
  }
  if (config.rate_limit.alerts_per_minute > 0.0 && config.rate_limit.burst < 1.0) {
    return "alert rate limit: burst must be >= 1";
  }
  if (config.rate_limit.summary_interval_ms <= 0) {
    return "alert rate limit: summary interval must be positive";
  }
  if (config.queue_capacity == 0 || config.intake_capacity == 0) {
    return "alert: queue capacities must be positive";
  }
  if (config.dedup_capacity == 0 || config.max_tracked_incidents == 0) {
    return "alert: dedup and tracked-incident capacities must be positive";
  }
  return {};
}

}  // namespace fathom::alert
