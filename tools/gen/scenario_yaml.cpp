#include "gen/scenario_yaml.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <stdexcept>

namespace fathom::gen {
namespace {

class Loader {
 public:
  explicit Loader(std::string name) : name_(std::move(name)) {}

  [[noreturn]] void fail(const YAML::Node& node, const std::string& message) const {
    const int line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
    throw std::invalid_argument(name_ + ":" + std::to_string(line) + ": " + message);
  }

  void expect_map(const YAML::Node& node, const std::string& what,
                  std::initializer_list<const char*> keys) const {
    if (!node.IsMap()) fail(node, what + " must be a mapping");
    const std::set<std::string> allowed(keys.begin(), keys.end());
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      if (!allowed.count(key)) fail(kv.first, "unknown key '" + key + "' in " + what);
    }
  }

  template <typename T>
  T scalar(const YAML::Node& node, const std::string& key) const {
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      fail(node, "bad value for '" + key + "'");
    }
  }

  int64_t duration(const YAML::Node& node, const std::string& key) const {
    try {
      return parse_duration_ns(scalar<std::string>(node, key));
    } catch (const std::invalid_argument& e) {
      fail(node, key + ": " + e.what());
    }
  }

  flow::IpAddress address(const YAML::Node& node, const std::string& key) const {
    auto a = flow::IpAddress::parse(scalar<std::string>(node, key));
    if (!a) fail(node, key + ": not an IP address");
    return *a;
  }

