// The REST API of docs/api.md against a real SQLite store and a fixed snapshot: every
// endpoint, the token rules, and hostile parameters.
#include "api/rest_api.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <random>

#include <nlohmann/json.hpp>

#include "api/params.h"
#include "detect/incident.h"

namespace fathom::api {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1'796'635'000'000'000'000;  // 2026-12-07T09:16:40Z
constexpr int64_t kMinute = 60'000'000'000;

detect::IncidentEvent event(uint32_t tenant, uint32_t host, detect::DetectionType type,
                            double severity, bool anomaly_evidence = false) {
  detect::IncidentEvent e;
  detect::Incident& inc = e.incident;
  inc.tenant_id = tenant;
  inc.type = type;
  inc.subject = flow::IpAddress::from_v4(0x0a000000u + host);
  inc.start_ns = kNow - 10 * kMinute;
  inc.id = detect::incident_id(tenant, type, inc.subject, inc.start_ns);
  inc.version = 1;
  inc.state = detect::IncidentState::kOpen;
  e.kind = detect::IncidentEventKind::kOpen;
  inc.last_seen_ns = kNow - kMinute;
  inc.detected_ns = inc.start_ns + 10'000'000'000;
  inc.severity = severity;
  inc.peak_severity = severity;
  inc.detections = 3;
  inc.latest.summary = "incident of host " + std::to_string(host);
  if (anomaly_evidence) {
    inc.latest.evidence.push_back({"anomaly_score", 7.5, 7.5, 7.5, 5.0, 0.0});
    inc.latest.evidence.push_back({"distinct_ports", 40, 40, 40, std::nan(""), 3});
  } else {
    inc.latest.evidence.push_back({"syn_packets_per_s", 1000.0, 900.0, 1100.0, 500.0, 10});
  }
  return e;
}

class RestApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("fathom-rest-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store::StoreOptions so;
    so.url = "sqlite:" + (dir_ / "fathom.db").string();
    std::string error;
    auto db = store::open_database(so, error);
    ASSERT_TRUE(db) << error;
    std::vector<detect::IncidentEvent> events = {
        event(1, 5, detect::DetectionType::kSynFlood, 95),
        event(1, 6, detect::DetectionType::kAnomaly, 50, true),
        event(2, 7, detect::DetectionType::kHorizontalScan, 30)};
    ASSERT_TRUE(db->write_incident_events(events).ok);
    anomaly_id_ = events[1].incident.id;
    other_id_ = events[2].incident.id;
    std::vector<store::Rollup> rollups;
    for (int m = 0; m < 5; ++m) {
      store::Rollup r;
      r.tenant_id = 1;
      r.minute_ns = (kNow / kMinute - 5 + m) * kMinute;
      r.bytes = {6e8, 5.8e8, 6.2e8};
      r.packets = {1e6, 0.9e6, 1.1e6};
      r.flows = {1e4, 0.9e4, 1.1e4};
      // 10.0.0.6 is listed in one minute only: in the others it weighed at most that
      // minute's smallest weight (1e8), which its interval's upper end must allow for.
      r.detail_json =
          R"({"by_direction":{"inbound":{"bytes":{"value":4e8,"ci_low":3.9e8,"ci_high":4.1e8}}},)"
          R"("top_sources":[{"key":"10.0.0.5","weight":1e8,"error":1e6,"variance":1e12})" +
          std::string(m == 0 ? R"(,{"key":"10.0.0.6","weight":5e7,"error":0,"variance":4e12})"
                             : "") +
          R"(],)"
          R"("top_countries":[{"key":"DE","weight":2e8,"error":0}],"top_asns":[]})";
      rollups.push_back(r);
    }
    ASSERT_TRUE(db->write_rollups(rollups).ok);
    ASSERT_TRUE(db->upsert_tenants(
                      std::vector<store::TenantRecord>{{1, "acme", kNow - kMinute * 60, kNow},
                                                       {2, "globex", kNow - kMinute * 60, kNow}})
                    .ok);

    TokenTable tokens;
    ASSERT_TRUE(tokens.assign({{"root", sha256_hex("admin-token"), true, 0},
                               {"acme", sha256_hex("acme-token"), false, 1}},
                              error))
        << error;
    live_ = std::make_shared<LiveBoard>();
    analyze::TenantSummary w;
    w.tenant_id = 1;
    w.start_ns = kNow - 10'000'000'000;
    w.end_ns = kNow;
    w.total.bytes.value = 1e7;
    w.total.bytes.ci_low = 0.9e7;
    w.total.bytes.ci_high = 1.1e7;
    live_->add(std::span(&w, 1));
    RestApiOptions options;
    options.store_enabled = true;
    options.store = so;
    CollectorSnapshot snap;
    snap.start_time_ns = kNow - kMinute;
    snap.tenants = {{1, "acme"}, {2, "globex"}};
    transform::IngestSnapshot worker;
    transform::ExporterIngest x;
    x.address = flow::IpAddress::from_v4(0xC0000201);
    x.tenant_id = 2;
    x.sampling_rate = 100;
    x.decode.packets = 10;
    x.decode.packets_ok = 9;
    worker.exporters.push_back(x);
    snap.workers.push_back(worker);
    api_ = std::make_unique<RestApi>(
        std::move(tokens), [snap] { return snap; }, live_, options, [] { return kNow; });
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  HttpResponse get(const std::string& path, const std::string& token,
                   std::vector<std::pair<std::string, std::string>> params = {}) {
    HttpRequest r;
    r.method = "GET";
    r.path = path;
    std::sort(params.begin(), params.end());
    r.params = std::move(params);
    if (!token.empty()) r.authorization = "Bearer " + token;
    return api_->handle(r);
  }
  json body(const HttpResponse& r) {
    json j = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.body;
    return j;
  }

  std::filesystem::path dir_;
  std::shared_ptr<LiveBoard> live_;
  std::unique_ptr<RestApi> api_;
  std::string anomaly_id_;
  std::string other_id_;
};

TEST_F(RestApiTest, NoOrUnknownTokenIs401WithAChallenge) {
  for (const std::string token : {"", "wrong"}) {
    const HttpResponse r = get("/api/v1/tenants", token);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(body(r)["error"]["code"], "unauthorized");
    bool challenge = false;
    for (const auto& [k, v] : r.headers) challenge |= k == "WWW-Authenticate";
    EXPECT_TRUE(challenge);
  }
  HttpRequest r;
  r.method = "GET";
  r.path = "/api/v1/me";
  r.authorization = "Basic YWRtaW4tdG9rZW4=";
  EXPECT_EQ(api_->handle(r).status, 401);
}

TEST_F(RestApiTest, TheOpenApiDescriptionIsServedWithoutAToken) {
  const HttpResponse r = get("/api/v1/openapi.yaml", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.starts_with("openapi: 3.1")) << r.body.substr(0, 80);
  EXPECT_NE(r.body.find("/tenants/{tenant}/traffic:"), std::string::npos);
}

TEST_F(RestApiTest, ALiveOnlyTenantIsListedAndAnUnknownOneIs404Everywhere) {
  analyze::TenantSummary w;
  w.tenant_id = 9;  // neither configured nor stored: only live traffic knows it
  w.start_ns = kNow - 10'000'000'000;
  w.end_ns = kNow;
  live_->add(std::span(&w, 1));
  const json admin = body(get("/api/v1/tenants", "admin-token"));
  ASSERT_EQ(admin["tenants"].size(), 3u);
  EXPECT_EQ(admin["tenants"][2]["id"], 9);
  EXPECT_EQ(admin["tenants"][2]["name"], "");
  EXPECT_EQ(body(get("/api/v1/tenants", "acme-token"))["tenants"].size(), 1u);
  EXPECT_EQ(get("/api/v1/tenants/9", "admin-token").status, 200);

  // An admin's filter by a tenant that does not exist is 404, as a tenant token's is.
  EXPECT_EQ(get("/api/v1/incidents", "admin-token", {{"tenant", "99"}}).status, 404);
  EXPECT_EQ(get("/api/v1/incidents", "acme-token", {{"tenant", "99"}}).status, 404);
  EXPECT_EQ(body(get("/api/v1/incidents", "admin-token", {{"tenant", "9"}}))["total"], 0);
}

TEST_F(RestApiTest, AStoredExporterWithoutATenantHasANullTenant) {
  std::string error;
  store::StoreOptions so;
  so.url = "sqlite:" + (dir_ / "fathom.db").string();
  auto db = store::open_database(so, error);
  ASSERT_TRUE(db) << error;
  store::ExporterRecord x{"198.51.100.9", 0, "ipfix", kNow - kMinute, kNow - kMinute, 5, 50, 0};
  ASSERT_TRUE(db->upsert_exporters(std::span(&x, 1)).ok);
  const json all = body(get("/api/v1/exporters", "admin-token"));
  bool found = false;
  for (const json& e : all["exporters"]) {
    if (e["address"] != "198.51.100.9") continue;
    found = true;
    EXPECT_EQ(e["status"], "silent");
    EXPECT_TRUE(e["tenant_id"].is_null()) << e.dump();
  }
  EXPECT_TRUE(found) << all.dump();
}

TEST_F(RestApiTest, AStoreThatDoesNotAnswerIs503NotAnUnknownTenant) {
  TokenTable tokens;
  std::string error;
  ASSERT_TRUE(tokens.assign({{"root", sha256_hex("admin-token"), true, 0}}, error)) << error;
  RestApiOptions options;
  options.store_enabled = true;
  options.store.url = "sqlite:" + (dir_ / "no-such-dir" / "fathom.db").string();
  CollectorSnapshot snap;
  snap.tenants = {{1, "acme"}};
  RestApi api(
      std::move(tokens), [snap] { return snap; }, live_, options, [] { return kNow; });
  const auto request = [&](const std::string& path) {
    HttpRequest r;
    r.method = "GET";
    r.path = path;
    r.authorization = "Bearer admin-token";
    return api.handle(r);
  };
  // Tenant 5 may well be in the store: the answer is "cannot tell", not "no such tenant".
  for (const std::string path : {"/api/v1/tenants/5/traffic", "/api/v1/tenants/5/exporters",
                                 "/api/v1/tenants/5/sampling", "/api/v1/tenants/5/incidents"}) {
    const HttpResponse r = request(path);
    EXPECT_EQ(r.status, 503) << path << ": " << r.body;
  }
  // A configured tenant is known without the store; so is its live traffic (from -5m).
  EXPECT_EQ(request("/api/v1/tenants/1").status, 200);
  EXPECT_EQ(request("/api/v1/tenants/1/exporters").status, 200);
}

TEST_F(RestApiTest, MeSaysWhoTheTokenIs) {
  EXPECT_EQ(body(get("/api/v1/me", "admin-token"))["admin"], true);
  const json acme = body(get("/api/v1/me", "acme-token"));
  EXPECT_EQ(acme["admin"], false);
  EXPECT_EQ(acme["tenant_id"], 1);
}

TEST_F(RestApiTest, ATenantTokenSeesOnlyItsTenantAndAnotherIsNotFound) {
  const json admin = body(get("/api/v1/tenants", "admin-token"));
  EXPECT_EQ(admin["tenants"].size(), 2u);
  const json acme = body(get("/api/v1/tenants", "acme-token"));
  ASSERT_EQ(acme["tenants"].size(), 1u);
  EXPECT_EQ(acme["tenants"][0]["id"], 1);
  for (const std::string& path : std::vector<std::string>{
           "/api/v1/tenants/2", "/api/v1/tenants/2/traffic", "/api/v1/tenants/2/incidents",
           "/api/v1/tenants/2/exporters", "/api/v1/tenants/2/sampling", "/api/v1/tenants/2/geo",
           "/api/v1/tenants/2/incidents/" + other_id_}) {
    const HttpResponse r = get(path, "acme-token");
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.body.find("globex"), std::string::npos) << path;
  }
  // The same 404 as a tenant that does not exist.
  EXPECT_EQ(get("/api/v1/tenants/99", "acme-token").status, 404);
  EXPECT_EQ(get("/api/v1/tenants/99", "admin-token").status, 404);
  EXPECT_EQ(get("/api/v1/incidents", "acme-token", {{"tenant", "2"}}).status, 404);
  const json own = body(get("/api/v1/incidents", "acme-token"));
  EXPECT_EQ(own["total"], 2);
  EXPECT_EQ(body(get("/api/v1/incidents", "admin-token"))["total"], 3);
  EXPECT_TRUE(body(get("/api/v1/exporters", "acme-token"))["exporters"].empty());
  EXPECT_EQ(body(get("/api/v1/exporters", "admin-token"))["exporters"].size(), 1u);
  EXPECT_EQ(body(get("/api/v1/health", "acme-token")).count("ingest"), 0u);
  EXPECT_EQ(body(get("/api/v1/health", "admin-token")).count("ingest"), 1u);
}

