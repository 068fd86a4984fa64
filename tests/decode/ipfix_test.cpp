// IPFIX (RFC 7011/7012, RFC 5103) decoding through the Decoder facade: time encodings,
// variable-length and enterprise fields, options (sampling, clock base), withdrawals, biflows
// and malformed messages with their counters.

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>

#include "decode/decoder.h"
#include "decode/detail/protocols.h"
#include "template_packets.h"

namespace fathom::decode {
namespace {

using flow::FlowBatch;
using flow::IpAddress;
using testing::FlowPacket;
using testing::kExportSecs;
using testing::stats_of;
namespace rf = flow::record_flags;

constexpr int64_t kExportNs = int64_t{kExportSecs} * 1'000'000'000;
constexpr uint32_t kReversePen = 29305;
constexpr uint64_t kNtpUnixOffset = 2'208'988'800;

TEST(Ipfix, MillisecondTimesAndCounters) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix(kExportSecs, 7);
  p.template_set(256, {{8, 4},
                       {12, 4},
                       {7, 2},
                       {11, 2},
                       {4, 1},
                       {1, 8},
                       {2, 8},
                       {152, 8},
                       {153, 8},
                       {6, 2},
                       {32, 2},
                       {61, 1},
                       {136, 1}});
  p.begin_set(256);
  p.w.ipv4(10, 1, 1, 1).ipv4(10, 2, 2, 2).u16(1234).u16(53).u8(17).u64(1000).u64(10);
  p.w.u64(1705320170123).u64(1705320175456).u16(0x0102).u16(0x0303).u8(1).u8(3);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  const flow::FlowRecord& r = out[0];
  EXPECT_EQ(r.source, flow::SourceProtocol::kIpfix);
  EXPECT_EQ(r.observation_domain, 7u);
  EXPECT_EQ(r.src, IpAddress::from_v4(0x0a010101));
  EXPECT_EQ(r.dst_port, 53);
  EXPECT_EQ(r.bytes, 1000u);
  EXPECT_EQ(r.start_ns, 1705320170123LL * 1'000'000);
  EXPECT_EQ(r.end_ns, 1705320175456LL * 1'000'000);
  EXPECT_EQ(r.tcp_flags, 0x0102);
  EXPECT_EQ(r.icmp_type, 3);
  EXPECT_EQ(r.icmp_code, 3);
  EXPECT_EQ(r.exporter_direction, 1);
  EXPECT_EQ(r.end_reason, 3);
  EXPECT_EQ(stats_of(decoder).records, 1u);
}

TEST(Ipfix, ReducedSizeAndMixedWidthFieldsOnTheFastProgram) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  // RFC 7011 §6.2 reduced-size integers, a 4-byte forwarding status into an 8-bit member, IPv6
  // addresses, MACs, a masked VLAN and an unknown element skipped between them.
  p.template_set(256, {{1, 3},
                       {2, 1},
                       {10, 2},
                       {16, 2},
                       {89, 4},
                       {999, 5},
                       {27, 16},
                       {28, 16},
                       {56, 6},
                       {80, 6},
                       {58, 2},
                       {6, 1},
                       {152, 6}});
  p.begin_set(256);
  p.w.bytes({0x01, 0x02, 0x03}).u8(7).u16(12).u16(64500).u32(0x01020340);
  p.w.bytes({9, 9, 9, 9, 9});
  p.w.bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  p.w.bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
  p.w.bytes({1, 2, 3, 4, 5, 6}).bytes({7, 8, 9, 10, 11, 12}).u16(0xf00a).u8(0x12);
  p.w.bytes({0x01, 0x8d, 0x0d, 0x00, 0xc2, 0x6c});  // 1705320170092 ms in 6 bytes
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  const flow::FlowRecord& r = out[0];
  EXPECT_EQ(r.bytes, 0x010203u);
  EXPECT_EQ(r.packets, 7u);
  EXPECT_EQ(r.input_if, 12u);
  EXPECT_EQ(r.src_as, 64500u);
  EXPECT_EQ(r.forwarding_status, 0x40);  // as the cast to the 8-bit member keeps it
  EXPECT_EQ(r.src.bytes[15], 1);
  EXPECT_EQ(r.dst.bytes[15], 2);
  EXPECT_EQ(r.src.bytes[0], 0x20);
  EXPECT_EQ(r.src_mac[0], 1);
  EXPECT_EQ(r.dst_mac[5], 12);
  EXPECT_EQ(r.vlan, 0x00a);
  EXPECT_EQ(r.tcp_flags, 0x12);
  EXPECT_EQ(r.start_ns, 1705320170092LL * 1'000'000);
  EXPECT_EQ(r.end_ns, r.start_ns);  // no end time: the start time stands in
  EXPECT_EQ(r.exporter, testing::test_context().exporter);
  EXPECT_EQ(r.exporter_port, 2055);
  EXPECT_EQ(r.arrival_ns, testing::kArrivalNs);
  EXPECT_EQ(r.source, flow::SourceProtocol::kIpfix);
  EXPECT_TRUE(r.flags & rf::kSamplingRateUnknown);
  EXPECT_EQ(stats_of(decoder).sampling_unknown, 1u);
}

