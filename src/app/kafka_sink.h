#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "app/config.h"
#include "bus/bus.h"
#include "bus/kafka_producer.h"

namespace fathom::app {

/// The producer settings of `config.kafka` for `fathom collect` (client id "fathom-collect"
/// unless `kafka.client_id` says otherwise).
bus::KafkaProducerOptions producer_options(const Config::Kafka& kafka);

/// Messages the JSON flows topic's producer may buffer: one message is one record there, so
/// the local buffer is bounded by `kafka.buffer_max_mb` rather than by a count of messages
/// sized for the binary topic's batches.
inline constexpr int kJsonBufferMaxMessages = 10'000'000;

/// The producer settings of the JSON flows topic (`kafka.flows_json_topic`): those of
/// `producer_options` with that topic and a buffer of kJsonBufferMaxMessages messages.
bus::KafkaProducerOptions json_producer_options(const Config::Kafka& kafka);

/// What a KafkaSink publishes.
enum class KafkaSinkFormat : uint8_t {
  /// The flows topic: one wire-format message per tenant of a batch (docs/wire-format.md).
  kWire,
  /// The JSON flows topic: one GoFlow2-style JSON object per record (`append_goflow_json`,
  /// docs/wire-format.md "JSON flows topic"); interface counters are not published.
  kJson,
};

/// `fathom collect`'s end of the bus: a consumer of the in-process bus that publishes every
/// batch to a Kafka topic through a bus::KafkaProducer (the flows topic: one message per
/// tenant; the JSON flows topic: one per record; both partitioned by tenant), from its own
/// thread. Each format is its own bus consumer ("kafka", "kafka_json") with its own producer,
/// so a slow JSON topic never holds back the flows topic. Like every bus consumer, a slow producer
/// fills the sink's bus queue and whole batches are dropped there (counted by the bus); the
/// producer itself never blocks: a full local buffer (Kafka slow or down) drops and counts
/// messages. With `wait_for_room` (file replays) the sink waits for the local buffer to drain
/// instead, so a replay loses nothing to a slow broker.
class KafkaSink {
 public:
  /// Creates the producer and subscribes to `bus`. Null with `error` (librdkafka's reason,
  /// naming the property) when the settings are refused.
  static std::unique_ptr<KafkaSink> open(const bus::KafkaProducerOptions& options, bus::Bus& bus,
                                         size_t queue_batches, bool wait_for_room,
                                         std::string& error,
                                         KafkaSinkFormat format = KafkaSinkFormat::kWire);
  /// `join()`, then the producer's destructor: flush for up to 5 s, purge (counted) the rest.
  ~KafkaSink();
  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;

  /// Returns once the bus is closed, every queued batch is handed to the producer and the
  /// producer has delivered (or failed) everything, or `flush_timeout` passed.
  void join(std::chrono::milliseconds flush_timeout = std::chrono::seconds(30));
  bus::KafkaProducerStats stats() const { return producer_->stats(); }
  /// Records a replay waited for: the local buffer was full (replays only).
  uint64_t waits() const noexcept { return waits_.load(std::memory_order_relaxed); }

 private:
  KafkaSink(std::unique_ptr<bus::KafkaProducer> producer, std::shared_ptr<bus::Subscription> sub,
            bool wait_for_room, KafkaSinkFormat format);
  void run();

  std::unique_ptr<bus::KafkaProducer> producer_;
  std::shared_ptr<bus::Subscription> sub_;
  const bool wait_for_room_;
  const KafkaSinkFormat format_;
  std::atomic<uint64_t> waits_{0};
  std::thread thread_;
  bool joined_ = false;
};

}  // namespace fathom::app
