// `fathom collect`: the embedded front half (replay → decode → tenants → sample → enrich)
// publishing to Kafka (librdkafka's mock cluster) instead of analysing.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "app/analyze_command.h"
#include "app/pipeline.h"
#include "app/run_command.h"
#include "bus/kafka_consumer.h"
#include "bus/kafka_mock.h"
#include "bus/tenant_partition.h"
#include "scenario_fixture.h"

namespace fathom::app {
namespace {

using bus::testing::MockCluster;
using bus::testing::wait_until;
using cluster_testing::demo_capture;
using std::chrono::milliseconds;

constexpr int32_t kPartitions = 4;

/// Reads `topic` from the start until `records` records arrived (or 60 s passed): records per
/// tenant, and the partitions each tenant's messages came from.
struct ReadBack {
  std::map<uint32_t, uint64_t> records;
  std::map<uint32_t, std::set<int32_t>> partitions;
  uint64_t total = 0;
  uint64_t corrupt = 0;
};

ReadBack read_back(const MockCluster& cluster, const std::string& topic, uint64_t records) {
  bus::KafkaConsumerOptions o;
  o.brokers = cluster.bootstraps();
  o.topic = topic;
  o.group_id = "reader-" + topic;
  o.properties["log_level"] = "2";
  std::string error;
  auto consumer = bus::KafkaConsumer::create(o, {}, error);
  EXPECT_NE(consumer, nullptr) << error;
  ReadBack out;
  if (!consumer) return out;
  std::vector<bus::ConsumedBatch> got;
  wait_until(
      [&] {
        got.clear();
        consumer->poll(milliseconds(100), got, 64);
        for (bus::ConsumedBatch& b : got) {
          if (b.batch == nullptr) {
            ++out.corrupt;
            continue;
          }
          for (const flow::FlowRecord& r : b.batch->records()) {
            ++out.records[r.tenant_id];
            out.partitions[r.tenant_id].insert(b.partition);
            ++out.total;
          }
          consumer->recycle(std::move(b.batch));
        }
        return out.total >= records;
      },
      std::chrono::seconds(60));
  return out;
}

TEST(CollectRole, ReplayPublishesEveryAcceptedRecordPartitionedByTenant) {
  const auto& capture = demo_capture();
  MockCluster cluster;
  cluster.create_topic("flows", kPartitions);
  Config config = capture.config;
  config.kafka.brokers = cluster.bootstraps();
  config.kafka.topic = "flows";
  config.kafka.linger_ms = 5;
  config.kafka.properties["log_level"] = "2";

  Pipeline pipeline(config);
  std::string error;
  ASSERT_TRUE(pipeline.load_enrichment(error)) << error;
  ASSERT_TRUE(pipeline.open_kafka(producer_options(config.kafka), true, error)) << error;
  pipeline.open_replay();
  std::atomic<bool> stop{false};
  ReplayStats stats;
  ASSERT_TRUE(pipeline.replay({capture.pcap, 0.0, {}}, stop, stats, error)) << error;
  pipeline.stop();  // closes the bus; the sink hands everything over and flushes

  const api::CollectorSnapshot s = pipeline.snapshot();
  ASSERT_TRUE(s.has_kafka_producer);
  EXPECT_FALSE(s.has_analysis);  // the analysis side is swapped out, not added to
  const bus::KafkaProducerStats& k = s.kafka_producer;
  EXPECT_GT(s.bus.published_records, 10'000u);
  EXPECT_EQ(k.records_offered, s.bus.published_records);
  EXPECT_EQ(k.records_delivered, k.records_offered);
  EXPECT_EQ(k.records_failed + k.records_dropped_full + k.records_dropped_error + k.records_purged,
            0u);
  for (const bus::SubscriberStats& sub : s.bus.subscribers) EXPECT_EQ(sub.dropped_batches, 0u);

  const ReadBack back = read_back(cluster, "flows", k.records_delivered);
  EXPECT_EQ(back.total, k.records_delivered);
  EXPECT_EQ(back.corrupt, 0u);
  EXPECT_EQ(back.records.size(), capture.scenario.tenants.size());
  for (const auto& [tenant, partitions] : back.partitions) {
    ASSERT_EQ(partitions.size(), 1u) << "tenant " << tenant;
    EXPECT_EQ(*partitions.begin(), bus::tenant_partition(tenant, kPartitions));
  }

  // /metrics shows the producer's outcomes.
  const std::string metrics = pipeline.metrics();
  EXPECT_NE(metrics.find("fathom_kafka_producer_records_total{outcome=\"delivered\"} " +
                         std::to_string(k.records_delivered)),
            std::string::npos);
}

TEST(CollectRole, CommandNeedsBrokersAndRefusesBadKafkaSettings) {
  const auto& capture = demo_capture();
  RunOptions o;
  o.collect_only = true;
  o.replay = {capture.pcap};
  o.metrics_listen = "off";
  o.data_dir = capture.dir.path;
  EXPECT_EQ(run_collector(o, stderr), 2);  // no kafka.brokers anywhere

  const std::string config_file = capture.dir.path + "/bad-kafka.yaml";
  std::FILE* f = std::fopen(config_file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("kafka:\n  brokers: 127.0.0.1:1\n  properties: {no.such.property: x}\n", f);
  std::fclose(f);
  o.config_file = config_file;
  EXPECT_EQ(run_collector(o, stderr), 1);  // librdkafka refuses the property: a clear error
}

TEST(AnalyzeCommand, NeedsBrokersAndRefusesBadKafkaSettings) {
  const auto& capture = demo_capture();
  AnalyzeCommandOptions o;
  o.metrics_listen = "off";
  o.data_dir = capture.dir.path + "/analyze-cli";
  EXPECT_EQ(run_analyze(o, stderr), 2);  // no kafka.brokers anywhere
  const std::string config_file = capture.dir.path + "/bad-analyze.yaml";
  std::FILE* f = std::fopen(config_file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs(
      "store: {enabled: false}\nkafka:\n  brokers: 127.0.0.1:1\n"
      "  properties: {partition.assignment.strategy: no-such-strategy}\n",
      f);
  std::fclose(f);
  o.config_file = config_file;
  EXPECT_EQ(run_analyze(o, stderr), 1);  // librdkafka refuses it: a clear error, no hang
}

TEST(CollectRole, CommandReplaysIntoKafka) {
  const auto& capture = demo_capture();
  MockCluster cluster;
  cluster.create_topic("fathom.flows", kPartitions);
  const std::string config_file = capture.dir.path + "/collect.yaml";
  std::FILE* f = std::fopen(config_file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("transform: {unknown_exporters: default}\nkafka:\n  properties: {log_level: \"2\"}\n",
             f);
  std::fclose(f);
  RunOptions o;
  o.collect_only = true;
  o.config_file = config_file;
  o.kafka_brokers = cluster.bootstraps();
  o.replay = {capture.pcap};
  o.metrics_listen = "off";
  o.data_dir = capture.dir.path;
  ASSERT_EQ(run_collector(o, stderr), 0);
  // Every record went to the default tenant (unknown exporters accepted) and arrived.
  const ReadBack back = read_back(cluster, "fathom.flows", 10'000);
  EXPECT_GE(back.total, 10'000u);
  ASSERT_EQ(back.records.size(), 1u);
  EXPECT_EQ(back.records.begin()->first, 65535u);
}

}  // namespace
}  // namespace fathom::app
