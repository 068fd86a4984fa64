#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>

#include "decode/decoder.h"
#include "decode/detail/protocols.h"
#include "testing/wire_writer.h"

namespace fathom::decode {
namespace {

using testing::WireWriter;

constexpr int64_t kArrivalNs = 1'705'320'200'000'000'000;
constexpr uint32_t kUnixSecs = 1'705'320'183;
constexpr uint32_t kUnixNsecs = 802'213'000;
constexpr int64_t kExportNs = int64_t{kUnixSecs} * 1'000'000'000 + kUnixNsecs;

struct V5Header {
  uint16_t count = 1;
  uint32_t uptime_ms = 100'000;
  uint8_t engine_type = 0;
  uint8_t engine_id = 0;
  uint16_t sampling = 0;
};

struct V5Record {
  uint32_t first_ms = 90'000;
  uint32_t last_ms = 99'000;
  uint16_t src_port = 41208;
  uint16_t dst_port = 80;
  uint8_t proto = 6;
};

void write_header(WireWriter& w, const V5Header& h) {
  w.u16(5).u16(h.count).u32(h.uptime_ms).u32(kUnixSecs).u32(kUnixNsecs).u32(77);
  w.u8(h.engine_type).u8(h.engine_id).u16(h.sampling);
}

void write_record(WireWriter& w, const V5Record& r) {
  w.ipv4(10, 10, 5, 110).ipv4(198, 19, 67, 24).ipv4(10, 0, 0, 254);
  w.u16(3).u16(7);      // input, output ifIndex
  w.u32(16).u32(5052);  // dPkts, dOctets
  w.u32(r.first_ms).u32(r.last_ms);
  w.u16(r.src_port).u16(r.dst_port);
  w.u8(0).u8(0x1b).u8(r.proto).u8(0x28);  // pad1, tcp_flags, prot, tos
  w.u16(64512).u16(15169);                // src_as, dst_as
  w.u8(16).u8(24).u16(0);                 // masks, pad2
}

WireWriter packet(const V5Header& h, int records, const V5Record& r = {}) {
  WireWriter w;
  write_header(w, h);
  for (int i = 0; i < records; ++i) write_record(w, r);
  return w;
}

class NetflowV5Test : public ::testing::Test {
 protected:
  NetflowV5Test() : exporter_(*flow::IpAddress::parse("192.0.2.1")) {
    ctx_.exporter = exporter_.address;
    ctx_.exporter_port = 2055;
    ctx_.arrival_ns = kArrivalNs;
  }
  DecodeStatus decode(const WireWriter& w) {
    return detail::decode_netflow_v5(w.span(), ctx_, exporter_, batch_);
  }
  uint64_t reason(DecodeStatus s) const { return exporter_.stats.reason(s); }

