#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "detect/detection.h"

namespace fathom::alert {

/// Which transport a sink speaks.
enum class SinkKind : uint8_t {
  kWebhook = 0,    ///< HTTP(S) POST of the alert JSON
  kSyslog = 1,     ///< RFC 5424 with a CEF payload, over UDP or TCP
  kJsonLines = 2,  ///< one JSON object per line, appended to a file
  kKafka = 3,      ///< the alert JSON as a Kafka message keyed by tenant (idempotent producer)
};
/// "webhook", "syslog", "json_lines", "kafka".
std::string_view to_string(SinkKind kind) noexcept;

/// Syslog transport: RFC 5426 (one message per datagram) or RFC 6587 octet counting.
enum class SyslogTransport : uint8_t { kUdp = 0, kTcp = 1 };

/// One destination of alerts and what it wants to receive.
struct SinkConfig {
  /// Unique among the sinks: names the counters and the spool subdirectory, so it must be a
  /// plain file name (letters, digits, '-', '_', '.').
  std::string name;
  SinkKind kind = SinkKind::kJsonLines;
  /// Tenants whose alerts go here; empty = every tenant.
  std::vector<uint32_t> tenants;
  /// Alerts below this level are not sent here (a close follows its open regardless).
  detect::SeverityLevel min_level = detect::SeverityLevel::kLow;

  // kWebhook
  std::string url;  ///< "http://host[:port]/path" or "https://..."
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra request headers
  /// When set, each request carries `X-Fathom-Timestamp` and `X-Fathom-Signature:
  /// sha256=<hex HMAC-SHA256 over "<timestamp>.<body>">` (docs/alerting.md).
  std::string hmac_secret;
  /// webhook: connect, and read/write each; kafka: how long one delivery may take, librdkafka's
  /// own retries included (message.timeout.ms).
  int64_t timeout_ms = 5000;
  bool verify_tls = true;  ///< check the server certificate of an https URL

  // kSyslog
  std::string host = "127.0.0.1";
  uint16_t port = 514;
  SyslogTransport transport = SyslogTransport::kUdp;
  uint8_t facility = 10;  ///< RFC 5424 §6.2.1 facility 0..23; 10 = security/authorization
  std::string hostname;   ///< HOSTNAME field; empty = gethostname()

  // kJsonLines
  std::string path;  ///< appended to; reopened when the file at `path` is replaced (rotation)

  // kKafka
  std::string brokers;                  ///< bootstrap.servers ("host:port,host:port")
  std::string topic = "fathom.alerts";  ///< the topic every alert goes to
  /// Extra librdkafka properties (security.protocol, sasl.*, ...), set after Fathom's own, so
  /// they override; an unknown name or a bad value fails the sink's creation.
  std::map<std::string, std::string> properties;
};

/// Retries of one alert at its sink before it goes to the spool.
struct RetryConfig {
  uint32_t max_attempts = 5;         ///< deliveries tried, the first included (>= 1)
  int64_t initial_backoff_ms = 200;  ///< wait before the second attempt
  int64_t max_backoff_ms = 30'000;   ///< cap of the doubling wait (also the spool probe)
  double jitter = 0.2;               ///< each wait is scaled by a uniform draw in [1-j, 1+j]
};

/// Token bucket per tenant over opens and escalations (closes and summaries are not limited).
struct RateLimitConfig {
  double alerts_per_minute = 60.0;  ///< refill rate; <= 0 disables the limit
  double burst = 20.0;              ///< bucket size
  /// How often a tenant with suppressed alerts gets an "N alerts suppressed" summary alert
  /// (and one log line).
  int64_t summary_interval_ms = 60'000;
};

/// Everything the alert part needs; filled in by the app's config loader.
struct AlertConfig {
  std::vector<SinkConfig> sinks;
  RetryConfig retry;
  RateLimitConfig rate_limit;
  /// Per-sink undeliverable alerts wait in `<spool_directory>/<sink name>/`, and the
  /// de-duplication journal lives in `<spool_directory>/dedup.log`; empty = no spool (an
  /// undeliverable alert is dropped and counted) and in-memory de-duplication only.
  std::string spool_directory;
  uint64_t spool_max_bytes_per_sink = 64ull << 20;  ///< disk budget of each sink's spool
  uint32_t queue_capacity = 1024;   ///< in-memory alerts per sink before they go to the spool
  uint32_t intake_capacity = 4096;  ///< incident events waiting for the policy thread
  /// Alert keys (incident id, kind, level) remembered for de-duplication.
  uint32_t dedup_capacity = 100'000;
  /// Incidents whose alerted level and sinks are remembered (for escalations and closes).
  uint32_t max_tracked_incidents = 100'000;
};

/// Empty when `config` is usable, else a message naming the offending sink and field.
std::string validate(const AlertConfig& config);

}  // namespace fathom::alert
