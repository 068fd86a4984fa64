// Estimates against fathom-gen's unsampled truth, end to end: fathom-gen writes a pcap of
// sampled IPFIX (1:100) and NetFlow v9 (1:1000) exports plus the per-window truth of what
// really crossed each tenant's network; `fathom run --replay` decodes, maps, enriches and
// estimates it; the run's per-tenant totals and their 95% intervals must cover the truth.
//
// One seed proves little about a 95% interval (it misses 1 time in 20 by design), so the test
// runs several seeds and checks the coverage rate and the bias across them. Seeds are fixed,
// so the outcome is deterministic.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/child_process.h"

namespace {

const std::string kBinaryDir = FATHOM_BINARY_DIR;

struct Result {
  int status = -1;     ///< exit code; -1 when it could not start or timed out
  std::string output;  ///< stderr (where both programs report)
};

Result run(const std::vector<std::string>& argv, const std::filesystem::path& stdout_path) {
  Result r;
  const std::optional<int> code = fathom::e2e::run_to_completion(
      argv, stdout_path.string(), std::chrono::milliseconds(120'000), r.output);
  r.status = code.value_or(-1);
  return r;
}

/// A scratch directory removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fathom-est-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

constexpr const char* kScenario = R"(seed: 1
duration: 60s
truth_window: 60s
truth_hosts: false
tenants:
  - id: 1
    name: ipfix100
    prefixes: [10.1.0.0/16]
    hosts: 200
    servers: 4
    heavy_servers: 1
    background: {sessions_per_host_per_s: 0.2, ipv6_share: 0}
    exporters:
      - {address: 127.0.0.11, protocol: ipfix, observation_domain: 1, sampling_rate: 100,
         sampling_mode: random}
  - id: 2
    name: v9thousand
    prefixes: [10.2.0.0/16]
    hosts: 300
    servers: 4
    heavy_servers: 2
    background: {sessions_per_host_per_s: 0.3, ipv6_share: 0}
    exporters:
      - {address: 127.0.0.21, protocol: netflow_v9, observation_domain: 2,
         sampling_rate: 1000, sampling_mode: random}
)";

constexpr const char* kConfig = R"(tenants:
  - {id: 1, name: ipfix100, exporters: [127.0.0.11], internal_networks: [10.1.0.0/16]}
  - {id: 2, name: v9thousand, exporters: [127.0.0.21], internal_networks: [10.2.0.0/16]}
estimate:
  window_seconds: 60
)";

struct Totals {
  double packets = 0;
  double bytes = 0;
};

/// Tenant lines (empty host) of the truth CSV, summed over windows.
std::map<uint32_t, Totals> read_truth(const std::filesystem::path& path) {
  std::map<uint32_t, Totals> out;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
    if (cells.size() < 6 || !cells[3].empty()) continue;  // per-host lines
    Totals& t = out[static_cast<uint32_t>(std::stoul(cells[2]))];
    t.packets += std::stod(cells[4]);
    t.bytes += std::stod(cells[5]);
  }
  return out;
}

struct Interval {
  double value = 0, low = 0, high = 0;
};

TEST(EstimateAccuracy, RunTotalsCoverFathomGenTruthAcrossSeeds) {
  TempDir dir;
  write_file(dir.path / "scenario.yaml", kScenario);
  write_file(dir.path / "fathom.yaml", kConfig);
  const std::regex estimate_line(
      R"(estimate tenant \S+ \((\d+)\) over \d+ s: packets (\S+) \[(\S+), (\S+)\], bytes (\S+) \[(\S+), (\S+)\])");

  constexpr int kSeeds = 8;
  int checks = 0;
  int covered = 0;
  double z_sum = 0;  // (estimate - truth) / (half-width / 1.96): ~N(0,1) if unbiased
  for (int seed = 1; seed <= kSeeds; ++seed) {
    const std::string pcap = (dir.path / "gen.pcap").string();
    const std::string truth = (dir.path / "truth.csv").string();
    const Result gen = run({kBinaryDir + "/tools/gen/fathom-gen", "--quiet", "--config",
                            (dir.path / "scenario.yaml").string(), "--seed", std::to_string(seed),
                            "--pcap", pcap, "--truth", truth},
                           dir.path / "gen.out");
    ASSERT_EQ(gen.status, 0) << gen.output;
    const Result fathom =
        run({kBinaryDir + "/src/fathom", "run", "--config", (dir.path / "fathom.yaml").string(),
             "--replay", pcap, "--metrics-listen", "off", "--api-listen", "off", "--data-dir",
             (dir.path / "data").string()},
            dir.path / "fathom.out");
    ASSERT_EQ(fathom.status, 0) << fathom.output;

    const std::map<uint32_t, Totals> truth_totals = read_truth(truth);
    ASSERT_EQ(truth_totals.size(), 2u);
    std::map<uint32_t, std::pair<Interval, Interval>> estimates;
    for (auto it = std::sregex_iterator(fathom.output.begin(), fathom.output.end(), estimate_line);
         it != std::sregex_iterator(); ++it) {
      const std::smatch& m = *it;
      estimates[static_cast<uint32_t>(std::stoul(m[1]))] = {
          {std::stod(m[2]), std::stod(m[3]), std::stod(m[4])},
          {std::stod(m[5]), std::stod(m[6]), std::stod(m[7])}};
    }
    ASSERT_EQ(estimates.size(), 2u) << fathom.output;
    for (const auto& [tenant, t] : truth_totals) {
      const auto& [packets, bytes] = estimates.at(tenant);
      for (const auto& [estimate, actual] : {std::pair{packets, t.packets}, {bytes, t.bytes}}) {
        ++checks;
        if (estimate.low <= actual && actual <= estimate.high) ++covered;
        const double se = (estimate.high - estimate.low) / (2 * 1.96);
        ASSERT_GT(se, 0) << "seed " << seed << " tenant " << tenant;
        z_sum += (estimate.value - actual) / se;
        std::printf("seed %d tenant %u: estimate %.0f [%.0f, %.0f], truth %.0f\n", seed, tenant,
                    estimate.value, estimate.low, estimate.high, actual);
      }
    }
  }
  // 32 checks of 95% intervals: below 27 covered happens with probability < 1% if the
  // intervals are right (binomial), and the mean z of unbiased estimates is within ±0.6
  // (3 standard errors of a mean of 32 standard normals).
  EXPECT_GE(covered, 27) << covered << " of " << checks << " intervals cover the truth";
  EXPECT_LT(std::fabs(z_sum / checks), 0.6) << "mean z " << z_sum / checks;
  std::printf("coverage %d/%d, mean z %.3f\n", covered, checks, z_sum / checks);
}

}  // namespace
