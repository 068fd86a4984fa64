// Store write throughput, both back ends, one core: Database::write of incident events (as the
// StoreWriter batches them) and of per-minute rollups.
//
// BM_IncidentWrites/<backend>/batch:N: each iteration writes one transaction of N incident
//   events, one per incident (N incidents, hosts 0..N-1), at version = iteration + 1: after the
//   first iteration every row is an update of a newer version plus one incident_updates row.
//   The JSON is rendered before timing (the writer thread renders it, not the database).
//   Checked after the run: N incident rows, each at the last version, with one update per
//   iteration.
// BM_RollupWrites/<backend>/batch:N: each iteration writes N tenants' rollups of one new
//   minute. Checked: N × iterations rows.
//
// SQLite: a fresh file in /tmp (WAL, synchronous=NORMAL). PostgreSQL: the server at
// $FATHOM_BENCH_POSTGRES_URL (a scratch database is created there and dropped), e.g.
//   scripts/start-postgres /tmp/pg
//   FATHOM_BENCH_POSTGRES_URL=$(cat /tmp/pg/url) build/release/bench/store_bench
// Without it the PostgreSQL cases report an error and are skipped. Wall time (UseRealTime):
// the server's work happens in another process. Note the test server
// runs with fsync=off: figures from it are not production commit latencies.

#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "detect/incident.h"
#include "store/store.h"

namespace fathom::store {
namespace {

constexpr int64_t kMinute = 60'000'000'000;
constexpr int64_t kT0 = 1'800'000'000'000'000'000;

std::string admin(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, sql.c_str());
    if (PQresultStatus(res) != PGRES_COMMAND_OK) error = PQresultErrorMessage(res);
    PQclear(res);
  }
  PQfinish(conn);
  return error;
}

