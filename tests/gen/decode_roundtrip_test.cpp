// Every datagram fathom-gen writes must decode cleanly with Fathom's own decoders, announce
// the configured sampling rate, and carry exactly the records and counters the meter produced.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <tuple>

#include "decode/decoder.h"
#include "gen/gen_test_util.h"

namespace fathom::gen {
namespace {

using testing::capture;
using testing::one_tenant;

struct RoundTripCase {
  ExportProtocol protocol;
  uint32_t rate;
  SamplingMode mode;
};

std::string case_name(const ::testing::TestParamInfo<RoundTripCase>& info) {
  return to_string(info.param.protocol) + "_rate" + std::to_string(info.param.rate) +
         (info.param.mode == SamplingMode::kRandom ? "_random" : "_deterministic");
}

class DecodeRoundTripTest : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(DecodeRoundTripTest, EveryDatagramDecodesWithTheConfiguredRate) {
  const RoundTripCase c = GetParam();
  Generator generator(one_tenant(c.protocol, c.rate, c.mode));
  const auto run = capture(generator);
  ASSERT_GT(run.datagrams.size(), 10u);

  decode::Decoder decoder;
  flow::FlowBatch batch(1 << 16);
  uint64_t records = 0;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  size_t datagram_idx = 0;
  for (const auto& d : run.datagrams) {
    batch.clear();
    decode::PacketContext ctx{d.info.exporter, d.info.exporter_port, d.info.time_ns};
    const auto status = decoder.decode(d.payload, ctx, batch);
    ASSERT_EQ(status, decode::DecodeStatus::kOk)
        << "datagram " << datagram_idx << ": " << decode::to_string(status);
    ASSERT_EQ(batch.size(), d.records) << "datagram " << datagram_idx;
    for (const auto& r : batch.records()) {
      ASSERT_EQ(r.device_sampling_rate, c.rate) << "datagram " << datagram_idx;
      if (c.rate > 1) {
        ASSERT_EQ(r.sampling_algorithm, c.mode == SamplingMode::kRandom
                                            ? flow::SamplingAlgorithm::kRandom
                                            : flow::SamplingAlgorithm::kDeterministic);
      }
      EXPECT_EQ(r.flags & flow::record_flags::kSamplingRateUnknown, 0);
      packets += r.packets;
      bytes += r.bytes;
    }
    records += batch.size();
    ++datagram_idx;
  }
  EXPECT_EQ(records, run.summary.records);
  const MeterStats& m = generator.meter_stats(0);
  EXPECT_EQ(packets, m.packets_sampled);
  if (c.protocol != ExportProtocol::kSflowV5) {
    EXPECT_EQ(bytes, m.bytes_sampled);
  }

