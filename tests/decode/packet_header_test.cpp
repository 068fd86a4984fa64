#include "decode/detail/packet_header.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "testing/wire_writer.h"

namespace fathom::decode::detail {
namespace {

using testing::WireWriter;

constexpr uint32_t kEthernet = 1;
constexpr uint32_t kIpv4 = 11;
constexpr uint32_t kIpv6 = 12;

void ethernet(WireWriter& w, uint16_t ether_type) {
  w.bytes({0x02, 0x00, 0x0a, 0x0a, 0x00, 0x01});  // dst
  w.bytes({0x02, 0x00, 0x62, 0x12, 0x00, 0x01});  // src
  w.u16(ether_type);
}

// 20-byte IPv4 header (plus `option_words` words of options) from 10.10.5.110 to 198.19.67.24.
void ipv4(WireWriter& w, uint8_t proto, uint16_t frag = 0, uint8_t option_words = 0) {
  w.u8(static_cast<uint8_t>(0x45 + option_words)).u8(0xb8).u16(60).u16(0x1234).u16(frag);
  w.u8(64).u8(proto).u16(0);
  w.ipv4(10, 10, 5, 110).ipv4(198, 19, 67, 24);
  w.zeros(size_t{option_words} * 4);
}

// 40-byte IPv6 header, traffic class 0x2e, 2001:db8:10::5 → 2001:db8:99::1.
void ipv6(WireWriter& w, uint8_t next_header) {
  w.u32((6u << 28) | (0x2eu << 20) | 0x12345).u16(20).u8(next_header).u8(64);
  w.bytes({0x20, 0x01, 0x0d, 0xb8, 0x00, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5});
  w.bytes({0x20, 0x01, 0x0d, 0xb8, 0x00, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
}

void tcp(WireWriter& w) {
  w.u16(41208).u16(80).u32(1).u32(2);
  w.u8(0x51).u8(0x12);  // data offset 5, NS set; SYN+ACK
  w.u16(1024).u16(0).u16(0);
}

void udp(WireWriter& w) {
  w.u16(5353).u16(53).u16(8).u16(0);
}

class PacketHeaderTest : public ::testing::Test {
 protected:
  // Parses an exact-size copy so AddressSanitizer would catch any read past the header.
  DecodeStatus parse(uint32_t protocol, const WireWriter& w, size_t len = SIZE_MAX) {
    const std::span<const std::byte> all = w.span();
    exact_.assign(all.begin(),
                  all.begin() + static_cast<std::ptrdiff_t>(std::min(len, all.size())));
    rec_ = {};
    return parse_packet_header(protocol, exact_, rec_);
  }

  std::vector<std::byte> exact_;
  flow::FlowRecord rec_;
};

TEST_F(PacketHeaderTest, EthernetIpv4Tcp) {
  WireWriter w;
  ethernet(w, 0x0800);
  ipv4(w, 6);
  tcp(w);
  ASSERT_EQ(parse(kEthernet, w), DecodeStatus::kOk);
  EXPECT_EQ(rec_.dst_mac, (std::array<uint8_t, 6>{0x02, 0x00, 0x0a, 0x0a, 0x00, 0x01}));
  EXPECT_EQ(rec_.src_mac, (std::array<uint8_t, 6>{0x02, 0x00, 0x62, 0x12, 0x00, 0x01}));
  EXPECT_EQ(rec_.src, *flow::IpAddress::parse("10.10.5.110"));
  EXPECT_EQ(rec_.dst, *flow::IpAddress::parse("198.19.67.24"));
  EXPECT_EQ(rec_.ip_protocol, 6);
  EXPECT_EQ(rec_.tos, 0xb8);
  EXPECT_EQ(rec_.src_port, 41208);
  EXPECT_EQ(rec_.dst_port, 80);
  EXPECT_EQ(rec_.tcp_flags, 0x112);
  EXPECT_EQ(rec_.vlan, 0);
}

TEST_F(PacketHeaderTest, Ipv4OptionsMoveTheTransportHeader) {
  WireWriter w;
  ethernet(w, 0x0800);
  ipv4(w, 17, 0, 2);
  udp(w);
  ASSERT_EQ(parse(kEthernet, w), DecodeStatus::kOk);
  EXPECT_EQ(rec_.src_port, 5353);
  EXPECT_EQ(rec_.dst_port, 53);
}

TEST_F(PacketHeaderTest, Ipv4FragmentsCarryPortsOnlyFirst) {
  WireWriter first;
  ipv4(first, 17, 0x2000);  // MF, offset 0
  udp(first);
  ASSERT_EQ(parse(kIpv4, first), DecodeStatus::kOk);
  EXPECT_EQ(rec_.dst_port, 53);

  WireWriter later;
  ipv4(later, 17, 0x00b9);  // offset 185 * 8: payload bytes, not a UDP header
  udp(later);
  ASSERT_EQ(parse(kIpv4, later), DecodeStatus::kOk);
  EXPECT_EQ(rec_.ip_protocol, 17);
  EXPECT_EQ(rec_.src_port, 0);
  EXPECT_EQ(rec_.dst_port, 0);
}

TEST_F(PacketHeaderTest, Ipv4BadIhlKeepsAddressesOnly) {
  WireWriter w;
  ipv4(w, 6);
  tcp(w);
  w.patch_u16(0, 0x43b8);  // IHL 3 (< 5)
  ASSERT_EQ(parse(kIpv4, w), DecodeStatus::kOk);
  EXPECT_EQ(rec_.src, *flow::IpAddress::parse("10.10.5.110"));
  EXPECT_EQ(rec_.src_port, 0);
  w.patch_u16(0, 0x4fb8);  // IHL 15: 60 bytes, past this 40-byte header
  ASSERT_EQ(parse(kIpv4, w), DecodeStatus::kOk);
  EXPECT_EQ(rec_.src_port, 0);
}

TEST_F(PacketHeaderTest, VlanTags) {
  struct Case {
    uint16_t outer;
    int tags;
  };
  for (const Case c : {Case{0x8100, 1}, Case{0x88a8, 2}, Case{0x9100, 2}}) {
    WireWriter w;
    ethernet(w, c.outer);
    w.u16(0x2000 | 100);  // PCP 1, VID 100
    if (c.tags == 2) w.u16(0x8100).u16(200);
    w.u16(0x0800);
    ipv4(w, 17);
    udp(w);
    ASSERT_EQ(parse(kEthernet, w), DecodeStatus::kOk) << c.outer;
    EXPECT_EQ(rec_.vlan, 100) << "outer tag wins";
    EXPECT_EQ(rec_.dst_port, 53);
  }
}

TEST_F(PacketHeaderTest, TooManyVlanTagsIsUnsupported) {
  WireWriter w;
  ethernet(w, 0x8100);
  for (size_t i = 0; i < kMaxVlanTags; ++i) w.u16(1).u16(0x8100);
  w.u16(1).u16(0x0800);
  ipv4(w, 17);
  EXPECT_EQ(parse(kEthernet, w), DecodeStatus::kUnsupportedHeader);
  EXPECT_TRUE(rec_.src.is_unspecified());
}

TEST_F(PacketHeaderTest, MplsStackThenIpv4OrIpv6) {
  WireWriter w4;
  ethernet(w4, 0x8847);
  w4.u32(100u << 12).u32((200u << 12) | 0x100u | 64u);  // two labels, bottom of stack on 2nd
  ipv4(w4, 17);
  udp(w4);
  ASSERT_EQ(parse(kEthernet, w4), DecodeStatus::kOk);
  EXPECT_EQ(rec_.src, *flow::IpAddress::parse("10.10.5.110"));
  EXPECT_EQ(rec_.dst_port, 53);

  WireWriter w6;
  ethernet(w6, 0x8848);
  w6.u32(0x100u);
  ipv6(w6, 6);
  tcp(w6);
  ASSERT_EQ(parse(kEthernet, w6), DecodeStatus::kOk);
  EXPECT_EQ(rec_.src, *flow::IpAddress::parse("2001:db8:10::5"));
  EXPECT_EQ(rec_.dst_port, 80);
}

TEST_F(PacketHeaderTest, MplsWithoutBottomWithinBoundIsUnsupported) {
  WireWriter w;
  ethernet(w, 0x8847);
  for (size_t i = 0; i < kMaxMplsLabels + 1; ++i) w.u32(i == kMaxMplsLabels ? 0x100u : 0u);
  ipv4(w, 17);
  EXPECT_EQ(parse(kEthernet, w), DecodeStatus::kUnsupportedHeader);
}

TEST_F(PacketHeaderTest, MplsPayloadNeitherV4NorV6IsUnsupported) {
  WireWriter w;
  ethernet(w, 0x8847);
  w.u32(0x100u);
  w.u32(0);  // pseudowire control word: first nibble 0
  w.zeros(40);
  EXPECT_EQ(parse(kEthernet, w), DecodeStatus::kUnsupportedHeader);
}

TEST_F(PacketHeaderTest, Ipv6WalksExtensionHeaders) {
  WireWriter w;
  ethernet(w, 0x86dd);
  ipv6(w, 0);
  w.u8(43).u8(0).zeros(6);            // hop-by-hop, 8 bytes
  w.u8(44).u8(1).zeros(14);           // routing, 16 bytes
  w.u8(60).u8(0).u16(0x0001).u32(7);  // fragment, offset 0, M set
  w.u8(17).u8(0).zeros(6);            // destination options
  udp(w);
  ASSERT_EQ(parse(kEthernet, w), DecodeStatus::kOk);
  EXPECT_EQ(rec_.src, *flow::IpAddress::parse("2001:db8:10::5"));
  EXPECT_EQ(rec_.dst, *flow::IpAddress::parse("2001:db8:99::1"));
  EXPECT_EQ(rec_.tos, 0x2e);
  EXPECT_EQ(rec_.ip_protocol, 17);
  EXPECT_EQ(rec_.src_port, 5353);
  EXPECT_EQ(rec_.dst_port, 53);
}

TEST_F(PacketHeaderTest, Ipv6LaterFragmentHasNoPorts) {
  WireWriter w;
  ipv6(w, 44);
  w.u8(17).u8(0).u16(185 << 3).u32(7);
  udp(w);
  ASSERT_EQ(parse(kIpv6, w), DecodeStatus::kOk);
  EXPECT_EQ(rec_.ip_protocol, 17);
  EXPECT_EQ(rec_.dst_port, 0);
}

TEST_F(PacketHeaderTest, Ipv6ExtensionChainIsBounded) {
  WireWriter w;
  ipv6(w, 60);
  for (size_t i = 0; i < kMaxIpv6ExtHeaders + 2; ++i) w.u8(60).u8(0).zeros(6);
  ASSERT_EQ(parse(kIpv6, w), DecodeStatus::kOk);
  EXPECT_EQ(rec_.ip_protocol, 60);  // stopped inside the chain
  EXPECT_EQ(rec_.src_port, 0);
}

TEST_F(PacketHeaderTest, Ipv6ExtensionLongerThanHeaderStops) {
  WireWriter w;
  ipv6(w, 0);
  w.u8(17).u8(255).zeros(6);  // claims 2048 bytes
  udp(w);
  ASSERT_EQ(parse(kIpv6, w), DecodeStatus::kOk);
  EXPECT_EQ(rec_.ip_protocol, 0);
  EXPECT_EQ(rec_.dst_port, 0);
}

TEST_F(PacketHeaderTest, IcmpAndIcmpv6TypeCode) {
  WireWriter w4;
  ipv4(w4, 1);
  w4.u8(8).u8(0).u16(0);
  ASSERT_EQ(parse(kIpv4, w4), DecodeStatus::kOk);
  EXPECT_EQ(rec_.icmp_type, 8);
  EXPECT_EQ(rec_.icmp_code, 0);
  EXPECT_EQ(rec_.dst_port, 0);

  WireWriter w6;
  ipv6(w6, 58);
  w6.u8(1).u8(4).u16(0);  // destination unreachable, port unreachable
  ASSERT_EQ(parse(kIpv6, w6), DecodeStatus::kOk);
  EXPECT_EQ(rec_.ip_protocol, 58);
  EXPECT_EQ(rec_.icmp_type, 1);
  EXPECT_EQ(rec_.icmp_code, 4);
}

TEST_F(PacketHeaderTest, UnsupportedTypes) {
  WireWriter arp;
  ethernet(arp, 0x0806);
  arp.zeros(28);
  EXPECT_EQ(parse(kEthernet, arp), DecodeStatus::kUnsupportedHeader);

  WireWriter llc;
  ethernet(llc, 46);  // 802.3 length field
  llc.zeros(46);
  EXPECT_EQ(parse(kEthernet, llc), DecodeStatus::kUnsupportedHeader);

  WireWriter ip;
  ipv4(ip, 6);
  EXPECT_EQ(parse(2, ip), DecodeStatus::kUnsupportedHeader);  // ISO 802.4 token bus

  WireWriter v6_as_v4;
  ipv6(v6_as_v4, 6);
  EXPECT_EQ(parse(kIpv4, v6_as_v4), DecodeStatus::kUnsupportedHeader);
  WireWriter v4_as_v6;
  ipv4(v4_as_v6, 6);
  v4_as_v6.zeros(20);
  EXPECT_EQ(parse(kIpv6, v4_as_v6), DecodeStatus::kUnsupportedHeader);
}

TEST_F(PacketHeaderTest, Ipv4TruncatedAtEveryLength) {
  WireWriter w;
  ethernet(w, 0x8100);
  w.u16(7).u16(0x0800);
  ipv4(w, 6);
  tcp(w);
  const size_t ip_start = 18;
  for (size_t len = 0; len <= w.size(); ++len) {
    const DecodeStatus status = parse(kEthernet, w, len);
    if (len < ip_start + 20) {
      EXPECT_EQ(status, DecodeStatus::kTruncated) << len;
      EXPECT_TRUE(rec_.src.is_unspecified()) << len;
      continue;
    }
    ASSERT_EQ(status, DecodeStatus::kOk) << len;
    EXPECT_EQ(rec_.dst, *flow::IpAddress::parse("198.19.67.24")) << len;
    const size_t l4 = len - ip_start - 20;
    EXPECT_EQ(rec_.dst_port, l4 >= 4 ? 80 : 0) << len;
    EXPECT_EQ(rec_.tcp_flags, l4 >= 14 ? 0x112 : 0) << len;
  }
}

TEST_F(PacketHeaderTest, Ipv6TruncatedAtEveryLength) {
  WireWriter w;
  ethernet(w, 0x86dd);
  ipv6(w, 0);
  w.u8(44).u8(0).zeros(6);
  w.u8(17).u8(0).u16(0).u32(7);
  udp(w);
  const size_t ip_start = 14;
  for (size_t len = 0; len <= w.size(); ++len) {
    const DecodeStatus status = parse(kEthernet, w, len);
    if (len < ip_start + 40) {
      EXPECT_EQ(status, DecodeStatus::kTruncated) << len;
      continue;
    }
    ASSERT_EQ(status, DecodeStatus::kOk) << len;
    EXPECT_EQ(rec_.src, *flow::IpAddress::parse("2001:db8:10::5")) << len;
    EXPECT_EQ(rec_.dst_port, len >= w.size() - 4 ? 53 : 0) << len;
    EXPECT_EQ(rec_.ip_protocol, len >= ip_start + 56 ? 17 : len >= ip_start + 48 ? 44 : 0) << len;
  }
}

TEST_F(PacketHeaderTest, MplsTruncatedInsideTheStack) {
  WireWriter w;
  ethernet(w, 0x8847);
  w.u32(0).u32(0x100u);
  ipv4(w, 17);
  for (size_t len = 0; len < 14 + 8 + 20; ++len) {
    EXPECT_EQ(parse(kEthernet, w, len), DecodeStatus::kTruncated) << len;
  }
}

}  // namespace
}  // namespace fathom::decode::detail
