#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "flow/ip_address.h"

namespace fathom::flow {

/// Which wire format a record was decoded from.
enum class SourceProtocol : uint8_t {
  kUnknown = 0,
  kNetflowV5 = 1,
  kNetflowV9 = 2,
  kIpfix = 3,
  kSflowV5 = 4,
  kVpcFlowLog = 5,
};

/// Stable lower-case name ("netflow_v5", "ipfix", ...), used in JSON/CSV output and metrics.
std::string_view to_string(SourceProtocol p) noexcept;

/// Direction of a flow relative to the tenant's own networks, set by `transform`.
enum class Direction : uint8_t {
  kUnknown = 0,   ///< not yet classified (decoders leave this)
  kInbound = 1,   ///< external source, internal destination
  kOutbound = 2,  ///< internal source, external destination
  kInternal = 3,  ///< both ends internal
  kTransit = 4,   ///< neither end internal
};

std::string_view to_string(Direction d) noexcept;

/// How the device sampled the traffic that produced this record (RFC 7012 IE 35 values where
/// they exist).
enum class SamplingAlgorithm : uint8_t {
  kUnknown = 0,
  kDeterministic = 1,  ///< 1-in-N systematic count-based
  kRandom = 2,         ///< random 1-in-N
};

/// Bit flags in `FlowRecord::flags`.
namespace record_flags {
/// The device sampling rate was not announced (yet): `device_sampling_rate` is a guess of 1.
inline constexpr uint16_t kSamplingRateUnknown = 1u << 0;
/// Reverse direction of an RFC 5103 biflow, emitted as a record of its own.
inline constexpr uint16_t kBiflowReverse = 1u << 1;
/// Decoded from a data set that arrived before its template and waited in the pending buffer.
inline constexpr uint16_t kDecodedLate = 1u << 2;
/// The record is one sampled packet (sFlow), not an aggregated flow.
inline constexpr uint16_t kPacketSample = 1u << 3;
/// Flow start/end times are absent on the wire; `start_ns`/`end_ns` are the export time.
inline constexpr uint16_t kNoFlowTimes = 1u << 4;
/// A tenant de-duplication rule excludes this record from traffic estimates: the same traffic
/// is counted at another exporter or interface. Analysis still sees the record.
inline constexpr uint16_t kNotCounted = 1u << 5;
/// Fathom's adaptive sampler kept this record with a probability below 1:
/// `sampling_rate` = `device_sampling_rate` / that probability.
inline constexpr uint16_t kSecondarySampled = 1u << 6;
}  // namespace record_flags

/// Bit flags in `FlowRecord::intel_flags` (set by enrichment).
namespace intel_flags {
inline constexpr uint32_t kSrcListed = 1u << 0;  ///< src is on at least one intel list
inline constexpr uint32_t kDstListed = 1u << 1;  ///< dst is on at least one intel list
/// The tenant side ("ours", from the tenant's internal networks): src, dst, both or neither
/// (also implied by `direction`, kept as bits for cheap filtering).
inline constexpr uint32_t kSrcInternal = 1u << 2;
inline constexpr uint32_t kDstInternal = 1u << 3;
}  // namespace intel_flags

/// One flow (or one sampled packet, for sFlow) from any source, in one fixed-size, trivially
/// copyable layout. Decoders fill the wire fields; `transform` fills tenant, direction and
/// enrichment; nothing downstream ever needs the wire format again.
///
/// Times are nanoseconds since the Unix epoch (UTC). Counters are as exported, i.e. *sampled*:
/// multiply by `sampling_rate` for an unbiased estimate of the true total.
struct FlowRecord {
  // --- times ---------------------------------------------------------------------------------
  int64_t arrival_ns = 0;  ///< when Fathom received the export packet (wall clock or capture)
  int64_t start_ns = 0;    ///< first packet of the flow, as the exporter reports it
  int64_t end_ns = 0;      ///< last packet of the flow, as the exporter reports it

  // --- counters (sampled, as exported) -------------------------------------------------------
  /// Octets, as exported. NetFlow/IPFIX/VPC: L3 octets (IP header included). sFlow: the
  /// sampled frame's length on the wire (L2 header and FCS included), as the agent reports it
  /// and Wireshark shows it; see docs/decisions/0002-sflow-bytes-are-frame-length.md.
  uint64_t bytes = 0;
  uint64_t packets = 0;  ///< packets, as exported

  /// Effective sampling rate: device rate × Fathom's own secondary rate. 1.0 = unsampled.
  /// Every Horvitz–Thompson sum downstream multiplies by this.
  double sampling_rate = 1.0;

