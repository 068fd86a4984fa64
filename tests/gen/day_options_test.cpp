// Options the `day` scenario needs: attack start times drawn from the seed at run time
// (`random_attack_starts`), and a truth CSV without per-host lines (`truth_hosts: false`).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gen/gen_test_util.h"
#include "gen/scenario_yaml.h"

namespace fathom::gen {
namespace {

using testing::capture;
using testing::one_tenant;

Scenario with_attacks(uint64_t seed, bool random_starts) {
  Scenario s = one_tenant(ExportProtocol::kIpfix, 100, SamplingMode::kRandom, 200, 120);
  s.seed = seed;
  s.random_attack_starts = random_starts;
  for (int i = 0; i < 4; ++i) {
    AttackConfig a;
    a.id = "a" + std::to_string(i);
    a.type = i % 2 == 0 ? AttackType::kSynFlood : AttackType::kVerticalScan;
    a.start_ns = 5'000'000'000;
    a.duration_ns = (10 + 20 * i) * 1'000'000'000LL;
    a.rate = 50;
    s.attacks.push_back(a);
  }
  return s;
}

std::vector<int64_t> starts(const Generator& g) {
  std::vector<int64_t> out;
  for (const Attack& a : g.attacks()) out.push_back(a.start_ns() - g.scenario().start_ns);
  return out;
}

TEST(DayOptionsTest, RandomAttackStartsComeFromTheSeedAndFitTheDuration) {
  const Generator a(with_attacks(3, true));
  const Generator again(with_attacks(3, true));
  const Generator other(with_attacks(4, true));
  const Generator fixed(with_attacks(3, false));
  EXPECT_EQ(starts(a), starts(again));
  EXPECT_NE(starts(a), starts(other));
  EXPECT_EQ(starts(fixed), std::vector<int64_t>(4, 5'000'000'000));
  EXPECT_NE(starts(a), starts(fixed));
  for (const Generator* g : {&a, &other}) {
    for (const Attack& attack : g->attacks()) {
      const int64_t start = attack.start_ns() - g->scenario().start_ns;
      EXPECT_GE(start, 0);
      EXPECT_EQ(start % 1'000'000'000, 0);
      EXPECT_LE(start + attack.config().duration_ns, g->scenario().duration_ns);
    }
  }
}

// Drawing the starts uses a stream of its own: background traffic is unchanged.
TEST(DayOptionsTest, RandomStartsLeaveBackgroundTrafficAlone) {
  const auto background = [](bool random_starts) {
    Generator g(with_attacks(3, random_starts));
    std::vector<std::pair<int64_t, uint32_t>> flows;
    g.set_flow_observer([&](std::span<const FlowSpec> specs) {
      for (const FlowSpec& f : specs) {
        if (f.label == 0) flows.emplace_back(f.start_ns, f.packets);
      }
    });
    capture(g);
    return flows;
  };
  const auto with_random = background(true);
  EXPECT_GT(with_random.size(), 1000u);
  EXPECT_EQ(with_random, background(false));
}

TEST(DayOptionsTest, TruthWithoutHostsKeepsTheTenantLines) {
  Scenario s = one_tenant(ExportProtocol::kIpfix, 1, SamplingMode::kRandom, 200, 30);
  const std::string with_hosts = capture(s).truth;
  s.truth_hosts = false;
  const std::string without = capture(s).truth;
  // Tenant lines have an empty host column: ",1,," after the window bounds.
  std::string tenant_lines;
  size_t host_lines = 0;
  for (size_t pos = 0; pos < with_hosts.size();) {
    const size_t end = with_hosts.find('\n', pos);
    const std::string line = with_hosts.substr(pos, end - pos + 1);
    if (line.find(",1,,") != std::string::npos || pos == 0) {
      tenant_lines += line;
    } else {
      ++host_lines;
    }
    pos = end + 1;
  }
  EXPECT_GT(host_lines, 100u);
  EXPECT_EQ(without, tenant_lines);
}

TEST(DayOptionsTest, ScenarioKeysAndTheShippedDayScenario) {
  const Scenario s = parse_scenario(R"(
truth_hosts: false
random_attack_starts: true
tenants:
  - prefixes: [10.4.0.0/16]
    exporters: [{protocol: ipfix}]
)",
                                    "test.yaml");
  EXPECT_FALSE(s.truth_hosts);
  EXPECT_TRUE(s.random_attack_starts);
  const Scenario defaults = parse_scenario(R"(
tenants:
  - prefixes: [10.4.0.0/16]
    exporters: [{protocol: ipfix}]
)",
                                           "test.yaml");
  EXPECT_TRUE(defaults.truth_hosts);
  EXPECT_FALSE(defaults.random_attack_starts);
  const Scenario day =
      load_scenario(std::string(FATHOM_SOURCE_DIR) + "/examples/scenarios/day.yaml");
  EXPECT_TRUE(day.random_attack_starts);
  EXPECT_FALSE(day.truth_hosts);
}

}  // namespace
}  // namespace fathom::gen
