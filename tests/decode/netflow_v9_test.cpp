// NetFlow v9 (RFC 3954) decoding through the Decoder facade: fields, times, sampling options,
// parked data sets and every malformed case with its counter.

#include <gtest/gtest.h>

#include "decode/decoder.h"
#include "decode/detail/protocols.h"
#include "template_packets.h"

namespace fathom::decode {
namespace {

using flow::FlowBatch;
using flow::IpAddress;
using testing::FlowPacket;
using testing::kArrivalNs;
using testing::kExportSecs;
using testing::stats_of;
namespace rf = flow::record_flags;

constexpr uint32_t kUptime = 600'000;  // ms
constexpr int64_t kExportMs = int64_t{kExportSecs} * 1000;

// softflowd's IPv4 template (see captures/netflow_v9.pcap) plus MACs, VLAN, AS, masks,
// next hop, forwarding status and end reason.
FlowPacket& add_v4_template(FlowPacket& p, uint16_t id = 1024) {
  return p.template_set(
      id, {{8, 4},   {12, 4}, {22, 4}, {21, 4}, {1, 4},  {2, 4},  {10, 4}, {14, 4}, {61, 1},
           {136, 1}, {7, 2},  {11, 2}, {4, 1},  {6, 1},  {60, 1}, {5, 1},  {9, 1},  {13, 1},
           {15, 4},  {16, 2}, {17, 4}, {56, 6}, {80, 6}, {58, 2}, {89, 1}});
}

void add_v4_record(FlowPacket& p, uint32_t first, uint32_t last, uint32_t bytes = 1500) {
  p.w.ipv4(10, 0, 0, 1).ipv4(192, 0, 2, 9).u32(first).u32(last).u32(bytes).u32(3);
  p.w.u32(7).u32(9).u8(1).u8(2).u16(51000).u16(443).u8(6).u8(0x1b).u8(4).u8(0x28);
  p.w.u8(24).u8(16).ipv4(10, 0, 0, 254).u16(64500).u32(4200000000u);
  p.w.bytes({1, 2, 3, 4, 5, 6}).bytes({7, 8, 9, 10, 11, 12}).u16(100).u8(0x40);
}

TEST(NetflowV9, TemplateThenDataDecodesEveryField) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::v9(kUptime, kExportSecs, 42);
  add_v4_template(p);
  p.begin_set(1024);
  add_v4_record(p, kUptime - 5000, kUptime - 1000);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  const flow::FlowRecord& r = out[0];
  EXPECT_EQ(r.src, IpAddress::from_v4(0x0a000001));
  EXPECT_EQ(r.dst, IpAddress::from_v4(0xc0000209));
  EXPECT_EQ(r.start_ns, (kExportMs - 5000) * 1'000'000);
  EXPECT_EQ(r.end_ns, (kExportMs - 1000) * 1'000'000);
  EXPECT_EQ(r.bytes, 1500u);
  EXPECT_EQ(r.packets, 3u);
  EXPECT_EQ(r.input_if, 7u);
  EXPECT_EQ(r.output_if, 9u);
  EXPECT_EQ(r.exporter_direction, 1);
  EXPECT_EQ(r.end_reason, 2);
  EXPECT_EQ(r.src_port, 51000);
  EXPECT_EQ(r.dst_port, 443);
  EXPECT_EQ(r.ip_protocol, 6);
  EXPECT_EQ(r.tcp_flags, 0x1b);
  EXPECT_EQ(r.tos, 0x28);
  EXPECT_EQ(r.src_mask, 24);
  EXPECT_EQ(r.dst_mask, 16);
  EXPECT_EQ(r.next_hop, IpAddress::from_v4(0x0a0000fe));
  EXPECT_EQ(r.src_as, 64500u);
  EXPECT_EQ(r.dst_as, 4200000000u);
  EXPECT_EQ(r.src_mac, (std::array<uint8_t, 6>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(r.dst_mac, (std::array<uint8_t, 6>{7, 8, 9, 10, 11, 12}));
  EXPECT_EQ(r.vlan, 100);
  EXPECT_EQ(r.forwarding_status, 0x40);
  EXPECT_EQ(r.source, flow::SourceProtocol::kNetflowV9);
  EXPECT_EQ(r.observation_domain, 42u);
  EXPECT_EQ(r.arrival_ns, kArrivalNs);
  EXPECT_EQ(r.exporter, testing::test_context().exporter);
  EXPECT_EQ(r.exporter_port, 2055);
  // No options record announced a rate.
  EXPECT_EQ(r.device_sampling_rate, 1u);
  EXPECT_EQ(r.sampling_rate, 1.0);
  EXPECT_EQ(r.flags, rf::kSamplingRateUnknown);

  const ExporterStats s = stats_of(decoder);
  EXPECT_EQ(s.records, 1u);
  EXPECT_EQ(s.templates_added, 1u);
  EXPECT_EQ(s.templates_active, 1u);
  EXPECT_EQ(s.sampling_unknown, 1u);
  EXPECT_EQ(s.packets_ok, 1u);
}

TEST(NetflowV9, Ipv6TemplateWithIcmpAndNextHop) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::v9(kUptime);
  p.template_set(2049, {{27, 16}, {28, 16}, {62, 16}, {139, 2}, {4, 1}, {1, 8}, {2, 8}});
  p.begin_set(2049);
  p.w.bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  p.w.bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
  p.w.bytes({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3});
  p.w.u16(0x8000).u8(58).u64(5'000'000'000ull).u64(4);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].src.to_string(), "2001:db8::1");
  EXPECT_EQ(out[0].dst.to_string(), "2001:db8::2");
  EXPECT_EQ(out[0].next_hop.to_string(), "fe80::3");
  EXPECT_EQ(out[0].icmp_type, 128);
  EXPECT_EQ(out[0].icmp_code, 0);
  EXPECT_EQ(out[0].bytes, 5'000'000'000ull);
  // No time fields: export time and a flag.
  EXPECT_EQ(out[0].start_ns, kExportMs * 1'000'000);
  EXPECT_EQ(out[0].end_ns, kExportMs * 1'000'000);
  EXPECT_TRUE(out[0].flags & rf::kNoFlowTimes);
}

TEST(NetflowV9, SwitchedTimesSurviveUptimeWrap) {
  Decoder decoder;
  FlowBatch out;
  // Uptime wrapped to 1000 ms; the flow started 4096 ms before the wrap (RFC 3954 §5.1 times
  // are 32-bit ms counters).
  auto p = FlowPacket::v9(1000);
  p.template_set(300, {{22, 4}, {21, 4}, {1, 4}});
  p.begin_set(300);
  p.w.u32(0xFFFFF000u).u32(0).u32(10);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].start_ns, (kExportMs - 1000 - 4096) * 1'000'000);
  EXPECT_EQ(out[0].end_ns, (kExportMs - 1000) * 1'000'000);
  EXPECT_FALSE(out[0].flags & rf::kNoFlowTimes);
}

TEST(NetflowV9, ZeroSwitchedIsBootTimeNotAbsent) {
  // softflowd stamps flows that start at its first packet with uptime 0 (the captures'
  // "Jan 1, 1970" first_raw rows): that is boot time, export time minus uptime.
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::v9(kUptime);
  p.template_set(300, {{22, 4}, {21, 4}, {1, 4}});
  p.begin_set(300).w.u32(0).u32(32).u32(10);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  EXPECT_EQ(out[0].start_ns, (kExportMs - kUptime) * 1'000'000);
  EXPECT_EQ(out[0].end_ns, (kExportMs - kUptime + 32) * 1'000'000);
}

TEST(NetflowV9, TotalsUsedOnlyWithoutDeltas) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::v9(kUptime);
  p.template_set(300, {{85, 4}, {86, 4}});                  // totals only
  p.template_set(301, {{85, 4}, {1, 4}, {2, 2}, {24, 4}});  // delta wins over total and post
  p.begin_set(300).w.u32(111).u32(11);
  p.end_set();
  p.begin_set(301).w.u32(999).u32(222).u16(22).u32(77);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].bytes, 111u);
  EXPECT_EQ(out[0].packets, 11u);
  EXPECT_EQ(out[1].bytes, 222u);
  EXPECT_EQ(out[1].packets, 22u);
}