  int64_t time_point(const YAML::Node& node) const {
    const std::string text = scalar<std::string>(node, "start");
    std::tm tm{};
    const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end && *end == '\0') return static_cast<int64_t>(timegm(&tm)) * 1'000'000'000;
    try {
      size_t used = 0;
      const long long s = std::stoll(text, &used);
      if (used == text.size()) return s * 1'000'000'000;
    } catch (const std::exception&) {
    }
    fail(node, "start: expected YYYY-MM-DDTHH:MM:SSZ or epoch seconds");
  }

  ExporterConfig exporter(const YAML::Node& n) const {
    expect_map(n, "exporter",
               {"address", "source_port", "collector_port", "protocol", "observation_domain",
                "sampling_rate", "sampling_mode", "active_timeout", "inactive_timeout",
                "template_refresh_packets", "sflow_header_bytes", "sflow_counter_interval"});
    ExporterConfig e;
    if (n["address"]) e.address = address(n["address"], "address");
    if (n["source_port"]) e.source_port = scalar<uint16_t>(n["source_port"], "source_port");
    if (n["collector_port"]) {
      e.collector_port = scalar<uint16_t>(n["collector_port"], "collector_port");
    }
    if (n["protocol"]) {
      auto p = parse_export_protocol(scalar<std::string>(n["protocol"], "protocol"));
      if (!p) fail(n["protocol"], "protocol: expected netflow_v5, netflow_v9, ipfix or sflow_v5");
      e.protocol = *p;
    }
    if (n["observation_domain"]) {
      e.observation_domain = scalar<uint32_t>(n["observation_domain"], "observation_domain");
    }
    if (n["sampling_rate"]) e.sampling_rate = scalar<uint32_t>(n["sampling_rate"], "sampling_rate");
    if (n["sampling_mode"]) {
      const auto mode = scalar<std::string>(n["sampling_mode"], "sampling_mode");
      if (mode == "random") {
        e.sampling_mode = SamplingMode::kRandom;
      } else if (mode == "deterministic") {
        e.sampling_mode = SamplingMode::kDeterministic;
      } else {
        fail(n["sampling_mode"], "sampling_mode: expected random or deterministic");
      }
    }
    if (n["active_timeout"]) e.active_timeout_ns = duration(n["active_timeout"], "active_timeout");
    if (n["inactive_timeout"]) {
      e.inactive_timeout_ns = duration(n["inactive_timeout"], "inactive_timeout");
    }
    if (n["template_refresh_packets"]) {
      e.template_refresh_packets =
          scalar<uint32_t>(n["template_refresh_packets"], "template_refresh_packets");
    }
    if (n["sflow_header_bytes"]) {
      e.sflow_header_bytes = scalar<uint32_t>(n["sflow_header_bytes"], "sflow_header_bytes");
    }
    if (n["sflow_counter_interval"]) {
      e.sflow_counter_interval_ns = duration(n["sflow_counter_interval"], "sflow_counter_interval");
    }
    return e;
  }

  TenantConfig tenant(const YAML::Node& n) const {
    expect_map(
        n, "tenant",
        {"id", "name", "prefixes", "hosts", "servers", "heavy_servers", "background", "exporters"});
    TenantConfig t;
    if (n["id"]) t.id = scalar<uint32_t>(n["id"], "id");
    if (n["name"]) t.name = scalar<std::string>(n["name"], "name");
    if (n["prefixes"]) {
      if (!n["prefixes"].IsSequence()) fail(n["prefixes"], "prefixes must be a list");
      for (const auto& p : n["prefixes"]) {
        auto prefix = Prefix::parse(scalar<std::string>(p, "prefixes"));
        if (!prefix) fail(p, "bad prefix (expected a.b.c.d/n or v6/n with zero host bits)");
        t.prefixes.push_back(*prefix);
      }
    }
    if (n["hosts"]) t.hosts = scalar<uint32_t>(n["hosts"], "hosts");
    if (n["servers"]) t.servers = scalar<uint32_t>(n["servers"], "servers");
    if (n["heavy_servers"]) t.heavy_servers = scalar<uint32_t>(n["heavy_servers"], "heavy_servers");
    if (const auto& b = n["background"]) {
      expect_map(b, "background",
                 {"sessions_per_host_per_s", "peak_hour", "trough_ratio", "noise", "ipv6_share"});
      auto& bg = t.background;
      if (b["sessions_per_host_per_s"]) {
        bg.sessions_per_host_per_s =
            scalar<double>(b["sessions_per_host_per_s"], "sessions_per_host_per_s");
      }
      if (b["peak_hour"]) bg.peak_hour = scalar<double>(b["peak_hour"], "peak_hour");
      if (b["trough_ratio"]) bg.trough_ratio = scalar<double>(b["trough_ratio"], "trough_ratio");
      if (b["noise"]) bg.noise = scalar<double>(b["noise"], "noise");
      if (b["ipv6_share"]) bg.ipv6_share = scalar<double>(b["ipv6_share"], "ipv6_share");
    }
    if (n["exporters"]) {
      if (!n["exporters"].IsSequence()) fail(n["exporters"], "exporters must be a list");
      for (const auto& e : n["exporters"]) t.exporters.push_back(exporter(e));
    }
    return t;
  }

  AttackConfig attack(const YAML::Node& n) const {
    expect_map(n, "attack",
               {"id", "type", "tenant", "start", "duration", "rate", "sources", "targets", "jitter",
                "slow", "ipv6", "victim", "attacker"});
    AttackConfig a;
    if (n["id"]) a.id = scalar<std::string>(n["id"], "id");
    if (!n["type"]) fail(n, "attack needs a type");
    auto type = parse_attack_type(scalar<std::string>(n["type"], "type"));
    if (!type) fail(n["type"], "unknown attack type");
    a.type = *type;
    if (n["tenant"]) a.tenant = scalar<uint32_t>(n["tenant"], "tenant");
    if (n["start"]) a.start_ns = duration(n["start"], "start");
    if (n["duration"]) a.duration_ns = duration(n["duration"], "duration");
    if (n["rate"]) a.rate = scalar<double>(n["rate"], "rate");
    if (n["sources"]) a.sources = scalar<uint32_t>(n["sources"], "sources");
    if (n["targets"]) a.targets = scalar<uint32_t>(n["targets"], "targets");
    if (n["jitter"]) a.jitter = scalar<double>(n["jitter"], "jitter");
    if (n["slow"]) a.slow = scalar<bool>(n["slow"], "slow");
    if (n["ipv6"]) a.ipv6 = scalar<bool>(n["ipv6"], "ipv6");
    if (n["victim"]) a.victim = address(n["victim"], "victim");
    if (n["attacker"]) a.attacker = address(n["attacker"], "attacker");
    return a;
  }

  Scenario scenario(const YAML::Node& root, const std::filesystem::path& dir) const {
    expect_map(root, "scenario",
               {"seed", "start", "duration", "truth_window", "truth_hosts", "random_attack_starts",
                "collector", "collector_v6", "intel", "intel_file", "tenants", "attacks"});
    Scenario s;
    if (root["seed"]) s.seed = scalar<uint64_t>(root["seed"], "seed");
    if (root["start"]) s.start_ns = time_point(root["start"]);
    if (root["duration"]) s.duration_ns = duration(root["duration"], "duration");
    if (root["truth_window"]) s.truth_window_ns = duration(root["truth_window"], "truth_window");
    if (root["truth_hosts"]) s.truth_hosts = scalar<bool>(root["truth_hosts"], "truth_hosts");
    if (root["random_attack_starts"]) {
      s.random_attack_starts = scalar<bool>(root["random_attack_starts"], "random_attack_starts");
    }
    if (root["collector"]) s.collector = address(root["collector"], "collector");
    if (root["collector_v6"]) s.collector_v6 = address(root["collector_v6"], "collector_v6");
    if (root["intel"]) {
      for (const auto& a : root["intel"]) s.intel.push_back(address(a, "intel"));
    }
    if (root["intel_file"]) {
      const std::filesystem::path p = scalar<std::string>(root["intel_file"], "intel_file");
      try {
        const auto list = load_intel_list((p.is_relative() ? dir / p : p).string());
        s.intel.insert(s.intel.end(), list.begin(), list.end());
      } catch (const std::exception& e) {
        fail(root["intel_file"], e.what());
      }
    }
    if (!root["tenants"] || !root["tenants"].IsSequence()) fail(root, "tenants: list required");
    for (const auto& t : root["tenants"]) s.tenants.push_back(tenant(t));
    if (root["attacks"]) {
      if (!root["attacks"].IsSequence()) fail(root["attacks"], "attacks must be a list");
      for (const auto& a : root["attacks"]) s.attacks.push_back(attack(a));
    }
    try {
      validate(s);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(name_ + ": " + e.what());
    }
    return s;
  }

 private:
  std::string name_;
};

}  // namespace