TEST_F(RestApiTest, IncidentsFilterPageAndExplain) {
  const json critical =
      body(get("/api/v1/tenants/1/incidents", "acme-token", {{"severity", "critical"}}));
  ASSERT_EQ(critical["total"], 1);
  EXPECT_EQ(critical["incidents"][0]["type"], "syn_flood");
  const json anomalies =
      body(get("/api/v1/tenants/1/incidents", "acme-token", {{"type", "anomaly"}}));
  ASSERT_EQ(anomalies["incidents"].size(), 1u);
  const json page =
      body(get("/api/v1/tenants/1/incidents", "acme-token", {{"limit", "1"}, {"offset", "1"}}));
  EXPECT_EQ(page["total"], 2);
  EXPECT_EQ(page["incidents"].size(), 1u);
  const json one = body(get("/api/v1/tenants/1/incidents/" + anomaly_id_, "acme-token"));
  ASSERT_TRUE(one["explanation"].is_object()) << one.dump();
  EXPECT_EQ(one["explanation"]["score"], 7.5);
  EXPECT_EQ(one["explanation"]["features"][0]["name"], "distinct_ports");
  EXPECT_EQ(one["explanation"]["features"][0]["usual"], 3);
  EXPECT_EQ(one["history"].size(), 1u);
  ASSERT_TRUE(one["flows"].is_array());
  EXPECT_TRUE(one["flows"].empty());
  EXPECT_EQ(get("/api/v1/tenants/1/incidents/ffffffffffffffff", "acme-token").status, 404);
  // Ids are hex: the same incident in upper case.
  std::string upper = anomaly_id_;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(get("/api/v1/tenants/1/incidents/" + upper, "acme-token").status, 200);
}

