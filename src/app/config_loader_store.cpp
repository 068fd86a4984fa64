// The `store` and `alert` sections of fathom.yaml (docs/configuration.md "store", "alert").
#include <cmath>
#include <set>
#include <string>

#include <yaml-cpp/yaml.h>

#include "app/detail/config_reader.h"

namespace fathom::app::detail {
namespace {

constexpr int64_t kDayNs = 86'400'000'000'000;

int64_t days_to_ns(double days) {
  return static_cast<int64_t>(std::llround(days * static_cast<double>(kDayNs)));
}

}  // namespace

void Loader::load_store(const YAML::Node& node, Config::Store& out) {
  const std::string path = "store";
  if (!check_map(node, path, path)) return;
  read_bool(node, path, "enabled", out.enabled);
  read_string(node, path, "url", false, out.url);
  double days = 0;
  read_number_in(node, path, "rollup_retention_days", 0.01, 36500, days);
  if (days > 0) out.options.rollup_retention_ns = days_to_ns(days);
  days = 0;
  read_number_in(node, path, "incident_retention_days", 0.01, 36500, days);
  if (days > 0) out.options.incident_retention_ns = days_to_ns(days);
  uint64_t mb = 0;
  if (read_uint(node, path, "max_database_mb", 0, 100'000'000, mb)) {
    out.options.max_database_bytes = mb << 20;
  }
  if (read_uint(node, path, "spool_max_mb", 1, 100'000'000, mb)) out.spool_max_bytes = mb << 20;
  double seconds = 0;
  read_number_in(node, path, "prune_interval_seconds", 1, 7 * 86400, seconds);
  if (seconds > 0) out.prune_interval_ns = static_cast<int64_t>(std::llround(seconds * 1e9));
  read_uint_into(node, path, "connect_timeout_seconds", 1, 600, out.options.connect_timeout_s);
}

void Loader::load_api(const YAML::Node& node, Config::Api& out) {
  const std::string path = "api";
  if (!check_map(node, path, path)) return;
  if (const YAML::Node listen = child(node, "listen", path)) {
    if (listen.IsScalar() && listen.as<std::string>() == "off") {
      out.enabled = false;
    } else {
      parse_endpoint(listen, "api.listen", out.listen);
    }
  }
  if (const YAML::Node list = child(node, "tokens", path)) {
    const std::string list_path = "api.tokens";
    if (sequence(list, list_path)) {
      for (size_t idx = 0; idx < list.size(); ++idx) {
        const std::string p = index_key(list_path, idx);
        const YAML::Node t = list[idx];
        if (!check_map(t, "api.tokens[]", p)) continue;
        api::TokenConfig token;
        read_string(t, p, "name", false, token.name);
        read_string(t, p, "sha256", false, token.sha256);
        read_bool(t, p, "admin", token.admin);
        read_uint_into(t, p, "tenant", 1, UINT32_MAX, token.tenant_id);
        if (token.admin && token.tenant_id != 0) {
          error(t.Mark(), p, "a token is either admin: true or for one tenant, not both");
        }
        out.tokens.push_back(std::move(token));
      }
      // Names, hashes and the admin-or-tenant rule, with the same checks the server applies.
      api::TokenTable table;
      std::string why;
      if (!table.assign(out.tokens, why)) error(list.Mark(), list_path, why);
    }
  }
  if (const YAML::Node tls = child(node, "tls", path)) {
    const std::string p = "api.tls";
    if (check_map(tls, p, p)) {
      read_string(tls, p, "certificate", false, out.tls_certificate);
      read_string(tls, p, "private_key", false, out.tls_private_key);
      if (out.tls_certificate.empty() != out.tls_private_key.empty()) {
        error(tls.Mark(), p, "needs both certificate and private_key");
      }
    }
  }
  read_string(node, path, "web_root", true, out.web_root);
}

void Loader::load_alert_sink(const YAML::Node& node, const std::string& path,
                             alert::SinkConfig& out) {
  if (!check_map(node, "alert.sinks[]", path)) return;
  read_string(node, path, "name", false, out.name);
  if (!out.name.empty() && !valid_name(out.name)) {
    error(node["name"].Mark(), join_key(path, "name"),
          "'" + out.name + "' is not a sink name (1-64 of A-Z a-z 0-9 _ . -)");
  }
  std::string kind;
  if (read_string(node, path, "kind", false, kind)) {
    if (kind == "webhook") {
      out.kind = alert::SinkKind::kWebhook;
    } else if (kind == "syslog") {
      out.kind = alert::SinkKind::kSyslog;
    } else if (kind == "json_lines") {
      out.kind = alert::SinkKind::kJsonLines;
    } else if (kind == "kafka") {
      out.kind = alert::SinkKind::kKafka;
    } else {
      error(node["kind"].Mark(), join_key(path, "kind"),
            "'" + kind + "' is not one of webhook, syslog, json_lines, kafka");
    }
  } else if (!node["kind"]) {
    error(node.Mark(), path, "needs a kind (webhook, syslog, json_lines, kafka)");
  }
  if (const YAML::Node list = child(node, "tenants", path)) {
    const std::string list_path = join_key(path, "tenants");
    if (sequence(list, list_path)) {
      for (size_t idx = 0; idx < list.size(); ++idx) {
        uint64_t id = 0;
        if (parse_uint_node(list[idx], index_key(list_path, idx), 0, UINT32_MAX, id)) {
          out.tenants.push_back(static_cast<uint32_t>(id));
        }
      }
    }
  }
  std::string level;
  if (read_string(node, path, "min_severity", false, level)) {
    if (level == "low") {
      out.min_level = detect::SeverityLevel::kLow;
    } else if (level == "medium") {
      out.min_level = detect::SeverityLevel::kMedium;
    } else if (level == "high") {
      out.min_level = detect::SeverityLevel::kHigh;
    } else if (level == "critical") {
      out.min_level = detect::SeverityLevel::kCritical;
    } else {
      error(node["min_severity"].Mark(), join_key(path, "min_severity"),
            "'" + level + "' is not one of low, medium, high, critical");
    }
  }
  // webhook
  read_string(node, path, "url", false, out.url);
  if (const YAML::Node headers = child(node, "headers", path)) {
    const std::string hp = join_key(path, "headers");
    if (!headers.IsMap()) {
      error(headers.Mark(), hp, "expected a mapping of header: value");
    } else {
      for (const auto& pair : headers) {
        std::string name;
        std::string value;
        if (!scalar(pair.first, hp, name) || !scalar(pair.second, join_key(hp, name), value)) {
          continue;
        }
        out.headers.emplace_back(name, value);
      }
    }
  }
  read_string(node, path, "hmac_secret", false, out.hmac_secret);
  uint64_t ms = 0;
  if (read_uint(node, path, "timeout_ms", 1, 600'000, ms))
    out.timeout_ms = static_cast<int64_t>(ms);
  read_bool(node, path, "verify_tls", out.verify_tls);
  // syslog
  read_string(node, path, "host", false, out.host);
  read_uint_into(node, path, "port", 1, 65535, out.port);
  std::string transport;
  if (read_string(node, path, "transport", false, transport)) {
    if (transport == "udp") {
      out.transport = alert::SyslogTransport::kUdp;
    } else if (transport == "tcp") {
      out.transport = alert::SyslogTransport::kTcp;
    } else {
      error(node["transport"].Mark(), join_key(path, "transport"),
            "'" + transport + "' is not one of udp, tcp");
    }
  }
  read_uint_into(node, path, "facility", 0, 23, out.facility);
  read_string(node, path, "hostname", false, out.hostname);
  // json_lines
  read_string(node, path, "path", false, out.path);
  // kafka
  read_string(node, path, "brokers", false, out.brokers);
  read_string(node, path, "topic", false, out.topic);
  if (const YAML::Node props = child(node, "properties", path)) {
    const std::string pp = join_key(path, "properties");
    if (!props.IsMap()) {
      error(props.Mark(), pp, "expected a mapping of librdkafka property: value");
    } else {
      for (const auto& pair : props) {
        std::string name;
        std::string value;
        if (!scalar(pair.first, pp, name) || !scalar(pair.second, join_key(pp, name), value)) {
          continue;
        }
        out.properties[name] = value;
      }
    }
  }
}

void Loader::load_alert(const YAML::Node& node, alert::AlertConfig& out) {
  const std::string path = "alert";
  const size_t errors_before = errors_.size();
  if (!check_map(node, path, path)) return;
  if (const YAML::Node list = child(node, "sinks", path)) {
    const std::string list_path = "alert.sinks";
    if (sequence(list, list_path)) {
      for (size_t idx = 0; idx < list.size(); ++idx) {
        alert::SinkConfig sink;
        load_alert_sink(list[idx], index_key(list_path, idx), sink);
        out.sinks.push_back(std::move(sink));
      }
    }
  }
  if (const YAML::Node r = child(node, "retry", path)) {
    const std::string p = "alert.retry";
    if (check_map(r, p, p)) {
      read_uint_into(r, p, "max_attempts", 1, 1000, out.retry.max_attempts);
      uint64_t ms = 0;
      if (read_uint(r, p, "initial_backoff_ms", 1, 3'600'000, ms)) {
        out.retry.initial_backoff_ms = static_cast<int64_t>(ms);
      }
      if (read_uint(r, p, "max_backoff_ms", 1, 86'400'000, ms)) {
        out.retry.max_backoff_ms = static_cast<int64_t>(ms);
      }
    }
  }
  if (const YAML::Node r = child(node, "rate_limit", path)) {
    const std::string p = "alert.rate_limit";
    if (check_map(r, p, p)) {
      read_number_in(r, p, "alerts_per_minute", 0, 1e6, out.rate_limit.alerts_per_minute);
      read_number_in(r, p, "burst", 1, 1e6, out.rate_limit.burst);
      double seconds = 0;
      read_number_in(r, p, "summary_interval_seconds", 1, 86400, seconds);
      if (seconds > 0) out.rate_limit.summary_interval_ms = static_cast<int64_t>(seconds * 1000);
    }
  }
  uint64_t mb = 0;
  if (read_uint(node, path, "spool_max_mb_per_sink", 1, 100'000'000, mb)) {
    out.spool_max_bytes_per_sink = mb << 20;
  }
  read_uint_into(node, path, "queue_capacity", 1, 10'000'000, out.queue_capacity);
  // The whole-config checks (names unique, each kind's required fields) once every field read.
  if (errors_.size() != errors_before) return;
  if (std::string why = alert::validate(out); !why.empty()) error(node.Mark(), path, why);
}

}  // namespace fathom::app::detail
