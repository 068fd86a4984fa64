#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "decode/decode_status.h"
#include "flow/flow_record.h"

namespace fathom::decode::detail {

/// sFlow v5 `header_protocol` values (sFlow v5 §5.4.1 "sampled_header") that
/// `parse_packet_header` understands.
enum class HeaderProtocol : uint32_t {
  kEthernet = 1,  ///< ETHERNET-ISO88023
  kIpv4 = 11,
  kIpv6 = 12,
};

/// Bounds on the loops over wire-controlled chains, so a crafted header costs a fixed amount of
/// work however it is built.
inline constexpr size_t kMaxVlanTags = 4;        ///< 802.1Q / QinQ tags walked
inline constexpr size_t kMaxMplsLabels = 8;      ///< MPLS label stack entries walked
inline constexpr size_t kMaxIpv6ExtHeaders = 8;  ///< IPv6 extension headers walked

/// Parses the sampled packet header of an sFlow raw packet header record (the first bytes of
/// the packet as the sampler saw it, possibly cut short by the sampler's header size) and fills
/// the L2–L4 fields of `rec`: src/dst MAC and the outer VLAN (Ethernet only), src/dst address,
/// IP protocol, ToS / traffic class, and for the first (or only) fragment TCP/UDP/SCTP ports and
/// TCP flags, or ICMP/ICMPv6 type and code. Fields the header does not reach stay untouched.
/// Walks at most kMaxVlanTags tags, kMaxMplsLabels labels and kMaxIpv6ExtHeaders extension
/// headers. Never reads outside `header`; never allocates.
///
/// Returns:
///   kOk                 an IPv4/IPv6 header with both addresses was found (L4 may be absent);
///   kUnsupportedHeader  header protocol, ethertype or IP version is not one we parse, or the
///                       VLAN/MPLS stack is deeper than the bound (no addresses were set);
///   kTruncated          the header ends before the IP addresses.
DecodeStatus parse_packet_header(uint32_t header_protocol, std::span<const std::byte> header,
                                 flow::FlowRecord& rec) noexcept;

}  // namespace fathom::decode::detail
