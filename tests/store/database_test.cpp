// The same suite against SQLite and PostgreSQL (INSTANTIATE_TEST_SUITE_P at the bottom).

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <sstream>

#include "store/store.h"
#include "store_test_support.h"

namespace fathom::store {
namespace {

using testing::Backend;
using testing::make_event;
using testing::ScratchDatabase;

constexpr int64_t kMinute = 60'000'000'000;
constexpr int64_t kT0 = 1'800'000'000'000'000'000;  // 2027-01-15, a fixed "now"

class DatabaseTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    scratch_ = std::make_unique<ScratchDatabase>(GetParam());
    if (!scratch_->skip_reason().empty()) {
      GTEST_SKIP() << "\n*** PostgreSQL tests SKIPPED: " << scratch_->skip_reason() << " ***\n";
    }
    db_ = open(scratch_->options());
    ASSERT_NE(db_, nullptr);
  }
  void TearDown() override {
    db_.reset();
    scratch_.reset();
  }

  static std::unique_ptr<Database> open(const StoreOptions& options) {
    std::string error;
    auto db = open_database(options, error);
    EXPECT_NE(db, nullptr) << error;
    return db;
  }

  std::vector<IncidentRecord> all_incidents() {
    IncidentQuery q;
    q.limit = 100'000;
    auto [status, rows] = db_->incidents(q);
    EXPECT_TRUE(status.ok) << status.error;
    return rows;
  }

  std::unique_ptr<ScratchDatabase> scratch_;
  std::unique_ptr<Database> db_;
};

TEST_P(DatabaseTest, MigratesFromEmptyAndReopensIdempotently) {
  auto [status, version] = db_->schema_version();
  ASSERT_TRUE(status.ok) << status.error;
  EXPECT_GE(version, 1);
  EXPECT_EQ(db_->backend(), GetParam() == Backend::kSqlite ? "sqlite" : "postgresql");
  ASSERT_TRUE(db_->write_incident_events(std::vector{make_event(1, 1, 1, kT0)}).ok);
  db_.reset();
  for (int reopen = 0; reopen < 2; ++reopen) {
    db_ = open(scratch_->options());
    ASSERT_NE(db_, nullptr);
    ASSERT_TRUE(db_->migrate().ok);
    auto [again_status, again] = db_->schema_version();
    EXPECT_EQ(again, version);
    EXPECT_EQ(all_incidents().size(), 1u);  // migrations kept the data
  }
  std::ostringstream out;
  ASSERT_TRUE(db_->export_jsonl(out).status.ok);
  const std::string text = out.str();
  size_t migration_rows = 0;
  for (size_t at = 0; (at = text.find("\"table\":\"schema_migrations\"", at)) != std::string::npos;
       ++at) {
    ++migration_rows;
  }
  EXPECT_EQ(migration_rows, static_cast<size_t>(version));
}

TEST_P(DatabaseTest, SameEventTwiceIsStoredOnce) {
  const auto e = make_event(1, 5, 1, kT0);
  ASSERT_TRUE(db_->write_incident_events(std::vector{e}).ok);
  ASSERT_TRUE(db_->write_incident_events(std::vector{e, e}).ok);
  const auto rows = all_incidents();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], to_record(e));
  auto [status, updates] = db_->incident_updates(e.incident.id);
  ASSERT_TRUE(status.ok) << status.error;
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].json, to_record(e).json);
  EXPECT_EQ(updates[0].event, "open");
}

TEST_P(DatabaseTest, OlderVersionAfterNewerChangesNothing) {
  const auto v3 = make_event(2, 7, 3, kT0, /*closed=*/true);
  const auto v2 = make_event(2, 7, 2, kT0);
  ASSERT_TRUE(db_->write_incident_events(std::vector{v3}).ok);
  ASSERT_TRUE(db_->write_incident_events(std::vector{v2}).ok);
  const auto rows = all_incidents();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].version, 3u);
  EXPECT_EQ(rows[0].state, "closed");
  EXPECT_EQ(rows[0].event, "close");
  EXPECT_EQ(rows[0].severity, 30.0);
  auto [status, updates] = db_->incident_updates(v3.incident.id);
  ASSERT_EQ(updates.size(), 2u);  // history keeps both versions, by version
  EXPECT_EQ(updates[0].version, 2u);
  EXPECT_EQ(updates[1].version, 3u);
}

