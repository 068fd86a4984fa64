#include "gen/flow_meter.h"

#include <gtest/gtest.h>

namespace fathom::gen {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kStart = 1'700'000'000 * kSecond;

FlowSpec bulk_flow(uint32_t packets, int64_t duration_s) {
  FlowSpec f;
  f.start_ns = kStart + 100'000'000;
  f.duration_ns = duration_s * kSecond;
  f.src = flow::IpAddress::from_v4(0x0a000001);
  f.dst = flow::IpAddress::from_v4(0x08080808);
  f.src_port = 40000;
  f.dst_port = 443;
  f.packets = packets;
  f.size_first = 60;
  f.size_mid = 1500;
  f.size_last = 52;
  f.flags_first = kTcpSyn;
  f.flags_mid = kTcpAck | kTcpPsh;
  f.flags_last = kTcpFin | kTcpAck;
  return f;
}

std::vector<ExportRecord> drain(FlowMeter& meter, int64_t seconds) {
  std::vector<ExportRecord> all;
  ExportBucket b;
  for (int64_t s = 0; s < seconds; ++s) {
    meter.take(s, b);
    all.insert(all.end(), b.records.begin(), b.records.end());
  }
  return all;
}

TEST(FlowMeterTest, UnsampledLongFlowIsSplitByTheActiveTimeout) {
  ExporterConfig cfg;
  cfg.active_timeout_ns = 60 * kSecond;
  FlowMeter meter(cfg, 1, kStart);
  const FlowSpec f = bulk_flow(150'001, 150);  // one packet per millisecond
  meter.observe(f);
  const auto records = drain(meter, 400);
  ASSERT_EQ(records.size(), 3u);  // [0, 60) [60, 120) [120, 150]
  uint64_t packets = 0;
  uint64_t bytes = 0;
  for (const auto& r : records) {
    packets += r.packets;
    bytes += r.bytes;
    EXPECT_LT(r.last_ns - r.first_ns, 60 * kSecond);
  }
  EXPECT_EQ(packets, f.packets);
  EXPECT_EQ(bytes, f.total_bytes());
  EXPECT_EQ(records[0].end_reason, kEndActive);
  EXPECT_EQ(records[0].tcp_flags, kTcpSyn | kTcpAck | kTcpPsh);
  EXPECT_EQ(records[2].end_reason, kEndOfFlow);
  EXPECT_EQ(records[2].tcp_flags & kTcpFin, kTcpFin);
}

TEST(FlowMeterTest, RecordsLeaveTheCacheAfterTheInactiveTimeout) {
  ExporterConfig cfg;
  cfg.inactive_timeout_ns = 15 * kSecond;
  FlowMeter meter(cfg, 1, kStart);
  FlowSpec f = bulk_flow(2, 1);
  f.proto = kProtoUdp;  // no FIN: the entry idles out
  meter.observe(f);
  ExportBucket b;
  for (int64_t s = 0; s < 16; ++s) {
    meter.take(s, b);
    EXPECT_TRUE(b.records.empty()) << "second " << s;
  }
  meter.take(16, b);
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_EQ(b.records[0].end_reason, kEndIdle);
}

TEST(FlowMeterTest, DeterministicSamplingSelectsEveryNthPacket) {
  ExporterConfig cfg;
  cfg.sampling_rate = 100;
  cfg.sampling_mode = SamplingMode::kDeterministic;
  FlowMeter meter(cfg, 9, kStart);
  for (int i = 0; i < 10; ++i) meter.observe(bulk_flow(1000, 10));
  EXPECT_EQ(meter.stats().packets_seen, 10'000u);
  EXPECT_EQ(meter.stats().packets_sampled, 100u);
}

TEST(FlowMeterTest, RandomSamplingIsCloseToOneInN) {
  ExporterConfig cfg;
  cfg.sampling_rate = 50;
  FlowMeter meter(cfg, 3, kStart);
  for (int i = 0; i < 100; ++i) meter.observe(bulk_flow(10'000, 20));
  const double expected = 1'000'000.0 / 50;
  EXPECT_NEAR(static_cast<double>(meter.stats().packets_sampled), expected,
              4.5 * std::sqrt(expected));
  uint64_t packets = 0;
  for (const auto& r : drain(meter, 400)) packets += r.packets;
  EXPECT_EQ(packets, meter.stats().packets_sampled);
}

TEST(FlowMeterTest, SflowSamplesCarryThePoolStep) {
  ExporterConfig cfg;
  cfg.protocol = ExportProtocol::kSflowV5;
  cfg.sampling_rate = 10;
  FlowMeter meter(cfg, 5, kStart);
  meter.observe(bulk_flow(5000, 5));
  ExportBucket b;
  uint64_t pool = 0;
  uint64_t samples = 0;
  for (int64_t s = 0; s < 10; ++s) {
    meter.take(s, b);
    EXPECT_TRUE(b.records.empty());
    for (const auto& smp : b.samples) {
      EXPECT_GE(smp.pool_delta, 1u);
      pool += smp.pool_delta;
      ++samples;
    }
  }
  EXPECT_EQ(samples, meter.stats().records);
  EXPECT_LE(pool, 5000u);
  EXPECT_GT(pool, 5000u - 200u);  // the tail after the last sample is not in the pool yet
}

}  // namespace
}  // namespace fathom::gen
