// The `analyze` section of fathom.yaml (docs/configuration.md "analyze").
#include <cmath>
#include <string>

#include <yaml-cpp/yaml.h>

#include "app/detail/config_reader.h"
#include "detect/rules.h"

namespace fathom::app::detail {
namespace {

int64_t to_ns(double seconds) {
  return static_cast<int64_t>(std::llround(seconds * 1e9));
}

}  // namespace

void Loader::load_thresholds(const YAML::Node& map, const std::string& path,
                             std::map<std::string, double>& out) {
  if (!map.IsMap()) {
    error(map.Mark(), path, "expected a mapping of name: number");
    return;
  }
  for (const auto& pair : map) {
    const std::string name = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
    const std::string key_path = join_key(path, name);
    if (!valid_name(name)) {
      error(pair.first.Mark(), path,
            "'" + name + "' is not a threshold name (1-64 of A-Z a-z 0-9 _ . -)");
      continue;
    }
    double value = 0;
    if (!parse_number_node(pair.second, key_path, value)) continue;
    detect::RuleThresholds check;
    if (!detect::set_threshold(check, name, value)) {
      std::string known;
      for (const std::string& n : detect::threshold_names()) {
        known += (known.empty() ? "" : ", ") + n;
      }
      error(pair.first.Mark(), key_path,
            value < 0 || !std::isfinite(value)
                ? std::string("must be a number >= 0")
                : "'" + name + "' is not a threshold (one of " + known + ")");
      continue;
    }
    if (!out.emplace(name, value).second) error(pair.first.Mark(), key_path, "duplicate key");
  }
}

void Loader::load_analyze(const YAML::Node& node, Config::Analyze& out) {
  const std::string path = "analyze";
  if (!check_map(node, path, path)) return;
  analyze::AnalyzeConfig& w = out.windows;
  double slide_s = 0;
  double window_s = 0;
  read_number_in(node, path, "slide_seconds", 0.1, 3600, slide_s);
  read_number_in(node, path, "window_seconds", 0.1, 86400, window_s);
  if (slide_s > 0) w.levels[0].slide_ns = to_ns(slide_s);
  if (window_s > 0) w.levels[0].window_ns = to_ns(window_s);
  if (const YAML::Node list = child(node, "long_windows", path)) {
    const std::string list_path = "analyze.long_windows";
    if (sequence(list, list_path)) {
      w.levels.resize(1);
      for (size_t idx = 0; idx < list.size(); ++idx) {
        const std::string item = index_key(list_path, idx);
        if (!check_map(list[idx], list_path + "[]", item)) continue;
        double s = 0;
        double win = 0;
        read_number_in(list[idx], item, "slide_seconds", 0.1, 86400, s);
        read_number_in(list[idx], item, "window_seconds", 0.1, 7 * 86400, win);
        if (s <= 0 || win <= 0) {
          error(list[idx].Mark(), item, "needs slide_seconds and window_seconds");
          continue;
        }
        w.levels.push_back({to_ns(s), to_ns(win)});
      }
    }
  }
  read_uint_into(node, path, "max_internal_hosts", 1, 10'000'000, w.max_internal_hosts);
  read_uint_into(node, path, "max_external_hosts", 0, 10'000'000, w.max_external_hosts);
  read_uint_into(node, path, "max_history_hosts", 0, 10'000'000, w.max_history_hosts);
  read_uint_into(node, path, "max_tenants", 1, 1'000'000, w.max_tenants);
  read_uint_into(node, path, "heavy_hitters", 1, 100'000, w.heavy_hitters);
  read_uint_into(node, path, "max_contacts_per_slide", 0, 100'000'000, w.max_contacts_per_slide);
  if (std::string why = analyze::validate(w); !why.empty()) error(node.Mark(), path, why);

  if (const YAML::Node d = child(node, "decision", path)) {
    std::string text;
    if (scalar(d, "analyze.decision", text)) {
      if (text == "lower_bound") {
        out.rules.decision = detect::Decision::kLowerBound;
      } else if (text == "estimate") {
        out.rules.decision = detect::Decision::kEstimate;
      } else {
        error(d.Mark(), "analyze.decision", "'" + text + "' is not one of lower_bound, estimate");
      }
    }
  }
  read_number_in(node, path, "confidence", 0.5, 0.9999, out.rules.confidence);
  if (const YAML::Node map = child(node, "thresholds", path)) {
    std::map<std::string, double> values;
    load_thresholds(map, "analyze.thresholds", values);
    for (const auto& [name, value] : values) detect::set_threshold(out.rules.defaults, name, value);
  }

  if (const YAML::Node inc = child(node, "incidents", path)) {
    const std::string p = "analyze.incidents";
    if (check_map(inc, p, p)) {
      double quiet = 0;
      double refresh = 0;
      read_number_in(inc, p, "quiet_period_seconds", 1, 86400, quiet);
      read_number_in(inc, p, "refresh_seconds", 1, 86400, refresh);
      if (quiet > 0) out.incidents.quiet_period_ns = to_ns(quiet);
      if (refresh > 0) out.incidents.refresh_interval_ns = to_ns(refresh);
      read_uint_into(inc, p, "max_open", 1, 10'000'000, out.incidents.max_open);
      read_uint_into(inc, p, "flows", 0, 10'000, out.incident_flows);
      double flow_s = 0;
      read_number_in(inc, p, "flow_seconds", 1, 3600, flow_s);
      if (flow_s > 0) out.incident_flow_ns = to_ns(flow_s);
    }
  }
  if (const YAML::Node b = child(node, "beacon", path)) {
    const std::string p = "analyze.beacon";
    if (check_map(b, p, p)) {
      double lo = 0;
      double hi = 0;
      read_number_in(b, p, "min_period_seconds", 1, 86400, lo);
      read_number_in(b, p, "max_period_seconds", 1, 86400, hi);
      if (lo > 0) out.beacon.min_period_ns = to_ns(lo);
      if (hi > 0) out.beacon.max_period_ns = to_ns(hi);
      if (out.beacon.min_period_ns >= out.beacon.max_period_ns) {
        error(b.Mark(), p, "min_period_seconds must be below max_period_seconds");
      }
      read_number_in(b, p, "jitter_tolerance", 0.01, 0.9, out.beacon.jitter_tolerance);
      read_uint_into(b, p, "min_observations", 3, 1000, out.beacon.min_observations);
    }
  }
  if (const YAML::Node ai = child(node, "ai", path)) {
    const std::string p = "analyze.ai";
    if (check_map(ai, p, p)) {
      read_string(ai, p, "model", false, out.ai.model);
      read_uint_into(ai, p, "level", 0, 16, out.ai.level);
      read_uint_into(ai, p, "min_records", 1, 1'000'000, out.ai.min_records);
      detect::AnomalyConfig& d = out.ai.detector;
      read_number_in(ai, p, "threshold", 0.1, 1000, d.threshold);
      read_uint_into(ai, p, "persistence", 1, 10'000, d.persistence);
      read_number_in(ai, p, "host_margin", 0, 1000, d.host_margin);
      read_uint_into(ai, p, "host_warmup_windows", 0, 100'000, d.host_warmup_windows);
      read_uint_into(ai, p, "learning_windows", 0, 10'000'000, d.learning_windows);
      read_uint_into(ai, p, "learning_min_samples", 16, 1'000'000, d.learning_min_samples);
      read_uint_into(ai, p, "history_capacity", 64, 1'000'000, d.history_capacity);
      read_uint_into(ai, p, "refresh_windows", 0, 100'000'000, d.refresh_windows);
      read_uint_into(ai, p, "max_detections_per_window", 1, 100'000, d.max_detections_per_window);
      read_uint_into(ai, p, "top_features", 1, 16, d.top_features);
      double seconds = 0;
      read_number_in(ai, p, "checkpoint_seconds", 10, 7 * 86400, seconds);
      if (seconds > 0) out.ai.checkpoint_interval_ns = to_ns(seconds);
      if (d.learning_min_samples > d.history_capacity) {
        error(ai.Mark(), p, "learning_min_samples must not exceed history_capacity");
      }
    }
  }
  if (const YAML::Node a = child(node, "autoscale", path)) {
    const std::string p = "analyze.autoscale";
    if (check_map(a, p, p)) {
      analyze::AutoscalerConfig& c = out.autoscale;
      read_number_in(a, p, "scale_out_utilisation", 0.01, 10, c.scale_out_utilisation);
      read_number_in(a, p, "scale_in_utilisation", 0.001, 10, c.scale_in_utilisation);
      const auto seconds = [&](std::string_view key, int64_t& ns) {
        double v = -1;
        read_number_in(a, p, key, 0, 7 * 86400, v);
        if (v >= 0) ns = to_ns(v);
      };
      seconds("scale_out_window_seconds", c.scale_out_window_ns);
      seconds("scale_in_window_seconds", c.scale_in_window_ns);
      seconds("scale_out_cooldown_seconds", c.scale_out_cooldown_ns);
      seconds("scale_in_cooldown_seconds", c.scale_in_cooldown_ns);
      read_uint_into(a, p, "min_workers", 1, 1024, c.min_workers);
      read_uint_into(a, p, "max_workers", 1, 1024, c.max_workers);
      if (std::string_view why = analyze::Autoscaler::validate(c); !why.empty()) {
        error(a.Mark(), p, std::string(why));
      }
    }
  }
}

}  // namespace fathom::app::detail