TEST(NetflowV9, ReducedWidthIntegersAndPaddingAfterRecords) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::v9(kUptime);
  p.template_set(300, {{1, 2}, {10, 2}, {14, 1}, {16, 4}, {6, 2}});
  p.begin_set(300);
  p.w.u16(1234).u16(3).u8(4).u32(65551).u16(0x0112);
  p.w.u16(1).u16(1).u8(1).u32(1).u16(1);
  p.w.zeros(3);  // RFC 3954 §5.3 padding to a 32-bit boundary
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].bytes, 1234u);
  EXPECT_EQ(out[0].input_if, 3u);
  EXPECT_EQ(out[0].output_if, 4u);
  EXPECT_EQ(out[0].src_as, 65551u);
  EXPECT_EQ(out[0].tcp_flags, 0x0112);
  EXPECT_EQ(stats_of(decoder).records, 2u);
}

TEST(NetflowV9, VendorAndUnknownFieldTypesAreSkippedByLength) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::v9(kUptime);
  p.template_set(300, {{0x8001, 3}, {1, 4}, {40000, 5}, {700, 1}, {2, 4}});
  p.begin_set(300).w.zeros(3).u32(10).zeros(5).u8(0).u32(2);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].bytes, 10u);
  EXPECT_EQ(out[0].packets, 2u);
}

