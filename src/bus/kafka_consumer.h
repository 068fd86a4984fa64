#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "bus/wire_format.h"
#include "flow/flow_batch.h"

struct rd_kafka_s;
struct rd_kafka_topic_s;

namespace fathom::bus {
namespace detail {
struct ConsumerState;
}  // namespace detail

/// Settings of a KafkaConsumer. Each named field maps to one librdkafka property;
/// `properties` are passed through after them, so they override.
struct KafkaConsumerOptions {
  std::string brokers;                       ///< bootstrap.servers; required
  std::string topic = "fathom.flows";        ///< the flows topic
  std::string group_id = "fathom-analyze";   ///< group.id: the analyzers' consumer group
  std::string client_id = "fathom-analyze";  ///< client.id
  /// session.timeout.ms: a member that stops heartbeating (crashed, partitioned) loses its
  /// partitions after this long.
  int session_timeout_ms = 10'000;
  int heartbeat_interval_ms = 1'000;  ///< heartbeat.interval.ms
  /// max.poll.interval.ms: a member that does not call `poll` for this long leaves the group.
  int max_poll_interval_ms = 300'000;
  /// Extra librdkafka properties, validated by librdkafka (an unknown name fails `create`).
  std::map<std::string, std::string> properties;
};

/// What the owner does when the group moves partitions. Both run on the thread calling `poll`
/// (or the destructor), before the move takes effect: no message of an assigned partition is
/// returned before `on_assign` returns, and a revoked partition's offsets can still be
/// committed inside `on_revoke` (commits made there are synchronous).
struct KafkaConsumerCallbacks {
  /// Partitions newly assigned to this member: restore the state of their tenants
  /// (`tenant_partition`) before their batches arrive. Consumption resumes after the group's
  /// committed offset, or at the earliest offset when none was committed.
  std::function<void(std::span<const int32_t> partitions)> on_assign;
  /// Partitions taken away: checkpoint their tenants' state and commit. `lost` is true when
  /// the member was evicted (session timeout) and another member may already own them: their
  /// commits would fail, so do not expect them to stick.
  std::function<void(std::span<const int32_t> partitions, bool lost)> on_revoke;
};

/// One message returned by `KafkaConsumer::poll`.
struct ConsumedBatch {
  int32_t partition = -1;
  int64_t offset = -1;  ///< pass to `commit(partition, offset)` once its results are stored
  /// kOk, or why the message could not be decoded (then `batch` is null; the message is
  /// already counted as corrupt, and the owner commits past it like any other).
  wire::WireStatus status = wire::WireStatus::kOk;
  wire::BatchHeader header;
  std::unique_ptr<flow::FlowBatch> batch;  ///< give back with `recycle` when done
};

/// Counters of a KafkaConsumer since it was created.
struct KafkaConsumerStats {
  uint64_t messages = 0;  ///< messages consumed (decoded or not)
  uint64_t bytes = 0;     ///< their payload bytes
  uint64_t records = 0;   ///< FlowRecords decoded
  uint64_t counters = 0;  ///< InterfaceCounters decoded
  uint64_t corrupt = 0;   ///< messages that did not decode (skipped)
  std::array<uint64_t, wire::kWireStatusCount> corrupt_by_reason{};  ///< by wire::WireStatus
  uint64_t commits = 0;                                              ///< commit calls sent
  uint64_t commits_acknowledged = 0;  ///< commits the group coordinator confirmed
  uint64_t commit_failures = 0;       ///< commits the coordinator refused or that could not be sent
  uint64_t assigned = 0;              ///< partitions assigned, summed over rebalances
  uint64_t revoked = 0;               ///< partitions revoked (lost ones included)
  uint64_t lost = 0;                  ///< partitions lost (evicted from the group)
  uint64_t consume_errors = 0;        ///< error events from the consumer (broker down, ...)
  std::string last_error;
};

/// A member of the analyzers' consumer group on the flows topic (DESIGN.md cluster mode): each
/// tenant's partition is read by exactly one member at a time, and moves with a rebalance. The
/// rebalance protocol is cooperative-sticky (docs/decisions/0010-kafka-client.md): a rebalance
/// moves only the partitions that change owner, and the others keep flowing. Offsets are never
/// committed automatically: the owner commits a batch once its results are stored
/// (at-least-once: after a crash or a move, what follows the last commit is read again).
/// Not thread-safe: one thread polls, commits and receives the callbacks; `stats` may be read
/// from any thread.
class KafkaConsumer {
 public:
  /// A member that joins the group on the first `poll`, or null with `error` set.
  static std::unique_ptr<KafkaConsumer> create(const KafkaConsumerOptions& options,
                                               KafkaConsumerCallbacks callbacks,
                                               std::string& error);
  /// Leaves the group (`close`). The callbacks must still be callable.
  ~KafkaConsumer();
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  /// Waits up to `timeout` for the first message, then takes what is already fetched, up to
  /// `max_batches` in all, appending them to `out` in arrival order (per partition: offset
  /// order). Runs rebalance callbacks as they come. Returns the number appended.
  size_t poll(std::chrono::milliseconds timeout, std::vector<ConsumedBatch>& out,
              size_t max_batches = 16);
  /// Commits `partition` up to and including `offset` (Kafka stores offset + 1, the next to
  /// read). Asynchronous, except inside a rebalance callback; a failure is counted. False when
  /// the commit could not be issued.
  bool commit(int32_t partition, int64_t offset);
  /// Returns a batch from `poll` for reuse (bounded pool).
  void recycle(std::unique_ptr<flow::FlowBatch> batch);
  /// Leaves the group: on_revoke for what is assigned, then no more messages. Idempotent.
  void close();

  /// Partitions assigned to this member now, ascending.
  std::vector<int32_t> assignment() const;
  /// Partitions of the topic (from the brokers' metadata), or -1 when unknown within `timeout`.
  int32_t partition_count(std::chrono::milliseconds timeout);
  KafkaConsumerStats stats() const;

 private:
  explicit KafkaConsumer(KafkaConsumerOptions options, KafkaConsumerCallbacks callbacks);

  KafkaConsumerOptions options_;
  std::unique_ptr<detail::ConsumerState>
      state_;  ///< callbacks, assignment, counters: librdkafka's opaque
  rd_kafka_s* rk_ = nullptr;
  rd_kafka_topic_s* rkt_ = nullptr;  ///< for metadata queries
  bool closed_ = false;
  std::vector<std::unique_ptr<flow::FlowBatch>> idle_;  ///< the batch pool
};

}  // namespace fathom::bus
