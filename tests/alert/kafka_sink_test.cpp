#include "alert/kafka_sink.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "alert/dispatcher.h"
#include "bus/kafka_mock.h"
#include "bus/tenant_partition.h"
#include "test_util.h"

namespace fathom::alert {
namespace {

using bus::testing::MockCluster;
using detect::IncidentEventKind;
using testing::incident_event;
using testing::wait_for;

/// Kafka protocol ApiKey of ProduceRequest (the mock's request-error stack is per ApiKey).
constexpr int16_t kProduceApiKey = 0;

struct Message {
  std::string key;
  std::string value;
  int32_t partition = -1;
};

/// Every message of `topic` (partitions 0..partitions-1) from the beginning, until `expected`
/// arrived or 20 s passed.
std::vector<Message> read_topic(const std::string& brokers, const std::string& topic,
                                int partitions, size_t expected) {
  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "group.id", "alert-test", errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (rk == nullptr) throw std::runtime_error(errstr);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int32_t p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<Message> out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (out.size() < expected && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk, 100);
    if (msg == nullptr) continue;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      Message m;
      if (msg->key != nullptr) m.key.assign(static_cast<const char*>(msg->key), msg->key_len);
      m.value.assign(static_cast<const char*>(msg->payload), msg->len);
      m.partition = msg->partition;
      out.push_back(std::move(m));
    }
    rd_kafka_message_destroy(msg);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

/// How many messages `topic` holds: the sum of its partitions' high watermarks (the mock
/// cluster never deletes). Exact, so "delivered once" is checked without waiting for more.
int64_t messages_in(const std::string& brokers, const std::string& topic, int partitions) {
  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) throw std::runtime_error(errstr);
  int64_t total = 0;
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t low = 0;
    int64_t high = 0;
    if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 10'000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_destroy(rk);
      throw std::runtime_error("watermarks of " + topic);
    }
    total += high;
  }
  rd_kafka_destroy(rk);
  return total;
}

SinkConfig kafka_config(const std::string& brokers, int64_t timeout_ms = 5000) {
  SinkConfig config;
  config.name = "bus";
  config.kind = SinkKind::kKafka;
  config.brokers = brokers;
  config.topic = "alerts";
  config.timeout_ms = timeout_ms;
  config.properties["log_level"] = "2";  // the down-broker tests would log every reconnect
  return config;
}

Alert alert_of(uint32_t tenant, const std::string& id) {
  return make_alert(AlertKind::kOpen, incident_event(IncidentEventKind::kOpen, id, 80.0, tenant),
                    1'765'071'917'123'456'789);
}

std::unique_ptr<KafkaSink> make(const SinkConfig& config) {
  std::string error;
  auto sink = KafkaSink::create(config, error);
  EXPECT_NE(sink, nullptr) << error;
  return sink;
}

TEST(KafkaSinkTest, DeliversTheAlertJsonKeyedByTenantOnItsPartition) {
  MockCluster cluster;
  cluster.create_topic("alerts", 4);
  auto sink = make(kafka_config(cluster.bootstraps()));
  ASSERT_NE(sink, nullptr);
  const Alert a = alert_of(7, "9f2c4e1a7b3d5e60");
  const Alert b = alert_of(12, "00000000000000b2");
  const DeliveryResult ra = sink->deliver(a);
  ASSERT_TRUE(ra.ok) << ra.error;
  const DeliveryResult rb = sink->deliver(b);
  ASSERT_TRUE(rb.ok) << rb.error;

  EXPECT_EQ(messages_in(cluster.bootstraps(), "alerts", 4), 2);
  const std::vector<Message> got = read_topic(cluster.bootstraps(), "alerts", 4, 2);
  ASSERT_EQ(got.size(), 2u);
  for (const Message& m : got) {
    const Alert& want = m.key == "7" ? a : b;
    EXPECT_EQ(m.key, std::to_string(want.tenant_id));
    // The same document the webhook and JSON-lines sinks send, byte for byte.
    EXPECT_EQ(m.value, want.json);
    EXPECT_EQ(m.partition, bus::tenant_partition(want.tenant_id, 4));
  }
  EXPECT_EQ(sink->client_errors(), 0u);
}