TEST(NetflowV9, SystemSamplingOptionsApplyToData) {
  Decoder decoder;
  FlowBatch out;
  // softflowd: scope System (type 1, 4 bytes), options 34 interval, 35 algorithm, 82 name.
  auto p = FlowPacket::v9(kUptime);
  p.options_template_set(256, {{1, 4}}, {{34, 4}, {35, 1}, {82, 16}});
  p.begin_set(256).w.u32(0).u32(100).u8(1).text("traffic.pcap").zeros(4);
  p.w.pad_to(4);
  p.end_set();
  p.template_set(300, {{8, 4}, {1, 4}});
  p.begin_set(300).w.ipv4(10, 0, 0, 1).u32(40);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].device_sampling_rate, 100u);
  EXPECT_EQ(out[0].sampling_rate, 100.0);
  EXPECT_EQ(out[0].sampling_algorithm, flow::SamplingAlgorithm::kDeterministic);
  EXPECT_FALSE(out[0].flags & rf::kSamplingRateUnknown);
  EXPECT_EQ(stats_of(decoder).sampling_unknown, 0u);
  EXPECT_EQ(stats_of(decoder).templates_active, 2u);
}

TEST(NetflowV9, PerRecordSamplerIdSelectsItsRate) {
  Decoder decoder;
  FlowBatch out;
  // Cisco style: options keyed by sampler id (IE 48) with mode (49) and interval (50).
  auto p = FlowPacket::v9(kUptime);
  p.options_template_set(257, {{2, 4}}, {{48, 1}, {49, 1}, {50, 4}});
  p.begin_set(257);
  p.w.u32(5).u8(1).u8(2).u32(1000);
  p.w.u32(5).u8(2).u8(1).u32(10);
  p.end_set();
  p.template_set(300, {{48, 1}, {1, 4}});
  p.begin_set(300).w.u8(1).u32(1).u8(2).u32(2).u8(3).u32(3);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].device_sampling_rate, 1000u);
  EXPECT_EQ(out[0].sampling_algorithm, flow::SamplingAlgorithm::kRandom);
  EXPECT_EQ(out[0].sampler_id, 1);
  EXPECT_EQ(out[1].device_sampling_rate, 10u);
  EXPECT_EQ(out[1].sampling_algorithm, flow::SamplingAlgorithm::kDeterministic);
  // Sampler 3 was never announced.
  EXPECT_EQ(out[2].device_sampling_rate, 1u);
  EXPECT_TRUE(out[2].flags & rf::kSamplingRateUnknown);
  EXPECT_EQ(stats_of(decoder).sampling_unknown, 1u);
}

