#include "bus/kafka_producer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "bus/kafka_mock.h"
#include "bus/tenant_partition.h"

namespace fathom::bus {
namespace {

using std::chrono::milliseconds;
using testing::MockCluster;
using testing::wait_until;

KafkaProducerOptions options_for(const std::string& brokers) {
  KafkaProducerOptions options;
  options.brokers = brokers;
  options.topic = "flows";
  options.linger_ms = 5;
  options.properties["log_level"] = "2";  // the down-broker tests would log every reconnect
  return options;
}

flow::FlowBatch batch_of(uint32_t tenant, size_t records) {
  flow::FlowBatch batch(records);
  for (size_t i = 0; i < records; ++i) {
    flow::FlowRecord& r = batch.add();
    r.tenant_id = tenant;
    r.packets = i;
  }
  return batch;
}

TEST(KafkaProducer, DefaultsAreDocumentedOnes) {
  const KafkaProducerOptions options;
  EXPECT_EQ(options.topic, "fathom.flows");
  EXPECT_EQ(options.compression, "lz4");
  EXPECT_EQ(options.max_records_per_message, 4096u);
  EXPECT_TRUE(options.poll_thread);
}

TEST(KafkaProducer, CreateRejectsBadPropertiesWithLibrdkafkasReason) {
  std::string error;
  KafkaProducerOptions options = options_for("127.0.0.1:1");
  options.properties["no.such.property"] = "1";
  EXPECT_EQ(KafkaProducer::create(options, error), nullptr);
  EXPECT_NE(error.find("no.such.property"), std::string::npos) << error;

  options = options_for("127.0.0.1:1");
  options.compression = "brotli";
  EXPECT_EQ(KafkaProducer::create(options, error), nullptr);
  EXPECT_NE(error.find("compression.type"), std::string::npos) << error;

  options = options_for("");
  EXPECT_EQ(KafkaProducer::create(options, error), nullptr);
  EXPECT_NE(error.find("brokers"), std::string::npos) << error;

  options = options_for("127.0.0.1:1");
  options.max_records_per_message = 0;
  EXPECT_EQ(KafkaProducer::create(options, error), nullptr);
  EXPECT_NE(error.find("max_records_per_message"), std::string::npos) << error;
}

TEST(KafkaProducer, DeliversAndCountsMessagesPerTenantChunk) {
  MockCluster cluster;
  cluster.create_topic("flows", 4);
  KafkaProducerOptions options = options_for(cluster.bootstraps());
  options.max_records_per_message = 10;
  std::string error;
  auto producer = KafkaProducer::create(options, error);
  ASSERT_NE(producer, nullptr) << error;

  // Tenants 1 and 2 interleaved (25 and 5 records) plus one interface-counter record of
  // tenant 3: messages 10+10+5 for tenant 1, 5 for tenant 2, a counters-only one for tenant 3.
  flow::FlowBatch batch;
  for (int i = 0; i < 30; ++i) batch.add().tenant_id = i % 6 == 5 ? 2 : 1;
  batch.add_counters().tenant_id = 3;
  EXPECT_EQ(producer->publish(batch), 30u);
  ASSERT_TRUE(producer->flush(milliseconds(30'000)));
  const KafkaProducerStats s = producer->stats();
  EXPECT_EQ(s.batches_offered, 1u);
  EXPECT_EQ(s.records_offered, 30u);
  EXPECT_EQ(s.counters_offered, 1u);
  EXPECT_EQ(s.messages_enqueued, 5u);
  EXPECT_EQ(s.messages_delivered, 5u);
  EXPECT_EQ(s.records_delivered, 30u);
  EXPECT_EQ(s.messages_failed + s.messages_dropped_full + s.messages_dropped_error, 0u);
  EXPECT_EQ(s.bytes_enqueued, 5 * 40 + 30 * 192 + 144u);
  EXPECT_EQ(s.in_flight_messages, 0u);
  EXPECT_FALSE(s.fatal);
}

TEST(KafkaProducer, FullBufferDropsAndCountsWithoutBlocking) {
  // Nothing listens on port 1: every message waits in the local buffer.
  KafkaProducerOptions options = options_for("127.0.0.1:1");
  options.max_buffered_messages = 5;
  options.message_timeout_ms = 600'000;  // nothing fails during the test
  std::string error;
  auto producer = KafkaProducer::create(options, error);
  ASSERT_NE(producer, nullptr) << error;
  producer->set_close_timeout(milliseconds(0));
  const flow::FlowBatch batch = batch_of(7, 3);
  size_t enqueued = 0;
  for (int i = 0; i < 20; ++i) enqueued += producer->publish(batch);
  EXPECT_EQ(enqueued, 5u * 3);
  const KafkaProducerStats s = producer->stats();
  EXPECT_EQ(s.records_offered, 60u);
  EXPECT_EQ(s.messages_enqueued, 5u);
  EXPECT_EQ(s.messages_dropped_full, 15u);
  EXPECT_EQ(s.records_dropped_full, 45u);
  EXPECT_EQ(s.messages_delivered, 0u);
  EXPECT_EQ(s.in_flight_messages, 5u);
  // Every record offered is accounted for: in the buffer or dropped.
  EXPECT_EQ(s.records_enqueued + s.records_dropped_full, s.records_offered);
}

TEST(KafkaProducer, PublishEachSendsOneMessagePerRecordKeyedByTenant) {
  MockCluster cluster;
  cluster.create_topic("flows", 4);
  std::string error;
  auto producer = KafkaProducer::create(options_for(cluster.bootstraps()), error);
  ASSERT_NE(producer, nullptr) << error;
  flow::FlowBatch batch;
  for (uint64_t i = 0; i < 6; ++i) {
    flow::FlowRecord& r = batch.add();
    r.tenant_id = i % 2 == 0 ? 1 : 2;
    r.packets = i;
  }
  batch.add_counters().tenant_id = 3;  // not published in this encoding
  const KafkaProducer::RecordEncoder encode = [](const flow::FlowRecord& r, std::string& out) {
    out += "tenant " + std::to_string(r.tenant_id) + " packets " + std::to_string(r.packets);
  };
  EXPECT_EQ(producer->publish_each(batch, encode), 6u);
  ASSERT_TRUE(producer->flush(milliseconds(30'000)));
  const KafkaProducerStats s = producer->stats();
  EXPECT_EQ(s.batches_offered, 1u);
  EXPECT_EQ(s.records_offered, 6u);
  EXPECT_EQ(s.counters_offered, 0u);
  EXPECT_EQ(s.messages_enqueued, 6u);
  EXPECT_EQ(s.messages_delivered, 6u);
  EXPECT_EQ(s.records_delivered, 6u);
  EXPECT_EQ(s.in_flight_messages, 0u);

  // Each tenant's records in order, on its partition, keyed by its id.
  std::map<std::string, std::vector<std::string>> by_key;
  for (const MockCluster::RawMessage& m : cluster.consume_raw("flows", 4)) {
    EXPECT_EQ(m.partition, tenant_partition(static_cast<uint32_t>(std::stoul(m.key)), 4));
    by_key[m.key].push_back(m.value);
  }
  EXPECT_EQ(by_key["1"], (std::vector<std::string>{"tenant 1 packets 0", "tenant 1 packets 2",
                                                   "tenant 1 packets 4"}));
  EXPECT_EQ(by_key["2"], (std::vector<std::string>{"tenant 2 packets 1", "tenant 2 packets 3",
                                                   "tenant 2 packets 5"}));
}

TEST(KafkaProducer, DeliveryFailuresAfterTheTimeoutAreCountedAndFreeTheBuffer) {
  MockCluster cluster;
  cluster.create_topic("flows", 2);
  cluster.set_all_down();
  KafkaProducerOptions options = options_for(cluster.bootstraps());
  options.max_buffered_messages = 4;
  options.message_timeout_ms = 300;
  std::string error;
  auto producer = KafkaProducer::create(options, error);
  ASSERT_NE(producer, nullptr) << error;
  const flow::FlowBatch batch = batch_of(9, 2);
  for (int i = 0; i < 6; ++i) producer->publish(batch);
  ASSERT_TRUE(wait_until([&] { return producer->stats().messages_failed == 4; }));
  KafkaProducerStats s = producer->stats();
  EXPECT_EQ(s.records_failed, 8u);
  EXPECT_EQ(s.messages_dropped_full, 2u);
  EXPECT_EQ(s.messages_delivered, 0u);
  EXPECT_NE(s.last_delivery_error.find("delivery failed"), std::string::npos)
      << s.last_delivery_error;
  // The failed messages left the buffer: new batches are accepted again.
  EXPECT_EQ(producer->publish(batch), 2u);
}

TEST(KafkaProducer, BrokersDownThenUpDeliversWhatWasBuffered) {
  MockCluster cluster;
  cluster.create_topic("flows", 3);
  KafkaProducerOptions options = options_for(cluster.bootstraps());
  std::string error;
  auto producer = KafkaProducer::create(options, error);
  ASSERT_NE(producer, nullptr) << error;
  for (uint32_t tenant = 1; tenant <= 3; ++tenant) producer->publish(batch_of(tenant, 4));
  ASSERT_TRUE(producer->flush(milliseconds(30'000)));
  cluster.set_all_down();
  for (uint32_t tenant = 1; tenant <= 3; ++tenant) producer->publish(batch_of(tenant, 4));
  EXPECT_EQ(producer->stats().messages_enqueued, 6u);
  cluster.set_all_up();
  ASSERT_TRUE(producer->flush(milliseconds(30'000)));
  const KafkaProducerStats s = producer->stats();
  EXPECT_EQ(s.messages_delivered, 6u);
  EXPECT_EQ(s.records_delivered, 24u);
  EXPECT_EQ(s.messages_failed, 0u);
}

}  // namespace
}  // namespace fathom::bus