TEST_F(RestApiTest, AnIncidentShowsTheRawSampledFlowsKeptForItsSubject) {
  std::string error;
  store::StoreOptions so;
  so.url = "sqlite:" + (dir_ / "fathom.db").string();
  auto db = store::open_database(so, error);
  ASSERT_TRUE(db) << error;
  const auto flow = [](uint32_t tenant, const std::string& subject, int64_t t, int port) {
    return store::SampledFlow{
        tenant, subject, t,
        R"({"type":"flow","exporter":"192.0.2.1","src":"203.0.113.9","dst":")" + subject +
            R"(","src_port":)" + std::to_string(port) +
            R"(,"dst_port":22,"proto":6,"packets":3,"bytes":180,"tcp_flags":2,)"
            R"("sampling_rate":100,"direction":"inbound","tenant_id":1})"};
  };
  store::WriteBatch batch;
  // The anomaly's subject is 10.0.0.6 of tenant 1, open from kNow − 10 min to kNow − 1 min.
  batch.flows = {flow(1, "10.0.0.6", kNow - 5 * kMinute, 40001),
                 flow(1, "10.0.0.6", kNow - 4 * kMinute, 40002),
                 flow(1, "10.0.0.6", kNow - 30 * kMinute, 40003),  // before it started
                 flow(1, "10.0.0.5", kNow - 5 * kMinute, 40004),   // another subject
                 flow(2, "10.0.0.6", kNow - 5 * kMinute, 40005)};  // another tenant
  ASSERT_TRUE(db->write(batch).ok);
  ASSERT_TRUE(db->write(batch).ok);  // a replay adds nothing
  const json one = body(get("/api/v1/tenants/1/incidents/" + anomaly_id_, "acme-token"));
  ASSERT_EQ(one["flows"].size(), 2u) << one["flows"].dump();
  EXPECT_EQ(one["flows"][0]["src_port"], 40001);
  EXPECT_EQ(one["flows"][1]["src_port"], 40002);
  EXPECT_EQ(one["flows"][0]["time_ms"], (kNow - 5 * kMinute) / 1'000'000);
  EXPECT_EQ(one["flows"][0]["dst"], "10.0.0.6");
  EXPECT_EQ(one["flows"][0]["sampling_rate"], 100);
  EXPECT_FALSE(one["flows"][0].contains("tenant_id"));
}

