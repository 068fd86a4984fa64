#pragma once

// One simulated unidirectional flow (a 5-tuple's packets in one direction) and the packet
// model that expands it: packet i's time, L3 size and TCP flags are pure functions of the spec
// and i, so sampling, aggregation and truth accounting never store packets.

#include <cstdint>

#include "flow/ip_address.h"

namespace fathom::gen {

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIcmpV6 = 58;

/// Ground-truth label of a flow: 0 for background, otherwise attack index + 1.
using Label = uint32_t;

/// A unidirectional flow. Packets are evenly spread over [start, start + duration]; packet 0
/// has `size_first`/`flags_first`, the last one `size_last`/`flags_last`, the rest `size_mid`/
/// `flags_mid`. ICMP type/code travel in `dst_port` as type << 8 | code, as NetFlow does.
struct FlowSpec {
  int64_t start_ns = 0;
  int64_t duration_ns = 0;
  flow::IpAddress src;
  flow::IpAddress dst;
  uint32_t packets = 1;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint16_t size_first = 0;  ///< L3 bytes of packet 0
  uint16_t size_mid = 0;    ///< L3 bytes of packets 1 .. packets-2
  uint16_t size_last = 0;   ///< L3 bytes of the last packet (when packets >= 2)
  uint8_t proto = kProtoTcp;
  uint8_t tos = 0;
  uint8_t flags_first = 0;
  uint8_t flags_mid = 0;
  uint8_t flags_last = 0;
  uint16_t tenant = 0;              ///< tenant index in the scenario
  uint16_t exporter = 0;            ///< exporter index within the tenant
  uint32_t src_host = 0xffffffffu;  ///< internal host index of src, or kNoHost
  uint32_t dst_host = 0xffffffffu;  ///< internal host index of dst, or kNoHost
  Label label = 0;

  /// Time of packet `i` (0 <= i < packets).
  int64_t time_at(uint64_t i) const noexcept {
    if (packets <= 1 || i == 0) return start_ns;
    return start_ns +
           static_cast<int64_t>(static_cast<double>(duration_ns) * static_cast<double>(i) /
                                static_cast<double>(packets - 1));
  }
  /// First packet index whose time is >= t (packets when none).
  uint64_t first_index_at_or_after(int64_t t) const noexcept;

  uint16_t size_at(uint64_t i) const noexcept {
    if (i == 0) return size_first;
    return i + 1 == packets ? size_last : size_mid;
  }
  uint8_t flags_at(uint64_t i) const noexcept {
    if (i == 0) return flags_first;
    return i + 1 == packets ? flags_last : flags_mid;
  }
  /// Sum of L3 sizes of packets [0, k).
  uint64_t bytes_before(uint64_t k) const noexcept {
    if (k == 0) return 0;
    uint64_t total = size_first;
    if (k >= 2) {
      const uint64_t mids = (k == packets) ? k - 2 : k - 1;
      total += mids * size_mid;
      if (k == packets) total += size_last;
    }
    return total;
  }
  uint64_t total_bytes() const noexcept { return bytes_before(packets); }
  /// OR of the TCP flags of packets [lo, hi).
  uint8_t flags_between(uint64_t lo, uint64_t hi) const noexcept {
    uint8_t f = 0;
    if (lo >= hi) return 0;
    if (lo == 0) f |= flags_first;
    if (hi == packets && packets >= 2) f |= flags_last;
    const uint64_t mid_lo = lo == 0 ? 1 : lo;
    const uint64_t mid_hi = hi == packets ? packets - 1 : hi;
    if (mid_lo < mid_hi) f |= flags_mid;
    return f;
  }
  bool is_v6() const noexcept { return !src.is_v4(); }
};

/// Minimum L3 size of a packet carrying an IP header and the protocol's L4 header.
constexpr uint16_t min_l3_size(uint8_t proto, bool v6) noexcept {
  const uint16_t ip = v6 ? 40 : 20;
  return proto == kProtoTcp ? uint16_t(ip + 20) : uint16_t(ip + 8);
}

}  // namespace fathom::gen