TEST(NetflowV9, PerRecordSamplingIntervalAppliesDirectly) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::v9(kUptime);
  p.template_set(300, {{34, 4}, {35, 1}, {1, 4}});
  p.begin_set(300).w.u32(512).u8(2).u32(1);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  EXPECT_EQ(out[0].device_sampling_rate, 512u);
  EXPECT_EQ(out[0].sampling_rate, 512.0);
  EXPECT_EQ(out[0].sampling_algorithm, flow::SamplingAlgorithm::kRandom);
}

TEST(NetflowV9, DataBeforeTemplateIsParkedThenDecodedLate) {
  Decoder decoder;
  FlowBatch out;
  auto data = FlowPacket::v9(kUptime);
  data.begin_set(1024);
  add_v4_record(data, kUptime - 5000, kUptime - 1000);
  add_v4_record(data, kUptime - 4000, kUptime - 2000);
  data.end_set();
  EXPECT_EQ(testing::feed(decoder, data, out, kArrivalNs), DecodeStatus::kUnknownTemplate);
  EXPECT_EQ(out.size(), 0u);
  ExporterStats s = stats_of(decoder);
  EXPECT_EQ(s.reason(DecodeStatus::kUnknownTemplate), 1u);
  EXPECT_EQ(s.pending_parked, 1u);

  // The template arrives a second later, in a message with a later uptime.
  auto tmpl = FlowPacket::v9(kUptime + 1000, kExportSecs + 1);
  add_v4_template(tmpl);
  ASSERT_EQ(testing::feed(decoder, tmpl, out, kArrivalNs + 1'000'000'000), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 2u);
  for (const flow::FlowRecord& r : out.records()) {
    EXPECT_TRUE(r.flags & rf::kDecodedLate);
    EXPECT_EQ(r.arrival_ns, kArrivalNs);  // the parked message's own arrival and clock
  }
  EXPECT_EQ(out[0].start_ns, (kExportMs - 5000) * 1'000'000);
  s = stats_of(decoder);
  EXPECT_EQ(s.pending_decoded, 1u);
  EXPECT_EQ(s.records, 2u);
  EXPECT_EQ(s.reason(DecodeStatus::kUnknownTemplate), 1u);
}

TEST(NetflowV9, PendingBufferOverflowIsCounted) {
  Config config;
  config.max_pending_bytes_per_exporter = 300;
  Decoder decoder(config);
  FlowBatch out;
  for (int i = 0; i < 3; ++i) {
    auto data = FlowPacket::v9(kUptime);
    data.begin_set(1024);
    add_v4_record(data, 1, 2);
    data.end_set();
    testing::feed(decoder, data, out);
  }
  const ExporterStats s = stats_of(decoder);
  EXPECT_EQ(s.reason(DecodeStatus::kUnknownTemplate), 3u);
  EXPECT_GE(s.reason(DecodeStatus::kPendingOverflow), 1u);
  EXPECT_EQ(s.pending_parked + s.reason(DecodeStatus::kPendingOverflow), 3u);
}

TEST(NetflowV9, ParkedSetsExpire) {
  Config config;
  Decoder decoder(config);
  FlowBatch out;
  auto data = FlowPacket::v9(kUptime);
  data.begin_set(1024);
  add_v4_record(data, 1, 2);
  data.end_set();
  testing::feed(decoder, data, out, kArrivalNs);
  decoder.expire(kArrivalNs + config.pending_timeout_ns - 1);
  EXPECT_EQ(stats_of(decoder).reason(DecodeStatus::kPendingExpired), 0u);
  decoder.expire(kArrivalNs + config.pending_timeout_ns + 1);
  EXPECT_EQ(stats_of(decoder).reason(DecodeStatus::kPendingExpired), 1u);
  // The template now finds nothing to decode.
  auto tmpl = FlowPacket::v9(kUptime);
  add_v4_template(tmpl);
  testing::feed(decoder, tmpl, out);
  EXPECT_EQ(out.size(), 0u);
  EXPECT_EQ(stats_of(decoder).pending_decoded, 0u);
}

TEST(NetflowV9, TemplateChangedInPlaceReplacesLayout) {
  Decoder decoder;
  FlowBatch out;
  auto p1 = FlowPacket::v9(kUptime);
  p1.template_set(300, {{1, 4}, {2, 4}});
  testing::feed(decoder, p1, out);
  auto p2 = FlowPacket::v9(kUptime);
  p2.template_set(300, {{2, 4}, {1, 4}});
  p2.begin_set(300).w.u32(5).u32(500);
  p2.end_set();
  ASSERT_EQ(testing::feed(decoder, p2, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].packets, 5u);
  EXPECT_EQ(out[0].bytes, 500u);
  ExporterStats s = stats_of(decoder);
  EXPECT_EQ(s.templates_added, 2u);
  EXPECT_EQ(s.templates_active, 1u);
  // The same layout again is a refresh, not a new template.
  auto p3 = FlowPacket::v9(kUptime);
  p3.template_set(300, {{2, 4}, {1, 4}});
  testing::feed(decoder, p3, out);
  EXPECT_EQ(stats_of(decoder).templates_added, 2u);
}

TEST(NetflowV9, LeastRecentlyUsedTemplateIsEvicted) {
  Config config;
  config.max_templates_per_exporter = 2;
  Decoder decoder(config);
  FlowBatch out;
  auto p = FlowPacket::v9(kUptime);
  p.template_set(300, {{1, 4}});
  p.template_set(301, {{1, 4}});
  p.begin_set(300).w.u32(1);  // 300 used after 301 was learned
  p.end_set();
  p.template_set(302, {{1, 4}});  // evicts 301
  p.begin_set(301).w.u32(2);
  p.end_set();
  p.begin_set(300).w.u32(3);
  p.end_set();
  testing::feed(decoder, p, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].bytes, 3u);
  const ExporterStats s = stats_of(decoder);
  EXPECT_EQ(s.reason(DecodeStatus::kTemplateEvicted), 1u);
  EXPECT_EQ(s.templates_active, 2u);
  EXPECT_EQ(s.reason(DecodeStatus::kUnknownTemplate), 1u);
}

TEST(NetflowV9, SourceIdsKeepSeparateTemplates) {
  Decoder decoder;
  FlowBatch out;
  auto p1 = FlowPacket::v9(kUptime, kExportSecs, 1);
  p1.template_set(300, {{1, 4}});
  testing::feed(decoder, p1, out);
  auto p2 = FlowPacket::v9(kUptime, kExportSecs, 2);
  p2.begin_set(300).w.u32(1);
  p2.end_set();
  EXPECT_EQ(testing::feed(decoder, p2, out), DecodeStatus::kUnknownTemplate);
  EXPECT_EQ(out.size(), 0u);
}

TEST(NetflowV9, TruncatedHeader) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::v9(kUptime);
  p.w.truncate(12);
  EXPECT_EQ(testing::feed(decoder, p, out), DecodeStatus::kTruncated);
  EXPECT_EQ(stats_of(decoder).reason(DecodeStatus::kTruncated), 1u);
}

