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
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "flow/flow_batch.h"

struct rd_kafka_s;
struct rd_kafka_topic_s;

namespace fathom::bus {
namespace detail {
struct ProducerCounters;
}  // namespace detail

/// Settings of a KafkaProducer. Each named field maps to one librdkafka property (named in its
/// comment); `properties` are passed through after them, so they override.
struct KafkaProducerOptions {
  std::string brokers;                 ///< bootstrap.servers ("host:port,host:port"); required
  std::string topic = "fathom.flows";  ///< the flows topic
  std::string client_id = "fathom-collect";  ///< client.id
  /// compression.type: none, gzip, snappy, lz4 or zstd (both built into Debian's 2.0.2). lz4
  /// by default: the cheapest CPU per byte on a collector, and the fixed-width records are
  /// mostly zeros and repeats (compression ratio not measured yet).
  std::string compression = "lz4";
  int linger_ms = 20;                    ///< linger.ms: wait to fill a Kafka batch
  int batch_size_bytes = 1'000'000;      ///< batch.size: bytes of one Kafka batch
  int max_buffered_messages = 100'000;   ///< queue.buffering.max.messages: local buffer
  int max_buffered_kbytes = 512 * 1024;  ///< queue.buffering.max.kbytes: local buffer
  /// message.timeout.ms: a message not delivered within this (retries included) fails, and
  /// is counted in `failed_*`.
  int message_timeout_ms = 120'000;
  /// Records per Kafka message at most: a tenant's records in a batch are split into messages
  /// of this many (192 bytes each: 4096 → 786 KB, under Kafka's default 1 MB message limit).
  size_t max_records_per_message = 4096;
  /// Run a thread that serves delivery reports (rd_kafka_poll); without it the owner calls
  /// `poll()` regularly.
  bool poll_thread = true;
  /// Extra librdkafka properties (CONFIGURATION.md), e.g. security.protocol, sasl.*;
  /// each is validated by librdkafka and an unknown name or bad value fails `create`.
  std::map<std::string, std::string> properties;
};

/// Counters of a KafkaProducer since it was created. Every record offered is, in the end,
/// exactly one of: delivered, failed, dropped (buffer full or refused) or purged (still
/// buffered at destruction); until then it is in flight.
struct KafkaProducerStats {
  uint64_t batches_offered = 0;    ///< `publish` calls with a non-empty batch
  uint64_t records_offered = 0;    ///< FlowRecords in them
  uint64_t counters_offered = 0;   ///< InterfaceCounters in them
  uint64_t messages_enqueued = 0;  ///< Kafka messages accepted into the local buffer
  uint64_t records_enqueued = 0;
  uint64_t bytes_enqueued = 0;      ///< their encoded (uncompressed) bytes
  uint64_t messages_delivered = 0;  ///< acknowledged by the brokers (acks=all)
  uint64_t records_delivered = 0;
  uint64_t messages_failed = 0;  ///< delivery failed after retries (message.timeout.ms, fatal)
  uint64_t records_failed = 0;
  uint64_t messages_dropped_full = 0;  ///< refused: local buffer full (Kafka slow or down)
  uint64_t records_dropped_full = 0;
  uint64_t messages_dropped_error = 0;  ///< refused for another reason (e.g. unknown topic)
  uint64_t records_dropped_error = 0;
  uint64_t messages_purged = 0;  ///< still buffered when the producer was destroyed
  uint64_t records_purged = 0;
  uint64_t request_retries = 0;  ///< produce requests retried (librdkafka `txretries`)
  uint64_t errors = 0;           ///< client errors reported by librdkafka (error_cb)
  /// Buffered or awaiting acknowledgement now: enqueued − delivered − failed − purged.
  uint64_t in_flight_messages = 0;
  bool fatal = false;      ///< the idempotent producer hit a fatal error: every publish drops now
  std::string last_error;  ///< of the last failure of any kind, empty if none
  std::string last_delivery_error;  ///< why the last failed message failed
};

/// Publishes FlowBatches to a Kafka topic, partitioned by tenant (DESIGN.md `bus`, cluster
/// mode). Each tenant's records of a batch become one or more messages in the wire format
/// (bus/wire_format.h), keyed by the tenant id and placed with `partitioner=murmur2`
/// (bus/tenant_partition.h), so a tenant's batches land on one partition in publish order.
/// The producer is idempotent (`enable.idempotence=true`: acks=all, retries without
/// duplicates or reordering). `publish` never blocks: when the bounded local buffer is full
/// (brokers slow or down) the message is dropped and counted. Thread-safe.
class KafkaProducer {
 public:
  /// A connected producer (connection is asynchronous: brokers may still be down), or null
  /// with `error` naming the offending property and librdkafka's reason.
  static std::unique_ptr<KafkaProducer> create(const KafkaProducerOptions& options,
                                               std::string& error);
  /// Flushes for up to `close_timeout` (set_close_timeout, default 5 s), then purges what is
  /// left (counted in `*_purged`) and stops the poll thread.
  ~KafkaProducer();
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  /// Encodes `batch` (records and interface counters, grouped by tenant in record order) and
  /// enqueues its messages. Returns the records enqueued; the others are counted as dropped.
  /// Never blocks on Kafka.
  size_t publish(const flow::FlowBatch& batch);
  /// Writes one record's message payload by appending to the string it is given.
  using RecordEncoder = std::function<void(const flow::FlowRecord&, std::string&)>;
  /// Publishes every record of `batch` as a message of its own, its payload written by
  /// `encode`: for a topic in another encoding than the wire format (`fathom collect`'s JSON
  /// flows topic). Keyed and partitioned by tenant like `publish`, so a tenant's records stay
  /// in order on one partition; counted like `publish` (a message is one record; interface
  /// counters are neither published nor counted). Returns the records enqueued; never blocks.
  size_t publish_each(const flow::FlowBatch& batch, const RecordEncoder& encode);
  /// Serves delivery reports for up to `timeout` (only needed without the poll thread).
  void poll(std::chrono::milliseconds timeout);
  /// Waits up to `timeout` until every buffered message is delivered or failed; true when
  /// nothing is left in flight.
  bool flush(std::chrono::milliseconds timeout);
  void set_close_timeout(std::chrono::milliseconds timeout) noexcept { close_timeout_ = timeout; }

