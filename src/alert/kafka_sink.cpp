#include "alert/kafka_sink.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

#include "bus/tenant_partition.h"

namespace fathom::alert {
namespace {

using Clock = std::chrono::steady_clock;

/// How long `deliver` waits for a report beyond `message.timeout.ms`, after which librdkafka
/// has always reported (the timeout is checked about once a second).
constexpr std::chrono::milliseconds kReportGrace{5000};

std::shared_ptr<spdlog::logger> log() {
  std::shared_ptr<spdlog::logger> logger = spdlog::get("alert");
  return logger ? logger : spdlog::default_logger();
}

/// Errors the brokers will give again for this record, whatever the retries: the alert is
/// dropped and counted instead of blocking the sink's spool for ever.
bool permanent_error(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:     // over message.max.bytes (local or broker)
    case RD_KAFKA_RESP_ERR_INVALID_MSG:            // CORRUPT_MESSAGE
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:       // negative or too small a size
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:  // a batch over the segment size
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:         // refused by a broker-side validation
      return true;
    default: return false;
  }
}

void* seq_opaque(uint64_t seq) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(seq));
}

/// librdkafka's own log lines, at debug: what an operator needs (brokers down, fatal
/// errors) comes through the error callback as a warning.
void on_log(const rd_kafka_t* /*rk*/, int level, const char* facility, const char* message) {
  log()->debug("alert: librdkafka [{}] {}: {}", level, facility, message);
}

}  // namespace

KafkaSink::KafkaSink(SinkConfig config) : config_(std::move(config)) {}

std::unique_ptr<KafkaSink> KafkaSink::create(const SinkConfig& config, std::string& error) {
  std::unique_ptr<KafkaSink> sink(new KafkaSink(config));
  if (!sink->connect(error)) {
    error = "alert sink '" + config.name + "': " + error;
    return nullptr;
  }
  return sink;
}

KafkaSink::~KafkaSink() {
  disconnect();
}

bool KafkaSink::connect(std::string& error) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::string timeout = std::to_string(config_.timeout_ms);
  const std::pair<std::string, std::string> settings[] = {
      {"bootstrap.servers", config_.brokers},
      {"client.id", "fathom-alert"},
      {"enable.idempotence", "true"},
      {"partitioner", "murmur2"},
      // One alert at a time, each waited for: batching would only add latency.
      {"linger.ms", "0"},
      {"message.timeout.ms", timeout},
      {"request.timeout.ms", std::to_string(std::min<int64_t>(config_.timeout_ms, 30'000))},
  };
  const auto set = [&](const std::string& name, const std::string& value) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) ==
        RD_KAFKA_CONF_OK)
      return true;
    error = "kafka property '" + name + "'='" + value + "': " + errstr;
    return false;
  };
  for (const auto& [name, value] : settings) {
    if (!set(name, value)) {
      rd_kafka_conf_destroy(conf);
      return false;
    }
  }
  for (const auto& [name, value] : config_.properties) {
    if (!set(name, value)) {
      rd_kafka_conf_destroy(conf);
      return false;
    }
  }
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_log_cb(conf, on_log);
  char errstr[512];
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new owns it only on success
    error = std::string("kafka: ") + errstr;
    return false;
  }
  rkt_ = rd_kafka_topic_new(rk_, config_.topic.c_str(), nullptr);
  if (rkt_ == nullptr) {
    error = "kafka topic " + config_.topic + ": " + rd_kafka_err2str(rd_kafka_last_error());
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
    return false;
  }
  stop_poll_.store(false, std::memory_order_relaxed);
  poll_thread_ = std::thread([this] { poll_loop(); });
  return true;
}

void KafkaSink::poll_loop() {
  while (!stop_poll_.load(std::memory_order_acquire)) rd_kafka_poll(rk_, 100);
}

void KafkaSink::disconnect() {
  if (rk_ == nullptr) return;
  stop_poll_.store(true, std::memory_order_release);
  if (poll_thread_.joinable()) poll_thread_.join();
  // Only a message whose attempt was given up can still be here; it was reported as not
  // delivered (and retried or spooled), so it is purged rather than waited for.
  rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_flush(rk_, 1000);  // serves the purged messages' reports
  rd_kafka_topic_destroy(rkt_);
  rd_kafka_destroy(rk_);
  rkt_ = nullptr;
  rk_ = nullptr;
}

