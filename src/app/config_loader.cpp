#include "app/config_loader.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <tuple>

#include <yaml-cpp/yaml.h>

#include "app/detail/config_reader.h"
#include "flow/ip_address.h"
#include "transform/ip_prefix.h"

namespace fathom::app {
namespace {

/// tests/app/config_loader_test.cpp compares this list with docs/configuration.md.
constexpr auto kKeys = std::to_array<std::string_view>({
    "data_dir",
    "log_level",
    "log_format",
    "metrics_listen",
    "api",
    "api.listen",
    "api.tokens",
    "api.tokens[].name",
    "api.tokens[].sha256",
    "api.tokens[].admin",
    "api.tokens[].tenant",
    "api.tls",
    "api.tls.certificate",
    "api.tls.private_key",
    "api.web_root",
    "output",
    "output.flows",
    "output.estimates",
    "output.incidents",
    "store",
    "store.enabled",
    "store.url",
    "store.rollup_retention_days",
    "store.incident_retention_days",
    "store.max_database_mb",
    "store.spool_max_mb",
    "store.prune_interval_seconds",
    "store.connect_timeout_seconds",
    "kafka",
    "kafka.brokers",
    "kafka.topic",
    "kafka.flows_json_topic",
    "kafka.client_id",
    "kafka.compression",
    "kafka.linger_ms",
    "kafka.buffer_max_messages",
    "kafka.buffer_max_mb",
    "kafka.message_timeout_ms",
    "kafka.group_id",
    "kafka.session_timeout_ms",
    "kafka.commit_interval_ms",
    "kafka.idle_partition_seconds",
    "kafka.properties",
    "alert",
    "alert.sinks",
    "alert.sinks[].name",
    "alert.sinks[].kind",
    "alert.sinks[].tenants",
    "alert.sinks[].min_severity",
    "alert.sinks[].url",
    "alert.sinks[].headers",
    "alert.sinks[].hmac_secret",
    "alert.sinks[].timeout_ms",
    "alert.sinks[].verify_tls",
    "alert.sinks[].host",
    "alert.sinks[].port",
    "alert.sinks[].transport",
    "alert.sinks[].facility",
    "alert.sinks[].hostname",
    "alert.sinks[].path",
    "alert.sinks[].brokers",
    "alert.sinks[].topic",
    "alert.sinks[].properties",
    "alert.retry",
    "alert.retry.max_attempts",
    "alert.retry.initial_backoff_ms",
    "alert.retry.max_backoff_ms",
    "alert.rate_limit",
    "alert.rate_limit.alerts_per_minute",
    "alert.rate_limit.burst",
    "alert.rate_limit.summary_interval_seconds",
    "alert.spool_max_mb_per_sink",
    "alert.queue_capacity",
    "analyze",
    "analyze.slide_seconds",
    "analyze.window_seconds",
    "analyze.long_windows",
    "analyze.long_windows[].slide_seconds",
    "analyze.long_windows[].window_seconds",
    "analyze.max_internal_hosts",
    "analyze.max_external_hosts",
    "analyze.max_history_hosts",
    "analyze.max_tenants",
    "analyze.heavy_hitters",
    "analyze.max_contacts_per_slide",
    "analyze.decision",
    "analyze.confidence",
    "analyze.thresholds",
    "analyze.incidents",
    "analyze.incidents.quiet_period_seconds",
    "analyze.incidents.refresh_seconds",
    "analyze.incidents.flows",
    "analyze.incidents.flow_seconds",
    "analyze.incidents.max_open",
    "analyze.beacon",
    "analyze.beacon.min_period_seconds",
    "analyze.beacon.max_period_seconds",
    "analyze.beacon.jitter_tolerance",
    "analyze.beacon.min_observations",
    "analyze.ai",
    "analyze.ai.model",
    "analyze.ai.level",
    "analyze.ai.min_records",
    "analyze.ai.threshold",
    "analyze.ai.persistence",
    "analyze.ai.host_margin",
    "analyze.ai.host_warmup_windows",
    "analyze.ai.learning_windows",
    "analyze.ai.learning_min_samples",
    "analyze.ai.history_capacity",
    "analyze.ai.refresh_windows",
    "analyze.ai.max_detections_per_window",
    "analyze.ai.top_features",
    "analyze.ai.checkpoint_seconds",
    "analyze.autoscale",
    "analyze.autoscale.scale_out_utilisation",
    "analyze.autoscale.scale_out_window_seconds",
    "analyze.autoscale.scale_in_utilisation",
    "analyze.autoscale.scale_in_window_seconds",
    "analyze.autoscale.scale_out_cooldown_seconds",
    "analyze.autoscale.scale_in_cooldown_seconds",
    "analyze.autoscale.min_workers",
    "analyze.autoscale.max_workers",
    "estimate",
    "estimate.window_seconds",
    "estimate.allowed_lateness_seconds",
    "estimate.time_basis",
    "estimate.max_hosts_per_tenant",
    "estimate.max_ports_per_tenant",
    "estimate.max_peers_per_tenant",
    "estimate.top_n",
    "collect",
    "collect.listeners",
    "collect.receive_threads",
    "collect.socket_receive_buffer_bytes",
    "collect.recv_batch_size",
    "collect.queue_capacity_batches",
    "collect.flush_interval_ms",
    "collect.state_file",
    "collect.node_id",
    "decode",
    "decode.max_exporters",
    "decode.max_templates_per_exporter",
    "decode.max_pending_bytes_per_exporter",
    "decode.pending_timeout_seconds",
    "decode.emit_biflow_reverse",
    "transform",
    "transform.unknown_exporters",
    "transform.default_tenant",
    "transform.default_tenant.id",
    "transform.default_tenant.name",
    "transform.enrichment",
    "transform.enrichment.geo_databases",
    "transform.enrichment.asn_databases",
    "transform.enrichment.intel_lists",
    "transform.enrichment.intel_lists[].name",
    "transform.enrichment.intel_lists[].path",
    "transform.enrichment.intel_lists[].format",
    "transform.enrichment.intel_lists[].category",
    "transform.enrichment.intel_lists[].severity",
    "transform.enrichment.reload_check_seconds",
    "transform.enrichment.asn_overrides_exporter",
    "transform.sampling",
    "transform.sampling.update_interval_seconds",
    "transform.sampling.smoothing",
    "transform.sampling.min_probability",
    "transform.sampling.surge_factor",
    "transform.sampling.seed",
    "tenants",
    "tenants[].id",
    "tenants[].name",
    "tenants[].exporters",
    "tenants[].exporters[].address",
    "tenants[].exporters[].observation_domains",
    "tenants[].internal_networks",
    "tenants[].target_ingest_rate",
    "tenants[].dedup",
    "tenants[].dedup[].exporter",
    "tenants[].dedup[].count",
    "tenants[].dedup[].input_interfaces",
    "tenants[].thresholds",
});

constexpr std::array<std::string_view, 7> kLogLevels = {"trace", "debug",    "info", "warn",
                                                        "error", "critical", "off"};

}  // namespace

namespace detail {

std::span<const std::string_view> schema_keys() noexcept {
  return kKeys;
}

std::string join_key(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string index_key(const std::string& path, size_t idx) {
  return path + "[" + std::to_string(idx) + "]";
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

bool Loader::check_map(const YAML::Node& node, std::string_view schema, const std::string& path) {
  if (!node.IsMap()) {
    error(node.Mark(), path, "expected a mapping of keys");
    return false;
  }
  std::set<std::string> seen;
  for (const auto& pair : node) {
    const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
    if (key.empty()) {
      error(pair.first.Mark(), path, "keys must be plain names");
      continue;
    }
    const std::string schema_key = join_key(std::string(schema), key);
    if (std::find(kKeys.begin(), kKeys.end(), schema_key) == kKeys.end()) {
      std::string known;
      for (std::string_view k : kKeys) {
        const std::string prefix = schema.empty() ? "" : std::string(schema) + ".";
        if (k.substr(0, prefix.size()) != prefix) continue;
        const std::string_view rest = k.substr(prefix.size());
        if (rest.find_first_of(".[") != std::string_view::npos) continue;
        known += known.empty() ? "" : ", ";
        known += rest;
      }
      error(pair.first.Mark(), join_key(path, key), "unknown key (known here: " + known + ")");
      continue;
    }
    if (!seen.insert(key).second) {
      error(pair.first.Mark(), join_key(path, key), "duplicate key");
    }
  }
  return true;
}

bool Loader::scalar(const YAML::Node& node, const std::string& path, std::string& out) {
  if (!node.IsScalar()) {
    error(node.Mark(), path, node.IsNull() ? "missing value" : "expected a single value");
    return false;
  }
  out = node.Scalar();
  return true;
}

bool Loader::parse_uint_node(const YAML::Node& node, const std::string& path, uint64_t min,
                             uint64_t max, uint64_t& out) {
  std::string text;
  if (!scalar(node, path, text)) return false;
  uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ptr != text.data() + text.size() ||
      (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    error(node.Mark(), path, "'" + text + "' is not a whole number");
    return false;
  }
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    error(node.Mark(), path,
          text + " is out of range " + std::to_string(min) + ".." + std::to_string(max));
    return false;
  }
  out = value;
  return true;
}

bool Loader::read_uint(const YAML::Node& map, const std::string& path, std::string_view key,
                       uint64_t min, uint64_t max, uint64_t& out) {
  const YAML::Node node = child(map, key, path);
  if (!node) return false;
  return parse_uint_node(node, join_key(path, key), min, max, out);
}

bool Loader::parse_number_node(const YAML::Node& node, const std::string& path, double& out) {
  std::string text;
  if (!scalar(node, path, text)) return false;
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() ||
      !std::isfinite(value)) {
    error(node.Mark(), path, "'" + text + "' is not a number");
    return false;
  }
  out = value;
  return true;
}

void Loader::read_positive(const YAML::Node& map, const std::string& path, std::string_view key,
                           double& out) {
  const YAML::Node node = child(map, key, path);
  if (!node) return;
  const std::string key_path = join_key(path, key);
  double value = 0;
  if (!parse_number_node(node, key_path, value)) return;
  if (value <= 0) {
    error(node.Mark(), key_path, node.Scalar() + " must be greater than 0");
    return;
  }
  out = value;
}

void Loader::read_bool(const YAML::Node& map, const std::string& path, std::string_view key,
                       bool& out) {
  const YAML::Node node = child(map, key, path);
  if (!node) return;
  const std::string key_path = join_key(path, key);
  std::string text;
  if (!scalar(node, key_path, text)) return;
  if (text == "true") {
    out = true;
  } else if (text == "false") {
    out = false;
  } else {
    error(node.Mark(), key_path, "'" + text + "' is not true or false");
  }
}

bool Loader::read_string(const YAML::Node& map, const std::string& path, std::string_view key,
                         bool allow_empty, std::string& out) {
  const YAML::Node node = child(map, key, path);
  if (!node) return false;
  const std::string key_path = join_key(path, key);
  std::string text;
  if (!scalar(node, key_path, text)) return false;
  if (text.empty() && !allow_empty) {
    error(node.Mark(), key_path, "must not be empty");
    return false;
  }
  out = text;
  return true;
}

bool Loader::parse_endpoint(const YAML::Node& node, const std::string& path,
                            collect::ListenEndpoint& out) {
  std::string text;
  if (!scalar(node, path, text)) return false;
  collect::ListenEndpoint endpoint;
  std::string why;
  const std::string expected =
      "'" + text + "' is not HOST:PORT (a numeric IPv4 address or [IPv6], port 0..65535)";
  if (!collect::parse_listen_endpoint(text, endpoint, why) || endpoint.host.empty() ||
      !flow::IpAddress::parse(endpoint.host)) {
    error(node.Mark(), path, expected);
    return false;
  }
  out = endpoint;
  return true;
}

bool Loader::parse_prefix(const YAML::Node& node, const std::string& path,
                          transform::IpPrefix& out) {
  std::string text;
  if (!scalar(node, path, text)) return false;
  transform::IpPrefix prefix;
  switch (transform::parse_ip_prefix(text, prefix)) {
    case transform::PrefixParse::kOk: out = prefix; return true;
    case transform::PrefixParse::kBadAddress:
      error(node.Mark(), path, "'" + text + "' is not an IP address or CIDR");
      return false;
    case transform::PrefixParse::kBadLength:
      error(node.Mark(), path,
            "'" + text + "' has a bad prefix length (0..32 for IPv4, 0..128 for IPv6)");
      return false;
    case transform::PrefixParse::kHostBits:
      error(node.Mark(), path,
            "'" + text + "' has bits set beyond its prefix length (did you mean '" +
                prefix.to_string() + "'?)");
      return false;
  }
  return false;
}

YAML::Node Loader::child(const YAML::Node& map, std::string_view key, const std::string& path) {
  for (const auto& pair : map) {
    if (!pair.first.IsScalar() || pair.first.Scalar() != key) continue;
    if (pair.second.IsNull()) {
      error(pair.first.Mark(), join_key(path, key), "missing value");
      break;
    }
    return pair.second;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

bool Loader::sequence(const YAML::Node& node, const std::string& path) {
  if (node.IsSequence()) return true;
  error(node.Mark(), path, "expected a list");
  return false;
}

void Loader::load(const YAML::Node& root, Config& config) {
  if (root.IsNull()) return;  // an empty file: every default
  if (!check_map(root, "", "")) return;
  read_string(root, "", "data_dir", false, config.data_dir);
  if (const YAML::Node node = child(root, "log_level", "")) {
    std::string text;
    if (scalar(node, "log_level", text)) {
      const auto it = std::find(kLogLevels.begin(), kLogLevels.end(), text);
      if (it == kLogLevels.end()) {
        error(node.Mark(), "log_level",
              "'" + text + "' is not one of trace, debug, info, warn, error, critical, off");
      } else {
        config.log_level = static_cast<LogLevel>(it - kLogLevels.begin());
      }
    }
  }
  if (const YAML::Node node = child(root, "log_format", "")) {
    std::string text;
    if (scalar(node, "log_format", text)) {
      if (text == "text") {
        config.log_format = LogFormat::kText;
      } else if (text == "json") {
        config.log_format = LogFormat::kJson;
      } else {
        error(node.Mark(), "log_format", "'" + text + "' is not one of text, json");
      }
    }
  }
  if (const YAML::Node node = child(root, "metrics_listen", "")) {
    parse_endpoint(node, "metrics_listen", config.metrics_listen);
  }
  if (const YAML::Node node = child(root, "output", "")) {
    if (check_map(node, "output", "output")) {
      read_string(node, "output", "flows", true, config.output.flows);
      read_string(node, "output", "estimates", true, config.output.estimates);
      read_string(node, "output", "incidents", true, config.output.incidents);
    }
  }
  if (const YAML::Node node = child(root, "estimate", "")) load_estimate(node, config.estimate);
  if (const YAML::Node node = child(root, "analyze", "")) load_analyze(node, config.analyze);
  if (const YAML::Node node = child(root, "api", "")) load_api(node, config.api);
  if (const YAML::Node node = child(root, "store", "")) load_store(node, config.store);
  if (const YAML::Node node = child(root, "kafka", "")) load_kafka(node, config.kafka);
  if (const YAML::Node node = child(root, "alert", "")) load_alert(node, config.alert);
  if (const YAML::Node node = child(root, "collect", "")) load_collect(node, config.collect);
  if (const YAML::Node node = child(root, "decode", "")) load_decode(node, config.decode);
  YAML::Mark default_mark = YAML::Mark::null_mark();
  if (const YAML::Node node = child(root, "transform", "")) {
    default_mark = load_transform(node, config.transform);
  }
  std::vector<TenantMarks> marks;
  if (const YAML::Node node = child(root, "tenants", ""); node && sequence(node, "tenants")) {
    for (size_t tenant_idx = 0; tenant_idx < node.size(); ++tenant_idx) {
      transform::Tenant tenant;
      TenantMarks tenant_marks;
      load_tenant(node[tenant_idx], index_key("tenants", tenant_idx), tenant, tenant_marks);
      config.transform.tenants.push_back(std::move(tenant));
      marks.push_back(std::move(tenant_marks));
    }
  }
  check_tenants(config.transform, marks, default_mark);
}

void Loader::load_collect(const YAML::Node& node, collect::Config& out) {
  const std::string path = "collect";
  if (!check_map(node, path, path)) return;
  if (const YAML::Node list = child(node, "listeners", path)) {
    const std::string list_path = "collect.listeners";
    if (sequence(list, list_path)) {
      if (list.size() == 0) error(list.Mark(), list_path, "needs at least one HOST:PORT");
      std::vector<collect::ListenEndpoint> listeners;
      for (size_t idx = 0; idx < list.size(); ++idx) {
        const std::string item_path = index_key(list_path, idx);
        collect::ListenEndpoint endpoint;
        if (!parse_endpoint(list[idx], item_path, endpoint)) continue;
        const auto same = [&](const collect::ListenEndpoint& e) {
          return e.port == endpoint.port && e.port != 0 &&
                 flow::IpAddress::parse(e.host) == flow::IpAddress::parse(endpoint.host);
        };
        if (std::any_of(listeners.begin(), listeners.end(), same)) {
          error(list[idx].Mark(), item_path, "'" + list[idx].Scalar() + "' is listed twice");
          continue;
        }
        listeners.push_back(endpoint);
      }
      if (!listeners.empty()) out.listeners = std::move(listeners);
    }
  }
  read_uint_into(node, path, "receive_threads", 1, 64, out.receive_threads);
  read_uint_into(node, path, "socket_receive_buffer_bytes", 4096, 2147483647,
                 out.socket_receive_buffer_bytes);
  read_uint_into(node, path, "recv_batch_size", 1, 1024, out.recv_batch_size);
  read_uint_into(node, path, "queue_capacity_batches", 1, 65536, out.queue_capacity_batches);
  read_uint_into(node, path, "flush_interval_ms", 1, 60'000, out.flush_interval_ms);
  read_string(node, path, "state_file", true, out.state_file);
  if (read_string(node, path, "node_id", false, out.node_id) && !valid_name(out.node_id)) {
    error(node["node_id"].Mark(), join_key(path, "node_id"),
          "'" + out.node_id + "' is not a node name (1-64 of A-Z a-z 0-9 _ . -)");
    out.node_id.clear();
  }
}

void Loader::load_estimate(const YAML::Node& node, Config::Estimate& out) {
  const std::string path = "estimate";
  if (!check_map(node, path, path)) return;
  double window_s = 0;
  read_number_in(node, path, "window_seconds", 1, 86400, window_s);
  if (window_s > 0) out.window.window_ns = static_cast<int64_t>(window_s * 1e9);
  double lateness_s = -1;
  read_number_in(node, path, "allowed_lateness_seconds", 0, 3600, lateness_s);
  if (lateness_s >= 0) out.window.allowed_lateness_ns = static_cast<int64_t>(lateness_s * 1e9);
  if (const YAML::Node basis = child(node, "time_basis", path)) {
    std::string text;
    if (scalar(basis, "estimate.time_basis", text)) {
      if (text == "arrival") {
        out.window.time_basis = estimate::TimeBasis::kArrival;
      } else if (text == "flow_end") {
        out.window.time_basis = estimate::TimeBasis::kFlowEnd;
      } else {
        error(basis.Mark(), "estimate.time_basis",
              "'" + text + "' is not one of arrival, flow_end");
      }
    }
  }
  read_uint_into(node, path, "max_hosts_per_tenant", 1, 10'000'000,
                 out.window.max_hosts_per_tenant);
  read_uint_into(node, path, "max_ports_per_tenant", 1, 1'000'000, out.window.max_ports_per_tenant);
  read_uint_into(node, path, "max_peers_per_tenant", 1, 10'000'000,
                 out.window.max_peers_per_tenant);
  read_uint_into(node, path, "top_n", 0, 1000, out.top_n);
}

void Loader::load_decode(const YAML::Node& node, decode::Config& out) {
  const std::string path = "decode";
  if (!check_map(node, path, path)) return;
  read_uint_into(node, path, "max_exporters", 1, 1'000'000, out.max_exporters);
  read_uint_into(node, path, "max_templates_per_exporter", 1, 65536,
                 out.max_templates_per_exporter);
  read_uint_into(node, path, "max_pending_bytes_per_exporter", 0, uint64_t{1} << 30,
                 out.max_pending_bytes_per_exporter);
  double timeout_s = 0;
  read_positive(node, path, "pending_timeout_seconds", timeout_s);
  if (timeout_s > 0) {
    if (timeout_s > 86400) {
      error(child(node, "pending_timeout_seconds", path).Mark(), "decode.pending_timeout_seconds",
            "must be at most 86400 (one day)");
    } else {
      out.pending_timeout_ns = static_cast<int64_t>(timeout_s * 1e9);
    }
  }
  read_bool(node, path, "emit_biflow_reverse", out.emit_biflow_reverse);
}

}  // namespace detail

std::string_view to_string(LogLevel level) noexcept {
  const auto idx = static_cast<size_t>(level);
  return idx < kLogLevels.size() ? kLogLevels[idx] : "unknown";
}

std::string ConfigError::to_string() const {
  std::string text = file;
  if (line > 0) text += ":" + std::to_string(line) + ":" + std::to_string(column);
  text += ": ";
  if (!key.empty()) text += key + ": ";
  return text + message;
}

ConfigLoad parse_config(std::string_view yaml, std::string_view file_name) {
  ConfigLoad result;
  detail::Loader loader{std::string(file_name)};
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    loader.load(root, result.config);
  } catch (const YAML::Exception& e) {
    // Syntax errors (and anything yaml-cpp refuses) stop the load: nothing after is reliable.
    loader.error(e.mark, "", e.msg);
  }
  result.errors = loader.take_errors();
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const ConfigError& a, const ConfigError& b) {
                     return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                   });
  if (!result.errors.empty()) result.config = Config{};
  return result;
}

ConfigLoad load_config_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    ConfigLoad result;
    result.errors.push_back({path, 0, 0, "", "is a directory, not a config file"});
    return result;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ConfigLoad result;
    result.errors.push_back({path, 0, 0, "", std::string("cannot read: ") + std::strerror(errno)});
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

std::span<const std::string_view> config_keys() noexcept {
  return detail::schema_keys();
}

std::string describe_config(const Config& config) {
  size_t exporters = 0;
  for (const transform::Tenant& tenant : config.transform.tenants) {
    exporters += tenant.exporters.size();
  }
  return std::to_string(config.transform.tenants.size()) + " tenants, " +
         std::to_string(exporters) + " exporters";
}

int run_config_check(const std::string& path, std::FILE* out, std::FILE* err) {
  const ConfigLoad load = load_config_file(path);
  if (!load.ok()) {
    for (const ConfigError& e : load.errors) std::fprintf(err, "%s\n", e.to_string().c_str());
    return 1;
  }
  std::fprintf(out, "ok: %s\n", describe_config(load.config).c_str());
  return 0;
}

}  // namespace fathom::app
