// `fathom analyze` in a consumer group on librdkafka's mock cluster, fed by a `fathom collect`
// pipeline replaying fathom-gen's demo scenario, storing to SQLite and to the real PostgreSQL
// server the ctest fixture starts (tests/store/store_test_support.h): the same incidents as the
// embedded `fathom run`, and a member killed mid-stream whose partitions the survivor takes
// over without duplicating or losing an incident.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "app/cluster_analyzer.h"
#include "app/pipeline.h"
#include "bus/kafka_consumer.h"
#include "bus/kafka_mock.h"
#include "bus/tenant_partition.h"
#include "scenario_fixture.h"
#include "store/store.h"
#include "store/store_test_support.h"

namespace fathom::app {
namespace {

using bus::testing::MockCluster;
using bus::testing::wait_until;
using cluster_testing::demo_capture;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int32_t kPartitions = 6;

/// What identifies an incident across runs, and what the comparison shows on a mismatch.
struct Found {
  std::string id;
  uint32_t tenant_id = 0;
  std::string detection;
  std::string subject;
  int64_t start_ns = 0;
  int64_t last_seen_ns = 0;
  int64_t detected_ns = 0;
  friend bool operator<(const Found& a, const Found& b) { return a.id < b.id; }
};

std::string describe(const std::set<Found>& incidents, int64_t t0) {
  std::string out;
  for (const Found& f : incidents) {
    out += "  " + f.id + " tenant " + std::to_string(f.tenant_id) + " " + f.detection + " " +
           f.subject + " start " + std::to_string((f.start_ns - t0) / 1'000'000'000) +
           " s, detected " + std::to_string((f.detected_ns - t0) / 1'000'000'000) + " s\n";
  }
  return out;
}

/// The embedded run's incidents (`fathom run --replay`), by id at their last event.
std::set<Found> embedded_incidents(const Config& config, const std::string& pcap) {
  ReplayRun run;
  std::string error;
  EXPECT_TRUE(replay_through_analysis(config, {pcap}, {}, run, error)) << error;
  std::map<std::string, Found> by_id;
  for (const detect::IncidentEvent& e : run.events) {
    const detect::Incident& i = e.incident;
    by_id[i.id] = {i.id,
                   i.tenant_id,
                   std::string(detect::to_string(i.type)),
                   i.subject.to_string(),
                   i.start_ns,
                   i.last_seen_ns,
                   i.detected_ns};
  }
  std::set<Found> out;
  for (auto& [id, f] : by_id) out.insert(f);
  return out;
}

std::set<Found> stored_incidents(const std::string& url) {
  store::StoreOptions o;
  o.url = url;
  std::string error;
  auto db = store::open_database(o, error);
  EXPECT_NE(db, nullptr) << error;
  std::set<Found> out;
  if (!db) return out;
  store::IncidentQuery q;
  q.limit = 1'000'000;
  auto [status, rows] = db->incidents(q);
  EXPECT_TRUE(status.ok) << status.error;
  for (const store::IncidentRecord& r : rows) {
    out.insert(
        {r.id, r.tenant_id, r.detection, r.subject, r.start_ns, r.last_seen_ns, r.detected_ns});
  }
  return out;
}

/// Incidents both modes must agree on: opened by a window that closed well before the end of
/// the traffic. (At the end `fathom run` flushes every window still open, the long ones too;
/// an analyzer leaves them to the partition's next owner.)
std::set<Found> detected_before(const std::set<Found>& all, int64_t cutoff_ns) {
  std::set<Found> out;
  for (const Found& f : all) {
    if (f.detected_ns <= cutoff_ns) out.insert(f);
  }
  return out;
}

/// A `fathom collect` front half publishing file replays to the mock cluster.
class Collector {
 public:
  Collector(Config config, const MockCluster& cluster) : config_(std::move(config)) {
    config_.kafka.brokers = cluster.bootstraps();
    config_.kafka.topic = "flows";
    config_.kafka.linger_ms = 5;
    config_.kafka.properties["log_level"] = "2";
    pipeline_ = std::make_unique<Pipeline>(config_);
    std::string error;
    EXPECT_TRUE(pipeline_->load_enrichment(error)) << error;
    EXPECT_TRUE(pipeline_->open_kafka(producer_options(config_.kafka), true, error)) << error;
    pipeline_->open_replay();  // one worker: its decoder keeps templates across the files
  }
  /// Replays `path` and waits until Kafka acknowledged everything.
  void replay(const std::string& path) {
    std::atomic<bool> stop{false};
    ReplayStats stats;
    std::string error;
    ASSERT_TRUE(pipeline_->replay({path, 0.0, {}}, stop, stats, error)) << error;
    // Publish the worker's partial batch too (a replay is read on the caller's thread).
    ASSERT_TRUE(wait_until([&] {
      const bus::KafkaProducerStats k = pipeline_->snapshot().kafka_producer;
      return k.records_offered == pipeline_->snapshot().bus.published_records &&
             k.in_flight_messages == 0;
    }));
  }
  /// Publishes the last partial batch and flushes.
  bus::KafkaProducerStats finish() {
    pipeline_->stop();
    return pipeline_->snapshot().kafka_producer;
  }

 private:
  Config config_;
  std::unique_ptr<Pipeline> pipeline_;
};

/// Every partition's last offset on the topic, read by a separate group.
std::map<int32_t, int64_t> end_offsets(const MockCluster& cluster, uint64_t records) {
  bus::KafkaConsumerOptions o;
  o.brokers = cluster.bootstraps();
  o.topic = "flows";
  o.group_id = "end-offsets";
  o.properties["log_level"] = "2";
  std::string error;
  auto consumer = bus::KafkaConsumer::create(o, {}, error);
  EXPECT_NE(consumer, nullptr) << error;
  std::map<int32_t, int64_t> last;
  uint64_t seen = 0;
  std::vector<bus::ConsumedBatch> got;
  EXPECT_TRUE(wait_until(
      [&] {
        got.clear();
        consumer->poll(milliseconds(100), got, 64);
        for (bus::ConsumedBatch& b : got) {
          last[b.partition] = std::max(last[b.partition], b.offset);
          if (b.batch) seen += b.batch->size();
        }
        return seen >= records;
      },
      seconds(60)));
  return last;
}

Config analyzer_config(const MockCluster& cluster, const std::string& dir, const std::string& name,
                       const std::string& url) {
  Config c = demo_capture().config;
  c.data_dir = dir + "/" + name;  // each analyzer's own spools
  c.store.enabled = true;
  c.store.url = url;
  c.kafka.brokers = cluster.bootstraps();
  c.kafka.topic = "flows";
  c.kafka.group_id = "analyzers";
  c.kafka.client_id = name;
  c.kafka.session_timeout_ms = 6'000;
  c.kafka.commit_interval_ms = 100;
  // Replays compress time: a pause of the test is no silence of the traffic.
  c.kafka.idle_partition_seconds = 0;
  c.kafka.properties["log_level"] = "2";
  return c;
}

std::unique_ptr<ClusterAnalyzer> open_analyzer(const Config& config) {
  std::string error;
  auto a = ClusterAnalyzer::open(config, error);
  EXPECT_NE(a, nullptr) << error;
  if (a) a->start();
  return a;
}

/// True once every partition with messages was handed to `a`'s analysis up to its end.
bool caught_up(const ClusterAnalyzer& a, const std::map<int32_t, int64_t>& ends) {
  const std::map<int32_t, int64_t> at = a.positions();
  for (const auto& [partition, end] : ends) {
    const auto it = at.find(partition);
    if (it == at.end() || it->second < end) return false;
  }
  return true;
}

/// Partitions carrying one of the scenario's tenants.
std::set<int32_t> tenant_partitions() {
  std::set<int32_t> out;
  for (const gen::TenantConfig& t : demo_capture().scenario.tenants) {
    out.insert(bus::tenant_partition(t.id, kPartitions));
  }
  return out;
}

int64_t cutoff_ns() {
  const auto& s = demo_capture().scenario;
  return s.start_ns + s.duration_ns - 20'000'000'000;
}

/// Each case against both back ends: a fresh SQLite file, a fresh PostgreSQL database.
class AnalyzeRole : public ::testing::TestWithParam<store::testing::Backend> {
 protected:
  void SetUp() override {
    database_ = std::make_unique<store::testing::ScratchDatabase>(GetParam());
    if (!database_->skip_reason().empty()) {
      GTEST_SKIP() << "PostgreSQL unavailable, case skipped: " << database_->skip_reason();
    }
  }
  const std::string& url() const { return database_->url(); }
  /// A member name unique to the back end, so each run has its own spool directories.
  std::string member(const std::string& name) const {
    return name + (GetParam() == store::testing::Backend::kSqlite ? "-sqlite" : "-postgres");
  }

 private:
  std::unique_ptr<store::testing::ScratchDatabase> database_;
};

TEST_P(AnalyzeRole, TwoAnalyzersFindTheSameIncidentsAsTheEmbeddedRun) {
  const auto& capture = demo_capture();
  const std::set<Found> embedded =
      detected_before(embedded_incidents(capture.config, capture.pcap), cutoff_ns());
  ASSERT_GE(embedded.size(), 5u) << describe(embedded, capture.scenario.start_ns);

  MockCluster cluster;
  cluster.create_topic("flows", kPartitions);
  const std::string& url = this->url();
  auto a = open_analyzer(analyzer_config(cluster, capture.dir.path, member("same-a"), url));
  auto b = open_analyzer(analyzer_config(cluster, capture.dir.path, member("same-b"), url));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(wait_until([&] {
    return !a->partitions().empty() && !b->partitions().empty() &&
           a->partitions().size() + b->partitions().size() == kPartitions;
  }));

  Collector collector(capture.config, cluster);
  collector.replay(capture.pcap);
  const bus::KafkaProducerStats produced = collector.finish();
  ASSERT_GT(produced.records_delivered, 0u);
  ASSERT_TRUE(wait_until(
      [&] { return a->stats().records + b->stats().records >= produced.records_delivered; },
      seconds(60)));
  EXPECT_EQ(a->stats().records + b->stats().records, produced.records_delivered);
  EXPECT_EQ(a->consumer_stats().corrupt + b->consumer_stats().corrupt, 0u);
  a->stop();
  b->stop();
  // Each analyzer analysed only its partitions' tenants and committed what it stored.
  EXPECT_GT(a->stats().commits + b->stats().commits, 0u);
  EXPECT_EQ(a->stats().unowned + b->stats().unowned, 0u);

  const std::set<Found> cluster_found = detected_before(stored_incidents(url), cutoff_ns());
  EXPECT_EQ(cluster_found.size(), embedded.size())
      << "embedded:\n"
      << describe(embedded, capture.scenario.start_ns) << "cluster:\n"
      << describe(cluster_found, capture.scenario.start_ns);
  std::set<std::string> embedded_ids;
  std::set<std::string> cluster_ids;
  for (const Found& f : embedded) embedded_ids.insert(f.id);
  for (const Found& f : cluster_found) cluster_ids.insert(f.id);
  EXPECT_EQ(cluster_ids, embedded_ids)
      << "embedded:\n"
      << describe(embedded, capture.scenario.start_ns) << "cluster:\n"
      << describe(cluster_found, capture.scenario.start_ns);
}

/// How many of `incidents` match `attack` (evaluation.h's rule: tenant, subject among the
/// parties, the expected detection or the autoencoder's, detected around the attack).
size_t matching(const TruthAttack& attack, const std::set<Found>& incidents) {
  constexpr int64_t kBefore = 60'000'000'000;
  constexpr int64_t kAfter = 600'000'000'000;
  size_t n = 0;
  for (const Found& f : incidents) {
    if (f.tenant_id != attack.tenant_id || attack.parties.count(f.subject) == 0) continue;
    if (f.detection != expected_detection(attack.type) && f.detection != "anomaly") continue;
    if (f.detected_ns >= attack.start_ns - kBefore && f.start_ns <= attack.end_ns + kAfter &&
        f.last_seen_ns >= attack.start_ns - kBefore) {
      ++n;
    }
  }
  return n;
}

TEST_P(AnalyzeRole, SurvivorTakesOverAKilledAnalyzersPartitionsWithoutDuplicatingIncidents) {
  const auto& capture = demo_capture();
  const int64_t t0 = capture.scenario.start_ns;
  const std::set<Found> embedded =
      detected_before(embedded_incidents(capture.config, capture.pcap), cutoff_ns());

  MockCluster cluster;
  cluster.create_topic("flows", kPartitions);
  const std::string& url = this->url();
  auto a = open_analyzer(analyzer_config(cluster, capture.dir.path, member("failover-a"), url));
  auto b = open_analyzer(analyzer_config(cluster, capture.dir.path, member("failover-b"), url));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(wait_until([&] {
    return !a->partitions().empty() && !b->partitions().empty() &&
           a->partitions().size() + b->partitions().size() == kPartitions;
  }));
  // The victim is the member holding more of the tenants' partitions (at least one).
  const std::set<int32_t> busy = tenant_partitions();
  auto tenants_on = [&](const ClusterAnalyzer& m) {
    size_t n = 0;
    for (int32_t p : m.partitions()) n += busy.count(p);
    return n;
  };
  const bool a_dies = tenants_on(*a) >= tenants_on(*b);
  std::unique_ptr<ClusterAnalyzer>& victim = a_dies ? a : b;
  std::unique_ptr<ClusterAnalyzer>& survivor = a_dies ? b : a;
  ASSERT_GE(tenants_on(*victim), 1u);

  // The first half, analysed by both, until the victim has committed stored results.
  Collector collector(capture.config, cluster);
  collector.replay(capture.first_half);
  ASSERT_TRUE(wait_until([&] { return victim->stats().commits >= 1; }, seconds(60)));
  const std::vector<int32_t> victim_partitions = victim->partitions();
  victim->abandon();  // as if killed: no checkpoint, no commit beyond what was stored
  ASSERT_TRUE(
      wait_until([&] { return survivor->partitions().size() == kPartitions; }, seconds(60)));

  // The second half goes to the survivor alone; it re-reads the victim's partitions from
  // their last commit.
  collector.replay(capture.second_half);
  const bus::KafkaProducerStats produced = collector.finish();
  const std::map<int32_t, int64_t> ends = end_offsets(cluster, produced.records_delivered);
  ASSERT_TRUE(wait_until([&] { return caught_up(*survivor, ends); }, seconds(60)));
  survivor->stop();

  const ClusterAnalyzerStats taken = survivor->stats();
  EXPECT_GE(taken.stages_started, kPartitions);  // its own and the victim's
  // The survivor took over the victim's tenants: their open incidents and detector state.
  EXPECT_EQ(taken.restore_failures, 0u);
  EXPECT_GE(taken.incidents_restored + taken.tenants_restored, 1u)
      << "victim owned " << victim_partitions.size() << " partition(s)";

  const std::set<Found> stored = stored_incidents(url);
  const std::set<Found> cluster_found = detected_before(stored, cutoff_ns());
  const std::string both = "embedded:\n" + describe(embedded, t0) + "cluster (failover):\n" +
                           describe(cluster_found, t0);
  // No duplicate: one incident per (tenant, detection, subject) and time, as in the embedded run.
  std::map<std::tuple<uint32_t, std::string, std::string>, int> per_key_embedded;
  std::map<std::tuple<uint32_t, std::string, std::string>, int> per_key_cluster;
  for (const Found& f : embedded) ++per_key_embedded[{f.tenant_id, f.detection, f.subject}];
  for (const Found& f : cluster_found) ++per_key_cluster[{f.tenant_id, f.detection, f.subject}];
  EXPECT_EQ(per_key_cluster, per_key_embedded) << both;
  // Every attack the embedded run finds yields exactly as many incidents (one) here.
  size_t attacks_found = 0;
  for (const TruthAttack& attack : capture.attacks) {
    if (attack.start_ns > cutoff_ns()) continue;
    const size_t e = matching(attack, embedded);
    if (e == 0) continue;
    ++attacks_found;
    EXPECT_EQ(matching(attack, cluster_found), e) << attack.id << "\n" << both;
    EXPECT_EQ(e, 1u) << attack.id << "\n" << both;
  }
  EXPECT_GE(attacks_found, 5u) << both;
}

// kafka.idle_partition_seconds: once the traffic stops, the last messages of each partition are
// committed only if the partition's time runs on with the wall clock (their windows must close
// first). Off, they wait for traffic that never comes.
TEST(SilentPartition, ItsLastMessagesAreCommittedOnlyWhenItsTimeRunsOnWithTheWallClock) {
  const auto& capture = demo_capture();
  for (const int idle_s : {0, 1}) {
    SCOPED_TRACE("kafka.idle_partition_seconds " + std::to_string(idle_s));
    MockCluster cluster;
    cluster.create_topic("flows", kPartitions);
    const std::string name = "silent-" + std::to_string(idle_s);
    Config c = analyzer_config(cluster, capture.dir.path, name,
                               "sqlite:" + capture.dir.path + "/" + name + ".db");
    c.kafka.idle_partition_seconds = idle_s;
    auto a = open_analyzer(c);
    ASSERT_TRUE(a);
    ASSERT_TRUE(wait_until([&] { return a->partitions().size() == kPartitions; }));
    Collector collector(capture.config, cluster);
    collector.replay(capture.first_half);
    const bus::KafkaProducerStats produced = collector.finish();
    const std::map<int32_t, int64_t> ends = end_offsets(cluster, produced.records_delivered);
    ASSERT_TRUE(wait_until([&] { return caught_up(*a, ends); }, seconds(60)));
    auto all_committed = [&] {
      const std::map<int32_t, int64_t> done = a->committed();
      for (const auto& [partition, end] : ends) {
        const auto it = done.find(partition);
        if (it == done.end() || it->second < end) return false;
      }
      return true;
    };
    if (idle_s == 0) {
      // Commits run every 100 ms; three seconds of none reaching the end is the point.
      std::this_thread::sleep_for(seconds(3));
      EXPECT_FALSE(all_committed());
    } else {
      EXPECT_TRUE(wait_until(all_committed, seconds(60)));
    }
    a->stop();
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, AnalyzeRole,
                         ::testing::Values(store::testing::Backend::kSqlite,
                                           store::testing::Backend::kPostgres),
                         store::testing::backend_name);

}  // namespace
}  // namespace fathom::app
