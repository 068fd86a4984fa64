#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bus/disk_spool.h"
#include "detect/incident.h"
#include "store/store.h"

namespace fathom::store {

/// Settings of a StoreWriter.
struct StoreWriterOptions {
  /// Items (incident events, rollups, tenant and exporter rows, state blobs) waiting in memory;
  /// a submit beyond it is refused and counted (dropped_queue_full).
  size_t queue_capacity = 100'000;
  /// Items per transaction at most.
  size_t max_batch = 1'000;
  /// A partial batch waits at most this long before it is written.
  std::chrono::milliseconds flush_interval{500};
  /// Disk spool for batches the database cannot take now (bus::DiskSpool, one per directory).
  /// Empty: no spool, failed batches are retried from memory and the queue backs up.
  std::string spool_directory;
  uint64_t spool_max_bytes = 256ull << 20;
  /// Back-off between attempts after a retryable failure: doubles from min to max.
  std::chrono::milliseconds retry_min{100};
  std::chrono::milliseconds retry_max{5'000};
};

/// Counters of a StoreWriter since it started (items are events, rows and blobs, not batches).
struct StoreWriterStats {
  uint64_t queued = 0;              ///< items accepted by submit
  uint64_t written = 0;             ///< items committed straight from the queue
  uint64_t spooled = 0;             ///< items appended to the spool
  uint64_t replayed = 0;            ///< items committed from the spool
  uint64_t dropped_queue_full = 0;  ///< items refused by submit: queue full
  uint64_t dropped_spool_full = 0;  ///< items lost: spool over budget or unwritable
  /// Items the database refused (not retryable: a bug), or still undelivered at stop() with
  /// the database down and no spool.
  uint64_t dropped_failed = 0;
  uint64_t dropped_corrupt = 0;  ///< spool records that did not decode
  uint64_t retries = 0;          ///< retryable failures (each one backs off)
  uint64_t queue_depth = 0;      ///< items waiting in memory now
  uint64_t spool_pending = 0;    ///< spool records waiting now
  bool database_up = false;      ///< the last attempt succeeded
  std::string last_error;        ///< of the last failure, empty when none
};

/// The asynchronous store writer. The analysis thread hands it incident events, rollups,
/// tenant and exporter rows and state blobs; `submit_*` copies them into a bounded in-memory
/// queue under a mutex held for the copy only (no I/O, no waiting on the database) and
/// returns false, counted, when the queue is full. One writer thread opens the database,
/// takes what is queued, renders incident JSON, and writes batches of up to max_batch items,
/// one transaction each. When a write fails retryably (server down, busy, disk full) the
/// batch goes to the disk spool and every later batch follows it there, so the order holds;
/// the spool is replayed oldest first once the database answers again (after a back-off).
/// Replays are safe: every write is an idempotent upsert. A batch the database refuses for a
/// non-retryable reason is retried item by item and only the refused items are dropped.
class StoreWriter {
 public:
  /// Opens the spool (when configured) and starts the writer thread, which opens the
  /// database itself and keeps retrying until it can (so a server that is down at start only
  /// delays writes). Null with `error` set when the spool cannot be opened.
  static std::unique_ptr<StoreWriter> start(const StoreOptions& store,
                                            const StoreWriterOptions& options, std::string& error);
  /// `stop()`.
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  /// Queues copies; all or nothing: false (every item counted in dropped_queue_full) when
  /// they do not all fit, or after stop().
  bool submit_incidents(std::span<const detect::IncidentEvent> events);
  bool submit_rollups(std::span<const Rollup> rollups);
  bool submit_tenants(std::span<const TenantRecord> tenants);
  bool submit_exporters(std::span<const ExporterRecord> exporters);
  bool submit_state(StateEntry entry);
  bool submit_flows(std::vector<SampledFlow> flows);

  /// Waits until everything submitted before the call is committed to the database (the
  /// queue and the spool are empty), or `timeout` passes: false then (database down).
  bool flush(std::chrono::milliseconds timeout);
  /// A mark after every item accepted so far (the count of items accepted). Never blocks.
  uint64_t mark() const;
  /// True once every item accepted before `mark()` returned `mark` is resolved: committed to
  /// the database, or dropped and counted (refused as not retryable, spool over budget). An
  /// item waiting in the spool is not resolved. For callers that must know their results
  /// are stored before they acknowledge their input (the analyzer's Kafka offsets).
  bool durable(uint64_t mark) const;
  /// Writes what is queued (one attempt; to the spool when that fails), then joins the
  /// thread. What is left in the spool is replayed by the next writer on the same directory.
  /// Idempotent.
  void stop();

  StoreWriterStats stats() const;

 private:
  struct Queue;
  StoreWriter(StoreOptions store, StoreWriterOptions options,
              std::unique_ptr<bus::DiskSpool> spool);
  bool admit(size_t items);
  void run();
  /// One pass: takes the queue, writes or spools it, replays the spool; false when stopping.
  bool step();
  void deliver(WriteBatch&& batch);
  /// True when `batch` is resolved: committed (counted in `counter`) or, item by item, refused
  /// as not retryable (counted as dropped). False on a retryable failure, with `batch` cut
  /// down to the items still to write.
  bool try_write(WriteBatch& batch, std::atomic<uint64_t>& counter);
  void replay_spool();
  bool to_spool(const WriteBatch& batch);
  bool database_ready();
  void note_failure(const std::string& error, bool retryable);
  void note_success();
  bool backing_off() const;

  const StoreOptions store_;
  const StoreWriterOptions options_;
  std::unique_ptr<bus::DiskSpool> spool_;
  std::unique_ptr<Database> db_;  ///< the writer thread's only

  mutable std::mutex mu_;
  std::condition_variable wake_;     ///< the writer: work, flush or stop
  std::condition_variable settled_;  ///< flush(): a pass finished
  std::unique_ptr<Queue> queue_;     ///< guarded by mu_
  size_t queued_items_ = 0;          ///< guarded by mu_
  size_t inflight_items_ = 0;        ///< guarded by mu_: taken, not yet resolved
  uint64_t accepted_total_ = 0;      ///< guarded by mu_: items ever accepted (mark())
  uint64_t resolved_through_ = 0;    ///< guarded by mu_: every item before this is resolved
  std::vector<WriteBatch> held_;     ///< writer thread: failed batches kept when no spool
  bool stopping_ = false;            ///< guarded by mu_
  bool flush_requested_ = false;     ///< guarded by mu_
  std::string last_error_;           ///< guarded by mu_

  // Writer thread only.
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{0};

  std::atomic<uint64_t> queued_{0}, written_{0}, spooled_{0}, replayed_{0}, dropped_queue_full_{0},
      dropped_spool_full_{0}, dropped_failed_{0}, dropped_corrupt_{0}, retries_{0};
  std::atomic<bool> database_up_{false};
  std::atomic<bool> held_empty_{true};

  std::thread thread_;
};

}  // namespace fathom::store
