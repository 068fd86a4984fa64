#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "analyze/features.h"
#include "analyze/window_engine.h"
#include "detect/beacon.h"
#include "detect/detection.h"

namespace fathom::detect {

/// How a rule compares an estimate with its threshold.
enum class Decision : uint8_t {
  /// The 95% interval's lower bound must exceed the threshold: a rule fires only when the
  /// sample shows, with 97.5% confidence, that the true value is over it (the default).
  kLowerBound = 0,
  /// The point estimate must exceed it: more sensitive, more false alarms under sampling.
  kEstimate = 1,
};

/// Thresholds of the rules, in full-network units (what the whole network did, not what the
/// sample shows), per tenant. docs/detections.md describes each. A tenant's `thresholds` map
/// in fathom.yaml overrides these by name (`set_threshold`).
struct RuleThresholds {
  double syn_flood_pps = 2000.0;      ///< SYN-only packets/s to one host
  double udp_flood_pps = 2000.0;      ///< UDP packets/s to one host (not from reflector ports)
  double icmp_flood_pps = 1000.0;     ///< ICMP packets/s to one host
  double amplification_pps = 1000.0;  ///< UDP packets/s from reflection ports to one host
  double scan_probes_per_s = 5.0;     ///< SYN-only connection attempts/s from one host
  double scan_min_targets = 8.0;      ///< distinct hosts (horizontal) or ports (vertical) seen
  double brute_force_attempts_per_s = 0.3;  ///< connections/s to an SSH/RDP/Telnet port
  /// ... or at least this many distinct sessions (client ports) to one seen in a window.
  double brute_force_min_sessions = 20.0;
  double exfiltration_bytes_per_s = 1e6;  ///< bytes/s sent by one internal host outside
  /// ... and at least this many times the host's usual outbound rate (once one is known).
  double exfiltration_baseline_factor = 10.0;
  /// ... and the heaviest peer carries at least this share of it (few peers).
  double exfiltration_peer_share = 0.5;
  double intel_min_records = 1.0;  ///< sampled records with a listed peer (1: any contact)
  double beacon_max_p_value = 1e-4;
  friend bool operator==(const RuleThresholds&, const RuleThresholds&) = default;
};

/// Sets the threshold `name` (a field of RuleThresholds by its name, e.g.
/// "syn_flood_pps"); false for an unknown name or a value that is not a finite number >= 0.
bool set_threshold(RuleThresholds& thresholds, const std::string& name, double value);
/// Every threshold name `set_threshold` knows, for docs and error messages.
std::vector<std::string> threshold_names();

/// Settings of the rule engine.
struct RulesConfig {
  RuleThresholds defaults;
  std::map<uint32_t, RuleThresholds> per_tenant;  ///< tenant id → its thresholds
  Decision decision = Decision::kLowerBound;
  double confidence = 0.95;  ///< level of the intervals the decisions use
  /// Internal hosts whose usual outbound rate is kept per tenant (exfiltration baseline).
  uint32_t max_baseline_hosts = 65'536;
  /// Weight of a new window in the baseline's exponential average.
  double baseline_alpha = 0.05;
  /// Packets of a typical small connection, for the chance that a contact with a listed
  /// address was missed entirely by the sampling: (1 − 1/N)^packets.
  double intel_miss_packets = 10.0;
  friend bool operator==(const RulesConfig&, const RulesConfig&) = default;
};

/// Counters of the rule engine.
struct RuleStats {
  uint64_t windows = 0;
  uint64_t hosts_examined = 0;
  uint64_t detections = 0;
  /// Findings on a longer window dropped because a shorter window had already found the
  /// same (type, subject) inside it: the long windows are for what short ones miss.
  uint64_t suppressed = 0;
  std::array<uint64_t, kDetectionTypeCount> by_type{};
};

/// Adds `from`'s counters to `into` (several workers' rule engines).
void accumulate(RuleStats& into, const RuleStats& from) noexcept;

/// The sampling-aware threat rules (docs/detections.md): volumetric floods by class,
/// horizontal and vertical scans, brute force, exfiltration against the host's baseline,
/// contact with intel-listed addresses (level 0 windows for floods and intel, every level for
/// scans, brute force and exfiltration), and beaconing findings turned into detections.
/// Deterministic; no I/O. Owned by the analysis thread.
class RuleEngine {
 public:
  explicit RuleEngine(RulesConfig config);

  /// Runs every rule over one closed tenant window and appends its detections to `out`.
  void evaluate(const analyze::TenantWindow& window, std::vector<Detection>& out);
  /// Turns beaconing findings into detections (severity from the p-value).
  void beacons(std::span<const BeaconFinding> findings, std::vector<Detection>& out) const;

  const RuleThresholds& thresholds(uint32_t tenant_id) const;
  const RuleStats& stats() const noexcept { return stats_; }

  /// One tenant's learnt state (outbound baselines, recent findings per level), moved with
  /// the tenant's windows when another analysis worker takes the tenant over.
  struct TenantRules {
    uint32_t tenant_id = 0;
    std::unordered_map<flow::IpAddress, double, flow::IpAddressHash> baselines;
    std::vector<std::pair<std::pair<DetectionType, flow::IpAddress>, std::array<int64_t, 8>>> found;
  };
  /// Removes and returns the tenant's state.
  TenantRules export_tenant(uint32_t tenant_id);
  /// Takes over a tenant's state exported by another RuleEngine.
  void import_tenant(TenantRules state);

 private:
  bool over(const estimate::Estimate& e, double threshold, double scale) const noexcept;
  double baseline(uint32_t tenant_id, const flow::IpAddress& host) const;
  void learn_baseline(uint32_t tenant_id, const flow::IpAddress& host, double bytes_per_s);

  /// Drops the findings in out[first..] that a shorter level already made within this
  /// window, and remembers the rest.
  void suppress_repeats(const analyze::TenantWindow& window, std::vector<Detection>& out,
                        size_t first);

  struct FindingKey {
    uint32_t tenant_id;
    DetectionType type;
    flow::IpAddress subject;
    friend bool operator==(const FindingKey&, const FindingKey&) = default;
  };
  struct FindingKeyHash {
    size_t operator()(const FindingKey& k) const noexcept {
      return flow::IpAddressHash{}(k.subject) ^ (size_t{k.tenant_id} << 8) ^
             static_cast<size_t>(k.type);
    }
  };
  static constexpr size_t kMaxLevels = 8;

  RulesConfig config_;
  RuleStats stats_;
  /// Per (tenant, type, subject): end of the latest window at each level that found it.
  std::unordered_map<FindingKey, std::array<int64_t, kMaxLevels>, FindingKeyHash> last_found_;
  int64_t last_prune_ns_ = 0;
  int64_t longest_window_ns_ = 0;
  std::map<uint32_t, std::unordered_map<flow::IpAddress, double, flow::IpAddressHash>> baselines_;
};

/// Severity 0..100 of a finding whose decisive value is `ratio` times its threshold
/// (>= 1): `base` at the threshold, +30 per factor of 10, capped at 100.
double severity_from_ratio(double ratio, double base) noexcept;

}  // namespace fathom::detect