TEST(Ipfix, FieldsWritingTheSameMemberKeepWireOrder) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  // icmpTypeIPv4 (176) then icmpTypeCodeIPv4 (32); sourceIPv6Address (27) then
  // sourceIPv4Address (8): the later field wins, as decoding field by field would have it.
  p.template_set(256, {{176, 1}, {1, 4}, {32, 2}, {27, 16}, {2, 4}, {8, 4}});
  p.begin_set(256).w.u8(8).u32(100).u16(0x0300);
  p.w.bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  p.w.u32(2).ipv4(10, 0, 0, 9);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].icmp_type, 3);
  EXPECT_EQ(out[0].icmp_code, 0);
  EXPECT_EQ(out[0].src, IpAddress::from_v4(0x0a000009));
  EXPECT_EQ(out[0].bytes, 100u);
  EXPECT_EQ(out[0].packets, 2u);
}

TEST(Ipfix, SeveralStartTimesDecodeOnTheGenericProgramLastWins) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.template_set(256, {{152, 8}, {150, 4}, {1, 4}});
  p.begin_set(256).w.u64(1705320170123).u32(kExportSecs - 20).u32(99);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].start_ns, kExportNs - 20'000'000'000);
  EXPECT_EQ(out[0].end_ns, kExportNs - 20'000'000'000);
  EXPECT_EQ(out[0].bytes, 99u);
}

TEST(Ipfix, UnchangedTemplateRefreshKeepsDecoding) {
  Decoder decoder;
  FlowBatch out;
  for (int round = 0; round < 3; ++round) {
    auto p = FlowPacket::ipfix();
    p.template_set(256, {{1, 4}, {2, 4}});
    p.begin_set(256).w.u32(1000 + round).u32(10);
    p.end_set();
    ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  }
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].bytes, 1002u);
  ExporterStats s = stats_of(decoder);
  EXPECT_EQ(s.templates_added, 1u);
  EXPECT_EQ(s.templates_active, 1u);
  // A changed layout under the same id is still learned.
  auto p = FlowPacket::ipfix();
  p.template_set(256, {{2, 4}, {1, 4}});
  p.begin_set(256).w.u32(5).u32(500);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  EXPECT_EQ(out[3].bytes, 500u);
  EXPECT_EQ(stats_of(decoder).templates_added, 2u);
}

