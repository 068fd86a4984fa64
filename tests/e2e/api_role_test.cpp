// `fathom api` as a process: fathom-gen's demo scenario replayed through `fathom run` into its
// SQLite store, then `fathom api` started alone on that file serves the same incidents (with
// their history), the tenants and the stored traffic over HTTP, and stops cleanly on SIGINT.

#include <httplib.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/child_process.h"

namespace fathom::e2e {
namespace {

using nlohmann::json;

const std::string kBinaryDir = FATHOM_BINARY_DIR;
const std::string kSourceDir = FATHOM_SOURCE_DIR;

struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fathom-api-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
};

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

/// The demo's tenants (examples/demo.yaml), the store in `dir`, no API token configured (so
/// `fathom api` makes and prints the bootstrap one).
std::string fathom_config(const std::filesystem::path& dir) {
  return "data_dir: " + dir.string() +
         "\n"
         "transform:\n"
         "  unknown_exporters: reject\n"
         "tenants:\n"
         "  - {id: 1, name: acme, exporters: [127.0.0.11, 127.0.0.12],\n"
         "     internal_networks: [10.1.0.0/16, 2001:db8:1::/48]}\n"
         "  - {id: 2, name: globex, exporters: [127.0.0.21], internal_networks: [10.2.0.0/16]}\n"
         "  - {id: 3, name: initech, exporters: [127.0.0.31],\n"
         "     internal_networks: [10.3.0.0/16, 2001:db8:3::/48]}\n";
}

/// The ids of the incidents opened in an `--incidents` JSON-lines file.
std::set<std::string> opened_ids(const std::filesystem::path& path) {
  std::set<std::string> ids;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const json event = json::parse(line, nullptr, false);
    if (event.is_object() && event.value("event", "") == "open") ids.insert(event.value("id", ""));
  }
  return ids;
}