  // --- origin --------------------------------------------------------------------------------
  IpAddress exporter;                 ///< UDP source address of the export packet
  IpAddress src;                      ///< source address (IPv4 v4-mapped)
  IpAddress dst;                      ///< destination address (IPv4 v4-mapped)
  IpAddress next_hop;                 ///< IE 15/62 next hop, or `::` when absent
  uint32_t observation_domain = 0;    ///< v9 source id / IPFIX domain / sFlow sub-agent
  uint32_t device_sampling_rate = 1;  ///< 1-in-N as announced by the device (1 = unsampled)
  uint32_t tenant_id = 0;             ///< 0 until `transform` maps the exporter to a tenant
  uint32_t input_if = 0;              ///< ingress ifIndex (IE 10)
  uint32_t output_if = 0;             ///< egress ifIndex (IE 14)
  uint32_t src_as = 0;                ///< IE 16
  uint32_t dst_as = 0;                ///< IE 17
  uint32_t intel_flags = 0;           ///< `intel_flags::` bits, set by enrichment
  /// Intel categories the address is listed under: bit `transform::IntelCategory` (enrichment).
  uint16_t src_intel = 0;
  uint16_t dst_intel = 0;
  uint16_t exporter_port = 0;      ///< UDP source port of the export packet
  uint16_t src_port = 0;           ///< L4 source port (0 when not TCP/UDP/SCTP)
  uint16_t dst_port = 0;           ///< L4 destination port (0 when not TCP/UDP/SCTP)
  uint16_t tcp_flags = 0;          ///< OR of TCP flags seen (IE 6; 16 bits for IPFIX)
  uint16_t vlan = 0;               ///< 802.1Q VLAN id (IE 58), 0 when absent
  uint16_t flags = 0;              ///< `record_flags::` bits
  uint16_t sampler_id = 0;         ///< v9 IE 48 / IPFIX IE 302 selector (low 16 bits)
  uint8_t ip_protocol = 0;         ///< IANA protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6)
  uint8_t tos = 0;                 ///< IP ToS / traffic class (IE 5)
  uint8_t icmp_type = 0;           ///< ICMP/ICMPv6 type (IE 32 high byte, IE 176/178)
  uint8_t icmp_code = 0;           ///< ICMP/ICMPv6 code
  uint8_t src_mask = 0;            ///< IE 9/29 source prefix length
  uint8_t dst_mask = 0;            ///< IE 13/30 destination prefix length
  uint8_t exporter_direction = 0;  ///< IE 61 flowDirection: 0 ingress, 1 egress, 0xff unknown
  uint8_t forwarding_status = 0;   ///< IE 89
  uint8_t end_reason = 0;          ///< IE 136 flowEndReason
  SourceProtocol source = SourceProtocol::kUnknown;
  SamplingAlgorithm sampling_algorithm = SamplingAlgorithm::kUnknown;
  Direction direction = Direction::kUnknown;  ///< set by `transform`
  /// Reputation score 0..100 from the intel lists' severities (0: not listed), set by enrichment.
  uint8_t src_reputation = 0;
  uint8_t dst_reputation = 0;
  std::array<uint8_t, 6> src_mac{};   ///< IE 56 (sFlow: Ethernet source)
  std::array<uint8_t, 6> dst_mac{};   ///< IE 80 (sFlow: Ethernet destination)
  std::array<char, 2> src_country{};  ///< ISO 3166 alpha-2, set by enrichment
  std::array<char, 2> dst_country{};  ///< ISO 3166 alpha-2, set by enrichment
};

static_assert(std::is_trivially_copyable_v<FlowRecord>);
static_assert(sizeof(FlowRecord) <= 192, "keep FlowRecord within three cache lines");

/// Interface counters from an sFlow counter sample (generic interface counters, RFC 3176 /
/// sFlow v5 `if_counters`), kept as their own record type for health and utilisation views.
struct InterfaceCounters {
  int64_t arrival_ns = 0;
  IpAddress exporter;  ///< UDP source address of the export packet
  IpAddress agent;     ///< sFlow agent address from the datagram
  uint32_t sub_agent = 0;
  uint32_t sequence = 0;   ///< counter sample sequence number
  uint32_t source_id = 0;  ///< data source (type << 24 | index)
  uint32_t if_index = 0;
  uint32_t if_type = 0;
  uint64_t if_speed = 0;
  uint32_t if_direction = 0;  ///< 0 unknown, 1 full-duplex, 2 half-duplex, 3 in, 4 out
  uint32_t if_status = 0;     ///< bit 0 admin up, bit 1 oper up
  uint64_t in_octets = 0;
  uint32_t in_ucast_pkts = 0;
  uint32_t in_multicast_pkts = 0;
  uint32_t in_broadcast_pkts = 0;
  uint32_t in_discards = 0;
  uint32_t in_errors = 0;
  uint32_t in_unknown_protos = 0;
  uint64_t out_octets = 0;
  uint32_t out_ucast_pkts = 0;
  uint32_t out_multicast_pkts = 0;
  uint32_t out_broadcast_pkts = 0;
  uint32_t out_discards = 0;
  uint32_t out_errors = 0;
  uint32_t promiscuous_mode = 0;
  uint32_t tenant_id = 0;  ///< 0 until `transform` maps the exporter to a tenant
};

static_assert(std::is_trivially_copyable_v<InterfaceCounters>);

}  // namespace fathom::flow