TEST_F(RestApiTest, TrafficComesLiveOrFromRollupsWithIntervals) {
  const json live = body(get("/api/v1/tenants/1/traffic", "acme-token", {{"from", "-5m"}}));
  EXPECT_EQ(live["source"], "live");
  ASSERT_EQ(live["series"][0]["points"].size(), 1u);
  const json& bps = live["series"][0]["points"][0]["bps"];
  EXPECT_DOUBLE_EQ(bps["value"].get<double>(), 1e7 * 8 / 10);
  EXPECT_LT(bps["ci_low"].get<double>(), bps["value"].get<double>());

  const json minutes =
      body(get("/api/v1/tenants/1/traffic", "acme-token", {{"from", "-1h"}, {"step", "5m"}}));
  EXPECT_EQ(minutes["source"], "rollups");
  EXPECT_EQ(minutes["step_s"].get<double>(), 300.0);  // exactly: no 300.00000000000006
  EXPECT_EQ(live["step_s"].get<double>(), 10.0);
  double total = 0;
  for (const json& p : minutes["series"][0]["points"]) {
    total += p["bps"]["value"].get<double>();
    EXPECT_LE(p["bps"]["ci_low"].get<double>(), p["bps"]["value"].get<double>());
    EXPECT_GE(p["bps"]["ci_high"].get<double>(), p["bps"]["value"].get<double>());
  }
  EXPECT_GT(total, 0);
  const json dir = body(get("/api/v1/tenants/1/traffic", "acme-token",
                            {{"from", "-1h"}, {"step", "1m"}, {"by", "direction"}}));
  EXPECT_EQ(dir["series"].size(), 5u);
  const json top =
      body(get("/api/v1/tenants/1/top", "acme-token", {{"kind", "sources"}, {"from", "-6m"}}));
  ASSERT_EQ(top["items"].size(), 2u) << top.dump();
  const json& five = top["items"][0];
  EXPECT_EQ(five["key"], "10.0.0.5");
  // Five minutes of weight 1e8, error 1e6, variance 1e12: bytes 5e8, lower end 5e8 − 5e6 −
  // 1.96·√5e12, upper end 5e8 + 1.96·√5e12 (listed in every minute: nothing absent).
  EXPECT_DOUBLE_EQ(five["bytes"].get<double>(), 5e8);
  EXPECT_NEAR(five["ci_low"].get<double>(), 5e8 - 5e6 - 1.959964 * std::sqrt(5e12), 1.0);
  EXPECT_NEAR(five["ci_high"].get<double>(), 5e8 + 1.959964 * std::sqrt(5e12), 1.0);
  const json& six = top["items"][1];
  EXPECT_EQ(six["key"], "10.0.0.6");
  EXPECT_NEAR(six["ci_low"].get<double>(), 5e7 - 1.959964 * 2e6, 1.0);
  // Absent from four minutes whose smallest weight was 1e8 each.
  EXPECT_NEAR(six["ci_high"].get<double>(), 5e7 + 4e8 + 1.959964 * 2e6, 1.0);
  const json geo = body(get("/api/v1/tenants/1/geo", "acme-token"));
  ASSERT_FALSE(geo["countries"].empty());
  EXPECT_EQ(geo["countries"][0]["key"], "DE");
}

