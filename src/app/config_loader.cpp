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
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <tuple>

#include <yaml-cpp/yaml.h>

#include "flow/ip_address.h"
#include "transform/ip_prefix.h"

namespace fathom::app {
namespace {

/// The schema: every key path the loader accepts. `check_map` rejects anything else, and
/// tests/app/config_loader_test.cpp compares this list with docs/configuration.md.
constexpr std::array<std::string_view, 34> kKeys = {
    "data_dir",
    "log_level",
    "log_format",
    "metrics_listen",
    "output",
    "output.flows",
    "collect",
    "collect.listeners",
    "collect.receive_threads",
    "collect.socket_receive_buffer_bytes",
    "collect.recv_batch_size",
    "collect.queue_capacity_batches",
    "collect.flush_interval_ms",
    "collect.state_file",
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
    "tenants",
    "tenants[].id",
    "tenants[].name",
    "tenants[].exporters",
    "tenants[].exporters[].address",
    "tenants[].exporters[].observation_domains",
    "tenants[].internal_networks",
    "tenants[].target_ingest_rate",
    "tenants[].thresholds",
};

constexpr std::array<std::string_view, 7> kLogLevels = {"trace", "debug",    "info", "warn",
                                                        "error", "critical", "off"};

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

/// Where each tenant's values were, for the checks across tenants.
struct TenantMarks {
  YAML::Mark id;
  YAML::Mark name;
  std::vector<YAML::Mark> exporters;
};

/// Walks one parsed document into a Config, collecting errors. Every reader checks the node's
/// type before touching it, so yaml-cpp's conversion exceptions cannot escape mid-way.
class Loader {
 public:
  explicit Loader(std::string file) : file_(std::move(file)) {}

  void load(const YAML::Node& root, Config& config);
  void error(const YAML::Mark& mark, std::string key, std::string message) {
    ConfigError e;
    e.file = file_;
    e.line = mark.line >= 0 ? mark.line + 1 : 0;
    e.column = mark.line >= 0 ? mark.column + 1 : 0;
    e.key = std::move(key);
    e.message = std::move(message);
    errors_.push_back(std::move(e));
  }
  std::vector<ConfigError> take_errors() { return std::move(errors_); }

 private:
  bool check_map(const YAML::Node& node, std::string_view schema, const std::string& path);
  bool scalar(const YAML::Node& node, const std::string& path, std::string& out);
  bool read_uint(const YAML::Node& map, const std::string& path, std::string_view key, uint64_t min,
                 uint64_t max, uint64_t& out);
  template <typename T>
  void read_uint_into(const YAML::Node& map, const std::string& path, std::string_view key,
                      uint64_t min, uint64_t max, T& out) {
    uint64_t value = 0;
    if (read_uint(map, path, key, min, max, value)) out = static_cast<T>(value);
  }
  bool parse_uint_node(const YAML::Node& node, const std::string& path, uint64_t min, uint64_t max,
                       uint64_t& out);
  bool parse_number_node(const YAML::Node& node, const std::string& path, double& out);
  void read_positive(const YAML::Node& map, const std::string& path, std::string_view key,
                     double& out);
  void read_bool(const YAML::Node& map, const std::string& path, std::string_view key, bool& out);
  bool read_string(const YAML::Node& map, const std::string& path, std::string_view key,
                   bool allow_empty, std::string& out);
  bool parse_endpoint(const YAML::Node& node, const std::string& path,
                      collect::ListenEndpoint& out);
  bool parse_prefix(const YAML::Node& node, const std::string& path, transform::IpPrefix& out);
  /// map[key], or an undefined node when the key is absent. A key without a value is an error
  /// reported at the key (yaml-cpp places the empty value at the next token, often a line
  /// below) and is returned as absent.
  YAML::Node child(const YAML::Node& map, std::string_view key, const std::string& path);
  /// True for a sequence; records an error otherwise.
  bool sequence(const YAML::Node& node, const std::string& path);

  void load_collect(const YAML::Node& node, collect::Config& out);
  void load_decode(const YAML::Node& node, decode::Config& out);
  YAML::Mark load_transform(const YAML::Node& node, transform::Config& out);
  void load_tenant(const YAML::Node& node, const std::string& path, transform::Tenant& out,
                   TenantMarks& marks);
  void load_exporter(const YAML::Node& node, const std::string& path,
                     transform::ExporterMatch& out);
  void check_tenants(const transform::Config& config, const std::vector<TenantMarks>& marks,
                     const YAML::Mark& default_mark);

  std::string file_;
  std::vector<ConfigError> errors_;
};

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
    }
  }
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

