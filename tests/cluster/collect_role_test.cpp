// `fathom collect`: the embedded front half (replay → decode → tenants → sample → enrich)
// publishing to Kafka (librdkafka's mock cluster) instead of analysing.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/analyze_command.h"
#include "app/decoder_state.h"
#include "app/pipeline.h"
#include "app/run_command.h"
#include "bus/kafka_consumer.h"
#include "bus/kafka_mock.h"
#include "bus/tenant_partition.h"
#include "bus/wire_format.h"
#include "scenario_fixture.h"
#include "store/store.h"

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

/// What the JSON flows topic should carry for `r`: GoFlow2's field names and renderings plus
/// Fathom's fields (docs/wire-format.md "JSON flows topic"), built here independently of
/// app/record_format.cpp.
nlohmann::json expected_json(const flow::FlowRecord& r) {
  static const std::map<flow::SourceProtocol, std::string> kTypes = {
      {flow::SourceProtocol::kNetflowV5, "NETFLOW_V5"},
      {flow::SourceProtocol::kNetflowV9, "NETFLOW_V9"},
      {flow::SourceProtocol::kIpfix, "IPFIX"},
      {flow::SourceProtocol::kSflowV5, "SFLOW_5"},
      {flow::SourceProtocol::kVpcFlowLog, "VPC_FLOW_LOG"}};
  static const std::map<uint8_t, std::string> kProtos = {
      {1, "ICMP"}, {6, "TCP"}, {17, "UDP"}, {58, "ICMPv6"}, {132, "SCTP"}};
  static const char* const kFlags[] = {"sampling_rate_unknown", "biflow_reverse", "decoded_late",
                                       "packet_sample",         "no_flow_times",  "not_counted",
                                       "secondary_sampled"};
  auto mac = [](const std::array<uint8_t, 6>& m) {
    char text[18];
    std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                  m[5]);
    return std::string(text);
  };
  auto network = [](flow::IpAddress a, uint8_t length) {
    const unsigned width = a.is_v4() ? 32 : 128;
    const unsigned bits = std::min<unsigned>(length, width);
    for (unsigned i = 0; i < width; ++i) {
      if (i < bits) continue;
      const unsigned bit = 128 - width + i;
      a.bytes[bit / 8] = static_cast<uint8_t>(a.bytes[bit / 8] & ~(0x80u >> (bit % 8)));
    }
    return a.to_string() + "/" + std::to_string(bits);
  };
  auto country = [](const std::array<char, 2>& c) {
    return c[0] == 0 ? std::string() : std::string(c.data(), 2);
  };
  nlohmann::json j;
  const auto type = kTypes.find(r.source);
  j["type"] = type == kTypes.end() ? "FLOWUNKNOWN" : type->second;
  j["time_received_ns"] = r.arrival_ns;
  j["sampling_rate"] =
      (r.flags & flow::record_flags::kSamplingRateUnknown) != 0 ? 0u : r.device_sampling_rate;
  j["sampler_address"] = r.exporter.to_string();
  j["time_flow_start_ns"] = r.start_ns;
  j["time_flow_end_ns"] = r.end_ns;
  j["bytes"] = r.bytes;
  j["packets"] = r.packets;
  j["src_addr"] = r.src.to_string();
  j["dst_addr"] = r.dst.to_string();
  j["etype"] = r.src.is_v4() ? "IPv4" : "IPv6";
  const auto proto = kProtos.find(r.ip_protocol);
  j["proto"] = proto == kProtos.end() ? std::to_string(r.ip_protocol) : proto->second;
  j["src_port"] = r.src_port;
  j["dst_port"] = r.dst_port;
  j["in_if"] = r.input_if;
  j["out_if"] = r.output_if;
  j["src_mac"] = mac(r.src_mac);
  j["dst_mac"] = mac(r.dst_mac);
  j["src_vlan"] = r.vlan;
  j["vlan_id"] = r.vlan;
  j["ip_tos"] = r.tos;
  j["forwarding_status"] = r.forwarding_status;
  j["tcp_flags"] = r.tcp_flags;
  j["icmp_type"] = r.icmp_type;
  j["icmp_code"] = r.icmp_code;
  j["src_as"] = r.src_as;
  j["dst_as"] = r.dst_as;
  j["next_hop"] = r.next_hop.is_unspecified() ? std::string() : r.next_hop.to_string();
  j["src_net"] = network(r.src, r.src_mask);
  j["dst_net"] = network(r.dst, r.dst_mask);
  j["observation_domain_id"] = r.observation_domain;
  j["flow_direction"] = r.exporter_direction;
  j["tenant_id"] = r.tenant_id;
  j["effective_sampling_rate"] = r.sampling_rate;
  j["direction"] = std::string(flow::to_string(r.direction));
  j["src_country"] = country(r.src_country);
  j["dst_country"] = country(r.dst_country);
  j["flags"] = nlohmann::json::array();
  for (size_t bit = 0; bit < std::size(kFlags); ++bit) {
    if ((r.flags & (1u << bit)) != 0) j["flags"].push_back(kFlags[bit]);
  }
  return j;
}