TEST_F(RestApiTest, ExportersShowSamplingAndErrors) {
  const json x = body(get("/api/v1/tenants/2/exporters", "admin-token"));
  ASSERT_EQ(x["exporters"].size(), 1u);
  EXPECT_EQ(x["exporters"][0]["address"], "192.0.2.1");
  EXPECT_EQ(x["exporters"][0]["sampling"]["rate"], 100);
  EXPECT_EQ(x["exporters"][0]["malformed_total"], 1);
  const json s = body(get("/api/v1/tenants/2/sampling", "admin-token"));
  EXPECT_EQ(s["exporters"][0]["known"], true);
}

TEST_F(RestApiTest, HostileParametersAre400AndNeverAServerError) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"from", "yesterday"},
      {"from", "'; DROP TABLE incidents; --"},
      {"from", "99999999999999999999"},
      {"from", "-99999999d"},
      {"from", "2026-02-30T00:00:00Z"},
      {"to", "1969-12-31T23:59:59Z"},
      {"step", "7s"},
      {"step", "0m"},
      {"step", "1s"},
      {"by", "bytes"},
      {"limit", "0"},
      {"limit", "1001"},
      {"limit", "-1"},
      {"offset", "1e3"},
      {"state", "OPEN"},
      {"type", "syn_flood' OR 1=1"},
      {"severity", "5"},
      {"nonsense", "1"},
  };
  const std::vector<std::string> paths = {"/api/v1/tenants/1/traffic",
                                          "/api/v1/tenants/1/incidents", "/api/v1/incidents"};
  for (const std::string& path : paths) {
    for (const auto& [name, value] : bad) {
      const HttpResponse r = get(path, "admin-token", {{name, value}});
      EXPECT_GE(r.status, 400) << path << "?" << name << "=" << value;
      EXPECT_LT(r.status, 500) << path << "?" << name << "=" << value << ": " << r.body;
    }
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::string value;
    for (int c = 0; c < 12; ++c) value.push_back(static_cast<char>(rng() % 256));
    for (const std::string name : {"from", "to", "since", "until", "limit", "type", "kind"}) {
      const HttpResponse r = get("/api/v1/tenants/1/incidents", "admin-token", {{name, value}});
      EXPECT_LT(r.status, 500) << r.body;
    }
  }
  EXPECT_EQ(get("/api/v1/tenants/abc", "admin-token").status, 400);
  EXPECT_EQ(get("/api/v1/tenants/99999999999", "admin-token").status, 400);
  EXPECT_EQ(get("/api/v1/nothing", "admin-token").status, 404);
  EXPECT_EQ(get("/../etc/passwd", "").status, 404);
  // The store still holds everything: nothing above wrote or dropped a row.
  EXPECT_EQ(body(get("/api/v1/incidents", "admin-token"))["total"], 3);
}

