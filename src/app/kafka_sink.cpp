#include "app/kafka_sink.h"

#include <chrono>
#include <thread>

#include "app/logging.h"
#include "app/record_format.h"

namespace fathom::app {

bus::KafkaProducerOptions producer_options(const Config::Kafka& kafka) {
  bus::KafkaProducerOptions o;
  o.brokers = kafka.brokers;
  o.topic = kafka.topic;
  o.client_id = kafka.client_id.empty() ? "fathom-collect" : kafka.client_id;
  o.compression = kafka.compression;
  o.linger_ms = kafka.linger_ms;
  o.max_buffered_messages = kafka.buffer_max_messages;
  o.max_buffered_kbytes = kafka.buffer_max_kbytes;
  o.message_timeout_ms = kafka.message_timeout_ms;
  o.properties = kafka.properties;
  return o;
}

bus::KafkaProducerOptions json_producer_options(const Config::Kafka& kafka) {
  bus::KafkaProducerOptions o = producer_options(kafka);
  o.topic = kafka.flows_json_topic;
  o.max_buffered_messages = kJsonBufferMaxMessages;
  return o;
}

std::unique_ptr<KafkaSink> KafkaSink::open(const bus::KafkaProducerOptions& options, bus::Bus& bus,
                                           size_t queue_batches, bool wait_for_room,
                                           std::string& error, KafkaSinkFormat format) {
  if (options.brokers.empty()) {
    error = "kafka.brokers is not set (or give --kafka-brokers)";
    return nullptr;
  }
  std::string why;
  std::unique_ptr<bus::KafkaProducer> producer = bus::KafkaProducer::create(options, why);
  if (!producer) {
    error = "kafka: " + why;
    return nullptr;
  }
  std::shared_ptr<bus::Subscription> sub =
      bus.subscribe(format == KafkaSinkFormat::kWire ? "kafka" : "kafka_json", queue_batches);
  return std::unique_ptr<KafkaSink>(
      new KafkaSink(std::move(producer), std::move(sub), wait_for_room, format));
}

KafkaSink::KafkaSink(std::unique_ptr<bus::KafkaProducer> producer,
                     std::shared_ptr<bus::Subscription> sub, bool wait_for_room,
                     KafkaSinkFormat format)
    : producer_(std::move(producer)),
      sub_(std::move(sub)),
      wait_for_room_(wait_for_room),
      format_(format) {
  thread_ = std::thread([this] { run(); });
}

KafkaSink::~KafkaSink() {
  join();
}

void KafkaSink::join(std::chrono::milliseconds flush_timeout) {
  if (joined_) return;
  joined_ = true;
  if (thread_.joinable()) thread_.join();
  if (!producer_->flush(flush_timeout)) {
    const bus::KafkaProducerStats s = producer_->stats();
    logger("output")->warn(
        "kafka: {} message(s) still undelivered after {} ms; they are purged and counted{}{}",
        s.in_flight_messages, flush_timeout.count(), s.last_error.empty() ? "" : ": ",
        s.last_error);
  }
}

void KafkaSink::run() {
  const bus::KafkaProducer::RecordEncoder encode_json =
      [](const flow::FlowRecord& r, std::string& out) { append_goflow_json(r, out); };
  const auto limit = static_cast<uint64_t>(producer_->options().max_buffered_messages);
  while (!sub_->finished()) {
    const bus::BatchRef batch = sub_->pop(std::chrono::milliseconds(200));
    if (!batch) continue;
    if (wait_for_room_) {
      // A replay has no sender to keep up with: let the brokers catch up rather than drop
      // (a tenant's batch becomes at most a few messages; keep a tenth of the buffer free).
      // Give up after a minute without room (Kafka gone): publish drops and counts then.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      bool waited = false;
      while (producer_->stats().in_flight_messages + limit / 10 >= limit &&
             !producer_->stats().fatal && std::chrono::steady_clock::now() < deadline) {
        waited = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (waited) waits_.fetch_add(1, std::memory_order_relaxed);
    }
    if (format_ == KafkaSinkFormat::kWire) {
      producer_->publish(*batch);
    } else {
      producer_->publish_each(*batch, encode_json);
    }
  }
}

}  // namespace fathom::app
