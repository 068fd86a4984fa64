#pragma once

// Runs a scenario in simulated time, one second per tick: tenants' background and attacks
// produce flows, each exporter's meter samples and aggregates them, encoders turn what is due
// into datagrams, and the datagrams go to a sink (pcap, UDP, a test) in time order.

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <span>
#include <variant>
#include <vector>

#include "gen/attacks.h"
#include "gen/background.h"
#include "gen/flow_meter.h"
#include "gen/ipfix_encoder.h"
#include "gen/netflow_v5_encoder.h"
#include "gen/netflow_v9_encoder.h"
#include "gen/network.h"
#include "gen/output.h"
#include "gen/scenario.h"
#include "gen/sflow_encoder.h"
#include "gen/truth.h"

namespace fathom::gen {

/// Receives each datagram with its frame info; `records` = flow records/samples inside.
using DatagramSink =
    std::function<void(const DatagramInfo& info, uint32_t records, std::span<const std::byte>)>;

/// Totals of one run.
struct RunSummary {
  uint64_t flows = 0;    ///< unidirectional flows simulated
  uint64_t records = 0;  ///< flow records + sFlow samples exported
  uint64_t datagrams = 0;
  uint64_t payload_bytes = 0;
  int64_t simulated_ns = 0;  ///< simulated time covered, flush included
};

class Generator {
 public:
  /// Validates the scenario (throws std::invalid_argument) and builds the simulation.
  explicit Generator(Scenario scenario);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  /// Runs the whole scenario: start(), then step() until it returns false. `truth` (optional)
  /// receives the per-window unsampled truth CSV.
  RunSummary run(const DatagramSink& sink, std::ostream* truth = nullptr);

  /// Begins a run that advances one simulated second per step(), for callers that do their
  /// own work between seconds (the benchmark times seconds of a warmed-up run). `truth` as for
  /// run(); it must outlive the run. Starting again restarts the clock but not the random
  /// streams or the flow caches: use a new Generator for a reproducible run.
  void start(std::ostream* truth = nullptr);
  /// Simulates the next second and sends the datagrams that fall due to `sink`. Returns false
  /// after the run's last second (the scenario's end, then every flow cache flushed), when
  /// summary() and tenant_totals() are final, and when no run was started.
  bool step(const DatagramSink& sink);
  /// Totals of the current run so far (of the last run once step() returned false).
  const RunSummary& summary() const noexcept { return summary_; }

  /// Calls `fn` with every tick's flows before they are metered (tests, diagnostics).
  void set_flow_observer(std::function<void(std::span<const FlowSpec>)> fn) {
    flow_observer_ = std::move(fn);
  }

  /// Writes the ground-truth CSV (call after run()).
  void write_ground_truth(std::ostream& out) const;

  const Scenario& scenario() const noexcept { return scenario_; }
  std::span<const TenantModel> tenants() const noexcept { return tenants_; }
  std::span<const Attack> attacks() const noexcept { return attacks_; }
  /// Exporters in global order (tenant by tenant); index = DatagramInfo::exporter_index.
  std::span<const ExporterConfig> exporters() const noexcept { return exporters_; }
  /// Tenant index of each global exporter.
  uint32_t exporter_tenant(size_t global) const noexcept { return exporter_tenant_[global]; }
  const MeterStats& meter_stats(size_t global) const noexcept { return meters_[global].stats(); }
  /// Unsampled packets/bytes per tenant index over the whole run.
  const std::vector<TrafficCounters>& tenant_totals() const noexcept { return totals_; }

 private:
  using Encoder = std::variant<NetflowV5Encoder, NetflowV9Encoder, IpfixEncoder, SflowEncoder>;

  /// Encodes what the meters hold for `tick`; `last` marks the run's final tick.
  void encode_due(int64_t tick, bool last, const DatagramSink& sink, RunSummary& summary);

  Scenario scenario_;
  std::vector<TenantModel> tenants_;
  std::vector<BackgroundTraffic> background_;
  std::vector<Attack> attacks_;
  std::vector<ExporterConfig> exporters_;
  std::vector<uint32_t> exporter_tenant_;
  std::vector<uint32_t> exporter_base_;  ///< first global exporter index of each tenant
  std::vector<FlowMeter> meters_;
  std::vector<Encoder> encoders_;
  std::vector<TrafficCounters> totals_;
  std::function<void(std::span<const FlowSpec>)> flow_observer_;
  // The run in progress (start()/step()); truth_ is null when none is.
  std::unique_ptr<WindowTruth> truth_;
  RunSummary summary_;
  int64_t tick_ = 0;
  int64_t ticks_ = 0;  ///< seconds of scenario to simulate; flushing may take more steps
  // Per-tick scratch, reused.
  std::vector<FlowSpec> flows_;
  ExportBucket bucket_;
  struct Pending {
    DatagramInfo info;
    uint32_t records;
    size_t offset;
    size_t size;
  };
  std::vector<Pending> pending_;
  std::vector<std::byte> pending_bytes_;
};

}  // namespace fathom::gen
