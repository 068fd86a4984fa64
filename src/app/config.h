#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "alert/config.h"
#include "analyze/autoscaler.h"
#include "analyze/window_engine.h"
#include "api/auth.h"
#include "collect/config.h"
#include "collect/udp_listener.h"
#include "decode/config.h"
#include "detect/anomaly_config.h"
#include "detect/beacon.h"
#include "detect/incident.h"
#include "detect/rules.h"
#include "estimate/window_estimator.h"
#include "store/store.h"
#include "transform/config.h"

namespace fathom::app {

/// Log verbosity (spdlog's levels).
enum class LogLevel : uint8_t { kTrace, kDebug, kInfo, kWarn, kError, kCritical, kOff };

/// How log lines are written.
enum class LogFormat : uint8_t {
  /// For people: `2026-11-23T10:00:00.123Z info collect: message key=value` (UTC, ms).
  kText,
  /// For collectors: one JSON object per line,
  /// `{"ts":"2026-11-23T10:00:00.123Z","level":"info","logger":"collect","msg":"..."}`.
  kJson,
};

/// Lower-case name as written in fathom.yaml ("info").
std::string_view to_string(LogLevel level) noexcept;

/// Everything `fathom.yaml` configures: process-level settings and one struct per part.
/// Default-constructed, it is the configuration of a file with no keys.
struct Config {
  /// Where state, the embedded database and models live.
  std::string data_dir = "/var/lib/fathom";
  LogLevel log_level = LogLevel::kInfo;
  /// Log line format: text for people, JSON for log collectors.
  LogFormat log_format = LogFormat::kText;
  /// HTTP endpoint of /metrics and /healthz.
  collect::ListenEndpoint metrics_listen = {"127.0.0.1", 9100};
  collect::Config collect;
  decode::Config decode;
  transform::Config transform;
  /// The estimate stage: tumbling windows of traffic estimates per tenant.
  struct Estimate {
    estimate::WindowConfig window;
    size_t top_n = 10;  ///< busiest hosts and ports kept per closed window
  } estimate;
  /// The analysis stage: sliding windows, rules, beaconing, incidents, autoscaling.
  struct Analyze {
    analyze::AnalyzeConfig windows;
    detect::RulesConfig rules;  ///< `per_tenant` is filled from the tenants' `thresholds`
    detect::BeaconConfig beacon;
    detect::IncidentConfig incidents;
    /// Raw sampled flows kept per incident subject and capture period (0: none), and that
    /// period (AnalyzeStage::Options::incident_flow_records / _ns).
    uint32_t incident_flows = 100;
    int64_t incident_flow_ns = 60'000'000'000;
    analyze::AutoscalerConfig autoscale;
    /// The autoencoders (docs/ai-detection.md).
    struct Ai {
      /// "builtin" (the shipped base model), "off", or a model file from `fathom train`.
      std::string model = "builtin";
      /// The window level scored (0-based; beyond the last: the last). The default, the
      /// 5-minute window every minute, holds enough samples per host at 1:1000 sampling, and
      /// the slow attacks the rules miss show there.
      uint32_t level = 2;
      /// Sampled records a host needs in that window to be scored (fewer: sampling noise).
      uint32_t min_records = 8;
      detect::AnomalyConfig detector;
      /// How often each tenant's detector state is saved to the store.
      int64_t checkpoint_interval_ns = 1'800'000'000'000;
    } ai;
  } analyze;
  /// The database of incidents, traffic rollups and tenant state (docs/storage.md).
  struct Store {
    bool enabled = true;
    /// "sqlite:PATH", "postgresql://..."; empty: SQLite `<data_dir>/fathom.db`.
    std::string url;
    /// Retention, size limit, timeouts (`url` is filled from the one above when opened).
    store::StoreOptions options;
    /// Disk budget of the writer's spool (`<data_dir>/store-spool`) while the database is away.
    uint64_t spool_max_bytes = 256ull << 20;
    /// How often the retention and size limits are applied.
    int64_t prune_interval_ns = 3'600'000'000'000;
  } store;
  /// The REST API and dashboard (docs/api.md).
  struct Api {
    bool enabled = true;
    collect::ListenEndpoint listen = {"127.0.0.1", 8080};
    /// Bearer tokens by their SHA-256; empty: `fathom run` makes one admin token and keeps
    /// it in `<data_dir>/api-token`.
    std::vector<api::TokenConfig> tokens;
    std::string tls_certificate;  ///< PEM file; with tls_private_key: HTTPS
    std::string tls_private_key;
    std::string web_root;  ///< dashboard files from here instead of the built-in copy
  } api;
  /// Alert sinks, retries, rate limits (docs/alerting.md); the spool lives in
  /// `<data_dir>/alert-spool`.
  alert::AlertConfig alert;
  /// The Kafka bus of cluster mode (docs/scaling.md): `fathom collect` publishes to `topic`,
  /// `fathom analyze` consumes it as a member of `group_id`. `fathom run` ignores it.
  struct Kafka {
    std::string brokers;  ///< bootstrap.servers ("host:port,..."); required by the roles
    std::string topic = "fathom.flows";
    /// `fathom collect` also publishes every record as one GoFlow2-style JSON object per
    /// message to this topic, for other tools (docs/wire-format.md "JSON flows topic"); "" = off.
    std::string flows_json_topic;
    std::string client_id;            ///< empty: "fathom-collect" / "fathom-analyze"
    std::string compression = "lz4";  ///< none, gzip, snappy, lz4, zstd
    int linger_ms = 20;
    int buffer_max_messages = 100'000;   ///< the producer's local buffer when Kafka is slow/down
    int buffer_max_kbytes = 512 * 1024;  ///< the same, in KiB
    int message_timeout_ms = 120'000;    ///< delivery (with retries) gives up after this
    std::string group_id = "fathom-analyze";
    int session_timeout_ms = 10'000;  ///< a dead analyzer's partitions move after this
    int commit_interval_ms = 1'000;   ///< how often an analyzer commits what is stored
    int idle_partition_seconds = 30;  ///< a silent partition's time runs on after this (0: never)
    /// Further librdkafka properties (security.protocol, sasl.*, ssl.*), passed through.
    std::map<std::string, std::string> properties;
  } kafka;
  /// Where records go besides the in-process bus.
  struct Output {
    /// JSON lines of every accepted flow record: a path (appended to), "-" for stdout, or ""
    /// for none.
    std::string flows;
    /// JSON lines of every closed tenant estimate window (same choices as `flows`).
    std::string estimates;
    /// JSON lines of every incident event (open, update, close), same choices as `flows`.
    std::string incidents;
  } output;
};

}  // namespace fathom::app