TEST(Ipfix, SecondsNtpAndDeltaTimes) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.template_set(256, {{150, 4}, {151, 4}});
  p.template_set(257, {{156, 8}, {155, 8}});
  p.template_set(258, {{158, 4}, {159, 4}});
  p.begin_set(256).w.u32(kExportSecs - 10).u32(kExportSecs - 5);
  p.end_set();
  // RFC 7011 §6.1.10: NTP seconds since 1900 and a 2^-32 s fraction (0x80000000 = 0.5 s).
  p.begin_set(257);
  p.w.u32(static_cast<uint32_t>(kExportSecs - 3 + kNtpUnixOffset)).u32(0x80000000u);
  p.w.u32(static_cast<uint32_t>(kExportSecs - 2 + kNtpUnixOffset)).u32(0x40000000u);
  p.end_set();
  p.begin_set(258).w.u32(2'500'000).u32(1000);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].start_ns, kExportNs - 10'000'000'000);
  EXPECT_EQ(out[0].end_ns, kExportNs - 5'000'000'000);
  EXPECT_EQ(out[1].start_ns, kExportNs - 3'000'000'000 + 500'000'000);
  EXPECT_EQ(out[1].end_ns, kExportNs - 2'000'000'000 + 250'000'000);
  EXPECT_EQ(out[2].start_ns, kExportNs - 2'500'000'000);
  EXPECT_EQ(out[2].end_ns, kExportNs - 1'000'000);
  for (const auto& r : out.records()) EXPECT_FALSE(r.flags & rf::kNoFlowTimes);
}

TEST(Ipfix, IcmpTypeCodeElementsPostMacsAndMicrosecondNtp) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  // 178/179 ICMPv6 type/code, 81/57 post MACs (used when 56/80 are absent), 154 µs NTP,
  // 29/30 IPv6 masks, 63 BGP IPv6 next hop.
  p.template_set(256, {{178, 1}, {179, 1}, {81, 6}, {57, 6}, {154, 8}, {29, 1}, {30, 1}});
  p.begin_set(256).w.u8(135).u8(0).bytes({1, 1, 1, 1, 1, 1}).bytes({2, 2, 2, 2, 2, 2});
  p.w.u32(static_cast<uint32_t>(kExportSecs + kNtpUnixOffset)).u32(0).u8(64).u8(48);
  p.end_set();
  p.template_set(257, {{176, 1}, {177, 1}, {32, 2}});  // 32 is read after 176/177: it wins
  p.begin_set(257).w.u8(8).u8(0).u16(0x0b01);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].icmp_type, 135);
  EXPECT_EQ(out[0].src_mac[0], 1);
  EXPECT_EQ(out[0].dst_mac[0], 2);
  EXPECT_EQ(out[0].start_ns, kExportNs);
  EXPECT_EQ(out[0].end_ns, kExportNs);
  EXPECT_EQ(out[0].src_mask, 64);
  EXPECT_EQ(out[0].dst_mask, 48);
  EXPECT_EQ(out[1].icmp_type, 11);
  EXPECT_EQ(out[1].icmp_code, 1);
}

// softflowd's IPFIX options template: scope meteringProcessId (143), then
// systemInitTimeMilliseconds (160), samplingPacketInterval (305), samplingPacketSpace (306),
// selectorAlgorithm (304), interfaceName (82).
FlowPacket& add_softflowd_options(FlowPacket& p, uint32_t interval, uint32_t space,
                                  uint64_t init_ms) {
  p.options_template_set(256, {{143, 4}}, {{160, 8}, {305, 4}, {306, 4}, {304, 2}, {82, 16}});
  p.begin_set(256).w.u32(1).u64(init_ms).u32(interval).u32(space).u16(1);
  p.w.text("traffic.pcap").zeros(4);
  return p.end_set();
}

TEST(Ipfix, UptimeFieldsUseSystemInitTimeFromOptions) {
  Decoder decoder;
  FlowBatch out;
  const uint64_t init_ms = 1705320000000;
  auto p = FlowPacket::ipfix();
  add_softflowd_options(p, 1, 99, init_ms);
  p.template_set(1024, {{22, 4}, {21, 4}, {1, 4}});
  p.begin_set(1024).w.u32(61).u32(93).u32(63);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].start_ns, (1705320000000LL + 61) * 1'000'000);
  EXPECT_EQ(out[0].end_ns, (1705320000000LL + 93) * 1'000'000);
  // RFC 5477: one in interval + space packets selected.
  EXPECT_EQ(out[0].device_sampling_rate, 100u);
  EXPECT_EQ(out[0].sampling_rate, 100.0);
  EXPECT_EQ(out[0].sampling_algorithm, flow::SamplingAlgorithm::kDeterministic);
  EXPECT_EQ(stats_of(decoder).templates_active, 2u);
}

TEST(Ipfix, UptimeFieldsWithoutSystemInitTimeAreFlagged) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.template_set(1024, {{22, 4}, {21, 4}, {1, 4}});
  p.begin_set(1024).w.u32(61).u32(93).u32(63);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  EXPECT_TRUE(out[0].flags & rf::kNoFlowTimes);
  EXPECT_EQ(out[0].start_ns, kExportNs);
}