  KafkaProducerStats stats() const;
  const KafkaProducerOptions& options() const noexcept { return options_; }

 private:
  explicit KafkaProducer(KafkaProducerOptions options);
  bool produce_message(uint32_t tenant_id, size_t first, size_t records_end, size_t counters_begin,
                       size_t counters_end, const flow::FlowBatch& batch, int64_t now_ns);
  /// Hands one message of `records` records to librdkafka and counts the outcome. `owned`:
  /// `payload` is malloc'd and librdkafka frees it once sent (freed here when refused);
  /// otherwise librdkafka copies it.
  bool enqueue(uint32_t tenant_id, void* payload, size_t size, bool owned, size_t records);

  KafkaProducerOptions options_;
  std::unique_ptr<detail::ProducerCounters>
      counters_;  ///< shared with librdkafka's callbacks (opaque)
  rd_kafka_s* rk_ = nullptr;
  rd_kafka_topic_s* rkt_ = nullptr;
  std::chrono::milliseconds close_timeout_{5000};
  std::atomic<bool> stop_{false};
  std::thread poll_thread_;
  std::mutex publish_mutex_;  ///< guards the scratch vectors below (one publish at a time)
  /// (tenant, index) of the records, then of the counters, of the batch being published.
  std::vector<std::pair<uint32_t, uint32_t>> record_order_;
  std::vector<std::pair<uint32_t, uint32_t>> counter_order_;
  std::string encoded_;  ///< publish_each's payload of the record being published
};

}  // namespace fathom::bus
