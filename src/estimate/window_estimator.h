#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "estimate/record_model.h"
#include "estimate/window_result.h"
#include "flow/flow_batch.h"
#include "flow/flow_record.h"

namespace fathom::estimate {

/// Which timestamp puts a record in a window.
enum class TimeBasis : uint8_t {
  /// `arrival_ns`: when Fathom received the export packet (DESIGN.md: windows run on arrival
  /// time). Monotone enough that late records are rare; the default.
  kArrival = 0,
  /// `end_ns`: when the flow's last packet was seen, as the exporter says. Closer to when
  /// the traffic happened, but exporter clocks drift and flows are exported up to the
  /// inactive/active timeout late: an `end_ns` outside [arrival − max_export_delay,
  /// arrival + max_clock_ahead] (or absent: `record_flags::kNoFlowTimes`) falls back to
  /// the arrival time, counted. Give it an `allowed_lateness_ns` above the exporters' timeouts.
  kFlowEnd = 1,
};

/// Settings of a WindowEstimator. Memory is bounded by the caps: per open tenant window, at
/// most `max_hosts_per_tenant` hosts, `max_ports_per_tenant` ports, `max_peers_per_tenant`
/// peers and `max_conversations_per_tenant` secondary-sampled conversations; at most `max_tenants`
/// tenants; and at most ceil(allowed_lateness / window) + 1 windows open per tenant.
struct WindowConfig {
  int64_t window_ns = 60'000'000'000;  ///< tumbling window length, aligned to the epoch (> 0)
  /// A window [s, e) closes once the clock (`advance`) or the newest record time reaches
  /// e + allowed_lateness_ns; records for it after that are late: counted, not estimated.
  int64_t allowed_lateness_ns = 5'000'000'000;
  TimeBasis time_basis = TimeBasis::kArrival;
  int64_t max_export_delay_ns = 300'000'000'000;  ///< kFlowEnd: oldest plausible end_ns
  int64_t max_clock_ahead_ns = 10'000'000'000;    ///< kFlowEnd: newest plausible end_ns
  uint32_t max_tenants = 4096;  ///< tenants with open windows; records of more are counted
  uint32_t max_hosts_per_tenant = 1024;
  uint32_t max_ports_per_tenant = 512;
  uint32_t max_peers_per_tenant = 4096;
  /// Secondary-sampled conversations tracked for the covariance of their records (see
  /// docs/estimation.md "Conversations"); beyond it records are taken as independent.
  uint32_t max_conversations_per_tenant = 32768;
  ModelOptions model;
};

/// Cumulative counters of a WindowEstimator (owner thread; copy them out for /metrics).
struct EstimatorStats {
  uint64_t records = 0;                  ///< records offered to `add`
  uint64_t records_counted = 0;          ///< in an estimate
  uint64_t records_not_counted = 0;      ///< skipped: kNotCounted (tenant de-duplication rule)
  uint64_t records_late = 0;             ///< skipped: their window had already closed
  uint64_t records_no_tenant = 0;        ///< skipped: tenant_id 0
  uint64_t records_bad_rate = 0;         ///< skipped: sampling_rate not a finite number >= 1
  uint64_t records_tenant_overflow = 0;  ///< skipped: `max_tenants` tenants already open
  uint64_t records_rate_unknown =
      0;  ///< counted with an unannounced device rate (kSamplingRateUnknown)
  uint64_t records_time_fallback = 0;  ///< kFlowEnd: implausible or absent end_ns, arrival used
  uint64_t windows_closed = 0;         ///< tenant windows closed (results produced)
};

/// Horvitz–Thompson estimates per tenant over tumbling windows: totals, per direction, per
/// internal host, per (protocol, service port), distinct peers/hosts/ports, each with its
/// variance and interval (docs/estimation.md). Records flagged `kNotCounted` are skipped and
/// counted.
///
/// One thread owns an estimator (the bus consumer): `add` batches as they come, call
/// `advance(now)` every second or so with the wall clock to close windows even when no
/// records arrive, and hand the closed results on (to `summarize` for metrics and the API,
/// to the analysis stage to merge). No allocation per record once the tables have grown to
/// their working size; no lock; not thread-safe.
class WindowEstimator {
 public:
  explicit WindowEstimator(const WindowConfig& config = {});
  ~WindowEstimator();
  WindowEstimator(const WindowEstimator&) = delete;
  WindowEstimator& operator=(const WindowEstimator&) = delete;

  /// Adds records. Windows whose end + lateness the newest record time has passed close
  /// (their results wait for the next `advance` or `flush`).
  void add(std::span<const flow::FlowRecord> records);
  void add(const flow::FlowBatch& batch) { add(batch.records()); }

  /// Closes every window with end + allowed_lateness <= `now_ns` and returns all results
  /// closed since the last call, ordered by (start, tenant).
  std::vector<WindowResult> advance(int64_t now_ns);

  /// Closes every open window (shutdown, end of a file) and returns all pending results.
  std::vector<WindowResult> flush();
  /// Windows closed by record time during `add` (the newest record passed their end plus the
  /// lateness), without advancing the clock: what a replay uses, where the wall clock means
  /// nothing.
  std::vector<WindowResult> take_closed();

  const EstimatorStats& stats() const noexcept { return stats_; }
  const WindowConfig& config() const noexcept { return config_; }
  /// Tenant windows currently open.
  size_t open_windows() const noexcept;

 private:
  struct OpenWindow;
  struct TenantState {
    std::vector<std::unique_ptr<OpenWindow>> windows;  ///< a few, unordered
    uint64_t late_pending = 0;  ///< late records to report with the next closed window
  };

  void add_record(const flow::FlowRecord& record);
  int64_t record_time(const flow::FlowRecord& record) noexcept;
  TenantState* tenant(uint32_t tenant_id);
  OpenWindow& window(uint32_t tenant_id, TenantState& state, int64_t index);
  /// Closes every window with index < `first_open` (windows ending at or before it).
  void close_before(int64_t first_open);
  void close_window(uint32_t tenant_id, TenantState& state, std::unique_ptr<OpenWindow> win);

  WindowConfig config_;
  EstimatorStats stats_;
  std::unordered_map<uint32_t, TenantState> tenants_;
  uint32_t cached_tenant_id_ = 0;
  TenantState* cached_tenant_ = nullptr;
  /// Windows with index below this are closed; records for them are late.
  int64_t first_open_index_;
  int64_t newest_time_;                            ///< largest record time seen
  std::vector<std::unique_ptr<OpenWindow>> pool_;  ///< closed windows' tables, for reuse
  std::vector<WindowResult> closed_;
};

}  // namespace fathom::estimate
