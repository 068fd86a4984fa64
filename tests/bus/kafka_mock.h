#pragma once

// librdkafka's in-process mock cluster for the Kafka bus tests: real brokers' protocol on
// loopback listeners (ephemeral ports), topics created up front, brokers set down and up.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

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