int64_t parse_duration_ns(const std::string& text) {
  // A sequence of <number><unit> parts ("2h13m", "1m30s"); a lone number means seconds.
  if (text.empty()) throw std::invalid_argument("empty duration");
  double total = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if (!(c >= '0' && c <= '9') && c != '.') {
      throw std::invalid_argument("bad duration '" + text + "'");
    }
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(text.substr(pos), &used);
    } catch (const std::exception&) {
      throw std::invalid_argument("bad duration '" + text + "'");
    }
    pos += used;
    size_t unit_end = pos;
    while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end]))) {
      ++unit_end;
    }
    const std::string unit = text.substr(pos, unit_end - pos);
    pos = unit_end;
    double scale = 1e9;
    if (unit == "ms") {
      scale = 1e6;
    } else if (unit == "m") {
      scale = 60e9;
    } else if (unit == "h") {
      scale = 3600e9;
    } else if (unit == "d") {
      scale = 86400e9;
    } else if (!unit.empty() && unit != "s") {
      throw std::invalid_argument("bad duration unit in '" + text + "' (ms, s, m, h, d)");
    }
    if (unit.empty() && pos < text.size()) {
      throw std::invalid_argument("bad duration '" + text + "'");
    }
    if (!std::isfinite(value)) throw std::invalid_argument("bad duration '" + text + "'");
    total += value * scale;
  }
  return static_cast<int64_t>(std::llround(total));
}

std::vector<flow::IpAddress> load_intel_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot read intel list " + path);
  std::vector<flow::IpAddress> out;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    const auto last = line.find_last_not_of(" \t\r");
    auto a = flow::IpAddress::parse(line.substr(first, last - first + 1));
    if (!a) throw std::invalid_argument(path + ":" + std::to_string(line_no) + ": bad address");
    out.push_back(*a);
  }
  return out;
}

Scenario parse_scenario(const std::string& text, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw std::invalid_argument(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return Loader(name).scenario(root, std::filesystem::current_path());
}

Scenario load_scenario(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot read scenario " + path);
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::ParserException& e) {
    throw std::invalid_argument(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return Loader(path).scenario(root, std::filesystem::path(path).parent_path());
}

}  // namespace fathom::gen