TEST(KafkaSinkTest, RefusedPropertiesAndBadSettingsAreCreateErrors) {
  std::string error;
  SinkConfig config = kafka_config("127.0.0.1:1");
  config.properties["no.such.property"] = "1";
  EXPECT_EQ(KafkaSink::create(config, error), nullptr);
  EXPECT_NE(error.find("no.such.property"), std::string::npos) << error;
  EXPECT_NE(error.find("alert sink 'bus'"), std::string::npos) << error;

  AlertConfig alerts;
  alerts.sinks = {kafka_config("")};
  EXPECT_NE(validate(alerts).find("brokers is empty"), std::string::npos) << validate(alerts);
  alerts.sinks = {kafka_config("127.0.0.1:9092")};
  for (const std::string& bad :
       std::vector<std::string>{"", "..", "a/b", "with space", std::string(250, 'x')}) {
    alerts.sinks[0].topic = bad;
    EXPECT_NE(validate(alerts).find("topic must be"), std::string::npos) << bad;
  }
  alerts.sinks[0].topic = "fathom.alerts-v1_x";
  EXPECT_EQ(validate(alerts), "");
}

TEST(KafkaSinkTest, BrokerErrorsAreRetriedByTheIdempotentProducerWithoutDuplicates) {
  MockCluster cluster(1);
  cluster.create_topic("alerts", 1);
  auto sink = make(kafka_config(cluster.bootstraps()));
  ASSERT_NE(sink, nullptr);
  // Two produce requests fail with errors librdkafka retries itself; the third is written.
  rd_kafka_mock_push_request_errors(cluster.get(), kProduceApiKey, 2,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  const DeliveryResult r = sink->deliver(alert_of(7, "9f2c4e1a7b3d5e60"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(messages_in(cluster.bootstraps(), "alerts", 1), 1);
}

TEST(KafkaSinkTest, ARecordTheBrokerRefusesForGoodIsPermanent) {
  MockCluster cluster(1);
  cluster.create_topic("alerts", 1);
  auto sink = make(kafka_config(cluster.bootstraps()));
  ASSERT_NE(sink, nullptr);
  rd_kafka_mock_push_request_errors(cluster.get(), kProduceApiKey, 1,
                                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  const DeliveryResult r = sink->deliver(alert_of(7, "9f2c4e1a7b3d5e60"));
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.retryable) << r.error;
  EXPECT_NE(r.error.find("alerts"), std::string::npos) << r.error;
  // The producer carries on with the next alert.
  const DeliveryResult next = sink->deliver(alert_of(7, "00000000000000b2"));
  EXPECT_TRUE(next.ok) << next.error;
  EXPECT_EQ(messages_in(cluster.bootstraps(), "alerts", 1), 1);
}

TEST(KafkaSinkTest, BrokersDownIsRetryableAndCountedThenDeliveredOnce) {
  MockCluster cluster(1);
  cluster.create_topic("alerts", 1);
  cluster.set_all_down();
  auto sink = make(kafka_config(cluster.bootstraps(), 300));
  ASSERT_NE(sink, nullptr);
  const DeliveryResult down = sink->deliver(alert_of(7, "9f2c4e1a7b3d5e60"));
  EXPECT_FALSE(down.ok);
  EXPECT_TRUE(down.retryable) << down.error;
  EXPECT_TRUE(wait_for([&] { return sink->client_errors() > 0; }));

  cluster.set_all_up();
  DeliveryResult up;
  // The client reconnects with a back-off of its own: try until it is through.
  EXPECT_TRUE(wait_for([&] { return (up = sink->deliver(alert_of(7, "9f2c4e1a7b3d5e60"))).ok; }))
      << up.error;
  EXPECT_EQ(messages_in(cluster.bootstraps(), "alerts", 1), 1);
}

std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

AlertConfig dispatcher_config(const std::string& brokers, const std::string& spool) {
  AlertConfig config;
  config.sinks = {kafka_config(brokers, 300)};
  config.retry.max_attempts = 3;
  config.retry.initial_backoff_ms = 5;
  config.retry.max_backoff_ms = 40;
  config.rate_limit.alerts_per_minute = 0;
  config.spool_directory = spool;
  return config;
}

std::unique_ptr<AlertDispatcher> start(const AlertConfig& config) {
  std::string error;
  auto dispatcher = AlertDispatcher::create(config, error);
  EXPECT_TRUE(dispatcher) << error;
  return dispatcher;
}

/// The "id" of the incident inside an alert body.
std::string incident_id_of(const std::string& body) {
  const size_t at = body.find("\"incident\":{\"type\":\"incident\",\"event\":");
  const size_t id = body.find("\"id\":\"", at);
  return body.substr(id + 6, body.find('"', id + 6) - id - 6);
}

TEST(AlertDispatcherKafkaTest, BrokerDownRetriesThenDeliversExactlyOnce) {
  MockCluster cluster(1);
  cluster.create_topic("alerts", 1);
  cluster.set_all_down();
  auto dispatcher = start(dispatcher_config(cluster.bootstraps(), fresh_dir("kafka_retry")));
  ASSERT_NE(dispatcher, nullptr);
  ASSERT_TRUE(dispatcher->submit(incident_event(IncidentEventKind::kOpen, "aaaa", 80.0, 7)));
  ASSERT_TRUE(wait_for([&] { return dispatcher->stats().sinks[0].retried >= 1; }));
  cluster.set_all_up();
  ASSERT_TRUE(wait_for([&] {
    const SinkStats s = dispatcher->stats().sinks[0];
    return s.delivered + s.replayed == 1;
  }));
  dispatcher->stop();
  const SinkStats s = dispatcher->stats().sinks[0];
  EXPECT_EQ(s.submitted, 1u);
  EXPECT_EQ(s.failed_permanent + s.dropped_no_spool + s.dropped_spool_full, 0u);
  EXPECT_GT(s.client_errors, 0u);
  EXPECT_EQ(messages_in(cluster.bootstraps(), "alerts", 1), 1);
  const std::vector<Message> got = read_topic(cluster.bootstraps(), "alerts", 1, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, "7");
  EXPECT_EQ(incident_id_of(got[0].value), "aaaa");
}

TEST(AlertDispatcherKafkaTest, SpoolSurvivesARestartAndIsDeliveredInOrderOnce) {
  MockCluster cluster(1);
  cluster.create_topic("alerts", 1);
  cluster.set_all_down();
  const std::string spool = fresh_dir("kafka_spool");
  AlertConfig config = dispatcher_config(cluster.bootstraps(), spool);
  config.retry.max_attempts = 1;
  {
    auto dispatcher = start(config);
    ASSERT_NE(dispatcher, nullptr);
    for (const char* id : {"a1", "a2", "a3"}) {
      ASSERT_TRUE(dispatcher->submit(incident_event(IncidentEventKind::kOpen, id, 80.0, 7)));
    }
    ASSERT_TRUE(wait_for([&] { return dispatcher->stats().sinks[0].spooled == 3; }));
    dispatcher->stop();
    const SinkStats s = dispatcher->stats().sinks[0];
    EXPECT_EQ(s.delivered + s.replayed, 0u);
    EXPECT_EQ(s.spool_pending, 3u);
  }
  cluster.set_all_up();
  EXPECT_EQ(messages_in(cluster.bootstraps(), "alerts", 1), 0);
  auto dispatcher = start(config);  // a new process on the same spool directory
  ASSERT_NE(dispatcher, nullptr);
  ASSERT_TRUE(wait_for([&] { return dispatcher->stats().sinks[0].replayed == 3; }));
  // The restarted dispatcher's de-duplication journal knows these were sent: no new alert.
  ASSERT_TRUE(dispatcher->submit(incident_event(IncidentEventKind::kOpen, "a2", 80.0, 7)));
  dispatcher->stop();
  EXPECT_EQ(dispatcher->stats().sinks[0].submitted, 0u);
  EXPECT_EQ(dispatcher->stats().sinks[0].spool_pending, 0u);
  EXPECT_EQ(messages_in(cluster.bootstraps(), "alerts", 1), 3);
  const std::vector<Message> got = read_topic(cluster.bootstraps(), "alerts", 1, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(incident_id_of(got[0].value), "a1");
  EXPECT_EQ(incident_id_of(got[1].value), "a2");
  EXPECT_EQ(incident_id_of(got[2].value), "a3");
}

}  // namespace
}  // namespace fathom::alert
