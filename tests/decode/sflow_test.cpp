#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "decode/decoder.h"
#include "decode/detail/protocols.h"
#include "testing/wire_writer.h"

namespace fathom::decode {
namespace {

using testing::WireWriter;

constexpr int64_t kArrivalNs = 1'705'320'200'123'000'000;
constexpr uint32_t kSubAgent = 7;

// Writes a tag and a length, then the body, then patches the length.
void element(WireWriter& w, uint32_t enterprise, uint32_t format,
             const std::function<void(WireWriter&)>& body) {
  w.u32((enterprise << 12) | format);
  const size_t len_at = w.size();
  w.u32(0);
  body(w);
  w.patch_u32(len_at, static_cast<uint32_t>(w.size() - len_at - 4));
}

void datagram_header(WireWriter& w, uint32_t sample_count, bool agent_v6 = false) {
  w.u32(5);
  if (agent_v6) {
    w.u32(2).bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  } else {
    w.u32(1).ipv4(192, 0, 2, 9);
  }
  w.u32(kSubAgent).u32(1234).u32(600'000).u32(sample_count);
}

// Ethernet + IPv4 + TCP, 54 bytes: the first bytes of a 1518-byte frame.
void frame_bytes(WireWriter& w, uint16_t ether_type = 0x0800) {
  w.bytes({0x02, 0x00, 0x0a, 0x0a, 0x00, 0x01, 0x02, 0x00, 0x62, 0x12, 0x00, 0x01});
  w.u16(ether_type);
  w.u8(0x45).u8(0x10).u16(1500).u16(1).u16(0x4000).u8(64).u8(6).u16(0);
  w.ipv4(198, 19, 67, 24).ipv4(10, 10, 5, 110);
  w.u16(80).u16(41208).u32(1).u32(2).u8(0x50).u8(0x18).u16(512).u32(0);
}

void raw_header_record(WireWriter& w, uint32_t header_protocol = 1, uint16_t ether_type = 0x0800) {
  element(w, 0, 1, [&](WireWriter& b) {
    b.u32(header_protocol).u32(1518).u32(4);
    WireWriter frame;
    frame_bytes(frame, ether_type);
    b.u32(static_cast<uint32_t>(frame.size())).bytes(frame.span()).pad_to(4);
  });
}

void switch_record(WireWriter& w, uint32_t src_vlan) {
  element(w, 0, 1001, [&](WireWriter& b) { b.u32(src_vlan).u32(0).u32(30).u32(0); });
}

// Compact flow sample (format 1) with `records` written by `body`.
void flow_sample(WireWriter& w, uint32_t record_count, const std::function<void(WireWriter&)>& body,
                 uint32_t rate = 10, uint32_t input = 0x3fffffff, uint32_t output = 5) {
  element(w, 0, 1, [&](WireWriter& b) {
    b.u32(42).u32(3).u32(rate).u32(4200).u32(0).u32(input).u32(output).u32(record_count);
    body(b);
  });
}

void generic_if_counters(WireWriter& b, uint32_t if_index) {
  b.u32(if_index).u32(6).u64(1'000'000'000).u32(1).u32(3);
  b.u64(773453).u32(10).u32(11).u32(12).u32(13).u32(14).u32(15);
  b.u64(99999).u32(20).u32(21).u32(22).u32(23).u32(24).u32(1);
}

class SflowTest : public ::testing::Test {
 protected:
  SflowTest() : exporter_(*flow::IpAddress::parse("127.0.0.1")) {
    ctx_.exporter = exporter_.address;
    ctx_.exporter_port = 6343;
    ctx_.arrival_ns = kArrivalNs;
  }
  DecodeStatus decode(const WireWriter& w) {
    // An exact-size copy, so AddressSanitizer catches any read past the datagram.
    exact_.assign(w.span().begin(), w.span().end());
    return detail::decode_sflow_v5(exact_, ctx_, exporter_, batch_);
  }
  uint64_t reason(DecodeStatus s) const { return exporter_.stats.reason(s); }
  uint64_t total_reasons() const {
    uint64_t n = 0;
    for (uint64_t c : exporter_.stats.reasons) n += c;
    return n;
  }

  ExporterState exporter_;
  PacketContext ctx_;
  flow::FlowBatch batch_;
  std::vector<std::byte> exact_;
};

TEST_F(SflowTest, FlowSampleWithRawHeader) {
  WireWriter w;
  datagram_header(w, 1);
  flow_sample(w, 2, [](WireWriter& b) {
    switch_record(b, 0);
    raw_header_record(b);
  });
  ASSERT_EQ(decode(w), DecodeStatus::kOk);
  ASSERT_EQ(batch_.size(), 1u);
  const flow::FlowRecord& r = batch_[0];
  EXPECT_EQ(r.source, flow::SourceProtocol::kSflowV5);
  EXPECT_EQ(r.src, *flow::IpAddress::parse("198.19.67.24"));
  EXPECT_EQ(r.dst, *flow::IpAddress::parse("10.10.5.110"));
  EXPECT_EQ(r.src_port, 80);
  EXPECT_EQ(r.dst_port, 41208);
  EXPECT_EQ(r.ip_protocol, 6);
  EXPECT_EQ(r.tcp_flags, 0x18);
  EXPECT_EQ(r.tos, 0x10);
  EXPECT_EQ(r.bytes, 1518u);  // frame_length, as tshark reports it
  EXPECT_EQ(r.packets, 1u);
  EXPECT_EQ(r.device_sampling_rate, 10u);
  EXPECT_EQ(r.sampling_rate, 10.0);
  EXPECT_EQ(r.sampling_algorithm, flow::SamplingAlgorithm::kRandom);
  EXPECT_EQ(r.input_if, 0x3fffffffu);
  EXPECT_EQ(r.output_if, 5u);
  EXPECT_EQ(r.observation_domain, kSubAgent);
  EXPECT_EQ(r.src_mac, (std::array<uint8_t, 6>{0x02, 0x00, 0x62, 0x12, 0x00, 0x01}));
  EXPECT_EQ(r.dst_mac, (std::array<uint8_t, 6>{0x02, 0x00, 0x0a, 0x0a, 0x00, 0x01}));
  EXPECT_EQ(r.arrival_ns, kArrivalNs);
  EXPECT_EQ(r.start_ns, kArrivalNs);
  EXPECT_EQ(r.end_ns, kArrivalNs);
  EXPECT_EQ(r.flags, flow::record_flags::kPacketSample | flow::record_flags::kNoFlowTimes);
  EXPECT_EQ(r.exporter, ctx_.exporter);
  EXPECT_EQ(r.exporter_port, 6343);
  EXPECT_EQ(r.vlan, 0);
  EXPECT_EQ(exporter_.stats.records, 1u);
  EXPECT_EQ(total_reasons(), 0u);
}

TEST_F(SflowTest, ExtendedSwitchVlanWinsOverHeader) {
  WireWriter w;
  datagram_header(w, 1);
  flow_sample(w, 2, [](WireWriter& b) {
    raw_header_record(b);
    switch_record(b, 0x1000 | 300);  // only the low 12 bits are a VLAN id
  });
  ASSERT_EQ(decode(w), DecodeStatus::kOk);
  EXPECT_EQ(batch_[0].vlan, 300);
}

TEST_F(SflowTest, ExpandedFlowSample) {
  WireWriter w;
  datagram_header(w, 2, /*agent_v6=*/true);
  element(w, 0, 3, [](WireWriter& b) {
    b.u32(42).u32(0).u32(0x01020304).u32(512).u32(99).u32(0);
    b.u32(0).u32(0x40000001);  // input: format 0, a 32-bit ifIndex
    b.u32(2).u32(3);           // output: format 2, 3 interfaces: no single ifIndex
    b.u32(1);
    raw_header_record(b);
  });
  element(w, 0, 3, [](WireWriter& b) {
    b.u32(43).u32(0).u32(1).u32(512).u32(99).u32(0);
    b.u32(1).u32(0);  // input: format 1 (not defined for input): unknown
    b.u32(0).u32(9);
    b.u32(1);
    raw_header_record(b);
  });
  ASSERT_EQ(decode(w), DecodeStatus::kOk);
  ASSERT_EQ(batch_.size(), 2u);
  EXPECT_EQ(batch_[0].device_sampling_rate, 512u);
  EXPECT_EQ(batch_[0].input_if, 0x40000001u);
  EXPECT_EQ(batch_[0].output_if, 0u);
  EXPECT_EQ(batch_[1].input_if, 0u);
  EXPECT_EQ(batch_[1].output_if, 9u);
  EXPECT_EQ(batch_[1].dst_port, 41208);
}

TEST_F(SflowTest, CompactInterfaceFormats) {
  WireWriter w;
  datagram_header(w, 1);
  flow_sample(
      w, 1, [](WireWriter& b) { raw_header_record(b); }, 10, 17, (1u << 30) | 258);  // discarded
  ASSERT_EQ(decode(w), DecodeStatus::kOk);
  EXPECT_EQ(batch_[0].input_if, 17u);
  EXPECT_EQ(batch_[0].output_if, 0u);
}

TEST_F(SflowTest, ExtendedRouterAndGateway) {
  WireWriter w;
  datagram_header(w, 2);
  flow_sample(w, 3, [](WireWriter& b) {
    raw_header_record(b);
    element(b, 0, 1002, [](WireWriter& r) { r.u32(1).ipv4(10, 0, 0, 1).u32(24).u32(16); });
    element(b, 0, 1003, [](WireWriter& g) {
      g.u32(1).ipv4(203, 0, 113, 1).u32(65000).u32(64512).u32(64513);
      g.u32(2);                                  // segments
      g.u32(2).u32(2).u32(3356).u32(174);        // AS_SEQUENCE 3356 174
      g.u32(1).u32(3).u32(1).u32(2).u32(15169);  // AS_SET {1 2 15169}
      g.u32(1).u32(0xffff0001).u32(100);         // communities, local_pref
    });
  });
  flow_sample(w, 2, [](WireWriter& b) {
    element(b, 0, 1003, [](WireWriter& g) {
      g.u32(2).bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
      g.u32(65000).u32(0).u32(0).u32(0).u32(0).u32(0);  // empty path: destination is local
    });
    raw_header_record(b);
  });
  ASSERT_EQ(decode(w), DecodeStatus::kOk);
  ASSERT_EQ(batch_.size(), 2u);
  EXPECT_EQ(batch_[0].next_hop, *flow::IpAddress::parse("10.0.0.1"));  // router wins
  EXPECT_EQ(batch_[0].src_mask, 24);
  EXPECT_EQ(batch_[0].dst_mask, 16);
  EXPECT_EQ(batch_[0].src_as, 64512u);
  EXPECT_EQ(batch_[0].dst_as, 15169u);
  EXPECT_EQ(batch_[1].next_hop, *flow::IpAddress::parse("2001:db8::2"));
  EXPECT_EQ(batch_[1].src_as, 0u);
  EXPECT_EQ(batch_[1].dst_as, 65000u);
}

TEST_F(SflowTest, GatewayWithLyingSegmentCountSkipsOnlyItsSample) {
  for (uint32_t lie : {uint32_t{1000}, uint32_t{0xffffffff}}) {
    batch_.clear();
    exporter_.stats = {};
    WireWriter w;
    datagram_header(w, 2);
    flow_sample(w, 2, [lie](WireWriter& b) {
      raw_header_record(b);
      element(b, 0, 1003, [lie](WireWriter& g) {
        g.u32(1).ipv4(203, 0, 113, 1).u32(65000).u32(1).u32(2).u32(1);
        g.u32(2).u32(lie).u32(3356);  // one segment claiming `lie` ASes
      });
    });
    flow_sample(w, 1, [](WireWriter& b) { raw_header_record(b); });
    EXPECT_EQ(decode(w), DecodeStatus::kBadSample);
    EXPECT_EQ(reason(DecodeStatus::kBadSample), 1u);
    EXPECT_EQ(batch_.size(), 1u) << "the good sample after the bad one still decodes";
    EXPECT_EQ(exporter_.stats.records, 1u);
  }
}

TEST_F(SflowTest, GatewayHugeSegmentCountIsBadSample) {
  WireWriter w;
  datagram_header(w, 1);
  flow_sample(w, 2, [](WireWriter& b) {
    raw_header_record(b);
    element(b, 0, 1003,
            [](WireWriter& g) { g.u32(0).u32(1).u32(2).u32(3).u32(0xffffffff).u32(0).u32(0); });
  });
  EXPECT_EQ(decode(w), DecodeStatus::kBadSample);
  EXPECT_EQ(batch_.size(), 0u);
}

TEST_F(SflowTest, SampledIpv4AndIpv6WithoutRawHeader) {
  WireWriter w;
  datagram_header(w, 3);
  flow_sample(w, 1, [](WireWriter& b) {
    element(b, 0, 3, [](WireWriter& s) {
      s.u32(84).u32(17).ipv4(10, 1, 1, 1).ipv4(10, 2, 2, 2).u32(53).u32(5353).u32(0).u32(0x20);
    });
  });
  flow_sample(w, 1, [](WireWriter& b) {
    element(b, 0, 4, [](WireWriter& s) {
      s.u32(1280).u32(6);
      s.bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
      s.bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
      s.u32(443).u32(50000).u32(0x10).u32(0);
    });
  });
  // With a raw header too, the raw header wins whatever the order.
  flow_sample(w, 2, [](WireWriter& b) {
    raw_header_record(b);
    element(b, 0, 3, [](WireWriter& s) {
      s.u32(84).u32(17).ipv4(10, 1, 1, 1).ipv4(10, 2, 2, 2).u32(53).u32(5353).u32(0).u32(0);
    });
  });
  ASSERT_EQ(decode(w), DecodeStatus::kOk);
  ASSERT_EQ(batch_.size(), 3u);
  EXPECT_EQ(batch_[0].src, *flow::IpAddress::parse("10.1.1.1"));
  EXPECT_EQ(batch_[0].dst_port, 5353);
  EXPECT_EQ(batch_[0].ip_protocol, 17);
  EXPECT_EQ(batch_[0].tos, 0x20);
  EXPECT_EQ(batch_[0].bytes, 84u);
  EXPECT_EQ(batch_[1].dst, *flow::IpAddress::parse("2001:db8::2"));
  EXPECT_EQ(batch_[1].tcp_flags, 0x10);
  EXPECT_EQ(batch_[1].bytes, 1280u);
  EXPECT_EQ(batch_[2].src, *flow::IpAddress::parse("198.19.67.24"));
  EXPECT_EQ(batch_[2].bytes, 1518u);
}

TEST_F(SflowTest, UnsupportedHeaderSkipsOnlyItsSample) {
  WireWriter w;
  datagram_header(w, 4);
  flow_sample(w, 1, [](WireWriter& b) { raw_header_record(b, 1, 0x0806); });  // ARP
  flow_sample(w, 1, [](WireWriter& b) { raw_header_record(b, 7); });          // FDDI
  flow_sample(w, 1, [](WireWriter& b) { switch_record(b, 5); });              // no header at all
  flow_sample(w, 1, [](WireWriter& b) { raw_header_record(b); });
  EXPECT_EQ(decode(w), DecodeStatus::kUnsupportedHeader);
  EXPECT_EQ(reason(DecodeStatus::kUnsupportedHeader), 3u);
  EXPECT_EQ(batch_.size(), 1u);
  EXPECT_EQ(exporter_.stats.records, 1u);
}

TEST_F(SflowTest, HeaderCutBeforeAddressesIsTruncated) {
  WireWriter w;
  datagram_header(w, 1);
  flow_sample(w, 1, [](WireWriter& b) {
    element(b, 0, 1, [](WireWriter& h) {
      h.u32(1).u32(1518).u32(0).u32(20);
      WireWriter frame;
      frame_bytes(frame);
      frame.truncate(20);
      h.bytes(frame.span());
    });
  });
  EXPECT_EQ(decode(w), DecodeStatus::kTruncated);
  EXPECT_EQ(reason(DecodeStatus::kTruncated), 1u);
  EXPECT_EQ(batch_.size(), 0u);
}

TEST_F(SflowTest, HeaderCutHalfWayLeavesNoPartialFields) {
  WireWriter w;
  datagram_header(w, 1);
  // The sampled IPv4 record gives the addresses; the raw header after it is cut inside the IP
  // header, after its MACs were read: none of its fields may stay in the record.
  flow_sample(w, 2, [](WireWriter& b) {
    element(b, 0, 3, [](WireWriter& s) {
      s.u32(84).u32(17).ipv4(10, 1, 1, 1).ipv4(10, 2, 2, 2).u32(53).u32(5353).u32(0).u32(0x20);
    });
    element(b, 0, 1, [](WireWriter& h) {
      h.u32(1).u32(1518).u32(0).u32(20);
      WireWriter frame;
      frame_bytes(frame);
      frame.truncate(20);
      h.bytes(frame.span());
    });
  });
  ASSERT_EQ(decode(w), DecodeStatus::kOk);
  ASSERT_EQ(batch_.size(), 1u);
  const flow::FlowRecord& r = batch_[0];
  EXPECT_EQ(r.src, *flow::IpAddress::parse("10.1.1.1"));
  EXPECT_EQ(r.dst_port, 5353);
  EXPECT_EQ(r.tos, 0x20);
  EXPECT_EQ(r.bytes, 84u);
  EXPECT_EQ(r.src_mac, (std::array<uint8_t, 6>{}));
  EXPECT_EQ(r.dst_mac, (std::array<uint8_t, 6>{}));
}

TEST_F(SflowTest, HeaderLengthPastItsRecordIsBadSample) {
  WireWriter w;
  datagram_header(w, 1);
  flow_sample(w, 1, [](WireWriter& b) {
    element(b, 0, 1, [](WireWriter& h) { h.u32(1).u32(1518).u32(0).u32(200).zeros(60); });
  });
  EXPECT_EQ(decode(w), DecodeStatus::kBadSample);
  EXPECT_EQ(reason(DecodeStatus::kBadSample), 1u);
  EXPECT_EQ(batch_.size(), 0u);
}

TEST_F(SflowTest, UnknownSamplesAndRecordsAreSkippedByLength) {
  WireWriter w;
  datagram_header(w, 4);
  element(w, 4413, 1, [](WireWriter& b) { b.zeros(12); });  // vendor sample
  element(w, 0, 99, [](WireWriter& b) { b.zeros(20); });    // unknown standard sample
  flow_sample(w, 4, [](WireWriter& b) {
    element(b, 0, 2000, [](WireWriter& r) { r.zeros(16); });      // unknown record
    element(b, 9, 1, [](WireWriter& r) { r.zeros(4); });          // vendor record, format 1
    element(b, 0, 1006, [](WireWriter& r) { r.u32(1).u32(2); });  // extended MPLS: skipped
    raw_header_record(b);
  });
  element(w, 0, 1, [](WireWriter& b) {  // flow sample with trailing bytes after its records
    b.u32(1).u32(3).u32(10).u32(1).u32(0).u32(1).u32(2).u32(1);
    raw_header_record(b);
    b.zeros(8);
  });
  ASSERT_EQ(decode(w), DecodeStatus::kOk);
  EXPECT_EQ(batch_.size(), 2u);
  EXPECT_EQ(total_reasons(), 0u);
}

TEST_F(SflowTest, CounterSamples) {
  WireWriter w;
  datagram_header(w, 2);
  element(w, 0, 2, [](WireWriter& b) {
    b.u32(55).u32((0u << 24) | 3).u32(2);
    element(b, 0, 2, [](WireWriter& r) { r.zeros(52); });  // ethernet counters: skipped
    element(b, 0, 1, [](WireWriter& r) { generic_if_counters(r, 3); });
  });
  element(w, 0, 4, [](WireWriter& b) {
    b.u32(56).u32(0).u32(1000).u32(1);
    element(b, 0, 1, [](WireWriter& r) { generic_if_counters(r, 1000); });
  });
  ASSERT_EQ(decode(w), DecodeStatus::kOk);
  EXPECT_EQ(batch_.size(), 0u);
  ASSERT_EQ(batch_.counters().size(), 2u);
  EXPECT_EQ(exporter_.stats.counter_records, 2u);
  EXPECT_EQ(exporter_.stats.records, 0u);
  const flow::InterfaceCounters& c = batch_.counters()[0];
  EXPECT_EQ(c.arrival_ns, kArrivalNs);
  EXPECT_EQ(c.exporter, ctx_.exporter);
  EXPECT_EQ(c.agent, *flow::IpAddress::parse("192.0.2.9"));
  EXPECT_EQ(c.sub_agent, kSubAgent);
  EXPECT_EQ(c.sequence, 55u);
  EXPECT_EQ(c.source_id, 3u);
  EXPECT_EQ(c.if_index, 3u);
  EXPECT_EQ(c.if_type, 6u);
  EXPECT_EQ(c.if_speed, 1'000'000'000u);
  EXPECT_EQ(c.if_direction, 1u);
  EXPECT_EQ(c.if_status, 3u);
  EXPECT_EQ(c.in_octets, 773453u);
  EXPECT_EQ(c.in_ucast_pkts, 10u);
  EXPECT_EQ(c.in_multicast_pkts, 11u);
  EXPECT_EQ(c.in_broadcast_pkts, 12u);
  EXPECT_EQ(c.in_discards, 13u);
  EXPECT_EQ(c.in_errors, 14u);
  EXPECT_EQ(c.in_unknown_protos, 15u);
  EXPECT_EQ(c.out_octets, 99999u);
  EXPECT_EQ(c.out_ucast_pkts, 20u);
  EXPECT_EQ(c.out_multicast_pkts, 21u);
  EXPECT_EQ(c.out_broadcast_pkts, 22u);
  EXPECT_EQ(c.out_discards, 23u);
  EXPECT_EQ(c.out_errors, 24u);
  EXPECT_EQ(c.promiscuous_mode, 1u);
  EXPECT_EQ(batch_.counters()[1].source_id, 1000u);
  EXPECT_EQ(batch_.counters()[1].if_index, 1000u);
}

TEST_F(SflowTest, MalformedCounterSampleAddsNothing) {
  WireWriter w;
  datagram_header(w, 2);
  element(w, 0, 2, [](WireWriter& b) {
    b.u32(55).u32(3).u32(2);
    element(b, 0, 1, [](WireWriter& r) { generic_if_counters(r, 3); });
    element(b, 0, 1, [](WireWriter& r) { r.zeros(40); });  // generic counters cut short
  });
  element(w, 0, 2, [](WireWriter& b) {
    b.u32(56).u32(3).u32(0x10000000);  // record count the sample cannot hold
  });
  EXPECT_EQ(decode(w), DecodeStatus::kBadSample);
  EXPECT_EQ(reason(DecodeStatus::kBadSample), 2u);
  EXPECT_EQ(batch_.counters().size(), 0u);
  EXPECT_EQ(exporter_.stats.counter_records, 0u);
}

TEST_F(SflowTest, FlowRecordCountOrLengthLyingIsBadSample) {
  WireWriter w;
  datagram_header(w, 3);
  flow_sample(w, 5, [](WireWriter& b) { raw_header_record(b); });  // claims 5 records, has 1
  flow_sample(w, 1, [](WireWriter& b) {
    b.u32(1).u32(500).zeros(16);  // record length past the sample
  });
  flow_sample(w, 1, [](WireWriter& b) { raw_header_record(b); });
  EXPECT_EQ(decode(w), DecodeStatus::kBadSample);
  EXPECT_EQ(reason(DecodeStatus::kBadSample), 2u);
  EXPECT_EQ(batch_.size(), 1u);
}

TEST_F(SflowTest, ShortSampleHeadersAreBadSample) {
  WireWriter w;
  datagram_header(w, 4);
  element(w, 0, 1, [](WireWriter& b) { b.zeros(20); });
  element(w, 0, 3, [](WireWriter& b) { b.zeros(40); });
  element(w, 0, 2, [](WireWriter& b) { b.zeros(8); });
  element(w, 0, 4, [](WireWriter& b) { b.zeros(8); });
  EXPECT_EQ(decode(w), DecodeStatus::kBadSample);
  EXPECT_EQ(reason(DecodeStatus::kBadSample), 4u);
}

TEST_F(SflowTest, BadExtendedRecordsAreBadSample) {
  WireWriter w;
  datagram_header(w, 4);
  flow_sample(w, 1, [](WireWriter& b) { element(b, 0, 1001, [](WireWriter& r) { r.zeros(8); }); });
  flow_sample(w, 1, [](WireWriter& b) {
    element(b, 0, 1002, [](WireWriter& r) { r.u32(3).zeros(12); });  // unknown address type
  });
  flow_sample(w, 1, [](WireWriter& b) {
    element(b, 0, 1002, [](WireWriter& r) { r.u32(1).ipv4(1, 2, 3, 4).u32(200).u32(8); });
  });
  flow_sample(w, 1, [](WireWriter& b) {
    element(b, 0, 4, [](WireWriter& r) { r.zeros(40); });  // sampled IPv6 too short
  });
  EXPECT_EQ(decode(w), DecodeStatus::kBadSample);
  EXPECT_EQ(reason(DecodeStatus::kBadSample), 4u);
  EXPECT_EQ(batch_.size(), 0u);
}

TEST_F(SflowTest, HugeSampleCountIsRejected) {
  for (uint32_t count : {uint32_t{2}, uint32_t{0x7fffffff}, uint32_t{0xffffffff}}) {
    WireWriter w;
    datagram_header(w, count);
    w.u32(1).u32(0);  // one empty sample: 8 bytes, room for one
    EXPECT_EQ(decode(w), DecodeStatus::kBadRecordCount) << count;
  }
  EXPECT_EQ(reason(DecodeStatus::kBadRecordCount), 3u);
  EXPECT_EQ(batch_.size(), 0u);
}

TEST_F(SflowTest, SampleLengthPastDatagramStopsDecoding) {
  WireWriter w;
  datagram_header(w, 2);
  flow_sample(w, 1, [](WireWriter& b) { raw_header_record(b); });
  w.u32(1).u32(4000).zeros(32);
  EXPECT_EQ(decode(w), DecodeStatus::kTruncated);
  EXPECT_EQ(reason(DecodeStatus::kTruncated), 1u);
  EXPECT_EQ(batch_.size(), 1u) << "samples before the lying one are kept";
}

TEST_F(SflowTest, AgentAddressTypes) {
  WireWriter unknown;
  unknown.u32(5).u32(0).u32(1).u32(2).u32(3).u32(0);  // type 0: no address bytes
  EXPECT_EQ(decode(unknown), DecodeStatus::kOk);

  WireWriter bad;
  bad.u32(5).u32(3).zeros(40);
  EXPECT_EQ(decode(bad), DecodeStatus::kBadSample);
  EXPECT_EQ(reason(DecodeStatus::kBadSample), 1u);
}

TEST_F(SflowTest, ZeroSamplingRateIsFlaggedUnknown) {
  WireWriter w;
  datagram_header(w, 1);
  flow_sample(
      w, 1, [](WireWriter& b) { raw_header_record(b); }, 0);
  ASSERT_EQ(decode(w), DecodeStatus::kOk);
  EXPECT_EQ(batch_[0].device_sampling_rate, 1u);
  EXPECT_NE(batch_[0].flags & flow::record_flags::kSamplingRateUnknown, 0);
  EXPECT_EQ(exporter_.stats.sampling_unknown, 1u);
}

TEST_F(SflowTest, WrongVersionIsRejected) {
  WireWriter w;
  datagram_header(w, 0);
  w.patch_u32(0, 4);
  EXPECT_EQ(decode(w), DecodeStatus::kBadVersion);
  EXPECT_EQ(reason(DecodeStatus::kBadVersion), 1u);
}

TEST_F(SflowTest, TruncatedAtEveryLength) {
  WireWriter full;
  datagram_header(full, 3, /*agent_v6=*/true);
  flow_sample(full, 2, [](WireWriter& b) {
    switch_record(b, 0);
    raw_header_record(b);
  });
  element(full, 0, 2, [](WireWriter& b) {
    b.u32(55).u32(3).u32(1);
    element(b, 0, 1, [](WireWriter& r) { generic_if_counters(r, 3); });
  });
  flow_sample(full, 1, [](WireWriter& b) { raw_header_record(b); });
  for (size_t len = 0; len < full.size(); ++len) {
    WireWriter w = full;
    w.truncate(len);
    batch_.clear();
    exporter_.stats = {};
    const DecodeStatus status = decode(w);
    EXPECT_NE(status, DecodeStatus::kOk) << len;
    EXPECT_EQ(reason(status), 1u) << len;
    EXPECT_EQ(total_reasons(), 1u) << len;
    EXPECT_LE(batch_.size(), 1u) << len;
    EXPECT_EQ(exporter_.stats.records, batch_.size()) << len;
  }
  batch_.clear();
  exporter_.stats = {};
  EXPECT_EQ(decode(full), DecodeStatus::kOk);
  EXPECT_EQ(batch_.size(), 2u);
  EXPECT_EQ(batch_.counters().size(), 1u);
}

TEST_F(SflowTest, CorruptedBytesNeverCrash) {
  WireWriter full;
  datagram_header(full, 2);
  flow_sample(full, 4, [](WireWriter& b) {
    switch_record(b, 0);
    raw_header_record(b);
    element(b, 0, 1002, [](WireWriter& r) { r.u32(1).ipv4(10, 0, 0, 1).u32(24).u32(16); });
    element(b, 0, 1003, [](WireWriter& g) {
      g.u32(1).ipv4(203, 0, 113, 1).u32(65000).u32(64512).u32(64513);
      g.u32(1).u32(2).u32(2).u32(3356).u32(174).u32(0).u32(100);
    });
  });
  element(full, 0, 2, [](WireWriter& b) {
    b.u32(55).u32(3).u32(1);
    element(b, 0, 1, [](WireWriter& r) { generic_if_counters(r, 3); });
  });
  for (size_t pos = 0; pos < full.size(); ++pos) {
    for (uint8_t value : {uint8_t{0x00}, uint8_t{0x7f}, uint8_t{0xff}}) {
      std::vector<std::byte> bytes(full.span().begin(), full.span().end());
      bytes[pos] = std::byte{value};
      WireWriter corrupted;
      corrupted.bytes(bytes);
      batch_.clear();
      decode(corrupted);
      EXPECT_LE(batch_.size(), 1u);
    }
  }
}

TEST_F(SflowTest, DispatchedByDecoder) {
  Decoder decoder;
  WireWriter w;
  datagram_header(w, 1);
  flow_sample(w, 1, [](WireWriter& b) { raw_header_record(b); });
  ASSERT_EQ(decoder.decode(w.span(), ctx_, batch_), DecodeStatus::kOk);
  EXPECT_EQ(batch_.size(), 1u);
  decoder.for_each_exporter([](const ExporterState& e) {
    EXPECT_EQ(e.stats.packets_ok, 1u);
    EXPECT_EQ(e.stats.last_version, 0x50);
  });
}

}  // namespace
}  // namespace fathom::decode