TEST(NetflowV9, WrongVersionIsRefused) {
  ExporterState exporter(IpAddress::from_v4(1));
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.w.zeros(8);
  EXPECT_EQ(detail::decode_netflow_v9(p.bytes(), testing::test_context(), Config{}, exporter, out),
            DecodeStatus::kBadVersion);
  EXPECT_EQ(exporter.stats.reason(DecodeStatus::kBadVersion), 1u);
}

TEST(NetflowV9, SetLengthLieStopsThePacketKeepingEarlierRecords) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::v9(kUptime);
  p.template_set(300, {{1, 4}});
  p.begin_set(300).w.u32(7);
  p.end_set();
  const size_t lie = p.w.size();
  p.begin_set(300).w.u32(8);
  p.end_set();
  p.w.patch_u16(lie + 2, 200);  // longer than the packet
  EXPECT_EQ(testing::feed(decoder, p, out), DecodeStatus::kBadSetLength);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].bytes, 7u);
  EXPECT_EQ(stats_of(decoder).reason(DecodeStatus::kBadSetLength), 1u);

  auto q = FlowPacket::v9(kUptime);
  q.begin_set(300).end_set();
  q.w.patch_u16(q.w.size() - 2, 2);  // shorter than its own header
  EXPECT_EQ(testing::feed(decoder, q, out), DecodeStatus::kBadSetLength);
  EXPECT_EQ(stats_of(decoder).reason(DecodeStatus::kBadSetLength), 2u);
}