TEST_P(DatabaseTest, ReplayOfAWholeStreamStoresEachIncidentOnceAtItsHighestVersion) {
  std::vector<detect::IncidentEvent> stream;
  std::map<std::string, uint32_t> highest;
  for (uint32_t host = 0; host < 40; ++host) {
    const uint32_t versions = 1 + host % 4;
    for (uint32_t v = 1; v <= versions; ++v) {
      stream.push_back(make_event(1 + host % 3, host, v, kT0 + host * kMinute, v == versions));
      highest[stream.back().incident.id] = v;
    }
  }
  for (size_t at = 0; at < stream.size(); at += 7) {
    const size_t n = std::min<size_t>(7, stream.size() - at);
    ASSERT_TRUE(db_->write_incident_events(std::span(stream).subspan(at, n)).ok);
  }
  // The whole stream again, shuffled (a spool replayed after a partial write).
  std::mt19937 rng(42);
  std::shuffle(stream.begin(), stream.end(), rng);
  ASSERT_TRUE(db_->write_incident_events(stream).ok);
  const auto rows = all_incidents();
  ASSERT_EQ(rows.size(), highest.size());
  for (const IncidentRecord& r : rows) {
    EXPECT_EQ(r.version, highest.at(r.id)) << r.id;
    EXPECT_EQ(r.state, "closed");
    auto [status, updates] = db_->incident_updates(r.id);
    EXPECT_EQ(updates.size(), r.version) << r.id;
  }
}

TEST_P(DatabaseTest, IncidentQueryFilters) {
  std::vector<detect::IncidentEvent> events;
  for (uint32_t host = 0; host < 10; ++host) {
    events.push_back(
        make_event(1 + host % 2, host, host % 3 == 0 ? 2 : 1, kT0 + host * kMinute, host % 3 == 0));
  }
  ASSERT_TRUE(db_->write_incident_events(events).ok);
  IncidentQuery q;
  q.tenant_id = 1;
  auto [s1, tenant1] = db_->incidents(q);
  ASSERT_TRUE(s1.ok) << s1.error;
  ASSERT_EQ(tenant1.size(), 5u);
  for (size_t i = 1; i < tenant1.size(); ++i) {
    EXPECT_GT(tenant1[i - 1].start_ns, tenant1[i].start_ns);  // newest first
  }
  q = {};
  q.state = detect::IncidentState::kClosed;
  EXPECT_EQ(db_->incidents(q).value.size(), 4u);  // hosts 0, 3, 6, 9
  q = {};
  q.since_ns = kT0 + 5 * kMinute;  // last_seen = start + 10 s × version
  q.until_ns = kT0 + 8 * kMinute;
  EXPECT_EQ(db_->incidents(q).value.size(), 3u);  // hosts 5, 6, 7
  q = {};
  q.limit = 3;
  q.offset = 2;
  const auto page = db_->incidents(q).value;
  ASSERT_EQ(page.size(), 3u);
  EXPECT_EQ(page[0].start_ns, kT0 + 7 * kMinute);
}

TEST_P(DatabaseTest, RollupsUpsertByTenantAndMinute) {
  Rollup r;
  r.tenant_id = 3;
  r.minute_ns = kT0;
  r.packets = {1000, 900, 1100};
  r.bytes = {1.5e6, 1.2e6, 1.8e6};
  r.flows = {10, 8, 12};
  r.detail_json = R"({"in":{"packets":600},"out":{"packets":400}})";
  Rollup next = r;
  next.minute_ns += kMinute;
  ASSERT_TRUE(db_->write_rollups(std::vector{r, next}).ok);
  r.packets = {2000.25, 1900.125, 2100.0625};
  r.detail_json = "{}";
  ASSERT_TRUE(db_->write_rollups(std::vector{r}).ok);
  auto [status, rows] = db_->rollups(3, kT0, kT0 + 10 * kMinute);
  ASSERT_TRUE(status.ok) << status.error;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], r);
  EXPECT_EQ(rows[1], next);
  EXPECT_EQ(db_->rollups(3, kT0 + kMinute, kT0 + 2 * kMinute).value.size(), 1u);
  // An interval that could not be computed (NaN) reads back as NaN on both back ends.
  Rollup unknown = next;
  unknown.minute_ns += kMinute;
  unknown.flows.ci_high = std::numeric_limits<double>::quiet_NaN();
  ASSERT_TRUE(db_->write_rollups(std::vector{unknown}).ok);
  const auto with_nan = db_->rollups(3, unknown.minute_ns, unknown.minute_ns + 1).value;
  ASSERT_EQ(with_nan.size(), 1u);
  EXPECT_TRUE(std::isnan(with_nan[0].flows.ci_high));
  EXPECT_EQ(with_nan[0].flows.ci_low, unknown.flows.ci_low);
  EXPECT_TRUE(db_->rollups(4, kT0, kT0 + 10 * kMinute).value.empty());
}

