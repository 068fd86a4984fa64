// With 1-in-N sampling, exported packets x N must match the unsampled truth within the
// binomial bound. Seeds are fixed, so the test is deterministic; the bound is 4.5 sigma.

#include <gtest/gtest.h>

#include <cmath>

#include "decode/decoder.h"
#include "gen/gen_test_util.h"

namespace fathom::gen {
namespace {

using testing::capture;
using testing::one_tenant;

struct StatsCase {
  ExportProtocol protocol;
  uint32_t rate;
  SamplingMode mode;
  uint64_t seed;
};

class SamplingStatsTest : public ::testing::TestWithParam<StatsCase> {};

TEST_P(SamplingStatsTest, ScaledSampledPacketsMatchTruth) {
  const StatsCase c = GetParam();
  Scenario s = one_tenant(c.protocol, c.rate, c.mode, 400, 60);
  s.seed = c.seed;
  Generator generator(s);
  const auto run = capture(generator);
  decode::Decoder decoder;
  flow::FlowBatch batch(1 << 16);
  double estimate = 0;
  uint64_t sampled = 0;
  for (const auto& d : run.datagrams) {
    batch.clear();
    ASSERT_EQ(
        decoder.decode(d.payload, {d.info.exporter, d.info.exporter_port, d.info.time_ns}, batch),
        decode::DecodeStatus::kOk);
    for (const auto& r : batch.records()) {
      sampled += r.packets;
      estimate += static_cast<double>(r.packets) * r.device_sampling_rate;
    }
  }
  const double truth = static_cast<double>(generator.tenant_totals()[0].packets);
  const double p = 1.0 / c.rate;
  // Binomial(truth, p): sd of the scaled count is sqrt(truth * p * (1 - p)) / p.
  const double sd = std::sqrt(truth * p * (1 - p)) / p;
  SCOPED_TRACE("seed " + std::to_string(c.seed) + " truth " + std::to_string(truth) + " sampled " +
               std::to_string(sampled));
  ASSERT_GT(truth, 100'000);
  EXPECT_LT(std::abs(estimate - truth), 4.5 * sd);
  // And not trivially: the sample really is about 1/N of the packets.
  EXPECT_GT(static_cast<double>(sampled), truth * p * 0.8);
}

INSTANTIATE_TEST_SUITE_P(
    Rates, SamplingStatsTest,
    ::testing::Values(StatsCase{ExportProtocol::kIpfix, 100, SamplingMode::kRandom, 1},
                      StatsCase{ExportProtocol::kIpfix, 1000, SamplingMode::kRandom, 2},
                      StatsCase{ExportProtocol::kNetflowV9, 100, SamplingMode::kDeterministic, 3},
                      StatsCase{ExportProtocol::kNetflowV5, 512, SamplingMode::kRandom, 4},
                      StatsCase{ExportProtocol::kSflowV5, 256, SamplingMode::kRandom, 5}));

}  // namespace
}  // namespace fathom::gen