/// A fresh database of one back end, removed at the end.
class Scratch {
 public:
  explicit Scratch(bool postgres) {
    static int counter = 0;
    const std::string tag = std::to_string(getpid()) + "_" + std::to_string(counter++);
    if (!postgres) {
      dir_ = std::filesystem::temp_directory_path() / ("fathom-store-bench-" + tag);
      std::filesystem::create_directories(dir_);
      url_ = "sqlite:" + (dir_ / "fathom.db").string();
      return;
    }
    const char* env = std::getenv("FATHOM_BENCH_POSTGRES_URL");
    if (env == nullptr || *env == '\0') {
      error_ = "set FATHOM_BENCH_POSTGRES_URL (scripts/start-postgres DIR writes one to DIR/url)";
      return;
    }
    admin_ = env;
    name_ = "fathom_bench_" + tag;
    if (std::string e = admin(admin_, "CREATE DATABASE " + name_); !e.empty()) {
      error_ = "CREATE DATABASE: " + e;
      return;
    }
    const size_t slash = admin_.rfind('/');
    url_ = admin_.substr(0, slash + 1) + name_;
  }
  ~Scratch() {
    if (!name_.empty()) admin(admin_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<Database> open() {
    if (!error_.empty()) return nullptr;
    StoreOptions o;
    o.url = url_;
    auto db = open_database(o, error_);
    return db;
  }
  const std::string& error() const { return error_; }

 private:
  std::filesystem::path dir_;
  std::string admin_, name_, url_, error_;
};

detect::IncidentEvent event(uint32_t host, uint32_t version) {
  detect::IncidentEvent e;
  detect::Incident& inc = e.incident;
  inc.tenant_id = 1 + host % 8;
  inc.type = detect::DetectionType::kHorizontalScan;
  inc.subject = flow::IpAddress::from_v4(0x0a000000u + host);
  inc.start_ns = kT0;
  inc.id = detect::incident_id(inc.tenant_id, inc.type, inc.subject, inc.start_ns);
  inc.version = version;
  e.kind = version == 1 ? detect::IncidentEventKind::kOpen : detect::IncidentEventKind::kUpdate;
  inc.last_seen_ns = kT0 + version * 2'000'000'000LL;
  inc.severity = inc.peak_severity = 55.0;
  inc.detections = version;
  inc.latest.summary = "horizontal scan from " + inc.subject.to_string();
  inc.latest.evidence = {{"distinct_peers", 1200, 1100, 1300, 100, 5},
                         {"syn_ratio", 0.97, 0.95, 0.99, 0.8, 0.1}};
  inc.latest.top_ports = {{"22", 500}, {"23", 300}, {"3389", 200}};
  return e;
}

void BM_IncidentWrites(benchmark::State& state, bool postgres) {
  const auto n = static_cast<uint32_t>(state.range(0));
  Scratch scratch(postgres);
  auto db = scratch.open();
  if (db == nullptr) {
    state.SkipWithError(scratch.error().c_str());
    return;
  }
  uint32_t version = 0;
  WriteBatch batch;
  for (auto _ : state) {
    state.PauseTiming();
    ++version;
    batch.incidents.clear();
    for (uint32_t host = 0; host < n; ++host)
      batch.incidents.push_back(to_record(event(host, version)));
    state.ResumeTiming();
    const StoreStatus s = db->write(batch);
    if (!s.ok) {
      state.SkipWithError(s.error.c_str());
      return;
    }
  }
  IncidentQuery q;
  q.limit = n + 1;
  const auto rows = db->incidents(q).value;
  const auto updates = db->incident_updates(rows.empty() ? "" : rows[0].id).value;
  if (rows.size() != n || rows[0].version != version || updates.size() != version) {
    state.SkipWithError("wrong result: incident rows, versions or updates do not match");
    return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
  state.counters["ns_per_event"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * n,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_RollupWrites(benchmark::State& state, bool postgres) {
  const auto n = static_cast<uint32_t>(state.range(0));
  Scratch scratch(postgres);
  auto db = scratch.open();
  if (db == nullptr) {
    state.SkipWithError(scratch.error().c_str());
    return;
  }
  int64_t minute = kT0;
  WriteBatch batch;
  const std::string detail = R"({"in":{"packets":{"value":600,"ci_low":550,"ci_high":650}},)"
                             R"("top_talkers":[{"key":"10.0.0.1","weight":1234}]})";
  for (auto _ : state) {
    state.PauseTiming();
    minute += kMinute;
    batch.rollups.clear();
    for (uint32_t tenant = 0; tenant < n; ++tenant) {
      batch.rollups.push_back(
          {tenant, minute, {1e6, 9e5, 1.1e6}, {1e9, 9e8, 1.1e9}, {1e4, 9e3, 1.1e4}, detail});
    }
    state.ResumeTiming();
    const StoreStatus s = db->write(batch);
    if (!s.ok) {
      state.SkipWithError(s.error.c_str());
      return;
    }
  }
  uint64_t rows = 0;
  for (uint32_t tenant = 0; tenant < n; ++tenant)
    rows += db->rollups(tenant, 0, INT64_MAX).value.size();
  if (rows != static_cast<uint64_t>(state.iterations()) * n) {
    state.SkipWithError("wrong result: rollup row count");
    return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
  state.counters["ns_per_rollup"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * n,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK_CAPTURE(BM_IncidentWrites, sqlite, false)
    ->UseRealTime()
    ->ArgName("batch")
    ->Arg(1)
    ->Arg(100)
    ->Arg(1000);
BENCHMARK_CAPTURE(BM_IncidentWrites, postgres, true)
    ->UseRealTime()
    ->ArgName("batch")
    ->Arg(1)
    ->Arg(100)
    ->Arg(1000);
BENCHMARK_CAPTURE(BM_RollupWrites, sqlite, false)
    ->UseRealTime()
    ->ArgName("batch")
    ->Arg(100)
    ->Arg(1000);
BENCHMARK_CAPTURE(BM_RollupWrites, postgres, true)
    ->UseRealTime()
    ->ArgName("batch")
    ->Arg(100)
    ->Arg(1000);

}  // namespace
}  // namespace fathom::store

BENCHMARK_MAIN();
