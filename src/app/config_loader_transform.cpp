// The transform half of the config loader: tenants, the unknown-exporter policy, enrichment
// sources, the adaptive sampler and de-duplication rules (docs/configuration.md).

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "app/detail/config_reader.h"
#include "detect/rules.h"
#include "transform/config.h"
#include "transform/ip_prefix.h"

namespace fathom::app::detail {

namespace {

/// "0.1", "1e-09", "3600": a range bound as a person writes it.
std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
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

}  // namespace

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
  if (const YAML::Node enrichment = child(node, "enrichment", path)) {
    load_enrichment(enrichment, out.enrichment);
  }
  if (const YAML::Node sampling = child(node, "sampling", path)) {
    load_sampling(sampling, out.sampling);
  }
  return default_mark;
}

void Loader::read_string_list(const YAML::Node& map, const std::string& path, std::string_view key,
                              std::vector<std::string>& out) {
  const std::string list_path = join_key(path, key);
  const YAML::Node list = child(map, key, path);
  if (!list || !sequence(list, list_path)) return;
  for (size_t idx = 0; idx < list.size(); ++idx) {
    std::string text;
    if (!scalar(list[idx], index_key(list_path, idx), text)) continue;
    if (text.empty()) {
      error(list[idx].Mark(), index_key(list_path, idx), "must not be empty");
      continue;
    }
    out.push_back(std::move(text));
  }
}

void Loader::read_number_in(const YAML::Node& map, const std::string& path, std::string_view key,
                            double min, double max, double& out) {
  const YAML::Node node = child(map, key, path);
  if (!node) return;
  const std::string key_path = join_key(path, key);
  double value = 0;
  if (!parse_number_node(node, key_path, value)) return;
  if (value < min || value > max) {
    error(node.Mark(), key_path,
          node.Scalar() + " is out of range " + format_number(min) + ".." + format_number(max));
    return;
  }
  out = value;
}

void Loader::load_enrichment(const YAML::Node& node, transform::Enrichment& out) {
  const std::string path = "transform.enrichment";
  if (!check_map(node, path, path)) return;
  read_string_list(node, path, "geo_databases", out.geo_databases);
  read_string_list(node, path, "asn_databases", out.asn_databases);
  const std::string lists_path = path + ".intel_lists";
  if (const YAML::Node list = child(node, "intel_lists", path);
      list && sequence(list, lists_path)) {
    for (size_t idx = 0; idx < list.size(); ++idx) {
      transform::IntelList intel;
      const std::string item_path = index_key(lists_path, idx);
      load_intel_list(list[idx], item_path, intel);
      const auto same_name = [&](const transform::IntelList& l) { return l.name == intel.name; };
      if (!intel.name.empty() &&
          std::any_of(out.intel_lists.begin(), out.intel_lists.end(), same_name)) {
        error(list[idx].Mark(), item_path + ".name",
              "duplicate intel list name '" + intel.name + "'");
        continue;
      }
      out.intel_lists.push_back(std::move(intel));
    }
  }
  read_uint_into(node, path, "reload_check_seconds", 0, 86400, out.reload_check_seconds);
  read_bool(node, path, "asn_overrides_exporter", out.asn_overrides_exporter);
}

void Loader::load_intel_list(const YAML::Node& node, const std::string& path,
                             transform::IntelList& out) {
  if (!check_map(node, "transform.enrichment.intel_lists[]", path)) return;
  if (read_string(node, path, "name", false, out.name) && !valid_name(out.name)) {
    error(child(node, "name", path).Mark(), path + ".name",
          "'" + out.name + "' is not 1-64 of A-Z a-z 0-9 _ . -");
  } else if (!node["name"]) {
    error(node.Mark(), path + ".name", "missing (every intel list needs a name)");
  }
  if (!read_string(node, path, "path", false, out.path) && !node["path"]) {
    error(node.Mark(), path + ".path", "missing (the list's file)");
  }
  if (const YAML::Node format = child(node, "format", path)) {
    std::string text;
    if (scalar(format, path + ".format", text)) {
      static constexpr std::pair<std::string_view, transform::IntelFormat> kFormats[] = {
          {"auto", transform::IntelFormat::kAuto},
          {"plain", transform::IntelFormat::kPlain},
          {"netset", transform::IntelFormat::kNetset},
          {"spamhaus", transform::IntelFormat::kSpamhaus},
          {"csv", transform::IntelFormat::kCsv},
      };
      const auto it = std::find_if(std::begin(kFormats), std::end(kFormats),
                                   [&](const auto& f) { return f.first == text; });
      if (it == std::end(kFormats)) {
        error(format.Mark(), path + ".format",
              "'" + text + "' is not one of auto, plain, netset, spamhaus, csv");
      } else {
        out.format = it->second;
      }
    }
  }
  if (const YAML::Node category = child(node, "category", path)) {
    std::string text;
    if (scalar(category, path + ".category", text) &&
        !transform::parse_intel_category(text, out.category)) {
      error(category.Mark(), path + ".category",
            "'" + text +
                "' is not one of malware, c2, botnet, scanner, bruteforce, spam, phishing, "
                "hijacked, tor, anonymizer, attacker, other");
    }
  }
  read_uint_into(node, path, "severity", 1, 100, out.severity);
}