void KafkaSink::on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  const uint64_t seq = reinterpret_cast<uintptr_t>(msg->_private);
  {
    std::lock_guard lock(self->mu_);
    if (seq == self->waiting_seq_ && seq != 0) {
      self->reported_ = true;
      self->report_error_ = msg->err;
      self->reported_cv_.notify_all();
      return;
    }
  }
  // A report for an attempt `deliver` gave up on: it was retried already, so a late success
  // means the alert is in the topic twice (never lost). Counted and logged.
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->client_errors_.fetch_add(1, std::memory_order_relaxed);
    log()->warn(
        "alert: sink={} a Kafka delivery reported after its attempt timed out: the "
        "alert may be in topic {} twice",
        self->config_.name, self->config_.topic);
  }
}

void KafkaSink::on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  self->client_errors_.fetch_add(1, std::memory_order_relaxed);
  std::string text = reason != nullptr ? reason : "";
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    std::array<char, 512> fatal_reason{};
    rd_kafka_fatal_error(rk, fatal_reason.data(), fatal_reason.size());
    text = std::string("fatal: ") + fatal_reason.data();
    self->fatal_.store(true, std::memory_order_release);
  }
  // Brokers that are down report every reconnect: one line per 10 s.
  const auto now = Clock::now();
  if (err != RD_KAFKA_RESP_ERR__FATAL && now - self->last_log_ < std::chrono::seconds(10)) return;
  self->last_log_ = now;
  log()->warn("alert: sink={} kafka: {} ({} client errors so far)", self->config_.name, text,
              self->client_errors_.load(std::memory_order_relaxed));
}

DeliveryResult KafkaSink::deliver(const Alert& alert) {
  if (fatal_.load(std::memory_order_acquire)) {
    // The idempotent producer cannot go on after a fatal error (librdkafka INTRODUCTION.md
    // "Fatal errors"); a new one starts a new producer id.
    log()->warn("alert: sink={} replacing the Kafka producer after a fatal error", config_.name);
    disconnect();
    fatal_.store(false, std::memory_order_release);
  }
  if (rk_ == nullptr) {
    std::string error;
    // The same configuration was accepted at create; a failure here is librdkafka's resources.
    if (!connect(error)) return DeliveryResult::retry(error);
  }
  const uint64_t seq = next_seq_++;
  {
    std::lock_guard lock(mu_);
    waiting_seq_ = seq;
    reported_ = false;
    report_error_ = RD_KAFKA_RESP_ERR_NO_ERROR;
  }
  std::array<char, 10> key_buffer;
  const std::string_view key = bus::tenant_key(alert.tenant_id, key_buffer);
  // librdkafka's RD_KAFKA_V_* macros type-check with GNU statement expressions.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wgnu-statement-expression"
#endif
  const rd_kafka_resp_err_t err = rd_kafka_producev(
      rk_, RD_KAFKA_V_RKT(rkt_), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
      RD_KAFKA_V_KEY(key.data(), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(alert.json.data()), alert.json.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(seq_opaque(seq)), RD_KAFKA_V_END);
#if defined(__clang__)
#pragma clang diagnostic pop
#endif
  std::unique_lock lock(mu_);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    waiting_seq_ = 0;
    std::string why = std::string("kafka produce: ") + rd_kafka_err2str(err);
    if (permanent_error(err)) return DeliveryResult::permanent(std::move(why));
    if (err == RD_KAFKA_RESP_ERR__FATAL) fatal_.store(true, std::memory_order_release);
    return DeliveryResult::retry(std::move(why));
  }
  const auto wait = std::chrono::milliseconds(config_.timeout_ms) + kReportGrace;
  reported_cv_.wait_for(lock, wait, [this] { return reported_; });
  waiting_seq_ = 0;
  if (!reported_) {
    return DeliveryResult::retry("kafka: no delivery report within " +
                                 std::to_string(wait.count()) + " ms");
  }
  const auto report = static_cast<rd_kafka_resp_err_t>(report_error_);
  if (report == RD_KAFKA_RESP_ERR_NO_ERROR) return DeliveryResult::success();
  std::string why = "kafka delivery to " + config_.topic + ": " + rd_kafka_err2str(report);
  if (permanent_error(report)) return DeliveryResult::permanent(std::move(why));
  return DeliveryResult::retry(std::move(why));
}

}  // namespace fathom::alert