TEST_F(RestApiTest, OtherMethodsAre405) {
  HttpRequest r;
  r.method = "DELETE";
  r.path = "/api/v1/incidents";
  r.authorization = "Bearer admin-token";
  EXPECT_EQ(api_->handle(r).status, 405);
}

TEST(Params, TimesInEveryAcceptedFormAndNothingElse) {
  EXPECT_EQ(parse_time("2026-12-07T08:00:00Z", 0), 1'796'630'400'000'000'000);
  EXPECT_EQ(parse_time("2026-12-07T09:00:00.5+01:00", 0), 1'796'630'400'500'000'000);
  EXPECT_EQ(parse_time("1796630400000", 0), 1'796'630'400'000'000'000);
  EXPECT_EQ(parse_time("-15m", kNow), kNow - 15 * kMinute);
  EXPECT_EQ(parse_time("now", kNow), kNow);
  for (const char* bad : {"", "-", "-15", "15m", "2026-13-01T00:00:00Z", "2026-12-07T08:00:00",
                          "2026-12-07T24:00:00Z", "2024-02-30T00:00:00Z", "+5m", "1e9",
                          "2026-12-07T08:00:00.Z", "99999999999999999"}) {
    EXPECT_FALSE(parse_time(bad, kNow)) << bad;
  }
  EXPECT_EQ(parse_time("2024-02-29T00:00:00Z", 0).has_value(), true);
}

TEST(Auth, TokensAreCheckedByHashAndBadConfigsRefused) {
  TokenTable t;
  std::string error;
  EXPECT_FALSE(t.assign({{"a", "nothex", true, 0}}, error));
  EXPECT_FALSE(t.assign({{"a", sha256_hex("x"), false, 0}}, error));  // neither admin nor tenant
  EXPECT_FALSE(t.assign({{"a", sha256_hex("x"), true, 0}, {"a", sha256_hex("y"), true, 0}}, error));
  EXPECT_FALSE(t.assign({{"a", sha256_hex("x"), true, 0}, {"b", sha256_hex("x"), true, 0}}, error));
  ASSERT_TRUE(t.assign({{"a", sha256_hex("secret"), false, 4}}, error));
  const auto who = t.authenticate("bearer  secret ");
  ASSERT_TRUE(who);
  EXPECT_EQ(who->tenant_id, 4u);
  EXPECT_FALSE(t.authenticate("Bearer secre"));
  EXPECT_FALSE(t.authenticate("secret"));
  const std::string token = new_token();
  EXPECT_EQ(token.size(), 44u);
  EXPECT_NE(token, new_token());
}

}  // namespace
}  // namespace fathom::api
