#pragma once

// Scheduled attacks: each turns its config into flows labelled with its attack index, and
// keeps the ground truth of what it sent (before any sampling).

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "gen/flow_spec.h"
#include "gen/network.h"
#include "gen/rng.h"
#include "gen/scenario.h"
#include "gen/session.h"

namespace fathom::gen {

/// Ground truth of one attack, filled while it runs.
struct AttackTruth {
  std::vector<flow::IpAddress> attackers;  ///< sources (spoofed floods: a sample, see count)
  uint64_t attacker_count = 0;             ///< distinct attackers / reflectors
  std::vector<flow::IpAddress> victims;
  double intensity = 0;  ///< effective rate in `intensity_unit`
  std::string intensity_unit;
  uint64_t packets = 0;           ///< packets sent by the attack (both directions), unsampled
  uint64_t bytes = 0;             ///< L3 bytes, unsampled
  uint64_t flows = 0;             ///< unidirectional flows generated
  uint64_t distinct_targets = 0;  ///< scans: distinct (host, port) probed
};

/// One running attack.
class Attack {
 public:
  /// Resolves attackers/victims against the tenant; `intel` feeds kIntelContact.
  Attack(const AttackConfig& config, uint32_t index, const TenantModel& tenant,
         const std::vector<flow::IpAddress>& intel, int64_t sim_start_ns, uint64_t seed);

  /// Appends this attack's flows starting in [tick_start_ns, tick_start_ns + tick_ns).
  void generate(int64_t tick_start_ns, int64_t tick_ns, std::vector<FlowSpec>& out);

  const AttackConfig& config() const noexcept { return config_; }
  const AttackTruth& truth() const noexcept { return truth_; }
  int64_t start_ns() const noexcept { return start_ns_; }
  int64_t end_ns() const noexcept { return end_ns_; }

 private:
  /// Uniform event time in [lo, hi).
  int64_t when(int64_t lo, int64_t hi) noexcept {
    return lo + static_cast<int64_t>(rng_.below(static_cast<uint64_t>(hi - lo)));
  }
  uint64_t events(double per_second, int64_t lo, int64_t hi) noexcept {
    return rng_.poisson(per_second * static_cast<double>(hi - lo) / 1e9);
  }
  void account(const std::vector<FlowSpec>& out, size_t from);
  Endpoint victim_endpoint(uint16_t port) const noexcept;
  FlowContext context() const noexcept;

  AttackConfig config_;
  uint32_t index_;
  const TenantModel& tenant_;
  const std::vector<flow::IpAddress>& intel_;
  Rng rng_;
  int64_t start_ns_;
  int64_t end_ns_;
  double rate_;
  uint32_t victim_host_ = kNoHost;
  flow::IpAddress victim_;
  std::vector<flow::IpAddress> sources_;  ///< bots, reflectors, attacker, C2 or drop site
  uint64_t probe_ = 0;                    ///< scans: next target index
  std::set<std::pair<flow::IpAddress, uint16_t>> probed_;
  int64_t next_beacon_ns_ = 0;
  AttackTruth truth_;
};

/// Default intensity of a type (`slow` picks the slow-and-low default) and its unit.
double default_rate(AttackType type, bool slow) noexcept;
const char* rate_unit(AttackType type) noexcept;

}  // namespace fathom::gen