YAML::Mark Loader::load_transform(const YAML::Node& node, transform::Config& out) {
  const std::string path = "transform";
  if (!check_map(node, path, path)) return node.Mark();
  YAML::Mark default_mark = node.Mark();
  if (const YAML::Node policy = child(node, "unknown_exporters", path)) {
    std::string text;
    if (scalar(policy, "transform.unknown_exporters", text)) {
      default_mark = policy.Mark();
      if (text == "reject") {
        out.unknown_exporters = transform::UnknownExporters::kReject;
      } else if (text == "default") {
        out.unknown_exporters = transform::UnknownExporters::kDefault;
      } else {
        error(policy.Mark(), "transform.unknown_exporters",
              "'" + text + "' is not one of reject, default");
      }
    }
  }
  if (const YAML::Node tenant = child(node, "default_tenant", path)) {
    const std::string tenant_path = "transform.default_tenant";
    if (check_map(tenant, tenant_path, tenant_path)) {
      default_mark = tenant.Mark();
      read_uint_into(tenant, tenant_path, "id", 1, UINT32_MAX, out.default_tenant_id);
      if (read_string(tenant, tenant_path, "name", false, out.default_tenant_name) &&
          !valid_name(out.default_tenant_name)) {
        error(child(tenant, "name", tenant_path).Mark(), tenant_path + ".name",
              "'" + out.default_tenant_name + "' is not 1-64 of A-Z a-z 0-9 _ . -");
      }
    }
  }
  return default_mark;
}

void Loader::load_tenant(const YAML::Node& node, const std::string& path, transform::Tenant& out,
                         TenantMarks& marks) {
  marks.id = node.Mark();
  marks.name = node.Mark();
  if (!check_map(node, "tenants[]", path)) return;
  if (const YAML::Node id = child(node, "id", path)) {
    marks.id = id.Mark();
    uint64_t value = 0;
    if (parse_uint_node(id, path + ".id", 1, UINT32_MAX, value)) {
      out.id = static_cast<uint32_t>(value);
    }
  } else if (!node["id"]) {  // (a key without a value was reported by `child`)
    error(node.Mark(), path + ".id", "missing (every tenant needs an id > 0)");
  }
  if (const YAML::Node name = child(node, "name", path)) {
    marks.name = name.Mark();
    if (read_string(node, path, "name", false, out.name) && !valid_name(out.name)) {
      error(name.Mark(), path + ".name", "'" + out.name + "' is not 1-64 of A-Z a-z 0-9 _ . -");
    }
  } else if (!node["name"]) {
    error(node.Mark(), path + ".name", "missing (every tenant needs a name)");
  }
  if (const YAML::Node list = child(node, "exporters", path);
      list && sequence(list, path + ".exporters")) {
    for (size_t idx = 0; idx < list.size(); ++idx) {
      transform::ExporterMatch exporter;
      const std::string item_path = index_key(path + ".exporters", idx);
      marks.exporters.push_back(list[idx].Mark());
      load_exporter(list[idx], item_path, exporter);
      // Kept even when invalid (length 255) so indexes match `marks`; the overlap check skips
      // it, and a config with errors is never used.
      out.exporters.push_back(std::move(exporter));
    }
  }
  const std::string networks_path = path + ".internal_networks";
  if (const YAML::Node list = child(node, "internal_networks", path);
      list && sequence(list, networks_path)) {
    for (size_t idx = 0; idx < list.size(); ++idx) {
      transform::IpPrefix prefix;
      if (parse_prefix(list[idx], index_key(networks_path, idx), prefix)) {
        out.internal_networks.push_back(prefix);
      }
    }
  }
  read_positive(node, path, "target_ingest_rate", out.target_ingest_rate);
  if (const YAML::Node map = child(node, "thresholds", path)) {
    const std::string thresholds_path = path + ".thresholds";
    if (!map.IsMap()) {
      error(map.Mark(), thresholds_path, "expected a mapping of name: number");
      return;
    }
    for (const auto& pair : map) {
      const std::string name = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
      const std::string key_path = join_key(thresholds_path, name);
      if (!valid_name(name)) {
        error(pair.first.Mark(), thresholds_path,
              "'" + name + "' is not a threshold name (1-64 of A-Z a-z 0-9 _ . -)");
        continue;
      }
      double value = 0;
      if (!parse_number_node(pair.second, key_path, value)) continue;
      if (!out.thresholds.emplace(name, value).second) {
        error(pair.first.Mark(), key_path, "duplicate key");
      }
    }
  }
}