TEST(Ipfix, UnrepresentableSystemInitTimeIsCounted) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.options_template_set(256, {{143, 4}}, {{160, 8}});
  // Representable in ms, but init + uptime overflows int64 nanoseconds.
  p.begin_set(256).w.u32(1).u64(9'223'372'036'000ull);
  p.end_set();
  p.template_set(1024, {{22, 4}, {1, 4}});
  p.begin_set(1024).w.u32(0xFFFFFFFFu).u32(1);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].flags & rf::kNoFlowTimes);
  EXPECT_EQ(out[0].start_ns, kExportNs);
  EXPECT_EQ(stats_of(decoder).reason(DecodeStatus::kBadTimestamp), 1u);
}

TEST(Ipfix, ZeroTemplateBudgetRefusesTemplates) {
  Config config;
  config.max_templates_per_exporter = 0;
  Decoder decoder(config);
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.template_set(256, {{1, 4}});
  EXPECT_EQ(testing::feed(decoder, p, out), DecodeStatus::kTooManyTemplates);
  EXPECT_EQ(stats_of(decoder).reason(DecodeStatus::kTooManyTemplates), 1u);
  EXPECT_EQ(stats_of(decoder).templates_active, 0u);
}

TEST(Ipfix, SamplingSizePopulationAndProbability) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  // Selector-scoped options: 302 selectorId scope; 309/310 and 311 rates.
  p.options_template_set(300, {{302, 4}}, {{309, 4}, {310, 4}, {304, 2}});
  p.options_template_set(301, {{302, 8}}, {{311, 8}});
  p.begin_set(300).w.u32(1).u32(1).u32(50).u16(3);
  p.end_set();
  p.begin_set(301).w.u64(2).u64(std::bit_cast<uint64_t>(0.001));
  p.end_set();
  p.template_set(400, {{302, 4}, {1, 4}});
  p.begin_set(400).w.u32(1).u32(10).u32(2).u32(20).u32(9).u32(30);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].device_sampling_rate, 50u);
  EXPECT_EQ(out[0].sampling_algorithm, flow::SamplingAlgorithm::kRandom);
  EXPECT_EQ(out[0].sampler_id, 1);
  EXPECT_EQ(out[1].device_sampling_rate, 1000u);
  EXPECT_EQ(out[1].sampler_id, 2);
  EXPECT_TRUE(out[2].flags & rf::kSamplingRateUnknown);
  EXPECT_EQ(stats_of(decoder).sampling_unknown, 1u);
}

TEST(Ipfix, DeprecatedSamplingIntervalOptionsAndPerRecordInterval) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.options_template_set(300, {{149, 4}}, {{34, 4}, {35, 1}});
  p.begin_set(300).w.u32(0).u32(64).u8(2);
  p.end_set();
  p.template_set(400, {{1, 4}});
  p.template_set(401, {{34, 2}, {1, 4}});
  p.begin_set(400).w.u32(10);
  p.end_set();
  p.begin_set(401).w.u16(8).u32(10);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].device_sampling_rate, 64u);
  EXPECT_EQ(out[0].sampling_algorithm, flow::SamplingAlgorithm::kRandom);
  EXPECT_EQ(out[1].device_sampling_rate, 8u);
}

TEST(Ipfix, VariableLengthFieldsInBothLengthForms) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.template_set(256, {{1, 4}, {82, 0xFFFF}, {2, 4}});
  p.begin_set(256);
  p.w.u32(100).u8(3).text("eth").u32(1);            // 1-byte length
  p.w.u32(200).u8(255).u16(300).zeros(300).u32(2);  // 255 + 2-byte length
  p.w.u32(300).u8(0).u32(3);                        // empty value
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].packets, 1u);
  EXPECT_EQ(out[1].bytes, 200u);
  EXPECT_EQ(out[1].packets, 2u);
  EXPECT_EQ(out[2].packets, 3u);
}