  ExporterState exporter_;
  PacketContext ctx_;
  flow::FlowBatch batch_;
};

TEST_F(NetflowV5Test, DecodesEveryField) {
  V5Header h;
  h.engine_type = 1;
  h.engine_id = 2;
  ASSERT_EQ(decode(packet(h, 1)), DecodeStatus::kOk);
  ASSERT_EQ(batch_.size(), 1u);
  const flow::FlowRecord& r = batch_[0];
  EXPECT_EQ(r.source, flow::SourceProtocol::kNetflowV5);
  EXPECT_EQ(r.arrival_ns, kArrivalNs);
  EXPECT_EQ(r.exporter, ctx_.exporter);
  EXPECT_EQ(r.exporter_port, 2055);
  EXPECT_EQ(r.src, *flow::IpAddress::parse("10.10.5.110"));
  EXPECT_EQ(r.dst, *flow::IpAddress::parse("198.19.67.24"));
  EXPECT_EQ(r.next_hop, *flow::IpAddress::parse("10.0.0.254"));
  EXPECT_EQ(r.input_if, 3u);
  EXPECT_EQ(r.output_if, 7u);
  EXPECT_EQ(r.packets, 16u);
  EXPECT_EQ(r.bytes, 5052u);
  // first/last are uptime ms: 10 s and 1 s before the export's uptime of 100 s.
  EXPECT_EQ(r.start_ns, kExportNs - 10'000'000'000);
  EXPECT_EQ(r.end_ns, kExportNs - 1'000'000'000);
  EXPECT_EQ(r.src_port, 41208);
  EXPECT_EQ(r.dst_port, 80);
  EXPECT_EQ(r.tcp_flags, 0x1b);
  EXPECT_EQ(r.ip_protocol, 6);
  EXPECT_EQ(r.tos, 0x28);
  EXPECT_EQ(r.src_as, 64512u);
  EXPECT_EQ(r.dst_as, 15169u);
  EXPECT_EQ(r.src_mask, 16);
  EXPECT_EQ(r.dst_mask, 24);
  EXPECT_EQ(r.observation_domain, (1u << 8) | 2u);
  EXPECT_EQ(r.device_sampling_rate, 1u);
  EXPECT_EQ(r.sampling_rate, 1.0);
  EXPECT_EQ(r.sampling_algorithm, flow::SamplingAlgorithm::kUnknown);
  EXPECT_EQ(r.icmp_type, 0);
  EXPECT_EQ(exporter_.stats.records, 1u);
}

TEST_F(NetflowV5Test, DecodesThirtyRecords) {
  V5Header h;
  h.count = 30;
  ASSERT_EQ(decode(packet(h, 30)), DecodeStatus::kOk);
  EXPECT_EQ(batch_.size(), 30u);
  EXPECT_EQ(exporter_.stats.records, 30u);
}

TEST_F(NetflowV5Test, ZeroCountIsAnEmptyPacket) {
  V5Header h;
  h.count = 0;
  EXPECT_EQ(decode(packet(h, 0)), DecodeStatus::kOk);
  EXPECT_EQ(batch_.size(), 0u);
}

TEST_F(NetflowV5Test, ToleratesTrailingPadding) {
  WireWriter w = packet(V5Header{}, 1);
  w.zeros(4);
  EXPECT_EQ(decode(w), DecodeStatus::kOk);
  EXPECT_EQ(batch_.size(), 1u);
}

TEST_F(NetflowV5Test, SamplingIntervalModes) {
  struct Case {
    uint16_t field;
    uint32_t rate;
    flow::SamplingAlgorithm algorithm;
  };
  const Case cases[] = {
      {0x0000, 1, flow::SamplingAlgorithm::kUnknown},
      {0x4000 | 100, 100, flow::SamplingAlgorithm::kDeterministic},
      {0x8000 | 1000, 1000, flow::SamplingAlgorithm::kRandom},
      {0x0000 | 50, 50, flow::SamplingAlgorithm::kUnknown},
      {0x4000, 1, flow::SamplingAlgorithm::kDeterministic},  // mode set, interval 0: unsampled
      {0xffff, 0x3fff, flow::SamplingAlgorithm::kUnknown},   // mode 3 is undefined
  };
  for (const Case& c : cases) {
    batch_.clear();
    V5Header h;
    h.sampling = c.field;
    ASSERT_EQ(decode(packet(h, 1)), DecodeStatus::kOk);
    ASSERT_EQ(batch_.size(), 1u);
    EXPECT_EQ(batch_[0].device_sampling_rate, c.rate) << c.field;
    EXPECT_EQ(batch_[0].sampling_rate, static_cast<double>(c.rate)) << c.field;
    EXPECT_EQ(batch_[0].sampling_algorithm, c.algorithm) << c.field;
  }
}

TEST_F(NetflowV5Test, TimesAcrossUptimeWrap) {
  // Uptime wrapped 2 s ago (now 2000 ms); the flow started 3 s before the wrap and ended 1 s
  // after it.
  V5Header h;
  h.uptime_ms = 2'000;
  V5Record rec;
  rec.first_ms = 0xffffffffu - 2'999;
  rec.last_ms = 1'000;
  ASSERT_EQ(decode(packet(h, 1, rec)), DecodeStatus::kOk);
  EXPECT_EQ(batch_[0].start_ns, kExportNs - 5'000'000'000);
  EXPECT_EQ(batch_[0].end_ns, kExportNs - 1'000'000'000);
}

TEST_F(NetflowV5Test, TimeSlightlyAfterUptimeIsNotAWrap) {
  // Exporter clock skew: last is 5 ms past the header's uptime. Not 49.7 days ago.
  V5Header h;
  h.uptime_ms = 100'000;
  V5Record rec;
  rec.first_ms = 99'000;
  rec.last_ms = 100'005;
  ASSERT_EQ(decode(packet(h, 1, rec)), DecodeStatus::kOk);
  EXPECT_EQ(batch_[0].end_ns, kExportNs + 5'000'000);
}

TEST_F(NetflowV5Test, IcmpTypeCodeFromDestinationPort) {
  V5Record rec;
  rec.src_port = 0;
  rec.dst_port = 0x0803;  // type 8, code 3
  rec.proto = 1;
  ASSERT_EQ(decode(packet(V5Header{}, 1, rec)), DecodeStatus::kOk);
  EXPECT_EQ(batch_[0].icmp_type, 8);
  EXPECT_EQ(batch_[0].icmp_code, 3);
  EXPECT_EQ(batch_[0].dst_port, 0x0803);  // kept as exported
}

TEST_F(NetflowV5Test, ZeroNextHopIsAbsent) {
  WireWriter w = packet(V5Header{}, 1);
  w.patch_u32(24 + 8, 0);
  ASSERT_EQ(decode(w), DecodeStatus::kOk);
  EXPECT_TRUE(batch_[0].next_hop.is_unspecified());
}

TEST_F(NetflowV5Test, CountAboveThirtyIsRejected) {
  for (uint16_t count : {uint16_t{31}, uint16_t{0xffff}}) {
    V5Header h;
    h.count = count;
    EXPECT_EQ(decode(packet(h, 31)), DecodeStatus::kBadRecordCount);
  }
  EXPECT_EQ(reason(DecodeStatus::kBadRecordCount), 2u);
  EXPECT_EQ(batch_.size(), 0u);
  EXPECT_EQ(exporter_.stats.records, 0u);
}

TEST_F(NetflowV5Test, CountLyingAboutTheLengthIsTruncated) {
  V5Header h;
  h.count = 3;
  EXPECT_EQ(decode(packet(h, 2)), DecodeStatus::kTruncated);
  EXPECT_EQ(reason(DecodeStatus::kTruncated), 1u);
  EXPECT_EQ(batch_.size(), 0u);  // nothing half-decoded from a lying header
}

TEST_F(NetflowV5Test, TruncatedAtEveryLength) {
  V5Header h;
  h.count = 2;
  const WireWriter full = packet(h, 2);
  for (size_t len = 0; len < full.size(); ++len) {
    WireWriter w = full;
    w.truncate(len);
    EXPECT_EQ(decode(w), DecodeStatus::kTruncated) << len;
  }
  EXPECT_EQ(reason(DecodeStatus::kTruncated), full.size());
  EXPECT_EQ(batch_.size(), 0u);
  EXPECT_EQ(exporter_.stats.records, 0u);
}

TEST_F(NetflowV5Test, WrongVersionIsRejected) {
  WireWriter w = packet(V5Header{}, 1);
  w.patch_u16(0, 7);
  EXPECT_EQ(decode(w), DecodeStatus::kBadVersion);
  EXPECT_EQ(reason(DecodeStatus::kBadVersion), 1u);
}

TEST_F(NetflowV5Test, DispatchedByDecoder) {
  Decoder decoder;
  V5Header h;
  h.count = 2;
  const WireWriter w = packet(h, 2);
  ASSERT_EQ(decoder.decode(w.span(), ctx_, batch_), DecodeStatus::kOk);
  EXPECT_EQ(batch_.size(), 2u);
  decoder.for_each_exporter([](const ExporterState& e) {
    EXPECT_EQ(e.stats.packets_ok, 1u);
    EXPECT_EQ(e.stats.records, 2u);
    EXPECT_EQ(e.stats.last_version, 5);
  });
}

}  // namespace
}  // namespace fathom::decode
