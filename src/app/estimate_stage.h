#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bus/bus.h"
#include "estimate/window_estimator.h"
#include "estimate/window_result.h"

namespace fathom::app {

/// Counters of an EstimateStage (any thread).
struct EstimateStageStats {
  estimate::EstimatorStats estimator;
  uint64_t windows_written = 0;  ///< window summaries written to the estimates output
  uint64_t write_errors = 0;     ///< failed writes to it (each loses one window's line)
};

/// One tenant's estimates over every window closed so far (the run's totals), e.g. for the
/// summary `fathom run` prints at exit.
struct TenantRunEstimate {
  uint32_t tenant_id = 0;
  int64_t start_ns = 0;  ///< start of its first closed window
  int64_t end_ns = 0;    ///< end of its last closed window
  estimate::TrafficEstimate total;
};

/// The estimate stage of the embedded pipeline: a bus consumer thread that feeds every batch
/// to a WindowEstimator, closes windows on the wall clock (live) or on record time (replay),
/// keeps each tenant's latest closed window for /metrics and its merged totals for the run,
/// and optionally writes every closed window as one JSON line.
class EstimateStage {
 public:
  struct Options {
    estimate::WindowConfig window;
    estimate::SummaryOptions summary;
    /// Live: windows close on the wall clock too (every second). Replay: only on record
    /// time and at the end, so a capture's windows are whole whatever its date.
    bool live = true;
    /// JSON lines of every closed tenant window: a path (appended to), "-" for stdout, or "".
    std::string output;
  };

  /// Subscribes to `bus` and starts the thread. nullptr and `error` when the output cannot
  /// be opened.
  static std::unique_ptr<EstimateStage> start(bus::Bus& bus, size_t queue_batches, Options options,
                                              std::string& error);
  ~EstimateStage();
  EstimateStage(const EstimateStage&) = delete;
  EstimateStage& operator=(const EstimateStage&) = delete;

  /// Returns once the bus is closed, everything queued is estimated and every open window
  /// has been closed (its results are then in `latest` and `run_totals`).
  void join();

  /// The latest closed window of every tenant, by tenant id.
  std::vector<estimate::TenantWindowSummary> latest() const;
  /// Every tenant's closed windows merged, by tenant id.
  std::vector<TenantRunEstimate> run_totals() const;
  EstimateStageStats stats() const;
  /// True when closed windows are written somewhere (`Options::output`).
  bool has_output() const noexcept { return !options_.output.empty(); }

 private:
  EstimateStage(Options options, std::FILE* file, std::shared_ptr<bus::Subscription> sub);
  void run();
  void take(std::vector<estimate::WindowResult> results);

  const Options options_;
  std::FILE* file_;
  const bool owns_file_;
  std::shared_ptr<bus::Subscription> sub_;
  estimate::WindowEstimator estimator_;  // owned by the thread
  std::thread thread_;
  std::string line_;  // the thread's output buffer

  struct RunTotals {
    estimate::WindowResult merged;  ///< totals only (hosts, ports, peers are not merged)
  };
  mutable std::mutex mutex_;  // guards the fields below
  std::map<uint32_t, estimate::TenantWindowSummary> latest_;
  std::map<uint32_t, RunTotals> totals_;
  EstimateStageStats stats_;
};

/// Appends one closed tenant window as a JSON object (no newline): `"type":"estimate"`, the
/// tenant and window, every estimate with its interval, distinct counts with their model,
/// top hosts and ports, and the record counters.
void append_estimate_json(const estimate::TenantWindowSummary& s, std::string& out);

}  // namespace fathom::app