TEST(Ipfix, VariableLengthOverrunIsCountedAndStopsTheSet) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.template_set(256, {{1, 4}, {82, 0xFFFF}, {2, 4}});
  p.begin_set(256);
  p.w.u32(100).u8(1).text("x").u32(1);
  p.w.u32(200).u8(40).text("short");  // claims 40 bytes, 5 remain
  p.end_set();
  p.template_set(257, {{1, 4}});  // a later set still decodes
  p.begin_set(257).w.u32(5);
  p.end_set();
  EXPECT_EQ(testing::feed(decoder, p, out), DecodeStatus::kBadFieldLength);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].bytes, 100u);
  EXPECT_EQ(out[1].bytes, 5u);
  EXPECT_EQ(stats_of(decoder).reason(DecodeStatus::kBadFieldLength), 1u);
  EXPECT_EQ(stats_of(decoder).records, 2u);
}

TEST(Ipfix, VariableLengthCounterIsABadFieldLength) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.template_set(256, {{1, 0xFFFF}});
  EXPECT_EQ(testing::feed(decoder, p, out), DecodeStatus::kBadFieldLength);
  EXPECT_EQ(stats_of(decoder).templates_active, 0u);
}

TEST(Ipfix, EnterpriseFieldsAreSkippedByLength) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.template_set(256, {{100, 4, 9}, {1, 4}, {8, 6, 2636}, {2, 4}});
  p.begin_set(256).w.u32(0xdeadbeef).u32(77).zeros(6).u32(7);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].bytes, 77u);
  EXPECT_EQ(out[0].packets, 7u);
  EXPECT_TRUE(out[0].src.is_unspecified());  // enterprise 2636 id 8 is not sourceIPv4Address
}

FlowPacket& add_biflow_template(FlowPacket& p) {
  return p.template_set(1024, {{8, 4},
                               {12, 4},
                               {7, 2},
                               {11, 2},
                               {4, 1},
                               {1, 4},
                               {2, 4},
                               {6, 1},
                               {10, 4},
                               {14, 4},
                               {1, 4, kReversePen},
                               {2, 4, kReversePen},
                               {6, 1, kReversePen}});
}

TEST(Ipfix, BiflowEmitsReverseRecordOfItsOwn) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  add_biflow_template(p);
  p.begin_set(1024);
  p.w.ipv4(10, 10, 3, 165).ipv4(198, 18, 0, 53).u16(56469).u16(53).u8(17).u32(63).u32(1);
  p.w.u8(0x02).u32(1).u32(2).u32(96).u32(1).u8(0x12);
  p.w.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).u16(1).u16(2).u8(6).u32(40).u32(1);
  p.w.u8(0x02).u32(1).u32(2).u32(0).u32(0).u8(0);  // no reverse traffic
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 3u);
  const flow::FlowRecord& fwd = out[0];
  const flow::FlowRecord& rev = out[1];
  EXPECT_EQ(fwd.bytes, 63u);  // forward counters only
  EXPECT_EQ(fwd.tcp_flags, 0x02);
  EXPECT_FALSE(fwd.flags & rf::kBiflowReverse);
  EXPECT_EQ(rev.src, fwd.dst);
  EXPECT_EQ(rev.dst, fwd.src);
  EXPECT_EQ(rev.src_port, 53);
  EXPECT_EQ(rev.dst_port, 56469);
  EXPECT_EQ(rev.input_if, 2u);
  EXPECT_EQ(rev.output_if, 1u);
  EXPECT_EQ(rev.bytes, 96u);
  EXPECT_EQ(rev.packets, 1u);
  EXPECT_EQ(rev.tcp_flags, 0x12);
  EXPECT_EQ(rev.start_ns, fwd.start_ns);
  EXPECT_TRUE(rev.flags & rf::kBiflowReverse);
  EXPECT_FALSE(out[2].flags & rf::kBiflowReverse);
  EXPECT_EQ(stats_of(decoder).records, 3u);
}

TEST(Ipfix, BiflowReverseCanBeSwitchedOff) {
  Config config;
  config.emit_biflow_reverse = false;
  Decoder decoder(config);
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  add_biflow_template(p);
  p.begin_set(1024);
  p.w.ipv4(10, 10, 3, 165).ipv4(198, 18, 0, 53).u16(56469).u16(53).u8(17).u32(63).u32(1);
  p.w.u8(0x02).u32(1).u32(2).u32(96).u32(1).u8(0x12);
  p.end_set();
  ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].bytes, 63u);
}

