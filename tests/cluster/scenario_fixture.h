#pragma once

// The cluster tests' traffic: fathom-gen's demo scenario (three tenants, most attack types),
// generated once per test binary into a temporary directory: the whole capture, the same cut
// in two at `split` (for a failover between the halves), the ground truth, and a Fathom
// config for it.

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "app/config.h"
#include "app/evaluation.h"
#include "app/scenario_run.h"
#include "app/temp_dir.h"
#include "gen/generator.h"
#include "gen/output.h"
#include "gen/scenario_yaml.h"

namespace fathom::cluster_testing {

struct ScenarioCapture {
  app::testing::TempDir dir{"cluster"};
  std::string pcap;         ///< the whole scenario
  std::string first_half;   ///< datagrams sent before the split
  std::string second_half;  ///< the rest
  std::vector<app::TruthAttack> attacks;
  gen::Scenario scenario;
  app::Config config;  ///< the scenario's tenants; data_dir in `dir`, store and API off
};

inline constexpr const char* kDuration = "4m";
inline constexpr int64_t kSplitNs = 130'000'000'000;  ///< 2 min 10 s in: mid-attack for several

/// Generated on first use, shared by the binary's tests.
inline const ScenarioCapture& demo_capture() {
  static std::unique_ptr<ScenarioCapture> capture;
  if (capture) return *capture;
  auto c = std::make_unique<ScenarioCapture>();
  c->scenario =
      gen::load_scenario(std::string(FATHOM_SOURCE_DIR) + "/examples/scenarios/demo.yaml");
  c->scenario.duration_ns = gen::parse_duration_ns(kDuration);
  c->scenario.truth_hosts = false;
  c->pcap = c->dir.path + "/demo.pcap";
  c->first_half = c->dir.path + "/first.pcap";
  c->second_half = c->dir.path + "/second.pcap";
  {
    gen::Generator generator(c->scenario);
    std::ofstream whole(c->pcap, std::ios::binary);
    std::ofstream first(c->first_half, std::ios::binary);
    std::ofstream second(c->second_half, std::ios::binary);
    gen::PcapWriter whole_writer(whole);
    gen::PcapWriter first_writer(first);
    gen::PcapWriter second_writer(second);
    const int64_t split = c->scenario.start_ns + kSplitNs;
    generator.run([&](const gen::DatagramInfo& info, uint32_t, std::span<const std::byte> data) {
      whole_writer.write(info, data);
      (info.time_ns < split ? first_writer : second_writer).write(info, data);
    });
    std::stringstream truth;
    generator.write_ground_truth(truth);
    std::string error;
    EXPECT_TRUE(app::read_truth_csv(truth, c->attacks, error)) << error;
    EXPECT_TRUE(whole && first && second);
  }
  std::string error;
  EXPECT_TRUE(app::config_for_scenario(c->scenario, c->dir.path, app::Config{}, c->config, error))
      << error;
  c->config.store.enabled = false;
  c->config.api.enabled = false;
  capture = std::move(c);
  return *capture;
}

}  // namespace fathom::cluster_testing
