#include "detect/rules.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace fathom::detect {
namespace {

using analyze::Feature;
using analyze::InboundClass;

struct ThresholdField {
  const char* name;
  double RuleThresholds::*field;
};

constexpr ThresholdField kFields[] = {
    {"syn_flood_pps", &RuleThresholds::syn_flood_pps},
    {"udp_flood_pps", &RuleThresholds::udp_flood_pps},
    {"icmp_flood_pps", &RuleThresholds::icmp_flood_pps},
    {"amplification_pps", &RuleThresholds::amplification_pps},
    {"scan_probes_per_s", &RuleThresholds::scan_probes_per_s},
    {"scan_min_targets", &RuleThresholds::scan_min_targets},
    {"brute_force_attempts_per_s", &RuleThresholds::brute_force_attempts_per_s},
    {"brute_force_min_sessions", &RuleThresholds::brute_force_min_sessions},
    {"exfiltration_bytes_per_s", &RuleThresholds::exfiltration_bytes_per_s},
    {"exfiltration_baseline_factor", &RuleThresholds::exfiltration_baseline_factor},
    {"exfiltration_peer_share", &RuleThresholds::exfiltration_peer_share},
    {"intel_min_records", &RuleThresholds::intel_min_records},
    {"beacon_max_p_value", &RuleThresholds::beacon_max_p_value},
};

/// Evidence of a rate: the estimate over the window, per second.
Evidence rate_evidence(std::string name, const estimate::Estimate& e, double window_s,
                       double threshold, double usual = 0.0) {
  const double per_s = window_s > 0 ? 1.0 / window_s : 0.0;
  return {std::move(name), e.value * per_s, e.ci_low * per_s, e.ci_high * per_s, threshold, usual};
}

Evidence plain(std::string name, double value, double threshold = std::nan("")) {
  return {std::move(name), value, value, value, threshold, 0.0};
}

std::string human(double v) {
  char buf[32];
  if (v >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.1fG", v / 1e9);
  } else if (v >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.1fM", v / 1e6);
  } else if (v >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  }
  return buf;
}

Detection base(const analyze::TenantWindow& w, DetectionType type, const analyze::HostWindow& h) {
  Detection d;
  d.tenant_id = w.tenant_id;
  d.type = type;
  d.subject = h.host;
  d.window_start_ns = w.start_ns;
  d.window_end_ns = w.end_ns;
  d.first_arrival_ns = h.first_arrival_ns;
  if (!h.top_peer.is_unspecified())
    d.top_peers.push_back({h.top_peer.to_string(), h.top_peer_bytes});
  if (h.top_remote_port != 0) {
    d.top_ports.push_back({std::to_string(h.top_remote_port), h.top_peer_bytes});
  }
  return d;
}

void add_feature_evidence(Detection& d, const analyze::HostWindow& h, Feature f) {
  d.evidence.push_back(plain(std::string(analyze::to_string(f)), analyze::at(h.features, f)));
}

}  // namespace

bool set_threshold(RuleThresholds& thresholds, const std::string& name, double value) {
  if (!std::isfinite(value) || value < 0) return false;
  for (const ThresholdField& f : kFields) {
    if (name == f.name) {
      thresholds.*(f.field) = value;
      return true;
    }
  }
  return false;
}

std::vector<std::string> threshold_names() {
  std::vector<std::string> names;
  for (const ThresholdField& f : kFields) names.emplace_back(f.name);
  return names;
}

void accumulate(RuleStats& into, const RuleStats& from) noexcept {
  into.windows += from.windows;
  into.hosts_examined += from.hosts_examined;
  into.detections += from.detections;
  into.suppressed += from.suppressed;
  for (size_t i = 0; i < into.by_type.size(); ++i) into.by_type[i] += from.by_type[i];
}

double severity_from_ratio(double ratio, double base) noexcept {
  if (!(ratio > 1.0)) return base;
  return std::min(100.0, base + 30.0 * std::log10(ratio));
}