TEST_P(DatabaseTest, TenantsAndExportersMergeAsSeen) {
  ASSERT_TRUE(db_->upsert_tenants(std::vector<TenantRecord>{{1, "acme", 100, 200}}).ok);
  ASSERT_TRUE(db_->upsert_tenants(std::vector<TenantRecord>{{1, "", 50, 150}, {2, "b", 1, 2}}).ok);
  auto [ts, tenants] = db_->tenants();
  ASSERT_TRUE(ts.ok) << ts.error;
  ASSERT_EQ(tenants.size(), 2u);
  EXPECT_EQ(tenants[0], (TenantRecord{1, "acme", 50, 200}));

  const ExporterRecord newer{"10.0.0.1", 1, "ipfix", 100, 300, 50, 5000, 1};
  const ExporterRecord older{"10.0.0.1", 9, "netflow_v9", 20, 200, 40, 4000, 0};
  ASSERT_TRUE(db_->upsert_exporters(std::vector{newer}).ok);
  ASSERT_TRUE(db_->upsert_exporters(std::vector{older}).ok);  // a replay: counters stay
  auto [es, exporters] = db_->exporters();
  ASSERT_TRUE(es.ok) << es.error;
  ASSERT_EQ(exporters.size(), 1u);
  ExporterRecord want = newer;
  want.first_seen_ns = 20;
  EXPECT_EQ(exporters[0], want);
}

TEST_P(DatabaseTest, StateBlobsRoundTripBinaryBytes) {
  std::string blob;
  for (int rep = 0; rep < 3; ++rep) {
    for (int b = 0; b < 256; ++b) blob += static_cast<char>(b);  // NUL, 0x80.., 0xff
  }
  ASSERT_TRUE(db_->put_state(7, "model/autoencoder", blob, 100).ok);
  ASSERT_TRUE(db_->put_state(7, "empty", std::string_view(), 100).ok);
  ASSERT_TRUE(db_->put_state(8, "model/autoencoder", "other", 100).ok);
  auto [s, got] = db_->get_state(7, "model/autoencoder");
  ASSERT_TRUE(s.ok) << s.error;
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, blob);
  auto [s_empty, empty] = db_->get_state(7, "empty");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(*empty, "");
  EXPECT_FALSE(db_->get_state(7, "missing").value.has_value());

  ASSERT_TRUE(db_->put_state(7, "model/autoencoder", "stale", 50).ok);  // older: ignored
  EXPECT_EQ(*db_->get_state(7, "model/autoencoder").value, blob);
  ASSERT_TRUE(db_->put_state(7, "model/autoencoder", std::string("a\0b", 3), 200).ok);
  EXPECT_EQ(*db_->get_state(7, "model/autoencoder").value, std::string("a\0b", 3));

  auto [sl, list] = db_->list_state(7);
  ASSERT_TRUE(sl.ok) << sl.error;
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].key, "empty");
  EXPECT_EQ(list[1].value, std::string("a\0b", 3));
  EXPECT_EQ(list[1].updated_ns, 200);
}

TEST_P(DatabaseTest, PruneDeletesWhatIsPastRetention) {
  StoreOptions options = scratch_->options();
  options.rollup_retention_ns = 10 * kMinute;
  options.incident_retention_ns = 100 * kMinute;
  db_ = open(options);
  ASSERT_NE(db_, nullptr);
  std::vector<Rollup> rollups;
  for (int m = 0; m < 30; ++m) rollups.push_back({1, kT0 + m * kMinute, {}, {}, {}, "{}"});
  ASSERT_TRUE(db_->write_rollups(rollups).ok);
  // Closed long ago (pruned, with its 3 updates), closed recently, open long ago (kept).
  std::vector<detect::IncidentEvent> events;
  for (uint32_t v = 1; v <= 3; ++v) events.push_back(make_event(1, 1, v, kT0, v == 3));
  events.push_back(make_event(1, 2, 2, kT0 + 150 * kMinute, true));
  events.push_back(make_event(1, 3, 1, kT0));
  ASSERT_TRUE(db_->write_incident_events(events).ok);

  const int64_t now = kT0 + 200 * kMinute;
  auto [status, removed] = db_->prune(now);
  ASSERT_TRUE(status.ok) << status.error;
  EXPECT_EQ(removed.rollups, 30u);
  EXPECT_EQ(removed.incidents, 1u);
  EXPECT_EQ(removed.incident_updates, 3u);
  EXPECT_EQ(all_incidents().size(), 2u);
  EXPECT_TRUE(db_->incident_updates(events[0].incident.id).value.empty());

  // Rollups inside the window stay.
  ASSERT_TRUE(db_->write_rollups(std::vector<Rollup>{{1, now - kMinute, {}, {}, {}, "{}"}}).ok);
  EXPECT_EQ(db_->prune(now).value.rollups, 0u);
  EXPECT_EQ(db_->rollups(1, 0, INT64_MAX).value.size(), 1u);
  EXPECT_TRUE(db_->vacuum().ok);
}

