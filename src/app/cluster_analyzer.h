#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "analyze/autoscaler.h"
#include "api/collector_metrics.h"
#include "api/http_server.h"
#include "app/analyze_stage.h"
#include "app/config.h"
#include "app/persistence.h"
#include "bus/bus.h"
#include "bus/kafka_consumer.h"
#include "store/store.h"

namespace fathom::app {

/// The consumer settings of `config.kafka` for `fathom analyze` (client id "fathom-analyze"
/// unless `kafka.client_id` says otherwise).
bus::KafkaConsumerOptions consumer_options(const Config::Kafka& kafka);

/// Counters of a ClusterAnalyzer (any thread).
struct ClusterAnalyzerStats {
  uint64_t batches = 0;             ///< decoded messages handed to a partition's analysis
  uint64_t records = 0;             ///< their flow records
  uint64_t unowned = 0;             ///< messages of a partition not owned here (skipped)
  uint64_t stages_started = 0;      ///< partitions taken on (assignments)
  uint64_t stages_stopped = 0;      ///< partitions given up (revocations, exit)
  uint64_t tenants_restored = 0;    ///< tenants whose detector state was read on assignment
  uint64_t incidents_restored = 0;  ///< open incidents taken over on assignment
  uint64_t restore_failures = 0;    ///< store reads that failed on assignment (logged)
  uint64_t commits = 0;             ///< offsets committed after their results were stored
  uint64_t commit_refused = 0;      ///< commits the consumer could not issue
  uint64_t queue_waits = 0;         ///< batches that waited for a slow partition's analysis
};

/// `fathom analyze` (docs/scaling.md): a member of the analyzers' Kafka consumer group whose
/// partitions each run the same analysis stage as `fathom run` (AnalyzeStage, record time)
/// feeding the same store writer and alert dispatcher (Persistence). Each assigned partition
/// gets its own stage and in-process bus, so a partition's tenants keep their own clock and
/// move as a whole:
/// - on assignment, the partition's tenants (configured or known to the store, placed by
///   `bus::tenant_partition`) get their detector state and their open incidents back from the
///   store, so a continuing attack merges into the incident its old owner opened (same id);
/// - on revocation, the stage drains what it was given, checkpoints its tenants' detector
///   state, leaves its incidents open for the next owner, waits for the store, and commits;
/// - offsets are committed every `kafka.commit_interval_ms`, only up to messages whose
///   first-level windows have all closed and whose incident events the store has committed
///   (`Persistence::store_durable`): after a crash, the next owner reads again from there.
/// Windows still open when a partition moves are not handed over: the new owner's start
/// fresh at the last commit (docs/scaling.md "What moves").
class ClusterAnalyzer {
 public:
  /// Opens the store (Persistence::open) and creates the consumer. Null with `error` when the
  /// store, the alert sinks, the analysis settings or the Kafka settings are refused.
  static std::unique_ptr<ClusterAnalyzer> open(const Config& config, std::string& error);
  /// `stop()`.
  ~ClusterAnalyzer();
  ClusterAnalyzer(const ClusterAnalyzer&) = delete;
  ClusterAnalyzer& operator=(const ClusterAnalyzer&) = delete;

  /// Starts the polling thread (it joins the group on its first poll).
  void start();
  /// Leaves the group cleanly: every partition is revoked (drained, checkpointed, committed),
  /// then the store writer flushes and stops. Idempotent.
  void stop();
  /// For tests: stops as a crash would leave things: no checkpoint and no commit beyond what
  /// was already committed; what the stages had is still written (like a crash just after
  /// the writes), then the member leaves. Idempotent; `stop` does nothing afterwards.
  void abandon();

  /// Partitions owned now, ascending.
  std::vector<int32_t> partitions() const;
  /// Owned partitions → the offset of the last message handed to their analysis (-1: none).
  std::map<int32_t, int64_t> positions() const;
  /// Owned partitions → the last offset this member committed (-1: none yet).
  std::map<int32_t, int64_t> committed() const;
  ClusterAnalyzerStats stats() const;
  bus::KafkaConsumerStats consumer_stats() const;
  /// The /metrics snapshot: analysis summed over the partitions (and those given up), the
  /// store, the alert sinks and the consumer.
  api::CollectorSnapshot snapshot() const;
  std::string metrics() const;
  /// /healthz: healthy while polling (unhealthy once stopping).
  api::Health health() const;

 private:
  struct PartitionStage;
  explicit ClusterAnalyzer(const Config& config);
  void poll_loop();
  void on_assign(std::span<const int32_t> partitions);
  void on_revoke(std::span<const int32_t> partitions, bool lost);
  std::unique_ptr<PartitionStage> start_stage(int32_t partition);
  void stop_stage(PartitionStage& p, bool commit);
  void handle(bus::ConsumedBatch& b);
  /// Proposes the offsets whose windows closed and commits those the store has made durable.
  void commit_ready(PartitionStage& p);
  /// The tenants whose batches go to `partition` (configured or known to the store).
  std::vector<uint32_t> tenants_of(int32_t partition);
  store::Database* database();

  Config config_;
  AnalyzeStage::Options base_options_;  ///< without hooks and restored state
  int64_t first_window_ns_ = 0;         ///< the first level's window
  int64_t start_time_ns_ = 0;
  std::unique_ptr<Persistence> persistence_;
  std::unique_ptr<bus::KafkaConsumer> consumer_;
  std::unique_ptr<store::Database> db_;  ///< the polling thread's, for restores
  int32_t partition_count_ = -1;
  /// The autoscaling policy over the group's size (polling thread), and its answer for
  /// /metrics.
  analyze::ReplicaPolicy replica_policy_{analyze::AutoscalerConfig{}};
  std::atomic<uint32_t> desired_replicas_{1};
  bool abandoning_ = false;  ///< polling thread: revocations do no checkpoint and no commit

  mutable std::mutex stages_mutex_;  ///< guards stages_ (the map) and retired_
  std::map<int32_t, std::unique_ptr<PartitionStage>> stages_;
  AnalyzeStageStats retired_;  ///< summed over stages given up

  std::atomic<bool> stopping_{false};
  std::atomic<bool> abandon_{false};
  bool stopped_ = false;
  std::thread thread_;

  std::atomic<uint64_t> batches_{0}, records_{0}, unowned_{0}, stages_started_{0},
      stages_stopped_{0}, tenants_restored_{0}, incidents_restored_{0}, restore_failures_{0},
      commits_{0}, commit_refused_{0}, queue_waits_{0};
};

/// Adds `from`'s counters to `into` (several partitions' stages): counters add up, gauges
/// (utilisation, lag) take the larger, workers add up.
void accumulate(AnalyzeStageStats& into, const AnalyzeStageStats& from);

/// The stored form of an open incident back as the tracker's (`IncidentTracker::restore`):
/// id, version, times, severities, counts and the latest summary. The evidence lives in the
/// stored JSON only. False when the detection type or subject does not parse.
bool incident_from_record(const store::IncidentRecord& record, int64_t repeat_ns,
                          detect::Incident& out);

}  // namespace fathom::app
