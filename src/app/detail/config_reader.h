#pragma once
// The YAML walker behind app/config_loader.h, shared by its two source files
// (config_loader.cpp: generic readers, process, collect, decode; config_loader_transform.cpp:
// transform, tenants, enrichment, sampling; config_loader_analyze.cpp: analyze). Not part of the
// app interface.

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "app/config.h"
#include "app/config_loader.h"
#include "transform/ip_prefix.h"

namespace fathom::app::detail {

/// Every key path the loader accepts (the schema; see config_keys()).
std::span<const std::string_view> schema_keys() noexcept;

std::string join_key(const std::string& path, std::string_view key);
std::string index_key(const std::string& path, size_t idx);
/// 1-64 of [A-Za-z0-9_.-]: tenant, list and threshold names.
bool valid_name(std::string_view name);

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
  void load_estimate(const YAML::Node& node, Config::Estimate& out);
  void load_analyze(const YAML::Node& node, Config::Analyze& out);
  void load_store(const YAML::Node& node, Config::Store& out);
  void load_kafka(const YAML::Node& node, Config::Kafka& out);
  void load_api(const YAML::Node& node, Config::Api& out);
  void load_alert(const YAML::Node& node, alert::AlertConfig& out);
  void load_alert_sink(const YAML::Node& node, const std::string& path, alert::SinkConfig& out);
  /// A `name: number` map of rule thresholds (detect::set_threshold names) into `out`.
  void load_thresholds(const YAML::Node& map, const std::string& path,
                       std::map<std::string, double>& out);
  YAML::Mark load_transform(const YAML::Node& node, transform::Config& out);
  void load_tenant(const YAML::Node& node, const std::string& path, transform::Tenant& out,
                   TenantMarks& marks);
  void load_exporter(const YAML::Node& node, const std::string& path,
                     transform::ExporterMatch& out);
  void check_tenants(const transform::Config& config, const std::vector<TenantMarks>& marks,
                     const YAML::Mark& default_mark);
  void load_enrichment(const YAML::Node& node, transform::Enrichment& out);
  void load_intel_list(const YAML::Node& node, const std::string& path, transform::IntelList& out);
  void load_sampling(const YAML::Node& node, transform::Sampling& out);
  void load_dedup_rule(const YAML::Node& node, const std::string& path, transform::DedupRule& out);
  /// A list of non-empty strings (file paths).
  void read_string_list(const YAML::Node& map, const std::string& path, std::string_view key,
                        std::vector<std::string>& out);
  /// A number in [min, max] (inclusive), kept in `out` only when valid.
  void read_number_in(const YAML::Node& map, const std::string& path, std::string_view key,
                      double min, double max, double& out);

  std::string file_;
  std::vector<ConfigError> errors_;
};

}  // namespace fathom::app::detail
