// sFlow counter samples: every sFlow exporter polls generic interface counters at its
// interval and once at the end of the run; Fathom's decoder reads them (FlowBatch::counters())
// and the last ones equal the traffic the exporter's sampler saw.

#include <gtest/gtest.h>

#include <vector>

#include "decode/decoder.h"
#include "gen/gen_test_util.h"

namespace fathom::gen {
namespace {

using testing::capture;
using testing::one_tenant;

struct Decoded {
  std::vector<flow::InterfaceCounters> input;   ///< ifIndex 1, in run order
  std::vector<flow::InterfaceCounters> output;  ///< ifIndex 2
  uint64_t records = 0;
};

Decoded decode_all(const testing::CapturedRun& run) {
  decode::Decoder decoder;
  flow::FlowBatch batch(1 << 16);
  Decoded out;
  for (const auto& d : run.datagrams) {
    batch.clear();
    const decode::PacketContext ctx{d.info.exporter, d.info.exporter_port, d.info.time_ns};
    EXPECT_EQ(decoder.decode(d.payload, ctx, batch), decode::DecodeStatus::kOk);
    EXPECT_EQ(batch.size(), d.records);
    out.records += batch.size();
    for (const flow::InterfaceCounters& c : batch.counters()) {
      (c.if_index == 1 ? out.input : out.output).push_back(c);
    }
  }
  return out;
}

TEST(SflowCountersTest, CountersArriveEveryIntervalAndEndAtTheExportersTotals) {
  Scenario s = one_tenant(ExportProtocol::kSflowV5, 64, SamplingMode::kRandom, 300, 30);
  s.tenants[0].exporters[0].sflow_counter_interval_ns = 5'000'000'000;
  Generator generator(std::move(s));
  const auto run = capture(generator);
  const Decoded d = decode_all(run);
  EXPECT_EQ(d.records, run.summary.records);  // counter datagrams carry no flow records

  // One poll per 5 s of the run (flush included) plus a last one unless the run ends on one.
  const int64_t seconds = run.summary.simulated_ns / 1'000'000'000;
  const size_t polls = static_cast<size_t>(seconds / 5 + (seconds % 5 != 0 ? 1 : 0));
  ASSERT_EQ(d.input.size(), polls);
  ASSERT_EQ(d.output.size(), polls);
  for (size_t i = 0; i < polls; ++i) {
    const flow::InterfaceCounters& in = d.input[i];
    EXPECT_EQ(in.sequence, i + 1) << "poll " << i;  // per data source
    EXPECT_EQ(d.output[i].sequence, i + 1) << "poll " << i;
    EXPECT_EQ(in.source_id, 1u);
    EXPECT_EQ(in.if_type, 6u);
    EXPECT_EQ(in.if_speed, 10'000'000'000u);
    EXPECT_EQ(in.if_status, 3u);
    EXPECT_EQ(in.out_octets, 0u);
    EXPECT_EQ(d.output[i].in_octets, 0u);
    EXPECT_EQ(d.output[i].out_octets, in.in_octets);
    EXPECT_EQ(in.agent, flow::IpAddress::from_v4(0x7f000009));
    EXPECT_EQ(in.sub_agent, 5u);
    if (i > 0) {
      EXPECT_GE(in.in_octets, d.input[i - 1].in_octets) << "poll " << i;
      EXPECT_GE(in.in_ucast_pkts, d.input[i - 1].in_ucast_pkts) << "poll " << i;
    }
  }
  // Traffic grows while the scenario runs.
  EXPECT_GT(d.input[1].in_ucast_pkts, d.input[0].in_ucast_pkts);
  // The last poll equals everything the sampler saw, with Ethernet framing in the octets.
  const MeterStats& seen = generator.meter_stats(0);
  ASSERT_GT(seen.packets_seen, 0u);
  EXPECT_EQ(d.input.back().in_ucast_pkts, static_cast<uint32_t>(seen.packets_seen));
  EXPECT_EQ(d.input.back().in_octets, seen.bytes_seen + 18 * seen.packets_seen);
  EXPECT_EQ(d.output.back().out_ucast_pkts, static_cast<uint32_t>(seen.packets_seen));
}

TEST(SflowCountersTest, IntervalZeroTurnsThemOff) {
  Scenario s = one_tenant(ExportProtocol::kSflowV5, 64, SamplingMode::kRandom, 300, 10);
  s.tenants[0].exporters[0].sflow_counter_interval_ns = 0;
  const Decoded d = decode_all(capture(std::move(s)));
  EXPECT_GT(d.records, 0u);
  EXPECT_TRUE(d.input.empty());
  EXPECT_TRUE(d.output.empty());
}

TEST(SflowCountersTest, IntervalMustBeWholeSeconds) {
  Scenario s = one_tenant(ExportProtocol::kSflowV5, 64);
  s.tenants[0].exporters[0].sflow_counter_interval_ns = 1'500'000'000;
  EXPECT_THROW(Generator{std::move(s)}, std::invalid_argument);
}

}  // namespace
}  // namespace fathom::gen