void Loader::load_sampling(const YAML::Node& node, transform::Sampling& out) {
  const std::string path = "transform.sampling";
  if (!check_map(node, path, path)) return;
  read_number_in(node, path, "update_interval_seconds", 0.1, 3600, out.update_interval_seconds);
  read_number_in(node, path, "smoothing", 0.01, 1, out.smoothing);
  read_number_in(node, path, "min_probability", 1e-9, 1, out.min_probability);
  read_number_in(node, path, "surge_factor", 1.5, 1e6, out.surge_factor);
  read_uint_into(node, path, "seed", 0, UINT64_MAX, out.seed);
}

void Loader::load_dedup_rule(const YAML::Node& node, const std::string& path,
                             transform::DedupRule& out) {
  out.exporter.length = 255;  // "not loaded"
  if (!check_map(node, "tenants[].dedup[]", path)) return;
  if (const YAML::Node exporter = child(node, "exporter", path)) {
    parse_prefix(exporter, path + ".exporter", out.exporter);
  } else if (!node["exporter"]) {
    error(node.Mark(), path + ".exporter", "missing (the exporter address or CIDR it applies to)");
  }
  using Count = transform::DedupRule::Count;
  if (const YAML::Node count = child(node, "count", path)) {
    std::string text;
    if (scalar(count, path + ".count", text)) {
      if (text == "all") {
        out.count = Count::kAll;
      } else if (text == "none") {
        out.count = Count::kNone;
      } else if (text == "ingress") {
        out.count = Count::kIngress;
      } else if (text == "egress") {
        out.count = Count::kEgress;
      } else if (text == "interfaces") {
        out.count = Count::kInterfaces;
      } else {
        error(count.Mark(), path + ".count",
              "'" + text + "' is not one of all, none, ingress, egress, interfaces");
      }
    }
  } else if (!node["count"]) {
    error(node.Mark(), path + ".count", "missing (all, none, ingress, egress or interfaces)");
  }
  const std::string ifs_path = path + ".input_interfaces";
  const YAML::Node ifs = child(node, "input_interfaces", path);
  if (ifs && sequence(ifs, ifs_path)) {
    for (size_t idx = 0; idx < ifs.size(); ++idx) {
      uint64_t value = 0;
      if (parse_uint_node(ifs[idx], index_key(ifs_path, idx), 0, UINT32_MAX, value)) {
        out.input_interfaces.push_back(static_cast<uint32_t>(value));
      }
    }
    std::sort(out.input_interfaces.begin(), out.input_interfaces.end());
    out.input_interfaces.erase(
        std::unique(out.input_interfaces.begin(), out.input_interfaces.end()),
        out.input_interfaces.end());
  }
  if (out.count == Count::kInterfaces && out.input_interfaces.empty()) {
    error(node.Mark(), ifs_path, "count: interfaces needs a non-empty input_interfaces list");
  } else if (out.count != Count::kInterfaces && ifs) {
    error(ifs.Mark(), ifs_path, "only meaningful with count: interfaces");
  }
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
  const std::string dedup_path = path + ".dedup";
  if (const YAML::Node list = child(node, "dedup", path); list && sequence(list, dedup_path)) {
    for (size_t idx = 0; idx < list.size(); ++idx) {
      transform::DedupRule rule;
      const std::string item_path = index_key(dedup_path, idx);
      load_dedup_rule(list[idx], item_path, rule);
      const auto same = [&](const transform::DedupRule& r) { return r.exporter == rule.exporter; };
      if (rule.exporter.length <= 128 && std::any_of(out.dedup.begin(), out.dedup.end(), same)) {
        error(list[idx].Mark(), item_path + ".exporter",
              "'" + rule.exporter.to_string() + "' has two dedup rules");
        continue;
      }
      out.dedup.push_back(std::move(rule));
    }
  }
  if (const YAML::Node map = child(node, "thresholds", path)) {
    load_thresholds(map, path + ".thresholds", out.thresholds);
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

}  // namespace fathom::app::detail
