// `fathom api`'s service (app/api_service.h, start_store_only) over real HTTP on loopback,
// serving a store filled through the real StoreWriter: SQLite, the PostgreSQL server of the
// ctest fixture (store_postgres), and a private PostgreSQL server killed and restarted.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/auth.h"
#include "app/api_service.h"
#include "app/clock.h"
#include "app/config.h"
#include "store/store.h"
#include "store/store_test_support.h"
#include "store/writer.h"
#include "temp_dir.h"

// Last: httplib includes <resolv.h>, whose `_res` macro breaks Eigen (through app/config.h).
#include <httplib.h>

namespace fathom::app {
namespace {

using nlohmann::json;
using store::testing::Backend;
using store::testing::make_event;
using store::testing::PrivateServer;
using store::testing::ScratchDatabase;

constexpr int64_t kMinuteNs = 60'000'000'000;
const std::string kAdminToken = "admin-token-0123456789abcdef";
const std::string kGlobexToken = "globex-token-0123456789abcdef";

/// A reply: status and, when the body is JSON, the body.
struct Answer {
  int status = 0;
  json body;
};

class Client {
 public:
  explicit Client(uint16_t port) : http_("127.0.0.1", port) {
    http_.set_connection_timeout(std::chrono::seconds(5));
    http_.set_read_timeout(std::chrono::seconds(30));
  }
  Answer get(const std::string& path, const std::string& token = kAdminToken) {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    const httplib::Result r = http_.Get(path.c_str(), headers);
    if (!r) return {};
    return {r->status, json::parse(r->body, nullptr, false)};
  }

