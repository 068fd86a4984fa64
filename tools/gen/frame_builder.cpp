#include "gen/frame_builder.h"

#include <algorithm>

#include "gen/flow_spec.h"
#include "gen/wire_constants.h"

namespace fathom::gen {
namespace {

constexpr MacAddress kExporterMac = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};
constexpr MacAddress kCollectorMac = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x02};

void write_mac(ByteWriter& out, const MacAddress& mac) {
  out.bytes(mac.data(), mac.size());
}

// Writes an IPv4 header (20 bytes, no options) with its checksum.
void write_ipv4(ByteWriter& out, const flow::IpAddress& src, const flow::IpAddress& dst,
                uint16_t total_len, uint8_t proto, uint8_t tos, uint8_t ttl, uint16_t id) {
  const size_t start = out.size();
  out.u8(0x45);
  out.u8(tos);
  out.u16(total_len);
  out.u16(id);
  out.u16(0x4000);  // don't fragment
  out.u8(ttl);
  out.u8(proto);
  out.u16(0);  // checksum, patched below
  out.ipv4(src);
  out.ipv4(dst);
  out.patch_u16(start + 10, internet_checksum(out.span().subspan(start, 20)));
}

void write_ipv6(ByteWriter& out, const flow::IpAddress& src, const flow::IpAddress& dst,
                uint16_t payload_len, uint8_t next_header, uint8_t tclass, uint8_t hop_limit) {
  out.u32(0x60000000u | (uint32_t{tclass} << 20));
  out.u16(payload_len);
  out.u8(next_header);
  out.u8(hop_limit);
  out.ipv6(src);
  out.ipv6(dst);
}

// Pseudo-header sum for the UDP checksum (RFC 768 / RFC 8200 §8.1).
uint32_t pseudo_header_sum(const flow::IpAddress& src, const flow::IpAddress& dst, uint32_t l4_len,
                           uint8_t proto) {
  uint32_t sum = 0;
  const bool v4 = src.is_v4();
  const size_t from = v4 ? 12 : 0;
  for (size_t i = from; i < 16; i += 2) {
    sum += (uint32_t{src.bytes[i]} << 8) | src.bytes[i + 1];
    sum += (uint32_t{dst.bytes[i]} << 8) | dst.bytes[i + 1];
  }
  sum += l4_len >> 16;
  sum += l4_len & 0xffff;
  sum += proto;
  return sum;
}

}  // namespace

size_t write_packet_header(ByteWriter& out, const PacketHeaderFields& p, const MacAddress& src_mac,
                           const MacAddress& dst_mac, size_t max_bytes) {
  const size_t start = out.size();
  const bool v4 = p.src.is_v4();
  write_mac(out, dst_mac);
  write_mac(out, src_mac);
  out.u16(v4 ? wire::kEtherTypeIpv4 : wire::kEtherTypeIpv6);
  const uint8_t proto = (!v4 && p.proto == kProtoIcmp) ? kProtoIcmpV6 : p.proto;
  const uint16_t l3 = std::max(p.l3_size, min_l3_size(proto, !v4));
  if (v4) {
    write_ipv4(out, p.src, p.dst, l3, proto, p.tos, p.ttl, p.ip_id);
  } else {
    write_ipv6(out, p.src, p.dst, static_cast<uint16_t>(l3 - 40), proto, p.tos, p.ttl);
  }
  const uint16_t l4_len = static_cast<uint16_t>(l3 - (v4 ? 20 : 40));
  switch (proto) {
    case kProtoTcp:
      out.u16(p.src_port);
      out.u16(p.dst_port);
      out.u32(p.tcp_seq);
      out.u32((p.tcp_flags & kTcpAck) ? p.tcp_seq ^ 0x5bd1e995u : 0);
      out.u8(0x50);  // data offset 5 words
      out.u8(p.tcp_flags);
      out.u16(64240);  // window
      out.u16(0);      // checksum (not computed: truncated header)
      out.u16(0);      // urgent pointer
      break;
    case kProtoUdp:
      out.u16(p.src_port);
      out.u16(p.dst_port);
      out.u16(l4_len);
      out.u16(0);
      break;
    default:  // ICMP / ICMPv6 echo-style header
      out.u8(static_cast<uint8_t>(p.dst_port >> 8));
      out.u8(static_cast<uint8_t>(p.dst_port));
      out.u16(0);
      out.u16(p.src_port);  // identifier
      out.u16(1);           // sequence
      break;
  }
  const size_t frame_len = wire::kEthernetHeaderLen + l3;
  const size_t want = std::min(frame_len, max_bytes);
  const size_t written = out.size() - start;
  if (written < want) {
    out.zeros(want - written);
  } else {
    out.resize(start + want);  // a short snap length cuts into the L4 header, as on a device
  }
  return out.size() - start;
}

void write_udp_headers(ByteWriter& out, const flow::IpAddress& src, uint16_t sport,
                       const flow::IpAddress& dst, uint16_t dport, uint16_t ip_id,
                       std::span<const std::byte> payload) {
  const bool v4 = src.is_v4();
  write_mac(out, kCollectorMac);
  write_mac(out, kExporterMac);
  out.u16(v4 ? wire::kEtherTypeIpv4 : wire::kEtherTypeIpv6);
  const uint16_t udp_len = static_cast<uint16_t>(8 + payload.size());
  if (v4) {
    write_ipv4(out, src, dst, static_cast<uint16_t>(20 + udp_len), kProtoUdp, 0, 64, ip_id);
  } else {
    write_ipv6(out, src, dst, udp_len, kProtoUdp, 0, 64);
  }
  const size_t udp_start = out.size();
  out.u16(sport);
  out.u16(dport);
  out.u16(udp_len);
  out.u16(0);
  // The UDP header is 8 bytes (even), so the payload's 16-bit words keep their alignment and
  // its sum continues the header's (RFC 1071).
  const uint16_t header_sum = static_cast<uint16_t>(~internet_checksum(
      out.span().subspan(udp_start), pseudo_header_sum(src, dst, udp_len, kProtoUdp)));
  uint16_t sum = internet_checksum(payload, header_sum);
  if (sum == 0) sum = 0xffff;  // RFC 768: a computed 0 is sent as all ones
  out.patch_u16(udp_start + 6, sum);
}

void write_udp_frame(ByteWriter& out, const flow::IpAddress& src, uint16_t sport,
                     const flow::IpAddress& dst, uint16_t dport, uint16_t ip_id,
                     std::span<const std::byte> payload) {
  write_udp_headers(out, src, sport, dst, dport, ip_id, payload);
  out.bytes(payload.data(), payload.size());
}

}  // namespace fathom::gen
