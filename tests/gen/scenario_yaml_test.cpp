#include "gen/scenario_yaml.h"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>

namespace fathom::gen {
namespace {

constexpr const char* kMinimal = R"(
tenants:
  - id: 4
    prefixes: [10.4.0.0/16]
    exporters:
      - {address: 192.0.2.1, protocol: netflow_v5, sampling_rate: 10}
)";

std::string error_of(const std::string& yaml) {
  try {
    parse_scenario(yaml, "test.yaml");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(ScenarioYamlTest, MinimalFileGetsDefaults) {
  const Scenario s = parse_scenario(kMinimal, "test.yaml");
  EXPECT_EQ(s.seed, 1u);
  EXPECT_EQ(s.duration_ns, 600'000'000'000);
  ASSERT_EQ(s.tenants.size(), 1u);
  EXPECT_EQ(s.tenants[0].id, 4u);
  EXPECT_EQ(s.tenants[0].hosts, 500u);
  ASSERT_EQ(s.tenants[0].exporters.size(), 1u);
  const auto& e = s.tenants[0].exporters[0];
  EXPECT_EQ(e.protocol, ExportProtocol::kNetflowV5);
  EXPECT_EQ(e.sampling_rate, 10u);
  EXPECT_EQ(e.sampling_mode, SamplingMode::kRandom);
  EXPECT_EQ(e.active_timeout_ns, 60'000'000'000);
  EXPECT_EQ(e.address, *flow::IpAddress::parse("192.0.2.1"));
}

TEST(ScenarioYamlTest, UnknownKeyIsRejectedWithFileAndLine) {
  const std::string yaml = std::string(kMinimal) + "    colour: blue\n";
  const std::string err = error_of(yaml);
  EXPECT_NE(err.find("test.yaml:7:"), std::string::npos) << err;
  EXPECT_NE(err.find("colour"), std::string::npos) << err;
}

TEST(ScenarioYamlTest, BadValuesAreRejected) {
  EXPECT_NE(error_of("duration: soon\n" + std::string(kMinimal)).find("duration"),
            std::string::npos);
  EXPECT_NE(error_of(R"(
tenants:
  - prefixes: [10.4.0.1/16]
    exporters: [{protocol: ipfix}]
)")
                .find("bad prefix"),
            std::string::npos);
  EXPECT_NE(error_of(R"(
tenants:
  - prefixes: [10.4.0.0/16]
    exporters: [{protocol: netflow_v5, sampling_rate: 20000}]
)")
                .find("16383"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "attacks:\n  - {id: a, type: teleport}\n")
                .find("unknown attack type"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kMinimal) + "attacks:\n  - {id: a, type: syn_flood, tenant: 9}\n")
                .find("unknown tenant"),
            std::string::npos);
}

TEST(ScenarioYamlTest, DurationsParse) {
  EXPECT_EQ(parse_duration_ns("90s"), 90'000'000'000);
  EXPECT_EQ(parse_duration_ns("10m"), 600'000'000'000);
  EXPECT_EQ(parse_duration_ns("250ms"), 250'000'000);
  EXPECT_EQ(parse_duration_ns("1.5h"), 5'400'000'000'000);
  EXPECT_EQ(parse_duration_ns("30"), 30'000'000'000);
  EXPECT_EQ(parse_duration_ns("2h13m"), (2 * 3600 + 13 * 60) * 1'000'000'000LL);
  EXPECT_EQ(parse_duration_ns("1m30s"), 90'000'000'000);
  EXPECT_THROW(parse_duration_ns("5x"), std::invalid_argument);
  EXPECT_THROW(parse_duration_ns(""), std::invalid_argument);
  EXPECT_THROW(parse_duration_ns("3 weeks"), std::invalid_argument);
  EXPECT_THROW(parse_duration_ns("-5s"), std::invalid_argument);
}

TEST(ScenarioYamlTest, ShippedScenariosLoad) {
  for (const char* name : {"demo", "bench", "day"}) {
    SCOPED_TRACE(name);
    const std::string path =
        std::string(FATHOM_SOURCE_DIR) + "/examples/scenarios/" + name + ".yaml";
    EXPECT_NO_THROW(load_scenario(path));
  }
  const Scenario demo =
      load_scenario(std::string(FATHOM_SOURCE_DIR) + "/examples/scenarios/demo.yaml");
  EXPECT_EQ(demo.tenants.size(), 3u);
  std::set<AttackType> types;
  for (const auto& a : demo.attacks) types.insert(a.type);
  EXPECT_EQ(types.size(), 12u) << "demo must show every attack type";
}

}  // namespace
}  // namespace fathom::gen
