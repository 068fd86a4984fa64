#pragma once

// librdkafka's in-process mock cluster for the Kafka bus tests: real brokers' protocol on
// loopback listeners (ephemeral ports), topics created up front, brokers set down and up.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fathom::bus::testing {

class MockCluster {
 public:
  explicit MockCluster(int brokers = 3) : brokers_(brokers) {
    char errstr[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof errstr);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (rk_ == nullptr) throw std::runtime_error(errstr);
    cluster_ = rd_kafka_mock_cluster_new(rk_, brokers);
    if (cluster_ == nullptr) throw std::runtime_error("rd_kafka_mock_cluster_new failed");
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(rk_);
  }
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  void create_topic(const std::string& topic, int partitions) {
    if (rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, brokers_) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
      throw std::runtime_error("rd_kafka_mock_topic_create " + topic);
  }
  /// Broker ids are 1..brokers.
  void set_all_down() {
    for (int32_t id = 1; id <= brokers_; ++id) rd_kafka_mock_broker_set_down(cluster_, id);
  }
  void set_all_up() {
    for (int32_t id = 1; id <= brokers_; ++id) rd_kafka_mock_broker_set_up(cluster_, id);
  }
  rd_kafka_mock_cluster_t* get() const { return cluster_; }

  /// Produces one raw message (any bytes) to `partition`, waiting for its delivery: for
  /// messages no KafkaProducer would write (garbage, a newer version).
  void produce_raw(const std::string& topic, int32_t partition, const std::string& value) {
    char errstr[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps().c_str(), errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof errstr);
    rd_kafka_t* p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wgnu-statement-expression"
#endif
    rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
#if defined(__clang__)
#pragma clang diagnostic pop
#endif
    rd_kafka_flush(p, 30'000);
    rd_kafka_destroy(p);
  }

  /// One message as stored, for tests that read a topic without Fathom's consumer.
  struct RawMessage {
    int32_t partition = -1;
    int64_t offset = -1;
    std::string key;
    std::string value;
  };
  /// Every message of `topic` (partitions 0..partitions-1) up to each partition's high
  /// watermark when called, in offset order per partition: call after the producers flushed.
  /// Throws when the topic cannot be read within 60 s.
  std::vector<RawMessage> consume_raw(const std::string& topic, int32_t partitions) const {
    std::vector<RawMessage> out;
    consume_raw(topic, partitions, [&](RawMessage&& m) { out.push_back(std::move(m)); });
    return out;
  }
  /// The same, handing each message to `each` as it arrives (for topics too big to hold).
  void consume_raw(const std::string& topic, int32_t partitions,
                   const std::function<void(RawMessage&&)>& each) const {
    char errstr[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps().c_str(), errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", ("raw-" + topic).c_str(), errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof errstr);
    rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (c == nullptr) throw std::runtime_error(errstr);
    std::vector<int64_t> high(static_cast<size_t>(partitions), 0);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int32_t p = 0; p < partitions; ++p) {
      int64_t low = 0;
      if (rd_kafka_query_watermark_offsets(c, topic.c_str(), p, &low, &high[p], 30'000) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(list);
        rd_kafka_destroy(c);
        throw std::runtime_error("watermarks of " + topic);
      }
      rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(c, list);
    rd_kafka_topic_partition_list_destroy(list);
    std::vector<int64_t> next(static_cast<size_t>(partitions), 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    auto done = [&] {
      for (int32_t p = 0; p < partitions; ++p) {
        if (next[p] < high[p]) return false;
      }
      return true;
    };
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 100);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->partition >= 0 && m->partition < partitions) {
        RawMessage r;
        r.partition = m->partition;
        r.offset = m->offset;
        if (m->key != nullptr) r.key.assign(static_cast<const char*>(m->key), m->key_len);
        if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
        next[m->partition] = m->offset + 1;
        rd_kafka_message_destroy(m);
        each(std::move(r));
        continue;
      }
      rd_kafka_message_destroy(m);
    }
    const bool complete = done();
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    if (!complete) throw std::runtime_error("could not read " + topic + " to its end");
  }

 private:
  int brokers_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

/// Polls `condition` every 10 ms until it holds or `deadline` passes (generous on purpose:
/// the tests wait on conditions, never assert on how long they took).
inline bool wait_until(const std::function<bool()>& condition,
                       std::chrono::seconds deadline = std::chrono::seconds(30)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace fathom::bus::testing
