#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "alert/alert.h"
#include "alert/config.h"
#include "alert/policy.h"
#include "alert/sink.h"
#include "detect/incident.h"

namespace fathom::bus {
class DiskSpool;
}

namespace fathom::alert {

/// Counters of one sink since the dispatcher started (a snapshot).
struct SinkStats {
  std::string name;
  uint64_t submitted = 0;           ///< alerts routed to this sink
  uint64_t delivered = 0;           ///< delivered from the in-memory queue
  uint64_t retried = 0;             ///< delivery attempts after a retryable failure
  uint64_t failed_permanent = 0;    ///< alerts the receiver rejected for good (4xx), dropped
  uint64_t spooled = 0;             ///< alerts written to the disk spool
  uint64_t replayed = 0;            ///< alerts delivered from the disk spool
  uint64_t dropped_spool_full = 0;  ///< undeliverable alerts the spool refused (budget, I/O)
  uint64_t dropped_no_spool = 0;    ///< undeliverable alerts with no spool configured
  uint64_t rate_limited = 0;        ///< alerts for this sink suppressed by the tenant limit
  uint64_t deduplicated = 0;        ///< alerts for this sink not sent again (already sent)
  uint64_t corrupt_spooled = 0;     ///< spool records that did not decode, skipped
  uint64_t client_errors = 0;  ///< errors the sink's client reported itself (Sink::client_errors)
  uint64_t queued = 0;         ///< in the memory queue now
  uint64_t spool_pending = 0;  ///< in the disk spool now
};

/// A snapshot of every counter of the alert part.
struct DispatcherStats {
  uint64_t events_submitted = 0;     ///< incident events accepted by `submit`
  uint64_t events_dropped_full = 0;  ///< refused by `submit`: the intake queue was full
  PolicyStats policy;
  std::vector<SinkStats> sinks;  ///< in `AlertConfig::sinks` order
};

/// Takes the incident stream from the analysis thread and delivers alerts. `submit` only
/// copies the event into a bounded intake queue (MPSC: any thread may submit; it never blocks
/// on I/O and never waits for the other threads). A policy thread turns events into alerts
/// (AlertPolicy) and hands them to one delivery thread per sink, each with a bounded queue.
/// Delivery is retried with exponential backoff and jitter; an alert still undeliverable, or
/// any alert while its sink's queue is full, goes to that sink's disk spool, which is
/// replayed in order (and before anything newer) once the sink accepts again, also after a
/// restart.
class AlertDispatcher {
 public:
  /// Builds the sinks of `config`, opens the spools and dedup journal, starts the threads.
  /// Null with `error` set on an invalid config, an unbuildable sink or an unusable spool
  /// directory.
  static std::unique_ptr<AlertDispatcher> create(const AlertConfig& config, std::string& error);
  /// The same with the sinks given (`sinks[i]` serves `config.sinks[i]`; tests pass fakes).
  static std::unique_ptr<AlertDispatcher> create(const AlertConfig& config,
                                                 std::vector<std::unique_ptr<Sink>> sinks,
                                                 std::string& error);
  /// Stops (see `stop`).
  ~AlertDispatcher();
  AlertDispatcher(const AlertDispatcher&) = delete;
  AlertDispatcher& operator=(const AlertDispatcher&) = delete;

  /// Queues `event` for alerting; false (counted) when the intake queue is full.
  bool submit(const detect::IncidentEvent& event);
  /// Queues `events` in order; returns how many were accepted (the rest are counted).
  size_t submit(std::span<const detect::IncidentEvent> events);

  /// Processes what was submitted, then stops the delivery threads: an attempt in flight
  /// finishes (bounded by the sink's timeout), alerts still queued or waiting for a retry go
  /// to the spool (or are counted as dropped without one). Idempotent.
  void stop();

  DispatcherStats stats() const;

 private:
  class Worker;
  AlertDispatcher(const AlertConfig& config, std::unique_ptr<DedupSet> dedup);
  void run_policy();

  AlertConfig config_;
  std::vector<std::unique_ptr<Worker>> workers_;

  mutable std::mutex policy_mu_;  // guards policy_
  AlertPolicy policy_;

  std::mutex intake_mu_;  // guards intake_, stopping_
  std::condition_variable intake_cv_;
  std::deque<detect::IncidentEvent> intake_;
  bool stopping_ = false;
  std::atomic<uint64_t> events_submitted_{0};
  std::atomic<uint64_t> events_dropped_full_{0};

  std::thread policy_thread_;
  bool stopped_ = false;  // stop() ran (only the owner calls stop)
};

}  // namespace fathom::alert
