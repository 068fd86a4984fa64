#pragma once

// Ethernet, IPv4/IPv6 and TCP/UDP/ICMP headers: the raw headers inside sFlow samples and the
// frames around export datagrams in pcap files.

#include <array>
#include <cstdint>
#include <span>

#include "flow/ip_address.h"
#include "gen/byte_writer.h"

namespace fathom::gen {

using MacAddress = std::array<uint8_t, 6>;

/// Header fields of one simulated packet.
struct PacketHeaderFields {
  flow::IpAddress src;
  flow::IpAddress dst;
  uint16_t l3_size = 0;  ///< total L3 length (IP header included); >= the headers written
  uint16_t src_port = 0;
  uint16_t dst_port = 0;  ///< ICMP: type << 8 | code
  uint32_t tcp_seq = 0;
  uint8_t proto = 0;
  uint8_t tos = 0;
  uint8_t tcp_flags = 0;
  uint8_t ttl = 64;
  uint16_t ip_id = 0;
};

/// Appends Ethernet + IP + L4 headers for `p`, then zero payload, up to `max_bytes` of the
/// frame (FCS excluded). Returns the bytes written. IPv4 header checksum is computed; L4
/// checksums are left 0 (a sampled header is truncated anyway).
size_t write_packet_header(ByteWriter& out, const PacketHeaderFields& p, const MacAddress& src_mac,
                           const MacAddress& dst_mac, size_t max_bytes);

/// Appends the Ethernet/IP/UDP headers of a frame carrying `payload` from `src`:`sport` to
/// `dst`:`dport` (IPv4 or IPv6 by `src`), without the payload itself: the caller writes the
/// payload after them (the pcap writer does, saving a copy). The UDP checksum covers the
/// payload (mandatory for IPv6).
void write_udp_headers(ByteWriter& out, const flow::IpAddress& src, uint16_t sport,
                       const flow::IpAddress& dst, uint16_t dport, uint16_t ip_id,
                       std::span<const std::byte> payload);

/// Appends a whole Ethernet/IP/UDP frame: write_udp_headers() then `payload`.
void write_udp_frame(ByteWriter& out, const flow::IpAddress& src, uint16_t sport,
                     const flow::IpAddress& dst, uint16_t dport, uint16_t ip_id,
                     std::span<const std::byte> payload);

}  // namespace fathom::gen
