#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "alert/sink.h"

struct rd_kafka_s;
struct rd_kafka_topic_s;
struct rd_kafka_message_s;

namespace fathom::alert {

/// Produces each alert's JSON (the body the webhook and JSON-lines sinks send) to one Kafka
/// topic, keyed by the tenant id in decimal ASCII and placed with `partitioner=murmur2`, as the
/// flows bus places tenants (docs/decisions/0010), so one tenant's alerts stay in order on one
/// partition. The producer is idempotent (`enable.idempotence=true`: acks=all, librdkafka's
/// own retries neither duplicate nor reorder).
///
/// `deliver` produces one message and waits for its delivery report (at most `timeout_ms`,
/// librdkafka's `message.timeout.ms`, plus a grace period): acknowledged by the brokers is
/// delivered; a record the brokers will never take (too large, invalid) is a permanent failure;
/// anything else (brokers down, timed out, unknown topic, authorisation) is retryable, so the
/// dispatcher retries and then spools it. A producer that hit a fatal idempotence error is
/// replaced by a new one at the next delivery. An attempt reported as failed may still reach
/// the topic later (the report came too late): a retry then duplicates it, it is never lost.
class KafkaSink final : public Sink {
 public:
  /// Null with `error` naming the property and librdkafka's reason when a property (one of
  /// `config.properties` included) is refused. Brokers that are down are not an error here.
  static std::unique_ptr<KafkaSink> create(const SinkConfig& config, std::string& error);
  ~KafkaSink() override;
  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;

  DeliveryResult deliver(const Alert& alert) override;
  /// librdkafka's error callback count (broker connections lost or refused, authentication,
  /// fatal errors) and late delivery reports.
  uint64_t client_errors() const noexcept override {
    return client_errors_.load(std::memory_order_relaxed);
  }

 private:
  explicit KafkaSink(SinkConfig config);
  /// Creates the producer; false with `error` when librdkafka refuses the configuration.
  bool connect(std::string& error);
  void disconnect();
  static void on_delivery(rd_kafka_s* rk, const rd_kafka_message_s* msg, void* opaque);
  static void on_error(rd_kafka_s* rk, int err, const char* reason, void* opaque);

  void poll_loop();

  const SinkConfig config_;
  rd_kafka_s* rk_ = nullptr;  ///< replaced only by `deliver`, with the poll thread stopped
  rd_kafka_topic_s* rkt_ = nullptr;
  std::thread poll_thread_;  ///< serves delivery reports and errors (rd_kafka_poll)
  std::atomic<bool> stop_poll_{false};
  uint64_t next_seq_ = 1;  ///< the sequence number (opaque) of the next message; deliver only

  std::mutex mu_;  // guards waiting_seq_, reported_, report_error_
  std::condition_variable reported_cv_;
  uint64_t waiting_seq_ = 0;  ///< the message `deliver` waits for
  bool reported_ = false;     ///< its delivery report arrived
  int report_error_ = 0;      ///< and its error (rd_kafka_resp_err_t)

  std::atomic<bool> fatal_{false};  ///< set by the error callback
  std::atomic<uint64_t> client_errors_{0};
  std::chrono::steady_clock::time_point last_log_{};  ///< poll thread only
};

}  // namespace fathom::alert