TEST(NetflowV9, Ipv4AddressOfThreeBytesRefusesTheTemplate) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::v9(kUptime);
  p.begin_set(0);
  p.template_record(300, {{8, 3}, {1, 4}});
  p.template_record(301, {{8, 4}, {1, 4}});  // the next template in the set still counts
  p.end_set();
  p.begin_set(301).w.ipv4(10, 0, 0, 1).u32(9);
  p.end_set();
  EXPECT_EQ(testing::feed(decoder, p, out), DecodeStatus::kBadFieldLength);
  ASSERT_EQ(out.size(), 1u);
  const ExporterStats s = stats_of(decoder);
  EXPECT_EQ(s.reason(DecodeStatus::kBadFieldLength), 1u);
  EXPECT_EQ(s.templates_active, 1u);
}

TEST(NetflowV9, TooManyFieldsIsRefusedAndSkipped) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::v9(kUptime);
  p.begin_set(0);
  p.w.u16(300).u16(kMaxFieldsPerTemplate + 1);
  for (size_t i = 0; i <= kMaxFieldsPerTemplate; ++i) p.w.u16(1).u16(4);
  p.template_record(301, {{1, 4}});
  p.end_set();
  EXPECT_EQ(testing::feed(decoder, p, out), DecodeStatus::kTemplateTooLarge);
  const ExporterStats s = stats_of(decoder);
  EXPECT_EQ(s.reason(DecodeStatus::kTemplateTooLarge), 1u);
  EXPECT_EQ(s.templates_active, 1u);
}

TEST(NetflowV9, BadTemplatesAreCounted) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::v9(kUptime);
  p.template_set(255, {{1, 4}});                                   // data template ids start at 256
  p.begin_set(0).w.u16(300).u16(0).u16(301).u16(1).u16(1).u16(4);  // zero fields, then ok
  p.end_set();
  p.begin_set(0).w.u16(302).u16(3).u16(1).u16(4);  // claims 3 fields, holds 1
  p.end_set();
  EXPECT_EQ(testing::feed(decoder, p, out), DecodeStatus::kBadTemplate);
  const ExporterStats s = stats_of(decoder);
  EXPECT_EQ(s.reason(DecodeStatus::kBadTemplate), 2u);
  EXPECT_EQ(s.reason(DecodeStatus::kTruncated), 1u);
  EXPECT_EQ(s.templates_active, 1u);
}

TEST(NetflowV9, BadOptionsTemplateIsCounted) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::v9(kUptime);
  p.begin_set(1).w.u16(256).u16(3).u16(4).u16(1).u16(4).u16(34).u16(4);  // scope length 3
  p.end_set();
  p.options_template_set(257, {}, {{34, 4}});  // no scope
  EXPECT_EQ(testing::feed(decoder, p, out), DecodeStatus::kBadTemplate);
  EXPECT_EQ(stats_of(decoder).reason(DecodeStatus::kBadTemplate), 2u);
  EXPECT_EQ(stats_of(decoder).templates_active, 0u);
}

}  // namespace
}  // namespace fathom::decode