// Incidents' sampled flows: by tenant, subject and time, oldest first, a replay adds nothing,
// and retention removes those older than the incidents' cut.
TEST_P(DatabaseTest, SampledFlowsAreKeptOnceAndPrunedWithIncidents) {
  StoreOptions options = scratch_->options();
  options.incident_retention_ns = 100 * kMinute;
  db_ = open(options);
  ASSERT_NE(db_, nullptr);
  WriteBatch batch;
  batch.flows = {{1, "10.0.0.5", kT0 + 2 * kMinute, R"({"src_port":2})"},
                 {1, "10.0.0.5", kT0 + kMinute, R"({"src_port":1})"},
                 {1, "10.0.0.5", kT0 + kMinute, R"({"src_port":3})"},  // same time, other flow
                 {1, "10.0.0.6", kT0 + kMinute, R"({"src_port":4})"},
                 {2, "10.0.0.5", kT0 + kMinute, R"({"src_port":5})"},
                 {1, "10.0.0.5", kT0 + 300 * kMinute, R"({"src_port":6})"}};
  ASSERT_TRUE(db_->write(batch).ok);
  ASSERT_TRUE(db_->write(batch).ok);  // replayed
  auto [status, flows] = db_->sampled_flows(1, "10.0.0.5", kT0, kT0 + 10 * kMinute, 100);
  ASSERT_TRUE(status.ok) << status.error;
  ASSERT_EQ(flows.size(), 3u);
  EXPECT_EQ(flows[0].time_ns, kT0 + kMinute);
  EXPECT_EQ(flows[2].json, R"({"src_port":2})");
  EXPECT_EQ(db_->sampled_flows(1, "10.0.0.5", kT0, kT0 + 10 * kMinute, 1).value.size(), 1u);
  EXPECT_TRUE(db_->sampled_flows(3, "10.0.0.5", 0, INT64_MAX, 100).value.empty());

  auto [pruned_status, removed] = db_->prune(kT0 + 200 * kMinute);
  ASSERT_TRUE(pruned_status.ok) << pruned_status.error;
  EXPECT_EQ(removed.flows, 5u);
  auto [after_status, left] = db_->sampled_flows(1, "10.0.0.5", 0, INT64_MAX, 100);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].json, R"({"src_port":6})");
}

TEST_P(DatabaseTest, ExportWritesEveryTableAsJsonLines) {
  ASSERT_TRUE(db_->write_incident_events(std::vector{make_event(1, 1, 1, kT0)}).ok);
  ASSERT_TRUE(db_->write_rollups(std::vector<Rollup>{{1, kT0, {1, 0.5, 1.5}, {}, {}, "{}"}}).ok);
  ASSERT_TRUE(db_->upsert_tenants(std::vector<TenantRecord>{{1, "acme", 1, 2}}).ok);
  ASSERT_TRUE(db_->upsert_exporters(std::vector<ExporterRecord>{{"10.0.0.1", 1, "ipfix"}}).ok);
  ASSERT_TRUE(db_->put_state(1, "k", std::string("\x00\xff", 2), 1).ok);
  std::ostringstream out;
  auto [status, lines] = db_->export_jsonl(out);
  ASSERT_TRUE(status.ok) << status.error;
  auto [vs, version] = db_->schema_version();
  EXPECT_EQ(lines, static_cast<uint64_t>(version) + 6);  // + incident, update, rollup, ...
  std::istringstream in(out.str());
  std::map<std::string, int> per_table;
  for (std::string line; std::getline(in, line);) {
    ASSERT_TRUE(line.starts_with("{\"table\":\"")) << line;
    ASSERT_TRUE(line.ends_with("}}")) << line;
    per_table[line.substr(10, line.find('"', 10) - 10)]++;
  }
  EXPECT_EQ(per_table["incidents"], 1);
  EXPECT_EQ(per_table["incident_updates"], 1);
  EXPECT_EQ(per_table["rollups"], 1);
  EXPECT_EQ(per_table["tenants"], 1);
  EXPECT_EQ(per_table["exporters"], 1);
  EXPECT_EQ(per_table["tenant_state"], 1);
  EXPECT_NE(out.str().find(R"("key":"k","value":"00ff","updated_ns":1)"), std::string::npos);
  EXPECT_NE(out.str().find(R"("packets":1,"packets_ci_low":0.5,)"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         testing::backend_name);

}  // namespace
}  // namespace fathom::store