TEST(Ipfix, WithdrawalsRemoveTemplates) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.template_set(256, {{1, 4}});
  p.template_set(257, {{1, 4}});
  p.template_set(258, {{1, 4}});
  p.options_template_set(300, {{149, 4}}, {{34, 4}});
  p.options_template_set(301, {{149, 4}}, {{34, 4}});
  testing::feed(decoder, p, out);
  EXPECT_EQ(stats_of(decoder).templates_active, 5u);

  auto w1 = FlowPacket::ipfix();
  w1.begin_set(2).w.u16(256).u16(0);  // RFC 7011 §8.1: one template
  w1.end_set();
  ASSERT_EQ(testing::feed(decoder, w1, out), DecodeStatus::kOk);
  EXPECT_EQ(stats_of(decoder).templates_withdrawn, 1u);
  EXPECT_EQ(stats_of(decoder).templates_active, 4u);

  auto w2 = FlowPacket::ipfix();
  w2.begin_set(2).w.u16(2).u16(0);  // all data templates
  w2.end_set();
  testing::feed(decoder, w2, out);
  EXPECT_EQ(stats_of(decoder).templates_withdrawn, 3u);
  EXPECT_EQ(stats_of(decoder).templates_active, 2u);

  auto w3 = FlowPacket::ipfix();
  w3.begin_set(3).w.u16(3).u16(0);  // all options templates
  w3.end_set();
  testing::feed(decoder, w3, out);
  EXPECT_EQ(stats_of(decoder).templates_withdrawn, 5u);
  EXPECT_EQ(stats_of(decoder).templates_active, 0u);

  auto data = FlowPacket::ipfix();
  data.begin_set(257).w.u32(1);
  data.end_set();
  EXPECT_EQ(testing::feed(decoder, data, out), DecodeStatus::kUnknownTemplate);
  EXPECT_EQ(out.size(), 0u);
}

TEST(Ipfix, WithdrawalOnlyAffectsItsDomain) {
  Decoder decoder;
  FlowBatch out;
  auto a = FlowPacket::ipfix(kExportSecs, 1);
  a.template_set(256, {{1, 4}});
  testing::feed(decoder, a, out);
  auto b = FlowPacket::ipfix(kExportSecs, 2);
  b.template_set(256, {{1, 4}});
  b.begin_set(2).w.u16(2).u16(0);
  b.end_set();
  testing::feed(decoder, b, out);
  EXPECT_EQ(stats_of(decoder).templates_active, 1u);
  auto data = FlowPacket::ipfix(kExportSecs, 1);
  data.begin_set(256).w.u32(9);
  data.end_set();
  EXPECT_EQ(testing::feed(decoder, data, out), DecodeStatus::kOk);
  EXPECT_EQ(out.size(), 1u);
}

TEST(Ipfix, DataBeforeTemplateGetsRateAndClockFromTheSameMessage) {
  Decoder decoder;
  FlowBatch out;
  auto data = FlowPacket::ipfix();
  data.begin_set(1024).w.u32(61).u32(93).u32(63);
  data.end_set();
  EXPECT_EQ(testing::feed(decoder, data, out), DecodeStatus::kUnknownTemplate);
  // Template first, options after it, as softflowd sends them.
  auto tmpl = FlowPacket::ipfix(kExportSecs + 10);
  tmpl.template_set(1024, {{22, 4}, {21, 4}, {1, 4}});
  add_softflowd_options(tmpl, 1, 99, 1705320000000);
  ASSERT_EQ(testing::feed(decoder, tmpl, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].flags & rf::kDecodedLate);
  EXPECT_FALSE(out[0].flags & rf::kNoFlowTimes);
  EXPECT_EQ(out[0].start_ns, (1705320000000LL + 61) * 1'000'000);
  EXPECT_EQ(out[0].device_sampling_rate, 100u);
  const ExporterStats s = stats_of(decoder);
  EXPECT_EQ(s.pending_parked, 1u);
  EXPECT_EQ(s.pending_decoded, 1u);
  EXPECT_EQ(s.reason(DecodeStatus::kUnknownTemplate), 1u);
  EXPECT_EQ(s.sampling_unknown, 0u);
}

