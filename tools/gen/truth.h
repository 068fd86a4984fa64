#pragma once

// Unsampled truth per time window (tenant totals and per-host totals), and the attack ground
// truth CSV, so estimators and detectors can be scored against what really happened.

#include <cstdint>
#include <map>
#include <ostream>
#include <span>
#include <vector>

#include "gen/attacks.h"
#include "gen/flow_spec.h"
#include "gen/network.h"

namespace fathom::gen {

struct TrafficCounters {
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

/// Per-window unsampled totals, attributed to windows by packet time. Windows are written
/// once no flow can still add to them.
class WindowTruth {
 public:
  /// `hosts` = false writes only the tenant lines (and keeps no per-host counters).
  WindowTruth(std::span<const TenantModel> tenants, int64_t sim_start_ns, int64_t window_ns,
              std::ostream* out, bool hosts = true);

  /// Adds every packet of `flow` to the windows its packets fall in.
  void add(const FlowSpec& flow);
  /// Writes windows that end before `now_ns` - kMaxFlowDurationNs (no flow can reach them).
  void flush_before(int64_t now_ns);
  /// Writes every remaining window.
  void finish();

  /// Whole-run totals per tenant index (for tests and the summary).
  const std::vector<TrafficCounters>& tenant_totals() const noexcept { return totals_; }

  /// CSV header line written first.
  static const char* header() noexcept;

 private:
  struct TenantWindow {
    TrafficCounters total;
    std::vector<TrafficCounters> host_out;
    std::vector<TrafficCounters> host_in;
  };
  struct Window {
    std::vector<TenantWindow> tenants;
  };
  Window& window(int64_t index);
  void write(int64_t index, const Window& w);

  std::span<const TenantModel> tenants_;
  int64_t sim_start_ns_;
  int64_t window_ns_;
  std::ostream* out_;
  bool hosts_;
  std::map<int64_t, Window> windows_;
  std::vector<TrafficCounters> totals_;
};

/// Writes the ground-truth CSV: one line per attack.
void write_ground_truth(std::ostream& out, std::span<const Attack> attacks,
                        std::span<const TenantModel> tenants);

}  // namespace fathom::gen