TEST(CollectRole, JsonFlowsTopicCarriesEveryRecordOfTheFlowsTopic) {
  const auto& capture = demo_capture();
  MockCluster cluster;
  cluster.create_topic("flows", kPartitions);
  cluster.create_topic("flows-json", kPartitions);
  Config config = capture.config;
  config.kafka.brokers = cluster.bootstraps();
  config.kafka.topic = "flows";
  config.kafka.flows_json_topic = "flows-json";
  config.kafka.linger_ms = 5;
  config.kafka.properties["log_level"] = "2";

  Pipeline pipeline(config);
  std::string error;
  ASSERT_TRUE(pipeline.load_enrichment(error)) << error;
  ASSERT_TRUE(pipeline.open_kafka(producer_options(config.kafka), true, error)) << error;
  ASSERT_TRUE(pipeline.open_kafka_json(json_producer_options(config.kafka), true, error)) << error;
  pipeline.open_replay();
  std::atomic<bool> stop{false};
  ReplayStats stats;
  ASSERT_TRUE(pipeline.replay({capture.pcap, 0.0, {}}, stop, stats, error)) << error;
  pipeline.stop();

  // The same delivery accounting as the flows topic, one message per record.
  const api::CollectorSnapshot s = pipeline.snapshot();
  ASSERT_TRUE(s.has_kafka_json_producer);
  const bus::KafkaProducerStats& k = s.kafka_json_producer;
  EXPECT_GT(k.records_offered, 10'000u);
  EXPECT_EQ(k.records_offered, s.kafka_producer.records_offered);
  EXPECT_EQ(k.records_delivered, k.records_offered);
  EXPECT_EQ(k.messages_delivered, k.records_delivered);
  EXPECT_EQ(k.records_failed + k.records_dropped_full + k.records_dropped_error + k.records_purged,
            0u);
  for (const bus::SubscriberStats& sub : s.bus.subscribers) EXPECT_EQ(sub.dropped_batches, 0u);
  EXPECT_NE(
      pipeline.metrics().find("fathom_kafka_json_producer_records_total{outcome=\"delivered\"} " +
                              std::to_string(k.records_delivered)),
      std::string::npos);

  // Each tenant's records, in order, from both topics.
  std::map<uint32_t, std::vector<flow::FlowRecord>> binary;
  for (const MockCluster::RawMessage& m : cluster.consume_raw("flows", kPartitions)) {
    flow::FlowBatch batch;
    bus::wire::BatchHeader header;
    ASSERT_EQ(
        bus::wire::decode({reinterpret_cast<const std::byte*>(m.value.data()), m.value.size()},
                          batch, header),
        bus::wire::WireStatus::kOk);
    for (const flow::FlowRecord& r : batch.records()) binary[r.tenant_id].push_back(r);
  }
  // Each JSON message against the same tenant's next record of the flows topic, parsed and
  // compared as it arrives (the topic is too big to hold parsed).
  std::map<uint32_t, size_t> next;
  uint64_t messages = 0;
  size_t mismatches = 0;
  cluster.consume_raw("flows-json", kPartitions, [&](MockCluster::RawMessage&& m) {
    ++messages;
    const nlohmann::json got = nlohmann::json::parse(m.value, nullptr, false);
    if (got.is_discarded() || !got.is_object()) {
      if (++mismatches <= 3) ADD_FAILURE() << "not a JSON object: " << m.value;
      return;
    }
    const uint32_t tenant = got.value("tenant_id", 0u);
    EXPECT_EQ(m.key, std::to_string(tenant));                            // keyed by tenant ...
    EXPECT_EQ(m.partition, bus::tenant_partition(tenant, kPartitions));  // ... and placed by it
    const std::vector<flow::FlowRecord>& records = binary[tenant];
    const size_t idx = next[tenant]++;
    if (idx >= records.size()) {
      if (++mismatches <= 3) ADD_FAILURE() << "tenant " << tenant << ": more JSON than records";
      return;
    }
    const nlohmann::json want = expected_json(records[idx]);
    if (got != want && ++mismatches <= 3) {
      ADD_FAILURE() << "tenant " << tenant << " record " << idx << "\n got: " << got.dump()
                    << "\nwant: " << want.dump();
    }
  });
  EXPECT_EQ(messages, k.records_delivered);
  for (const auto& [tenant, records] : binary) {
    EXPECT_EQ(next[tenant], records.size()) << "tenant " << tenant;
  }
  EXPECT_EQ(mismatches, 0u);
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
  cluster.create_topic("fathom.flows.json", kPartitions);
  const std::string config_file = capture.dir.path + "/collect.yaml";
  std::FILE* f = std::fopen(config_file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs(
      "transform: {unknown_exporters: default}\nkafka:\n  flows_json_topic: fathom.flows.json\n"
      "  properties: {log_level: \"2\"}\n",
      f);
  std::fclose(f);
  RunOptions o;
  o.collect_only = true;
  o.config_file = config_file;
  o.kafka_brokers = cluster.bootstraps();
  o.replay = {capture.pcap};
  o.metrics_listen = "off";
  o.data_dir = capture.dir.path + "/collect-cli";  // its spool
  // --store-url: the decoder state goes to this database, not to <data_dir>/fathom.db.
  const std::string state_db = capture.dir.path + "/collect-cli-state.db";
  o.store_url = "sqlite:" + state_db;
  ASSERT_EQ(run_collector(o, stderr), 0);
  {
    store::StoreOptions so;
    so.url = o.store_url;
    std::string error;
    auto db = store::open_database(so, error);
    ASSERT_NE(db, nullptr) << error;
    auto [status, rows] = read_decoder_states(*db);
    ASSERT_TRUE(status.ok) << status.error;
    EXPECT_FALSE(rows.empty()) << "no decoder state in " << state_db;
    // The exporters as seen, for `fathom api` (in a cluster nobody else hears them).
    auto [exporters_status, exporters] = db->exporters();
    ASSERT_TRUE(exporters_status.ok) << exporters_status.error;
    std::set<std::string> heard;
    for (const gen::TenantConfig& t : capture.scenario.tenants) {
      for (const gen::ExporterConfig& e : t.exporters) heard.insert(e.address.to_string());
    }
    std::set<std::string> stored;
    for (const store::ExporterRecord& e : exporters) {
      stored.insert(e.address);
      EXPECT_GT(e.records, 0u) << e.address;
    }
    EXPECT_EQ(stored, heard);
    EXPECT_FALSE(std::filesystem::exists(o.data_dir + "/fathom.db"));
  }
  // Every record went to the default tenant (unknown exporters accepted) and arrived.
  const ReadBack back = read_back(cluster, "fathom.flows", 10'000);
  EXPECT_GE(back.total, 10'000u);
  ASSERT_EQ(back.records.size(), 1u);
  EXPECT_EQ(back.records.begin()->first, 65535u);
  // The command also fed the JSON flows topic: one message per record of the flows topic.
  uint64_t records = 0;
  for (const MockCluster::RawMessage& m : cluster.consume_raw("fathom.flows", kPartitions)) {
    bus::wire::BatchHeader header;
    ASSERT_EQ(bus::wire::decode_header(
                  {reinterpret_cast<const std::byte*>(m.value.data()), m.value.size()}, header),
              bus::wire::WireStatus::kOk);
    records += header.record_count;
  }
  uint64_t json = 0;
  cluster.consume_raw("fathom.flows.json", kPartitions, [&](MockCluster::RawMessage&& m) {
    ++json;
    EXPECT_EQ(m.key, "65535");
  });
  EXPECT_EQ(json, records);
}

}  // namespace
}  // namespace fathom::app