RuleEngine::RuleEngine(RulesConfig config) : config_(std::move(config)) {}

RuleEngine::TenantRules RuleEngine::export_tenant(uint32_t tenant_id) {
  TenantRules out;
  out.tenant_id = tenant_id;
  if (auto it = baselines_.find(tenant_id); it != baselines_.end()) {
    out.baselines = std::move(it->second);
    baselines_.erase(it);
  }
  for (auto it = last_found_.begin(); it != last_found_.end();) {
    if (it->first.tenant_id == tenant_id) {
      out.found.push_back({{it->first.type, it->first.subject}, it->second});
      it = last_found_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

void RuleEngine::import_tenant(TenantRules state) {
  if (!state.baselines.empty()) baselines_[state.tenant_id] = std::move(state.baselines);
  for (auto& [key, levels] : state.found) {
    last_found_[FindingKey{state.tenant_id, key.first, key.second}] = levels;
  }
}

const RuleThresholds& RuleEngine::thresholds(uint32_t tenant_id) const {
  const auto it = config_.per_tenant.find(tenant_id);
  return it == config_.per_tenant.end() ? config_.defaults : it->second;
}

bool RuleEngine::over(const estimate::Estimate& e, double threshold, double scale) const noexcept {
  const double v = config_.decision == Decision::kLowerBound ? e.ci_low : e.value;
  return v * scale > threshold;
}

double RuleEngine::baseline(uint32_t tenant_id, const flow::IpAddress& host) const {
  const auto t = baselines_.find(tenant_id);
  if (t == baselines_.end()) return 0.0;
  const auto it = t->second.find(host);
  return it == t->second.end() ? 0.0 : it->second;
}

void RuleEngine::learn_baseline(uint32_t tenant_id, const flow::IpAddress& host,
                                double bytes_per_s) {
  auto& table = baselines_[tenant_id];
  auto it = table.find(host);
  if (it == table.end()) {
    if (table.size() >= config_.max_baseline_hosts) return;
    table.emplace(host, bytes_per_s);
    return;
  }
  it->second += config_.baseline_alpha * (bytes_per_s - it->second);
}

void RuleEngine::evaluate(const analyze::TenantWindow& window, std::vector<Detection>& out) {
  ++stats_.windows;
  const RuleThresholds& th = thresholds(window.tenant_id);
  const double secs = window.seconds();
  if (secs <= 0) return;
  const double per_s = 1.0 / secs;
  const estimate::IntervalOptions options{config_.confidence, 50.0};
  const bool fast_level = window.level == 0;
  const size_t before = out.size();

  window.bucket->hosts.for_each([&](const analyze::HostSlot& s) {
    ++stats_.hosts_examined;
    // Cheap screens on the point estimates first (a lower bound never exceeds them), so
    // that only candidates pay for intervals and features.
    const auto inbound = [&](InboundClass c) {
      return double{s.inbound[static_cast<size_t>(c)]} * per_s;
    };
    const bool flood_candidate = fast_level && s.internal != 0 &&
                                 (inbound(InboundClass::kSynOnly) > th.syn_flood_pps ||
                                  inbound(InboundClass::kUdp) > th.udp_flood_pps ||
                                  inbound(InboundClass::kIcmp) > th.icmp_flood_pps ||
                                  inbound(InboundClass::kAmplification) > th.amplification_pps);
    const bool scan_candidate = double{s.probes_out} * per_s > th.scan_probes_per_s &&
                                s.syn_only_out >= th.scan_min_targets;
    const bool brute_candidate =
        s.internal != 0 &&
        (double{s.auth_in} * per_s > th.brute_force_attempts_per_s || !s.auth_sessions.empty());
    const bool exfil_candidate =
        s.internal != 0 && double{s.bytes_out_external} * per_s > th.exfiltration_bytes_per_s;
    const bool intel_candidate =
        fast_level && s.internal != 0 && s.intel_records >= th.intel_min_records;
    if (!flood_candidate && !scan_candidate && !brute_candidate && !exfil_candidate &&
        !intel_candidate) {
      if (window.level == 1 && s.internal != 0 && s.bytes_out_external > 0) {
        learn_baseline(window.tenant_id, s.host, double{s.bytes_out_external} * per_s);
      }
      return;
    }
    const analyze::HostWindow h = analyze::host_window(s, secs, window.history_of(s.host), options);

    if (flood_candidate) {
      struct Flood {
        InboundClass cls;
        DetectionType type;
        double threshold;
        const char* what;
      };
      const Flood floods[] = {
          {InboundClass::kSynOnly, DetectionType::kSynFlood, th.syn_flood_pps, "SYN flood"},
          {InboundClass::kUdp, DetectionType::kUdpFlood, th.udp_flood_pps, "UDP flood"},
          {InboundClass::kIcmp, DetectionType::kIcmpFlood, th.icmp_flood_pps, "ICMP flood"},
          {InboundClass::kAmplification, DetectionType::kAmplification, th.amplification_pps,
           "amplification"},
      };
      for (const Flood& f : floods) {
        const estimate::Estimate& e = h.inbound[static_cast<size_t>(f.cls)];
        if (!over(e, f.threshold, per_s)) continue;
        Detection d = base(window, f.type, h);
        if (f.type == DetectionType::kAmplification) {
          d.detail = std::string(analyze::amplification_service(h.amplification_port));
          d.top_ports.insert(d.top_ports.begin(), {std::to_string(h.amplification_port), e.value});
        }
        const double lower =
            (config_.decision == Decision::kLowerBound ? e.ci_low : e.value) * per_s;
        d.severity = severity_from_ratio(lower / f.threshold, 50.0);
        d.evidence.push_back(rate_evidence("packets_per_s", e, secs, f.threshold));
        d.evidence.push_back(rate_evidence("bytes_in_per_s", h.bytes_in, secs, std::nan("")));
        add_feature_evidence(d, h, Feature::kDistinctPeers);
        add_feature_evidence(d, h, Feature::kPeerEntropy);
        d.summary = std::string(f.what) + (d.detail.empty() ? "" : " (" + d.detail + ")") + " to " +
                    h.host.to_string() + ": " + human(e.value * per_s) + " pps [" +
                    human(e.ci_low * per_s) + ", " + human(e.ci_high * per_s) + "]";
        out.push_back(std::move(d));
      }
    }

    if (scan_candidate && over(h.probes_out, th.scan_probes_per_s, per_s)) {
      const double peers = analyze::at(h.features, Feature::kDistinctPeers);
      const double ports = analyze::at(h.features, Feature::kDistinctRemotePorts);
      const auto scan = [&](DetectionType type, const char* what, double targets) {
        Detection d = base(window, type, h);
        const double lower =
            (config_.decision == Decision::kLowerBound ? h.probes_out.ci_low : h.probes_out.value) *
            per_s;
        d.severity = severity_from_ratio(lower / th.scan_probes_per_s, 35.0);
        d.evidence.push_back(
            rate_evidence("probes_per_s", h.probes_out, secs, th.scan_probes_per_s));
        d.evidence.push_back(plain("targets_observed", targets, th.scan_min_targets));
        add_feature_evidence(d, h, Feature::kDistinctPeers);
        add_feature_evidence(d, h, Feature::kDistinctRemotePorts);
        add_feature_evidence(d, h, Feature::kSynOnlyRatio);
        d.summary = std::string(what) + " from " + h.host.to_string() + ": " +
                    human(h.probes_out.value * per_s) + " probes/s, " + human(targets) +
                    " targets seen";
        out.push_back(std::move(d));
      };
      // Horizontal: many hosts on few ports; vertical: many ports on few hosts.
      if (peers >= th.scan_min_targets && peers >= 2.0 * ports) {
        scan(DetectionType::kHorizontalScan, "horizontal scan", peers);
      } else if (ports >= th.scan_min_targets && ports >= 2.0 * peers) {
        scan(DetectionType::kVerticalScan, "vertical scan", ports);
      }
    }
    if (brute_candidate && (over(h.auth_flows_in, th.brute_force_attempts_per_s, per_s) ||
                            h.auth_sessions_observed >= th.brute_force_min_sessions)) {
      Detection d = base(window, DetectionType::kBruteForce, h);
      d.detail = std::string(analyze::auth_service(h.auth_port_in));
      const double lower = (config_.decision == Decision::kLowerBound ? h.auth_flows_in.ci_low
                                                                      : h.auth_flows_in.value) *
                           per_s;
      d.severity = severity_from_ratio(
          std::max(lower / th.brute_force_attempts_per_s,
                   h.auth_sessions_observed / std::max(1.0, th.brute_force_min_sessions)),
          45.0);
      d.evidence.push_back(
          rate_evidence("attempts_per_s", h.auth_flows_in, secs, th.brute_force_attempts_per_s));
      d.evidence.push_back(
          plain("sessions_observed", h.auth_sessions_observed, th.brute_force_min_sessions));
      add_feature_evidence(d, h, Feature::kDistinctPeers);
      add_feature_evidence(d, h, Feature::kMeanPacketBytes);
      d.top_ports.insert(d.top_ports.begin(),
                         {std::to_string(h.auth_port_in), h.auth_flows_in.value});
      d.summary = d.detail + " brute force against " + h.host.to_string() + ": " +
                  human(h.auth_flows_in.value * per_s) + " attempts/s, " +
                  human(h.auth_sessions_observed) + " sessions seen";
      out.push_back(std::move(d));
    }

    if (exfil_candidate) {
      const double usual = baseline(window.tenant_id, h.host);
      const double share =
          h.bytes_out_external.value > 0 ? h.top_peer_bytes_out / h.bytes_out_external.value : 0.0;
      const double threshold =
          std::max(th.exfiltration_bytes_per_s, th.exfiltration_baseline_factor * usual);
      if (over(h.bytes_out_external, threshold, per_s) && share >= th.exfiltration_peer_share) {
        Detection d = base(window, DetectionType::kExfiltration, h);
        const double lower =
            (config_.decision == Decision::kLowerBound ? h.bytes_out_external.ci_low
                                                       : h.bytes_out_external.value) *
            per_s;
        d.severity = severity_from_ratio(lower / threshold, 50.0);
        d.evidence.push_back(rate_evidence("bytes_out_external_per_s", h.bytes_out_external, secs,
                                           threshold, usual));
        d.evidence.push_back(plain("top_peer_share", share, th.exfiltration_peer_share));
        add_feature_evidence(d, h, Feature::kDistinctPeers);
        d.summary = "exfiltration from " + h.host.to_string() + ": " +
                    human(h.bytes_out_external.value * per_s) + " B/s out to " +
                    h.top_peer.to_string() + " (usual " + human(usual) + " B/s)";
        out.push_back(std::move(d));
      } else if (window.level == 1) {
        learn_baseline(window.tenant_id, h.host, h.bytes_out_external.value * per_s);
      }
    }

    if (intel_candidate) {
      Detection d = base(window, DetectionType::kIntelContact, h);
      d.top_peers.insert(d.top_peers.begin(), {h.intel_peer.to_string(), double(h.intel_records)});
      const double rate = std::max(1.0, h.max_sampling_rate);
      // The chance that one small connection (intel_miss_packets packets) with a listed
      // address left no sampled record at all: what a clean window does not rule out.
      const double miss = std::pow(1.0 - 1.0 / rate, config_.intel_miss_packets);
      const bool severe = (h.intel_categories & ((1u << 0) | (1u << 1) | (1u << 2))) != 0;
      d.severity = severe ? 65.0 : 45.0;
      d.evidence.push_back(plain("intel_records", h.intel_records, th.intel_min_records));
      d.evidence.push_back(plain("intel_categories", h.intel_categories));
      d.evidence.push_back(plain("miss_probability_per_contact", miss));
      add_feature_evidence(d, h, Feature::kIntelShare);
      d.summary = "contact between " + h.host.to_string() + " and listed " +
                  h.intel_peer.to_string() + " (" + std::to_string(h.intel_records) +
                  " sampled records; a 10-packet contact is missed with p=" + human(miss) + ")";
      out.push_back(std::move(d));
    }
  });
  suppress_repeats(window, out, before);
  for (size_t i = before; i < out.size(); ++i) {
    out[i].repeat_ns = window.slide_ns;
    ++stats_.detections;
    ++stats_.by_type[static_cast<size_t>(out[i].type)];
  }
}

void RuleEngine::suppress_repeats(const analyze::TenantWindow& window, std::vector<Detection>& out,
                                  size_t first) {
  const size_t level = std::min(window.level, kMaxLevels - 1);
  size_t kept = first;
  for (size_t i = first; i < out.size(); ++i) {
    const FindingKey key{out[i].tenant_id, out[i].type, out[i].subject};
    auto [it, inserted] = last_found_.try_emplace(key);
    if (inserted) it->second.fill(INT64_MIN);
    bool shorter = false;
    for (size_t l = 0; l < level; ++l) shorter = shorter || it->second[l] > window.start_ns;
    it->second[level] = std::max(it->second[level], window.end_ns);
    if (shorter) {
      ++stats_.suppressed;
      continue;
    }
    if (kept != i) out[kept] = std::move(out[i]);
    ++kept;
  }
  out.resize(kept);
  // Forget findings older than the longest window, now and then.
  longest_window_ns_ = std::max(longest_window_ns_, window.end_ns - window.start_ns);
  if (window.end_ns - last_prune_ns_ > longest_window_ns_) {
    last_prune_ns_ = window.end_ns;
    const int64_t horizon = window.end_ns - longest_window_ns_;
    for (auto it = last_found_.begin(); it != last_found_.end();) {
      const int64_t newest = *std::max_element(it->second.begin(), it->second.end());
      it = newest < horizon ? last_found_.erase(it) : std::next(it);
    }
  }
}

void RuleEngine::beacons(std::span<const BeaconFinding> findings,
                         std::vector<Detection>& out) const {
  for (const BeaconFinding& f : findings) {
    if (f.p_value > thresholds(f.tenant_id).beacon_max_p_value) continue;
    Detection d;
    d.tenant_id = f.tenant_id;
    d.type = DetectionType::kBeaconing;
    d.subject = f.host;
    d.window_start_ns = f.first_ns;
    d.window_end_ns = f.last_ns;
    // Observed contacts come about span / observations apart: the incident waits for two.
    d.repeat_ns = f.observations > 1
                      ? (f.last_ns - f.first_ns) / static_cast<int64_t>(f.observations - 1)
                      : f.period_ns;
    d.first_arrival_ns = f.first_ns;
    const double strength = -std::log10(std::max(f.p_value, 1e-300));
    d.severity = std::min(90.0, 40.0 + 3.0 * strength);
    d.top_peers.push_back({f.peer.to_string(), double(f.observations)});
    d.top_ports.push_back({std::to_string(f.port), double(f.observations)});
    d.evidence.push_back(plain("period_s", static_cast<double>(f.period_ns) * 1e-9));
    d.evidence.push_back(plain("jitter", f.jitter));
    d.evidence.push_back(plain("observations", f.observations));
    d.evidence.push_back(plain("p_value", f.p_value, thresholds(f.tenant_id).beacon_max_p_value));
    d.evidence.push_back(plain("observed_fraction", f.observed_fraction));
    d.summary = "beaconing from " + f.host.to_string() + " to " + f.peer.to_string() + ":" +
                std::to_string(f.port) + " every " +
                human(static_cast<double>(f.period_ns) * 1e-9) + " s";
    out.push_back(std::move(d));
  }
}

}  // namespace fathom::detect