  uint64_t problems = 0;
  decoder.for_each_exporter([&](const decode::ExporterState& e) {
    for (size_t i = 1; i < decode::kDecodeStatusCount; ++i) {
      EXPECT_EQ(e.stats.reasons[i], 0u) << decode::to_string(decode::DecodeStatus(i));
      problems += e.stats.reasons[i];
    }
    EXPECT_EQ(e.stats.packets_ok, run.datagrams.size());
  });
  EXPECT_EQ(problems, 0u);
}

// Unsampled, every flow the simulation produced comes back from the decoder with its 5-tuple,
// its packets and bytes (summed over active-timeout splits) and its first/last packet times.
class UnsampledContentTest : public ::testing::TestWithParam<ExportProtocol> {};

TEST_P(UnsampledContentTest, RecordsCarryTheSimulatedFlows) {
  const RoundTripCase c{GetParam(), 1, SamplingMode::kRandom};
  using Key = std::tuple<flow::IpAddress, flow::IpAddress, uint16_t, uint16_t, uint8_t>;
  struct Totals {
    uint64_t packets = 0;
    uint64_t bytes = 0;
    int64_t first = INT64_MAX;
    int64_t last = INT64_MIN;
  };
  std::map<Key, Totals> sent;
  Generator generator(one_tenant(c.protocol, 1, c.mode, 100, 20));
  generator.set_flow_observer([&](std::span<const FlowSpec> flows) {
    for (const auto& f : flows) {
      Totals& t = sent[Key{f.src, f.dst, f.src_port, f.dst_port, f.proto}];
      t.packets += f.packets;
      t.bytes += f.total_bytes();
      t.first = std::min(t.first, f.start_ns);
      t.last = std::max(t.last, f.time_at(f.packets - 1));
    }
  });
  const auto run = capture(generator);
  std::map<Key, Totals> decoded;
  decode::Decoder decoder;
  flow::FlowBatch batch(1 << 16);
  for (const auto& d : run.datagrams) {
    batch.clear();
    ASSERT_EQ(
        decoder.decode(d.payload, {d.info.exporter, d.info.exporter_port, d.info.time_ns}, batch),
        decode::DecodeStatus::kOk);
    for (const auto& r : batch.records()) {
      // Decoders report ICMP type/code in their own fields; NetFlow carries them in dst_port.
      const uint16_t dport = r.ip_protocol == 1 && r.dst_port == 0
                                 ? uint16_t(r.icmp_type << 8 | r.icmp_code)
                                 : r.dst_port;
      Totals& t = decoded[Key{r.src, r.dst, r.src_port, dport, r.ip_protocol}];
      t.packets += r.packets;
      t.bytes += r.bytes;
      t.first = std::min(t.first, r.start_ns);
      t.last = std::max(t.last, r.end_ns);
    }
  }
  ASSERT_EQ(decoded.size(), sent.size());
  constexpr int64_t kMs = 1'000'000;  // NetFlow/IPFIX times have millisecond resolution
  size_t checked = 0;
  for (const auto& [key, want] : sent) {
    const auto it = decoded.find(key);
    ASSERT_NE(it, decoded.end()) << std::get<0>(key).to_string() << " -> "
                                 << std::get<1>(key).to_string();
    const Totals& got = it->second;
    EXPECT_EQ(got.packets, want.packets);
    if (c.protocol != ExportProtocol::kSflowV5) {
      EXPECT_EQ(got.bytes, want.bytes);
      EXPECT_LE(std::abs(got.first - want.first), kMs);
      EXPECT_LE(std::abs(got.last - want.last), kMs);
    }
    if (++checked > 20000 || ::testing::Test::HasFailure()) break;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllProtocols, DecodeRoundTripTest,
    ::testing::Values(RoundTripCase{ExportProtocol::kNetflowV5, 1, SamplingMode::kRandom},
                      RoundTripCase{ExportProtocol::kNetflowV5, 100, SamplingMode::kRandom},
                      RoundTripCase{ExportProtocol::kNetflowV5, 50, SamplingMode::kDeterministic},
                      RoundTripCase{ExportProtocol::kNetflowV9, 1, SamplingMode::kRandom},
                      RoundTripCase{ExportProtocol::kNetflowV9, 100, SamplingMode::kRandom},
                      RoundTripCase{ExportProtocol::kNetflowV9, 64, SamplingMode::kDeterministic},
                      RoundTripCase{ExportProtocol::kIpfix, 1, SamplingMode::kRandom},
                      RoundTripCase{ExportProtocol::kIpfix, 100, SamplingMode::kRandom},
                      RoundTripCase{ExportProtocol::kIpfix, 32, SamplingMode::kDeterministic},
                      RoundTripCase{ExportProtocol::kSflowV5, 1, SamplingMode::kRandom},
                      RoundTripCase{ExportProtocol::kSflowV5, 256, SamplingMode::kRandom}),
    case_name);

INSTANTIATE_TEST_SUITE_P(AllProtocols, UnsampledContentTest,
                         ::testing::Values(ExportProtocol::kNetflowV5, ExportProtocol::kNetflowV9,
                                           ExportProtocol::kIpfix, ExportProtocol::kSflowV5),
                         [](const ::testing::TestParamInfo<ExportProtocol>& info) {
                           return to_string(info.param);
                         });

}  // namespace
}  // namespace fathom::gen