 private:
  httplib::Client http_;
};

Config api_config(const std::string& url, const std::string& data_dir) {
  Config config;
  config.data_dir = data_dir;
  config.store.url = url;
  config.store.options.connect_timeout_s = 2;
  config.api.listen = {"127.0.0.1", 0};
  config.api.tokens = {{"root", api::sha256_hex(kAdminToken), true, 0},
                       {"globex-noc", api::sha256_hex(kGlobexToken), false, 2}};
  return config;
}

store::Rollup rollup(uint32_t tenant, int64_t minute_ns, double packets) {
  store::Rollup r;
  r.tenant_id = tenant;
  r.minute_ns = minute_ns;
  r.packets = {packets, packets * 0.9, packets * 1.1};
  r.bytes = {packets * 1000.0, packets * 900.0, packets * 1100.0};
  r.flows = {packets / 10.0, packets / 11.0, packets / 9.0};
  return r;
}

/// What the filled store holds, for the checks.
struct Filled {
  std::string low_id;       ///< acme, open, low
  std::string critical_id;  ///< acme, open, critical
  std::string closed_id;    ///< globex, closed
  int64_t latest_minute_ns = 0;
  size_t acme_minutes = 0;  ///< acme's rollups in the last 15 minutes
};

/// Fills the store the way the analyzers do: through a StoreWriter, flushed.
Filled fill(const store::StoreOptions& options) {
  Filled f;
  const int64_t now = wall_clock_ns();
  const int64_t start = now - 30 * kMinuteNs;
  std::string error;
  auto writer = store::StoreWriter::start(options, store::StoreWriterOptions{}, error);
  EXPECT_NE(writer, nullptr) << error;
  if (!writer) return f;

  std::vector<detect::IncidentEvent> events;
  events.push_back(make_event(1, 1, 1, start));  // severity 10: low
  f.low_id = events.back().incident.id;
  detect::IncidentEvent critical = make_event(1, 2, 1, start + kMinuteNs);
  critical.incident.severity = critical.incident.peak_severity = 95.0;
  f.critical_id = critical.incident.id;
  events.push_back(critical);
  events.push_back(make_event(2, 3, 1, start));
  events.push_back(make_event(2, 3, 2, start, /*closed=*/true));
  f.closed_id = events.back().incident.id;
  EXPECT_TRUE(writer->submit_incidents(events));

  // The low incident's subject (10.0.0.1) kept one raw flow after its detection.
  store::SampledFlow flow;
  flow.tenant_id = 1;
  flow.subject = "10.0.0.1";
  flow.time_ns = start + 5'000'000'000;
  flow.json = json{{"exporter", "192.0.2.1"},
                   {"src", "203.0.113.9"},
                   {"src_port", 4444},
                   {"dst", "10.0.0.1"},
                   {"dst_port", 80},
                   {"proto", 6},
                   {"packets", 1},
                   {"bytes", 60},
                   {"tcp_flags", 2},
                   {"sampling_rate", 100},
                   {"direction", "inbound"}}
                  .dump();
  EXPECT_TRUE(writer->submit_flows({flow}));

  // acme: the ten whole minutes before the current one; globex: none.
  const int64_t current_minute = now - now % kMinuteNs;
  std::vector<store::Rollup> rollups;
  for (int m = 10; m >= 1; --m) {
    rollups.push_back(rollup(1, current_minute - m * kMinuteNs, 6000.0 + m));
  }
  f.latest_minute_ns = current_minute - kMinuteNs;
  f.acme_minutes = 10;
  EXPECT_TRUE(writer->submit_rollups(rollups));
  const std::vector<store::TenantRecord> tenants = {{1, "acme", start, now},
                                                    {2, "globex", start, now}};
  EXPECT_TRUE(writer->submit_tenants(tenants));
  const std::vector<store::ExporterRecord> exporters = {
      {"192.0.2.1", 1, "ipfix", start, now, 100, 4000, 1},
      {"192.0.2.2", 2, "netflow_v9", start, now, 50, 900, 0}};
  EXPECT_TRUE(writer->submit_exporters(exporters));
  EXPECT_TRUE(writer->flush(std::chrono::seconds(30)));
  EXPECT_EQ(writer->stats().dropped_failed, 0u);
  writer->stop();
  return f;
}

std::vector<uint32_t> ids_of(const json& list, const char* key = "id") {
  std::vector<uint32_t> ids;
  if (!list.is_array()) return ids;
  for (const json& o : list) ids.push_back(o.value(key, 0u));
  return ids;
}

class ApiRole : public ::testing::TestWithParam<Backend> {};

TEST_P(ApiRole, ServesTheStoreOverHttp) {
  ScratchDatabase db(GetParam());
  if (!db.skip_reason().empty()) {
    GTEST_SKIP() << "\n*** PostgreSQL test SKIPPED: " << db.skip_reason() << " ***\n";
  }
  const Filled filled = fill(db.options());
  ASSERT_FALSE(filled.low_id.empty());
  testing::TempDir dir("api-role");
  std::string error;
  auto service = ApiService::create(api_config(db.url(), dir.path), error);
  ASSERT_NE(service, nullptr) << error;
  ASSERT_TRUE(service->start_store_only({"127.0.0.1", 0}, error)) << error;
  Client client(service->port());

  // No token, a wrong one.
  EXPECT_EQ(client.get("/api/v1/tenants", "").status, 401);
  EXPECT_EQ(client.get("/api/v1/incidents", "not-a-token-at-all").status, 401);

  // Tenants: only from the store (none is configured), with what fathom run takes from its
  // live state read from the store instead.
  Answer tenants = client.get("/api/v1/tenants");
  ASSERT_EQ(tenants.status, 200) << tenants.body;
  ASSERT_EQ(ids_of(tenants.body["tenants"]), (std::vector<uint32_t>{1, 2})) << tenants.body;
  const json& acme = tenants.body["tenants"][0];
  EXPECT_EQ(acme["name"], "acme");
  EXPECT_EQ(acme["open_incidents"]["total"], 2);
  EXPECT_EQ(acme["open_incidents"]["low"], 1);
  EXPECT_EQ(acme["open_incidents"]["critical"], 1);
  EXPECT_EQ(acme["exporters"], 1);
  EXPECT_TRUE(acme["sampling"].is_null()) << acme;
  ASSERT_TRUE(acme["traffic"].is_object()) << acme;
  EXPECT_EQ(acme["traffic"]["window_s"], 60.0);
  EXPECT_EQ(acme["traffic"]["end_ms"], (filled.latest_minute_ns + kMinuteNs) / 1'000'000);
  EXPECT_DOUBLE_EQ(acme["traffic"]["pps"]["value"].get<double>(), 6001.0 / 60.0);
  const json& globex = tenants.body["tenants"][1];
  EXPECT_EQ(globex["open_incidents"]["total"], 0);
  EXPECT_TRUE(globex["traffic"].is_null()) << globex;

  // Incidents, newest start first, and one with its history and flows.
  Answer incidents = client.get("/api/v1/incidents");
  ASSERT_EQ(incidents.status, 200) << incidents.body;
  EXPECT_EQ(incidents.body["total"], 3);
  Answer open = client.get("/api/v1/tenants/1/incidents?state=open&severity=critical");
  ASSERT_EQ(open.status, 200) << open.body;
  ASSERT_EQ(open.body["incidents"].size(), 1u);
  EXPECT_EQ(open.body["incidents"][0]["id"], filled.critical_id);
  Answer one = client.get("/api/v1/tenants/1/incidents/" + filled.low_id);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.body["subject"], "10.0.0.1");
  EXPECT_EQ(one.body["history"].size(), 1u);
  ASSERT_EQ(one.body["flows"].size(), 1u) << one.body;
  EXPECT_EQ(one.body["flows"][0]["src"], "203.0.113.9");
  EXPECT_EQ(one.body["flows"][0]["dst_port"], 80);
  EXPECT_EQ(one.body["evidence"][0]["name"], "syn_packets_per_s");
  Answer closed = client.get("/api/v1/tenants/2/incidents/" + filled.closed_id);
  ASSERT_EQ(closed.status, 200) << closed.body;
  EXPECT_EQ(closed.body["state"], "closed");
  EXPECT_EQ(closed.body["history"].size(), 2u);

