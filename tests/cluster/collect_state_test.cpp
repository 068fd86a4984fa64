// `fathom collect` keeps its decoder and sampler state in the store (docs/scaling.md "Collector
// state"): a replacement collector on another host, with a fresh data directory and no state
// file, decodes NetFlow v9 / IPFIX data sets whose templates only the collector it replaces
// ever saw. Run against SQLite and against the PostgreSQL server of the ctest fixture
// `store_postgres` (skipped loudly without one, as in tests/store).

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "app/decoder_state.h"
#include "app/run_command.h"
#include "app/temp_dir.h"
#include "bus/kafka_mock.h"
#include "bus/wire_format.h"
#include "gen/generator.h"
#include "gen/output.h"
#include "store/store.h"
#include "store/store_test_support.h"

namespace fathom::app {
namespace {

using bus::testing::MockCluster;
using store::testing::Backend;
using store::testing::ScratchDatabase;

constexpr int32_t kPartitions = 2;
constexpr int64_t kDurationNs = 90'000'000'000;
constexpr int64_t kSplitNs = 45'000'000'000;  ///< collector A before, its replacement B after

/// One tenant with an IPFIX and a NetFlow v9 exporter that send their templates (and the
/// options template with the sampling rate) in their first datagram only: every later
/// datagram is data sets alone.
gen::Scenario template_once_scenario() {
  gen::Scenario s;
  s.seed = 11;
  s.duration_ns = kDurationNs;
  s.truth_hosts = false;
  gen::TenantConfig t;
  t.id = 1;
  t.name = "acme";
  t.prefixes = {*gen::Prefix::parse("10.1.0.0/16"), *gen::Prefix::parse("2001:db8:1::/48")};
  t.hosts = 200;
  t.servers = 4;
  t.heavy_servers = 1;
  t.background.sessions_per_host_per_s = 0.5;
  t.background.ipv6_share = 0.2;
  gen::ExporterConfig ipfix;
  ipfix.address = flow::IpAddress::from_v4(0x7f00000b);  // 127.0.0.11
  ipfix.protocol = gen::ExportProtocol::kIpfix;
  ipfix.observation_domain = 1;
  ipfix.sampling_rate = 10;
  ipfix.template_refresh_packets = UINT32_MAX;  // never again
  gen::ExporterConfig v9 = ipfix;
  v9.address = flow::IpAddress::from_v4(0x7f00000c);  // 127.0.0.12
  v9.protocol = gen::ExportProtocol::kNetflowV9;
  v9.observation_domain = 2;
  v9.sampling_mode = gen::SamplingMode::kDeterministic;
  t.exporters = {ipfix, v9};
  s.tenants = {t};
  return s;
}

struct TemplateOnceCapture {
  testing::TempDir dir{"collect-state"};
  std::string whole;   ///< every datagram
  std::string first;   ///< before the split: the templates and some data
  std::string second;  ///< after it: data sets only
  int64_t split_ns = 0;
};

const TemplateOnceCapture& capture() {
  static std::unique_ptr<TemplateOnceCapture> capture;
  if (capture) return *capture;
  auto c = std::make_unique<TemplateOnceCapture>();
  const gen::Scenario scenario = template_once_scenario();
  c->whole = c->dir.path + "/whole.pcap";
  c->first = c->dir.path + "/first.pcap";
  c->second = c->dir.path + "/second.pcap";
  c->split_ns = scenario.start_ns + kSplitNs;
  gen::Generator generator(scenario);
  std::ofstream whole(c->whole, std::ios::binary);
  std::ofstream first(c->first, std::ios::binary);
  std::ofstream second(c->second, std::ios::binary);
  gen::PcapWriter whole_writer(whole);
  gen::PcapWriter first_writer(first);
  gen::PcapWriter second_writer(second);
  generator.run([&](const gen::DatagramInfo& info, uint32_t, std::span<const std::byte> data) {
    whole_writer.write(info, data);
    (info.time_ns < c->split_ns ? first_writer : second_writer).write(info, data);
  });
  EXPECT_TRUE(whole && first && second);
  capture = std::move(c);
  return *capture;
}

/// The config of one collector run: the scenario's tenant (a target far above its rate, so the
/// adaptive sampler controls it, keeps everything and has state to save), the store
/// (`store` is a YAML mapping), the node name and the flows topic.
std::string write_config(const std::string& dir, const std::string& store, const std::string& node,
                         const std::string& topic) {
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/fathom.yaml";
  std::ofstream f(path);
  f << "store: " << store << "\n"
    << "collect: {node_id: " << node << "}\n"
    << "kafka:\n  topic: " << topic << "\n  linger_ms: 5\n  properties: {log_level: \"2\"}\n"
    << "tenants:\n  - id: 1\n    name: acme\n    exporters: [127.0.0.11, 127.0.0.12]\n"
    << "    target_ingest_rate: 1000000000\n";
  return path;
}

/// `fathom collect --replay pcap` with the config above and its own data directory.
int collect(const MockCluster& cluster, const std::string& dir, const std::string& store,
            const std::string& node, const std::string& topic, const std::string& pcap) {
  RunOptions o;
  o.collect_only = true;
  o.config_file = write_config(dir, store, node, topic);
  o.data_dir = dir;
  o.kafka_brokers = cluster.bootstraps();
  o.replay = {pcap};
  o.metrics_listen = "off";
  return run_collector(o, stderr);
}

/// The records of `topic`, each as its 192 wire bytes (every field), with the message count.
struct Published {
  std::multiset<std::string> records;
  std::map<std::string, uint64_t> by_exporter;
  uint64_t corrupt = 0;
};

std::string record_bytes(const flow::FlowRecord& r) {
  std::string bytes(bus::wire::kRecordBytes, '\0');
  bus::wire::encode_record(r, reinterpret_cast<std::byte*>(bytes.data()));
  return bytes;
}

/// Reads `topic` to its end; keeps records arriving at or after `since_ns`.
Published published(const MockCluster& cluster, const std::string& topic, int64_t since_ns = 0) {
  Published out;
  for (const MockCluster::RawMessage& m : cluster.consume_raw(topic, kPartitions)) {
    flow::FlowBatch batch;
    bus::wire::BatchHeader header;
    const auto* bytes = reinterpret_cast<const std::byte*>(m.value.data());
    if (bus::wire::decode({bytes, m.value.size()}, batch, header) != bus::wire::WireStatus::kOk) {
      ++out.corrupt;
      continue;
    }
    for (const flow::FlowRecord& r : batch.records()) {
      if (r.arrival_ns < since_ns) continue;
      out.records.insert(record_bytes(r));
      ++out.by_exporter[r.exporter.to_string()];
    }
  }
  return out;
}

std::map<std::string, int64_t> state_rows(const std::string& url, uint32_t tenant) {
  store::StoreOptions o;
  o.url = url;
  std::string error;
  auto db = store::open_database(o, error);
  EXPECT_NE(db, nullptr) << error;
  std::map<std::string, int64_t> keys;
  if (!db) return keys;
  auto [status, rows] = db->list_state(tenant);
  EXPECT_TRUE(status.ok) << status.error;
  for (const store::StateEntry& row : rows) keys[row.key] = row.updated_ns;
  return keys;
}

class CollectState : public ::testing::TestWithParam<Backend> {};

TEST_P(CollectState, ReplacementCollectorDecodesWithoutTemplates) {
  const TemplateOnceCapture& c = capture();
  ScratchDatabase db(GetParam());
  if (!db.skip_reason().empty()) {
    if (std::getenv("FATHOM_REQUIRE_POSTGRES") != nullptr) FAIL() << db.skip_reason();
    GTEST_SKIP() << "PostgreSQL case skipped: " << db.skip_reason();
  }
  const std::string store = "{url: \"" + db.url() + "\"}";
  MockCluster cluster;
  for (const char* topic : {"flows-ref", "flows-a", "flows-b", "flows-cold"})
    cluster.create_topic(topic, kPartitions);
  testing::TempDir work("collect-state-run");

  // What the second half holds: one collector that hears everything, no store.
  ASSERT_EQ(collect(cluster, work.path + "/ref", "{enabled: false}", "ref", "flows-ref", c.whole),
            0);
  const Published expected = published(cluster, "flows-ref", c.split_ns);
  ASSERT_EQ(expected.corrupt, 0u);
  ASSERT_GT(expected.by_exporter.at("127.0.0.11"), 500u);  // IPFIX
  ASSERT_GT(expected.by_exporter.at("127.0.0.12"), 500u);  // NetFlow v9

  // Without the store, a collector that starts after the templates decodes nothing: the data
  // sets wait for templates that never come (the test below is not vacuous).
  ASSERT_EQ(
      collect(cluster, work.path + "/cold", "{enabled: false}", "cold", "flows-cold", c.second), 0);
  EXPECT_EQ(published(cluster, "flows-cold").records.size(), 0u);

  // Collector A hears the first half, templates included, and stops.
  ASSERT_EQ(collect(cluster, work.path + "/a", store, "collector-a", "flows-a", c.first), 0);
  const std::map<std::string, int64_t> after_a = state_rows(db.url(), kCollectorTenant);
  EXPECT_EQ(after_a.count("decoder/127.0.0.11/1"), 1u);
  EXPECT_EQ(after_a.count("decoder/127.0.0.12/2"), 1u);
  EXPECT_EQ(state_rows(db.url(), 1).count("sampler/collector-a"), 1u);

  // Its replacement B: another node, a fresh data directory, no state file, the same store,
  // and only data sets on the wire. It must publish every record of the second half, with
  // the sampling rates of the options records it never saw.
  ASSERT_EQ(collect(cluster, work.path + "/b", store, "collector-b", "flows-b", c.second), 0);
  const Published got = published(cluster, "flows-b");
  EXPECT_EQ(got.corrupt, 0u);
  EXPECT_EQ(got.by_exporter, expected.by_exporter);
  EXPECT_TRUE(got.records == expected.records)
      << got.records.size() << " records published, " << expected.records.size() << " expected";

  // Each collector's sampler state is its own row; neither replaced the other's.
  const std::map<std::string, int64_t> sampler_rows = state_rows(db.url(), 1);
  EXPECT_EQ(sampler_rows.count("sampler/collector-a"), 1u);
  EXPECT_EQ(sampler_rows.count("sampler/collector-b"), 1u);
  EXPECT_EQ(sampler_rows.count("sampler"), 0u);  // `fathom run`'s key stays untouched
}

INSTANTIATE_TEST_SUITE_P(Backends, CollectState,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         store::testing::backend_name);

TEST(CollectStateStore, DeadDatabaseDoesNotBlockReceiving) {
  const TemplateOnceCapture& c = capture();
  MockCluster cluster;
  cluster.create_topic("flows-ref", kPartitions);
  cluster.create_topic("flows-dead", kPartitions);
  testing::TempDir work("collect-state-dead");
  ASSERT_EQ(collect(cluster, work.path + "/ref", "{enabled: false}", "ref", "flows-ref", c.whole),
            0);
  // Nothing listens on port 1: every connection is refused. The collector starts, publishes
  // every record, and its state waits in the writer's spool for the next start.
  const std::string dead = "{url: \"postgresql://fathom@127.0.0.1:1/fathom\"}";
  const std::string dir = work.path + "/dead";
  ASSERT_EQ(collect(cluster, dir, dead, "collector-d", "flows-dead", c.whole), 0);
  const Published expected = published(cluster, "flows-ref");
  const Published got = published(cluster, "flows-dead");
  EXPECT_GT(expected.records.size(), 1000u);
  EXPECT_TRUE(got.records == expected.records)
      << got.records.size() << " records published, " << expected.records.size() << " expected";
  bool spooled = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/store-spool")) {
    spooled = spooled || entry.file_size() > 0;
  }
  EXPECT_TRUE(spooled) << "the decoder state should wait in " << dir << "/store-spool";
}

}  // namespace
}  // namespace fathom::app
