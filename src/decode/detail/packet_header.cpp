#include "decode/detail/packet_header.h"

#include "decode/byte_reader.h"

namespace fathom::decode::detail {
namespace {

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
constexpr uint16_t kEtherTypeVlan = 0x8100;       // IEEE 802.1Q
constexpr uint16_t kEtherTypeQinQ = 0x88a8;       // IEEE 802.1ad service tag
constexpr uint16_t kEtherTypeQinQOld = 0x9100;    // pre-802.1ad QinQ
constexpr uint16_t kEtherTypeMpls = 0x8847;       // MPLS unicast
constexpr uint16_t kEtherTypeMplsMcast = 0x8848;  // MPLS multicast

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoSctp = 132;
constexpr uint8_t kProtoIcmpv6 = 58;

// IPv6 extension headers walked to reach the transport header (RFC 8200 §4).
constexpr uint8_t kIpv6HopByHop = 0;
constexpr uint8_t kIpv6Routing = 43;
constexpr uint8_t kIpv6Fragment = 44;
constexpr uint8_t kIpv6Ah = 51;
constexpr uint8_t kIpv6DestOpts = 60;

bool is_vlan_tag(uint16_t ether_type) noexcept {
  return ether_type == kEtherTypeVlan || ether_type == kEtherTypeQinQ ||
         ether_type == kEtherTypeQinQOld;
}

// Ports, TCP flags or ICMP type/code from whatever part of the transport header is present:
// the sampler's header size may cut it anywhere, so each field is taken only when it is whole.
void parse_transport(uint8_t protocol, std::span<const std::byte> l4,
                     flow::FlowRecord& rec) noexcept {
  switch (protocol) {
    case kProtoTcp:
    case kProtoUdp:
    case kProtoSctp:
      if (l4.size() >= 4) {
        rec.src_port = ByteReader::load_be16(l4.data());
        rec.dst_port = ByteReader::load_be16(l4.data() + 2);
      }
      // RFC 9293 §3.1: byte 12 low bit is NS (RFC 3540), byte 13 holds CWR..FIN.
      if (protocol == kProtoTcp && l4.size() >= 14) {
        rec.tcp_flags = static_cast<uint16_t>(((static_cast<uint16_t>(l4[12]) & 0x01u) << 8) |
                                              static_cast<uint16_t>(l4[13]));
      }
      break;
    case kProtoIcmp:
    case kProtoIcmpv6:
      if (l4.size() >= 2) {
        rec.icmp_type = static_cast<uint8_t>(l4[0]);
        rec.icmp_code = static_cast<uint8_t>(l4[1]);
      }
      break;
    default: break;
  }
}

DecodeStatus parse_ipv4(std::span<const std::byte> ip, flow::FlowRecord& rec) noexcept {
  // RFC 791 §3.1: addresses end at byte 20 of the fixed header.
  if (ip.size() < 20) return DecodeStatus::kTruncated;
  const auto b0 = static_cast<uint8_t>(ip[0]);
  if ((b0 >> 4) != 4) return DecodeStatus::kUnsupportedHeader;
  const size_t header_len = size_t{b0 & 0x0fu} * 4;
  rec.tos = static_cast<uint8_t>(ip[1]);
  rec.ip_protocol = static_cast<uint8_t>(ip[9]);
  rec.src = flow::IpAddress::from_v4_bytes(ip.data() + 12);
  rec.dst = flow::IpAddress::from_v4_bytes(ip.data() + 16);
  // Only the first fragment carries the transport header; a bad IHL leaves it unlocated.
  const uint16_t fragment_offset = ByteReader::load_be16(ip.data() + 6) & 0x1fffu;
  if (fragment_offset == 0 && header_len >= 20 && header_len <= ip.size()) {
    parse_transport(rec.ip_protocol, ip.subspan(header_len), rec);
  }
  return DecodeStatus::kOk;
}

DecodeStatus parse_ipv6(std::span<const std::byte> ip, flow::FlowRecord& rec) noexcept {
  // RFC 8200 §3: 40-byte fixed header, addresses at 8 and 24.
  if (ip.size() < 40) return DecodeStatus::kTruncated;
  const uint32_t first_word = ByteReader::load_be32(ip.data());
  if ((first_word >> 28) != 6) return DecodeStatus::kUnsupportedHeader;
  rec.tos = static_cast<uint8_t>(first_word >> 20);
  rec.src = flow::IpAddress::from_v6_bytes(ip.data() + 8);
  rec.dst = flow::IpAddress::from_v6_bytes(ip.data() + 24);

  uint8_t next_header = static_cast<uint8_t>(ip[6]);
  size_t offset = 40;
  bool first_fragment = true;
  for (size_t ext_idx = 0; ext_idx < kMaxIpv6ExtHeaders; ++ext_idx) {
    size_t ext_len = 0;
    switch (next_header) {
      case kIpv6HopByHop:
      case kIpv6Routing:
      case kIpv6DestOpts:
        if (ip.size() < offset + 2) break;
        ext_len = (size_t{static_cast<uint8_t>(ip[offset + 1])} + 1) * 8;  // RFC 8200 §4.3
        break;
      case kIpv6Ah:
        if (ip.size() < offset + 2) break;
        ext_len = (size_t{static_cast<uint8_t>(ip[offset + 1])} + 2) * 4;  // RFC 4302 §2.2
        break;
      case kIpv6Fragment:
        if (ip.size() < offset + 4) break;
        ext_len = 8;  // RFC 8200 §4.5
        if ((ByteReader::load_be16(ip.data() + offset + 2) >> 3) != 0) first_fragment = false;
        break;
      default:  // a transport (or unknown) header: done walking
        rec.ip_protocol = next_header;
        if (first_fragment) parse_transport(next_header, ip.subspan(offset), rec);
        return DecodeStatus::kOk;
    }
    if (ext_len == 0 || ip.size() < offset + ext_len) {
      // The sampler cut the header inside the extension chain: the protocol is unknown beyond
      // it, so report the header we stopped at.
      rec.ip_protocol = next_header;
      return DecodeStatus::kOk;
    }
    next_header = static_cast<uint8_t>(ip[offset]);
    offset += ext_len;
  }
  // Chain longer than the bound: stop without a transport header.
  rec.ip_protocol = next_header;
  return DecodeStatus::kOk;
}

// Guesses IPv4 or IPv6 by the version nibble (what follows an MPLS stack is not typed).
DecodeStatus parse_ip_by_version(std::span<const std::byte> ip, flow::FlowRecord& rec) noexcept {
  if (ip.empty()) return DecodeStatus::kTruncated;
  switch (static_cast<uint8_t>(ip[0]) >> 4) {
    case 4: return parse_ipv4(ip, rec);
    case 6: return parse_ipv6(ip, rec);
    default: return DecodeStatus::kUnsupportedHeader;
  }
}

DecodeStatus parse_ethernet(std::span<const std::byte> frame, flow::FlowRecord& rec) noexcept {
  ByteReader r(frame);
  if (!r.has(14)) return DecodeStatus::kTruncated;
  r.read_bytes(rec.dst_mac.data(), 6);
  r.read_bytes(rec.src_mac.data(), 6);
  uint16_t ether_type = r.u16();

  bool outer_tag = true;
  for (size_t tag_idx = 0; tag_idx < kMaxVlanTags && is_vlan_tag(ether_type); ++tag_idx) {
    const uint16_t tci = r.u16();
    ether_type = r.u16();
    if (!r.ok()) return DecodeStatus::kTruncated;
    if (outer_tag) rec.vlan = tci & 0x0fffu;  // IEEE 802.1Q: VID is the low 12 bits
    outer_tag = false;
  }
  if (is_vlan_tag(ether_type)) return DecodeStatus::kUnsupportedHeader;

  if (ether_type == kEtherTypeMpls || ether_type == kEtherTypeMplsMcast) {
    // RFC 3032 §2.1: label stack entries of 32 bits, bottom of stack is bit 8.
    bool bottom = false;
    for (size_t label_idx = 0; label_idx < kMaxMplsLabels && !bottom; ++label_idx) {
      const uint32_t entry = r.u32();
      if (!r.ok()) return DecodeStatus::kTruncated;
      bottom = (entry & 0x100u) != 0;
    }
    if (!bottom) return DecodeStatus::kUnsupportedHeader;
    return parse_ip_by_version(r.rest(), rec);
  }
  if (ether_type == kEtherTypeIpv4) return parse_ipv4(r.rest(), rec);
  if (ether_type == kEtherTypeIpv6) return parse_ipv6(r.rest(), rec);
  return DecodeStatus::kUnsupportedHeader;  // ARP, LLC/SNAP (802.3 length), ...
}

}  // namespace

DecodeStatus parse_packet_header(uint32_t header_protocol, std::span<const std::byte> header,
                                 flow::FlowRecord& rec) noexcept {
  switch (header_protocol) {
    case static_cast<uint32_t>(HeaderProtocol::kEthernet): return parse_ethernet(header, rec);
    case static_cast<uint32_t>(HeaderProtocol::kIpv4): return parse_ipv4(header, rec);
    case static_cast<uint32_t>(HeaderProtocol::kIpv6): return parse_ipv6(header, rec);
    default: return DecodeStatus::kUnsupportedHeader;
  }
}

}  // namespace fathom::decode::detail