TEST(ApiRoleProcess, ServesWhatFathomRunStored) {
  ScratchDir dir;
  std::string scenario;
  {
    std::ifstream in(kSourceDir + "/examples/scenarios/demo.yaml");
    std::stringstream ss;
    ss << in.rdbuf();
    scenario = ss.str();
  }
  const std::string intel = "intel_file: intel.txt";
  if (const size_t at = scenario.find(intel); at != std::string::npos) {
    scenario.replace(at, intel.size(),
                     "intel_file: " + kSourceDir + "/examples/scenarios/intel.txt");
  }
  write_file(dir.path / "scenario.yaml", scenario);
  const std::string config = (dir.path / "fathom.yaml").string();
  write_file(config, fathom_config(dir.path));
  const std::string pcap = (dir.path / "demo.pcap").string();
  std::string log;
  ASSERT_EQ(run_to_completion({kBinaryDir + "/tools/gen/fathom-gen", "--quiet", "--config",
                               (dir.path / "scenario.yaml").string(), "--pcap", pcap},
                              (dir.path / "gen.out").string(), std::chrono::seconds(180), log),
            0)
      << log;
  const std::filesystem::path events = dir.path / "incidents.jsonl";
  log.clear();
  ASSERT_EQ(run_to_completion(
                {kBinaryDir + "/src/fathom", "run", "--config", config, "--replay", pcap,
                 "--incidents", events.string(), "--metrics-listen", "off", "--api-listen", "off"},
                (dir.path / "run.out").string(), std::chrono::seconds(180), log),
            0)
      << log;
  const std::set<std::string> ids = opened_ids(events);
  ASSERT_GE(ids.size(), 5u) << log;

  // fathom run has exited: only the store is left.
  std::string error;
  auto api = ChildProcess::start({kBinaryDir + "/src/fathom", "api", "--config", config,
                                  "--api-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"},
                                 error);
  ASSERT_NE(api, nullptr) << error;
  const auto ready = api->wait_for_line(
      R"(fathom api: dashboard at http://127\.0\.0\.1:([0-9]+)/#token=([0-9a-zA-Z_-]+) .*metrics on port ([0-9]+))",
      std::chrono::seconds(15));
  ASSERT_TRUE(ready) << api->output();
  const int port = std::stoi((*ready)[1]);
  const std::string token = (*ready)[2];
  const int metrics_port = std::stoi((*ready)[3]);

  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(std::chrono::seconds(30));
  const httplib::Headers auth = {{"Authorization", "Bearer " + token}};
  const auto get = [&](const std::string& path, const httplib::Headers& headers) {
    const httplib::Result r = http.Get(path.c_str(), headers);
    EXPECT_TRUE(r) << path << "\n" << api->output();
    if (!r) return std::make_pair(0, json());
    return std::make_pair(r->status, json::parse(r->body, nullptr, false));
  };

  EXPECT_EQ(get("/api/v1/incidents", {}).first, 401);
  const auto [status, page] = get("/api/v1/incidents?limit=1000", auth);
  ASSERT_EQ(status, 200) << page;
  EXPECT_EQ(page["total"], ids.size());
  std::set<std::string> served;
  int64_t first_ms = INT64_MAX;
  int64_t last_ms = 0;
  for (const json& inc : page["incidents"]) {
    served.insert(inc["id"].get<std::string>());
    first_ms = std::min<int64_t>(first_ms, inc["start_ms"].get<int64_t>());
    last_ms = std::max<int64_t>(last_ms, inc["last_seen_ms"].get<int64_t>());
  }
  EXPECT_EQ(served, ids);

  const json& any = page["incidents"][0];
  const auto [one_status, one] =
      get("/api/v1/tenants/" + std::to_string(any["tenant_id"].get<uint32_t>()) + "/incidents/" +
              any["id"].get<std::string>(),
          auth);
  ASSERT_EQ(one_status, 200) << one;
  EXPECT_EQ(one["id"], any["id"]);
  EXPECT_FALSE(one["history"].empty()) << one;
  EXPECT_TRUE(one["flows"].is_array()) << one;

  const auto [tenants_status, tenants] = get("/api/v1/tenants", auth);
  ASSERT_EQ(tenants_status, 200) << tenants;
  ASSERT_EQ(tenants["tenants"].size(), 3u) << tenants;
  EXPECT_EQ(tenants["tenants"][0]["name"], "acme");
  EXPECT_FALSE(tenants["tenants"][0]["first_seen_ms"].is_null()) << tenants;  // the store's

  // The replay's minutes are stored (at the capture's times): the API serves them as rollups.
  const auto [traffic_status, traffic] =
      get("/api/v1/tenants/1/traffic?step=1m&from=" + std::to_string(first_ms - 600'000) +
              "&to=" + std::to_string(last_ms + 600'000),
          auth);
  ASSERT_EQ(traffic_status, 200) << traffic;
  EXPECT_EQ(traffic["source"], "rollups");
  EXPECT_FALSE(traffic["series"][0]["points"].empty()) << traffic;

  const auto [health_status, health] = get("/api/v1/health", auth);
  ASSERT_EQ(health_status, 200);
  EXPECT_EQ(health["role"], "api");
  EXPECT_EQ(health["store"]["up"], true) << health;

  httplib::Client metrics("127.0.0.1", metrics_port);
  const httplib::Result healthz = metrics.Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200) << healthz->body;
  const httplib::Result scrape = metrics.Get("/metrics");
  ASSERT_TRUE(scrape);
  EXPECT_NE(scrape->body.find("fathom_api_responses_total{status=\"200\"}"), std::string::npos)
      << scrape->body;
  EXPECT_NE(scrape->body.find("fathom_api_store_up{backend=\"sqlite\"} 1"), std::string::npos)
      << scrape->body;

  ASSERT_TRUE(api->send_signal(SIGINT));
  EXPECT_EQ(api->wait_exit(std::chrono::seconds(15)), 0) << api->output();
}

TEST(ApiRoleProcess, RefusesABadStoreUrlAndADisabledStore) {
  ScratchDir dir;
  const std::string config = (dir.path / "fathom.yaml").string();
  write_file(config, fathom_config(dir.path));
  std::string log;
  EXPECT_EQ(run_to_completion(
                {kBinaryDir + "/src/fathom", "api", "--config", config, "--store-url",
                 "mysql://db/fathom", "--api-listen", "127.0.0.1:0", "--metrics-listen", "off"},
                (dir.path / "out").string(), std::chrono::seconds(30), log),
            1);
  EXPECT_NE(log.find("unknown database url scheme"), std::string::npos) << log;
  log.clear();
  EXPECT_EQ(run_to_completion({kBinaryDir + "/src/fathom", "api", "--config", config, "--store-url",
                               "sqlite:" + (dir.path / "no/such/dir/x.db").string(), "--api-listen",
                               "127.0.0.1:0", "--metrics-listen", "off"},
                              (dir.path / "out").string(), std::chrono::seconds(30), log),
            1)
      << log;
  write_file(config, fathom_config(dir.path) + "store:\n  enabled: false\n");
  log.clear();
  EXPECT_EQ(run_to_completion({kBinaryDir + "/src/fathom", "api", "--config", config,
                               "--api-listen", "127.0.0.1:0", "--metrics-listen", "off"},
                              (dir.path / "out").string(), std::chrono::seconds(30), log),
            1);
  EXPECT_NE(log.find("store.enabled is false"), std::string::npos) << log;
}

TEST(ApiRoleProcess, StartsWithThePostgresqlServerDownAndAnswers503) {
  ScratchDir dir;
  const std::string config = (dir.path / "fathom.yaml").string();
  write_file(config, fathom_config(dir.path) + "store:\n  connect_timeout_seconds: 1\n");
  std::string error;
  auto api = ChildProcess::start({kBinaryDir + "/src/fathom", "api", "--config", config,
                                  "--store-url", "postgresql://fathom@127.0.0.1:1/fathom",
                                  "--api-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"},
                                 error);
  ASSERT_NE(api, nullptr) << error;
  const auto ready = api->wait_for_line(
      R"(dashboard at http://127\.0\.0\.1:([0-9]+)/#token=([0-9a-zA-Z_-]+) .*metrics on port ([0-9]+))",
      std::chrono::seconds(15));
  ASSERT_TRUE(ready) << api->output();
  httplib::Client http("127.0.0.1", std::stoi((*ready)[1]));
  const httplib::Result r =
      http.Get("/api/v1/incidents", {{"Authorization", "Bearer " + (*ready)[2]}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  httplib::Client metrics("127.0.0.1", std::stoi((*ready)[3]));
  const httplib::Result healthz = metrics.Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 503) << healthz->body;
  ASSERT_TRUE(api->send_signal(SIGTERM));
  EXPECT_EQ(api->wait_exit(std::chrono::seconds(15)), 0) << api->output();
}

}  // namespace
}  // namespace fathom::e2e