void Loader::load_exporter(const YAML::Node& node, const std::string& path,
                           transform::ExporterMatch& out) {
  out.prefix.length = 255;  // "not loaded"; replaced below when the address is valid
  if (node.IsScalar()) {
    parse_prefix(node, path, out.prefix);
    return;
  }
  if (!node.IsMap()) {
    error(node.Mark(), path, "expected an address, a CIDR or {address, observation_domains}");
    return;
  }
  if (!check_map(node, "tenants[].exporters[]", path)) return;
  if (const YAML::Node address = child(node, "address", path)) {
    parse_prefix(address, path + ".address", out.prefix);
  } else if (!node["address"]) {
    error(node.Mark(), path + ".address", "missing (an address or CIDR)");
  }
  const std::string domains_path = path + ".observation_domains";
  if (const YAML::Node list = child(node, "observation_domains", path);
      list && sequence(list, domains_path)) {
    for (size_t idx = 0; idx < list.size(); ++idx) {
      uint64_t value = 0;
      if (parse_uint_node(list[idx], index_key(domains_path, idx), 0, UINT32_MAX, value)) {
        out.observation_domains.push_back(static_cast<uint32_t>(value));
      }
    }
    std::sort(out.observation_domains.begin(), out.observation_domains.end());
    out.observation_domains.erase(
        std::unique(out.observation_domains.begin(), out.observation_domains.end()),
        out.observation_domains.end());
  }
}

/// True when two exporter entries can both match one (address, domain) pair.
bool exporters_clash(const transform::ExporterMatch& a, const transform::ExporterMatch& b) {
  if (!transform::overlaps(a.prefix, b.prefix)) return false;
  if (a.observation_domains.empty() || b.observation_domains.empty()) return true;
  std::vector<uint32_t> common;
  std::set_intersection(a.observation_domains.begin(), a.observation_domains.end(),
                        b.observation_domains.begin(), b.observation_domains.end(),
                        std::back_inserter(common));
  return !common.empty();
}

void Loader::check_tenants(const transform::Config& config, const std::vector<TenantMarks>& marks,
                           const YAML::Mark& default_mark) {
  const std::vector<transform::Tenant>& tenants = config.tenants;
  for (size_t tenant_idx = 0; tenant_idx < tenants.size(); ++tenant_idx) {
    const transform::Tenant& tenant = tenants[tenant_idx];
    const std::string path = index_key("tenants", tenant_idx);
    for (size_t other_idx = 0; other_idx < tenant_idx; ++other_idx) {
      const transform::Tenant& other = tenants[other_idx];
      const std::string other_path = index_key("tenants", other_idx);
      if (tenant.id != 0 && tenant.id == other.id) {
        error(marks[tenant_idx].id, path + ".id",
              "duplicate tenant id " + std::to_string(tenant.id) + " (also " + other_path + ")");
      }
      if (!tenant.name.empty() && tenant.name == other.name) {
        error(marks[tenant_idx].name, path + ".name",
              "duplicate tenant name '" + tenant.name + "' (also " + other_path + ")");
      }
      for (size_t exp_idx = 0; exp_idx < tenant.exporters.size(); ++exp_idx) {
        const transform::ExporterMatch& exporter = tenant.exporters[exp_idx];
        if (exporter.prefix.length > 128) continue;  // invalid, already reported
        for (size_t other_exp = 0; other_exp < other.exporters.size(); ++other_exp) {
          const transform::ExporterMatch& theirs = other.exporters[other_exp];
          if (theirs.prefix.length > 128 || !exporters_clash(exporter, theirs)) continue;
          error(marks[tenant_idx].exporters[exp_idx], index_key(path + ".exporters", exp_idx),
                "'" + exporter.prefix.to_string() + "' overlaps " +
                    index_key(other_path + ".exporters", other_exp) + " '" +
                    theirs.prefix.to_string() + "' of tenant '" + other.name +
                    "' (list disjoint observation_domains on both to share an exporter)");
        }
      }
    }
  }
  if (config.unknown_exporters != transform::UnknownExporters::kDefault) return;
  for (size_t tenant_idx = 0; tenant_idx < tenants.size(); ++tenant_idx) {
    const std::string other_path = index_key("tenants", tenant_idx);
    if (tenants[tenant_idx].id == config.default_tenant_id) {
      error(default_mark, "transform.default_tenant.id",
            "default tenant id " + std::to_string(config.default_tenant_id) + " is taken by " +
                other_path);
    }
    if (tenants[tenant_idx].name == config.default_tenant_name) {
      error(default_mark, "transform.default_tenant.name",
            "default tenant name '" + config.default_tenant_name + "' is taken by " + other_path);
    }
  }
}

}  // namespace

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
  Loader loader{std::string(file_name)};
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
  return kKeys;
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