  // Traffic from the rollups: no live windows here, so even a short span is in minutes.
  Answer traffic = client.get("/api/v1/tenants/1/traffic?from=-15m");
  ASSERT_EQ(traffic.status, 200) << traffic.body;
  EXPECT_EQ(traffic.body["source"], "rollups");
  EXPECT_EQ(traffic.body["step_s"], 60.0);
  const json& points = traffic.body["series"][0]["points"];
  ASSERT_EQ(points.size(), filled.acme_minutes) << traffic.body;
  EXPECT_EQ(points.back()["t_ms"], filled.latest_minute_ns / 1'000'000);
  EXPECT_DOUBLE_EQ(points.back()["bps"]["value"].get<double>(), 6001.0 * 1000.0 * 8.0 / 60.0);
  Answer five = client.get("/api/v1/tenants/1/traffic?from=-15m&step=5m");
  ASSERT_EQ(five.status, 200) << five.body;
  EXPECT_EQ(five.body["step_s"], 300.0);
  Answer live_step = client.get("/api/v1/tenants/1/traffic?step=10s");
  EXPECT_EQ(live_step.status, 400) << live_step.body;
  EXPECT_NE(live_step.body.dump().find("fathom api"), std::string::npos) << live_step.body;
  Answer top = client.get("/api/v1/tenants/1/top?kind=sources");
  ASSERT_EQ(top.status, 200) << top.body;
  EXPECT_EQ(top.body["source"], "rollups");

  // What only the other roles hold: a specific answer, not made-up figures.
  Answer sampling = client.get("/api/v1/tenants/1/sampling");
  EXPECT_EQ(sampling.status, 503) << sampling.body;
  EXPECT_NE(sampling.body.dump().find("collectors"), std::string::npos) << sampling.body;
  Answer health = client.get("/api/v1/health");
  ASSERT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(health.body["status"], "ok") << health.body;
  EXPECT_EQ(health.body["role"], "api");
  EXPECT_TRUE(health.body["ingest"].is_null());
  EXPECT_TRUE(health.body["analysis"].is_null());
  EXPECT_EQ(health.body["store"]["up"], true);
  EXPECT_EQ(health.body["store"]["backend"],
            GetParam() == Backend::kSqlite ? "sqlite" : "postgresql");
  Answer exporters = client.get("/api/v1/exporters");
  ASSERT_EQ(exporters.status, 200) << exporters.body;
  ASSERT_EQ(exporters.body["exporters"].size(), 2u);
  EXPECT_EQ(exporters.body["exporters"][0]["status"], "silent");
  EXPECT_EQ(exporters.body["exporters"][0]["live"], false);