TEST(Ipfix, MessageLengthIsCheckedAgainstTheDatagram) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.template_set(256, {{1, 4}});
  p.begin_set(256).w.u32(5);
  p.end_set();
  p.bytes();
  p.w.patch_u16(2, static_cast<uint16_t>(p.w.size() + 1));  // longer than the datagram
  EXPECT_EQ(decoder.decode(p.w.span(), testing::test_context(), out),
            DecodeStatus::kBadMessageLength);
  EXPECT_EQ(out.size(), 0u);
  p.w.patch_u16(2, 12);  // shorter than the header
  EXPECT_EQ(decoder.decode(p.w.span(), testing::test_context(), out),
            DecodeStatus::kBadMessageLength);
  EXPECT_EQ(stats_of(decoder).reason(DecodeStatus::kBadMessageLength), 2u);

  // Trailing bytes after the message: the message decodes, the disagreement is counted.
  auto q = FlowPacket::ipfix();
  q.template_set(256, {{1, 4}});
  q.begin_set(256).w.u32(5);
  q.end_set();
  q.bytes();
  q.w.zeros(4);
  EXPECT_EQ(decoder.decode(q.w.span(), testing::test_context(), out),
            DecodeStatus::kBadMessageLength);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(stats_of(decoder).reason(DecodeStatus::kBadMessageLength), 3u);
}

TEST(Ipfix, TruncatedAndWrongVersion) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.w.truncate(10);
  EXPECT_EQ(decoder.decode(p.w.span(), testing::test_context(), out), DecodeStatus::kTruncated);
  EXPECT_EQ(stats_of(decoder).reason(DecodeStatus::kTruncated), 1u);

  ExporterState exporter(IpAddress::from_v4(1));
  auto v9 = FlowPacket::v9(0);
  EXPECT_EQ(detail::decode_ipfix(v9.bytes(), testing::test_context(), Config{}, exporter, out),
            DecodeStatus::kBadVersion);
  EXPECT_EQ(exporter.stats.reason(DecodeStatus::kBadVersion), 1u);
}

TEST(Ipfix, SetLengthLieAndSetPadding) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.template_set(256, {{1, 4}, {4, 1}});
  p.begin_set(256).w.u32(1).u8(6).u32(2).u8(17).zeros(3);  // RFC 7011 §3.3.1 padding
  p.end_set();
  const size_t lie = p.w.size();
  p.begin_set(256).w.u32(3).u8(1);
  p.end_set();
  p.w.patch_u16(lie + 2, 3);
  EXPECT_EQ(testing::feed(decoder, p, out), DecodeStatus::kBadSetLength);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].ip_protocol, 17);
  EXPECT_EQ(stats_of(decoder).reason(DecodeStatus::kBadSetLength), 1u);
}

TEST(Ipfix, BadOptionsTemplatesAndReservedSetsAreHandled) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.begin_set(3).w.u16(300).u16(2).u16(0).u16(34).u16(4).u16(35).u16(1);  // scope count 0
  p.end_set();
  p.begin_set(3).w.u16(301).u16(1).u16(2).u16(34).u16(4);  // scope count above field count
  p.end_set();
  p.begin_set(7).w.u32(0);  // reserved set id: skipped
  p.end_set();
  p.template_set(256, {{1, 4}});
  EXPECT_EQ(testing::feed(decoder, p, out), DecodeStatus::kBadTemplate);
  const ExporterStats s = stats_of(decoder);
  EXPECT_EQ(s.reason(DecodeStatus::kBadTemplate), 2u);
  EXPECT_EQ(s.templates_active, 1u);
}

TEST(Ipfix, TemplateRecordRunningPastItsSetIsTruncated) {
  Decoder decoder;
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.begin_set(2).w.u16(256).u16(2).u16(1).u16(4).u16(0x8002).u16(4);  // PEN missing
  p.end_set();
  EXPECT_EQ(testing::feed(decoder, p, out), DecodeStatus::kTruncated);
  EXPECT_EQ(stats_of(decoder).reason(DecodeStatus::kTruncated), 1u);
  EXPECT_EQ(stats_of(decoder).templates_active, 0u);
}

}  // namespace
}  // namespace fathom::decode