  // A tenant token sees its tenant only; another tenant is a 404, as one that does not exist.
  Answer mine = client.get("/api/v1/tenants", kGlobexToken);
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(ids_of(mine.body["tenants"]), (std::vector<uint32_t>{2}));
  Answer my_incidents = client.get("/api/v1/incidents", kGlobexToken);
  ASSERT_EQ(my_incidents.status, 200);
  EXPECT_EQ(my_incidents.body["total"], 1);
  EXPECT_EQ(my_incidents.body["incidents"][0]["id"], filled.closed_id);
  EXPECT_EQ(client.get("/api/v1/tenants/1", kGlobexToken).status, 404);
  EXPECT_EQ(client.get("/api/v1/tenants/1/incidents/" + filled.low_id, kGlobexToken).status, 404);
  EXPECT_EQ(client.get("/api/v1/incidents?tenant=1", kGlobexToken).status, 404);
  EXPECT_EQ(client.get("/api/v1/tenants/1/traffic", kGlobexToken).status, 404);
  EXPECT_EQ(client.get("/api/v1/tenants/3").status, 404);  // the store does not know it

  const api::RestApiStats stats = service->stats();
  EXPECT_TRUE(stats.store_up);
  EXPECT_GE(stats.store_connections_opened, 1u);
  service->stop();
}

INSTANTIATE_TEST_SUITE_P(Backends, ApiRole, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         store::testing::backend_name);

TEST(ApiRoleStore, DeadServerIsA503NotAHang) {
  testing::TempDir dir("api-role-dead");
  std::string error;
  auto service =
      ApiService::create(api_config("postgresql://fathom@127.0.0.1:1/fathom", dir.path), error);
  ASSERT_NE(service, nullptr) << error;
  ASSERT_TRUE(service->start_store_only({"127.0.0.1", 0}, error)) << error;
  Client client(service->port());
  for (const char* path : {"/api/v1/tenants", "/api/v1/incidents", "/api/v1/exporters",
                           "/api/v1/tenants/1", "/api/v1/tenants/1/traffic"}) {
    const Answer a = client.get(path);
    EXPECT_EQ(a.status, 503) << path << " " << a.body;
    EXPECT_EQ(a.body["error"]["code"], "unavailable") << path;
  }
  const Answer health = client.get("/api/v1/health");
  ASSERT_EQ(health.status, 200);
  EXPECT_EQ(health.body["status"], "degraded");
  EXPECT_EQ(health.body["store"]["up"], false);
  EXPECT_EQ(client.get("/api/v1/me").status, 200);  // needs no store
  EXPECT_FALSE(service->probe_store(error));
  EXPECT_FALSE(service->stats().store_up);
  EXPECT_GE(service->stats().store_connect_failures, 1u);
  service->stop();
}

TEST(ApiRoleStore, AnswersUnavailableWhileTheServerIsDownAndRecovers) {
  PrivateServer server;
  if (server.url().empty()) {
    GTEST_SKIP() << "\n*** PostgreSQL test SKIPPED: " << server.error() << " ***\n";
  }
  store::StoreOptions options;
  options.url = server.url();
  options.connect_timeout_s = 2;
  const Filled filled = fill(options);
  ASSERT_FALSE(filled.low_id.empty());
  testing::TempDir dir("api-role-down");
  std::string error;
  auto service = ApiService::create(api_config(server.url(), dir.path), error);
  ASSERT_NE(service, nullptr) << error;
  ASSERT_TRUE(service->start_store_only({"127.0.0.1", 0}, error)) << error;
  Client client(service->port());
  // Several requests at once would each keep a connection; two in a row keep one idle.
  ASSERT_EQ(client.get("/api/v1/incidents").status, 200);
  ASSERT_EQ(client.get("/api/v1/tenants").status, 200);

  server.kill();
  for (const char* path : {"/api/v1/incidents", "/api/v1/tenants", "/api/v1/incidents",
                           "/api/v1/tenants/1/incidents/" /* + id below */}) {
    std::string p = path;
    if (p.back() == '/') p += filled.low_id;
    const Answer a = client.get(p);
    EXPECT_EQ(a.status, 503) << p << " " << a.body;
  }
  EXPECT_EQ(client.get("/api/v1/health").body["status"], "degraded");

  ASSERT_TRUE(server.start()) << server.error();
  // The first request after the restart already succeeds: no dead pooled connection is reused.
  const Answer back = client.get("/api/v1/incidents");
  EXPECT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(back.body["total"], 3);
  EXPECT_EQ(client.get("/api/v1/tenants").status, 200);
  EXPECT_TRUE(service->probe_store(error)) << error;
  service->stop();
}

}  // namespace
}  // namespace fathom::app
