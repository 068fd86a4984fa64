// sFlow version 5 decoder (sflow.org "sFlow Version 5", July 2004): datagram header, flow samples
// (compact and expanded) with raw packet header, sampled IPv4/IPv6, extended switch, router and
// gateway records, and counter samples (compact and expanded) with generic interface counters.
// Everything else is skipped by its length.
//
// Mapping choices (documented here, once):
//  - one flow sample is one FlowRecord: packets = 1, bytes = the sampled frame's length as the
//    raw header record reports it (`frame_length`, what Wireshark/tshark shows for the sample; it
//    includes the L2 header and any bytes the sampler stripped, such as the FCS). Without a raw
//    header, a sampled IPv4/IPv6 record's IP length is used.
//  - observation_domain = the datagram's sub-agent id (the data source index stays in the
//    interface fields, and the agent address is not a FlowRecord field).
//  - input_if/output_if = the ifIndex when the interface format is 0 (single interface; the
//    spec's 0x3FFFFFFF "internal to the device" is kept as is), else 0 (discarded packet or
//    multiple output interfaces: no single ifIndex).
//  - no flow times on the wire: start = end = arrival, flags kPacketSample | kNoFlowTimes.
//  - sampling algorithm kRandom: sFlow v5 §4.2 requires random 1-in-N sampling.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "decode/byte_reader.h"
#include "decode/detail/packet_header.h"
#include "decode/detail/protocols.h"

namespace fathom::decode::detail {
namespace {

constexpr uint32_t kVersion = 5;

// Address types (sFlow v5 "address").
constexpr uint32_t kAddressUnknown = 0;
constexpr uint32_t kAddressIpv4 = 1;
constexpr uint32_t kAddressIpv6 = 2;

// Sample formats, enterprise 0.
constexpr uint32_t kFlowSample = 1;
constexpr uint32_t kCounterSample = 2;
constexpr uint32_t kExpandedFlowSample = 3;
constexpr uint32_t kExpandedCounterSample = 4;

// Flow record formats, enterprise 0.
constexpr uint32_t kRawPacketHeader = 1;
constexpr uint32_t kSampledIpv4 = 3;
constexpr uint32_t kSampledIpv6 = 4;
constexpr uint32_t kExtendedSwitch = 1001;
constexpr uint32_t kExtendedRouter = 1002;
constexpr uint32_t kExtendedGateway = 1003;

// Counter record formats, enterprise 0.
constexpr uint32_t kGenericInterfaceCounters = 1;
constexpr size_t kGenericInterfaceCountersLen = 88;

// Fixed parts of a flow sample before its records, record count included.
constexpr size_t kFlowSampleLen = 32;
constexpr size_t kExpandedFlowSampleLen = 44;

// Every sample and record starts with a 4-byte tag and a 4-byte length: the smallest size a
// count read from the wire can claim per element, used to bound that count by the bytes left.
constexpr size_t kMinElementLen = 8;

// Interface formats (sFlow v5 "interface", top 2 bits of the compact form).
constexpr uint32_t kInterfaceSingle = 0;

struct Tag {
  uint32_t enterprise;
  uint32_t format;
};

// sFlow v5 "data_format": enterprise in the top 20 bits, format in the low 12.
Tag split_tag(uint32_t tag) noexcept {
  return {tag >> 12, tag & 0xfffu};
}

// Reads an sFlow "address" (type, then 0, 4 or 16 bytes). False on an unknown type or short data.
bool read_address(ByteReader& r, flow::IpAddress& out) noexcept {
  const uint32_t type = r.u32();
  if (!r.ok()) return false;
  std::array<std::byte, 16> buf{};
  switch (type) {
    case kAddressUnknown: out = {}; return true;
    case kAddressIpv4:
      if (!r.read_bytes(buf.data(), 4)) return false;
      out = flow::IpAddress::from_v4_bytes(buf.data());
      return true;
    case kAddressIpv6:
      if (!r.read_bytes(buf.data(), 16)) return false;
      out = flow::IpAddress::from_v6_bytes(buf.data());
      return true;
    default: return false;
  }
}

// The ifIndex of a single-interface value; 0 (unknown) for the other interface formats.
uint32_t interface_index(uint32_t format, uint32_t value) noexcept {
  return format == kInterfaceSingle ? value : 0;
}

struct DatagramInfo {
  const PacketContext* ctx = nullptr;
  flow::IpAddress agent;
  uint32_t sub_agent = 0;
};

// What the flow records of one sample told us, merged once all of them are read.
struct FlowSampleParts {
  bool have_header = false;      // raw packet header parsed down to the IP addresses
  bool have_sampled_ip = false;  // sampled IPv4/IPv6 record seen
  DecodeStatus header_problem = DecodeStatus::kOk;
  uint64_t header_bytes = 0;  // frame_length of the raw header record
  uint64_t sampled_ip_bytes = 0;
  uint16_t switch_vlan = 0;
  bool have_router_next_hop = false;
};

/// The FlowRecord fields `parse_packet_header` may write (see its contract), saved so that a
/// header that fails half-way can be undone without copying the whole record.
struct HeaderFields {
  std::array<uint8_t, 6> src_mac;
  std::array<uint8_t, 6> dst_mac;
  uint16_t vlan;
  flow::IpAddress src;
  flow::IpAddress dst;
  uint16_t src_port;
  uint16_t dst_port;
  uint16_t tcp_flags;
  uint8_t ip_protocol;
  uint8_t tos;
  uint8_t icmp_type;
  uint8_t icmp_code;

  static HeaderFields save(const flow::FlowRecord& rec) noexcept {
    return {rec.src_mac,  rec.dst_mac,   rec.vlan,        rec.src, rec.dst,       rec.src_port,
            rec.dst_port, rec.tcp_flags, rec.ip_protocol, rec.tos, rec.icmp_type, rec.icmp_code};
  }
  void restore(flow::FlowRecord& rec) const noexcept {
    rec.src_mac = src_mac;
    rec.dst_mac = dst_mac;
    rec.vlan = vlan;
    rec.src = src;
    rec.dst = dst;
    rec.src_port = src_port;
    rec.dst_port = dst_port;
    rec.tcp_flags = tcp_flags;
    rec.ip_protocol = ip_protocol;
    rec.tos = tos;
    rec.icmp_type = icmp_type;
    rec.icmp_code = icmp_code;
  }
};

DecodeStatus read_raw_header(ByteReader& r, flow::FlowRecord& rec,
                             FlowSampleParts& parts) noexcept {
  // header_protocol, frame_length, stripped (already included in frame_length), header length.
  if (!r.has(16)) return DecodeStatus::kBadSample;
  const std::byte* p = r.current();
  const uint32_t header_protocol = ByteReader::load_be32(p);
  const uint32_t frame_length = ByteReader::load_be32(p + 4);
  const uint32_t header_len = ByteReader::load_be32(p + 12);
  r.skip(16);
  if (header_len > r.remaining()) return DecodeStatus::kBadSample;
  // A header that fails half-way must not leave partial fields: undo them from a saved copy.
  const HeaderFields saved = HeaderFields::save(rec);
  const DecodeStatus status = parse_packet_header(header_protocol, r.rest().first(header_len), rec);
  if (status != DecodeStatus::kOk) {
    saved.restore(rec);
    parts.header_problem = status;
    return DecodeStatus::kOk;  // the sample is well formed; the header is just not usable
  }
  parts.have_header = true;
  parts.header_bytes = frame_length;
  return DecodeStatus::kOk;
}

// sampled_ipv4 (32 bytes) / sampled_ipv6 (56 bytes): used only when no raw header is present.
DecodeStatus read_sampled_ip(ByteReader& r, bool v6, flow::FlowRecord& rec,
                             FlowSampleParts& parts) noexcept {
  const size_t addr_len = v6 ? 16 : 4;
  if (!r.has(8 + 2 * addr_len + 16)) return DecodeStatus::kBadSample;
  if (parts.have_header) return DecodeStatus::kOk;
  parts.sampled_ip_bytes = r.u32();
  rec.ip_protocol = static_cast<uint8_t>(r.u32());
  if (v6) {
    rec.src = flow::IpAddress::from_v6_bytes(r.current());
    rec.dst = flow::IpAddress::from_v6_bytes(r.current() + 16);
  } else {
    rec.src = flow::IpAddress::from_v4_bytes(r.current());
    rec.dst = flow::IpAddress::from_v4_bytes(r.current() + 4);
  }
  r.skip(2 * addr_len);
  rec.src_port = static_cast<uint16_t>(r.u32());
  rec.dst_port = static_cast<uint16_t>(r.u32());
  rec.tcp_flags = static_cast<uint16_t>(r.u32());
  rec.tos = static_cast<uint8_t>(r.u32());
  parts.have_sampled_ip = true;
  return DecodeStatus::kOk;
}

DecodeStatus read_extended_switch(ByteReader& r, FlowSampleParts& parts) noexcept {
  const uint32_t src_vlan = r.u32();
  r.skip(12);  // src_priority, dst_vlan, dst_priority: no FlowRecord field
  if (!r.ok()) return DecodeStatus::kBadSample;
  parts.switch_vlan = static_cast<uint16_t>(src_vlan & 0x0fffu);
  return DecodeStatus::kOk;
}

DecodeStatus read_extended_router(ByteReader& r, flow::FlowRecord& rec,
                                  FlowSampleParts& parts) noexcept {
  flow::IpAddress next_hop;
  if (!read_address(r, next_hop)) return DecodeStatus::kBadSample;
  const uint32_t src_mask = r.u32();
  const uint32_t dst_mask = r.u32();
  if (!r.ok() || src_mask > 128 || dst_mask > 128) return DecodeStatus::kBadSample;
  rec.next_hop = next_hop;
  rec.src_mask = static_cast<uint8_t>(src_mask);
  rec.dst_mask = static_cast<uint8_t>(dst_mask);
  parts.have_router_next_hop = true;
  return DecodeStatus::kOk;
}

DecodeStatus read_extended_gateway(ByteReader& r, flow::FlowRecord& rec,
                                   const FlowSampleParts& parts) noexcept {
  flow::IpAddress next_hop;
  if (!read_address(r, next_hop)) return DecodeStatus::kBadSample;
  const uint32_t router_as = r.u32();
  const uint32_t src_as = r.u32();
  r.skip(4);  // src_peer_as
  const uint32_t segment_count = r.u32();
  if (!r.ok() || segment_count > r.remaining() / 8) return DecodeStatus::kBadSample;
  // The destination AS is the last AS of the path; an empty path means the destination is in
  // the router's own AS. The loop is bounded by the count checked against the bytes above.
  uint32_t dst_as = router_as;
  for (uint32_t segment_idx = 0; segment_idx < segment_count; ++segment_idx) {
    r.skip(4);  // segment type: AS_SET or AS_SEQUENCE
    const uint32_t as_count = r.u32();
    if (!r.ok() || as_count > r.remaining() / 4) return DecodeStatus::kBadSample;
    if (as_count > 0) {
      r.skip((size_t{as_count} - 1) * 4);
      dst_as = r.u32();
    }
  }
  // communities and local_pref follow: not FlowRecord fields.
  if (!r.ok()) return DecodeStatus::kBadSample;
  rec.src_as = src_as;
  rec.dst_as = dst_as;
  // The router record's (IGP) next hop wins over the BGP next hop.
  if (!parts.have_router_next_hop) rec.next_hop = next_hop;
  return DecodeStatus::kOk;
}

/// Decodes one flow sample (compact or expanded) into `rec`, a default record. Returns kOk when
/// the record is complete, else why not (not yet counted): kBadSample for a malformed sample,
/// kUnsupportedHeader / kTruncated for a well-formed one whose packet header gave no addresses.
DecodeStatus fill_flow_sample(ByteReader& r, bool expanded, const DatagramInfo& info,
                              ExporterStats& stats, flow::FlowRecord& rec) noexcept {
  // The fixed part is checked once, then read at its offsets (sFlow v5 flow_sample /
  // flow_sample_expanded, up to the record count).
  const size_t fixed_len = expanded ? kExpandedFlowSampleLen : kFlowSampleLen;
  if (!r.has(fixed_len)) return DecodeStatus::kBadSample;
  const std::byte* p = r.current();
  r.skip(fixed_len);
  uint32_t input_format = 0;
  uint32_t input_value = 0;
  uint32_t output_format = 0;
  uint32_t output_value = 0;
  uint32_t sampling_rate = 0;
  uint32_t record_count = 0;
  if (expanded) {
    // sequence, source_id_type, source_id_index, sampling_rate, sample_pool, drops, input
    // (format, value), output (format, value), record count.
    sampling_rate = ByteReader::load_be32(p + 12);
    input_format = ByteReader::load_be32(p + 24);
    input_value = ByteReader::load_be32(p + 28);
    output_format = ByteReader::load_be32(p + 32);
    output_value = ByteReader::load_be32(p + 36);
    record_count = ByteReader::load_be32(p + 40);
  } else {
    // sequence, source_id, sampling_rate, sample_pool, drops, input, output, record count.
    sampling_rate = ByteReader::load_be32(p + 8);
    const uint32_t input = ByteReader::load_be32(p + 20);
    const uint32_t output = ByteReader::load_be32(p + 24);
    record_count = ByteReader::load_be32(p + 28);
    input_format = input >> 30;
    input_value = input & 0x3fffffffu;
    output_format = output >> 30;
    output_value = output & 0x3fffffffu;
  }
  if (record_count > r.remaining() / kMinElementLen) return DecodeStatus::kBadSample;

  const PacketContext& ctx = *info.ctx;
  rec.arrival_ns = ctx.arrival_ns;
  rec.start_ns = ctx.arrival_ns;
  rec.end_ns = ctx.arrival_ns;
  rec.exporter = ctx.exporter;
  rec.exporter_port = ctx.exporter_port;
  rec.source = flow::SourceProtocol::kSflowV5;
  rec.observation_domain = info.sub_agent;
  rec.input_if = interface_index(input_format, input_value);
  rec.output_if = interface_index(output_format, output_value);
  rec.packets = 1;
  rec.flags = flow::record_flags::kPacketSample | flow::record_flags::kNoFlowTimes;
  rec.sampling_algorithm = flow::SamplingAlgorithm::kRandom;

  FlowSampleParts parts;
  for (uint32_t record_idx = 0; record_idx < record_count; ++record_idx) {
    const Tag tag = split_tag(r.u32());
    const uint32_t length = r.u32();
    if (!r.ok() || length > r.remaining()) return DecodeStatus::kBadSample;
    ByteReader body = r.sub(length);
    if (tag.enterprise != 0) continue;
    DecodeStatus status = DecodeStatus::kOk;
    switch (tag.format) {
      case kRawPacketHeader: status = read_raw_header(body, rec, parts); break;
      case kSampledIpv4: status = read_sampled_ip(body, false, rec, parts); break;
      case kSampledIpv6: status = read_sampled_ip(body, true, rec, parts); break;
      case kExtendedSwitch: status = read_extended_switch(body, parts); break;
      case kExtendedRouter: status = read_extended_router(body, rec, parts); break;
      case kExtendedGateway: status = read_extended_gateway(body, rec, parts); break;
      default: break;  // unknown record: skipped by its length
    }
    if (status != DecodeStatus::kOk) return status;
  }

  if (!parts.have_header && !parts.have_sampled_ip) {
    // Well formed, but nothing says which hosts the packet was between (non-IP frame, an
    // unparsed link type, or a header cut before the addresses).
    return parts.header_problem != DecodeStatus::kOk ? parts.header_problem
                                                     : DecodeStatus::kUnsupportedHeader;
  }
  rec.bytes = parts.have_header ? parts.header_bytes : parts.sampled_ip_bytes;
  if (parts.switch_vlan != 0) rec.vlan = parts.switch_vlan;  // the device's view wins
  if (sampling_rate == 0) {
    // A zero rate is not a rate: keep the record, flag the rate as unknown (a guess of 1).
    rec.device_sampling_rate = 1;
    rec.flags |= flow::record_flags::kSamplingRateUnknown;
    ++stats.sampling_unknown;
  } else {
    rec.device_sampling_rate = sampling_rate;
  }
  rec.sampling_rate = static_cast<double>(rec.device_sampling_rate);
  return DecodeStatus::kOk;
}

/// Decodes one flow sample straight into a new record of `out` (no copy of the record), which
/// is taken back when the sample yields none. Returns as `fill_flow_sample`.
DecodeStatus decode_flow_sample(ByteReader& r, bool expanded, const DatagramInfo& info,
                                ExporterStats& stats, flow::FlowBatch& out) noexcept {
  const DecodeStatus status = fill_flow_sample(r, expanded, info, stats, out.add());
  if (status != DecodeStatus::kOk) {
    out.pop_back();
    return status;
  }
  ++stats.records;
  return DecodeStatus::kOk;
}

void read_generic_interface_counters(ByteReader& r, flow::InterfaceCounters& c) noexcept {
  c.if_index = r.u32();
  c.if_type = r.u32();
  c.if_speed = r.u64();
  c.if_direction = r.u32();
  c.if_status = r.u32();
  c.in_octets = r.u64();
  c.in_ucast_pkts = r.u32();
  c.in_multicast_pkts = r.u32();
  c.in_broadcast_pkts = r.u32();
  c.in_discards = r.u32();
  c.in_errors = r.u32();
  c.in_unknown_protos = r.u32();
  c.out_octets = r.u64();
  c.out_ucast_pkts = r.u32();
  c.out_multicast_pkts = r.u32();
  c.out_broadcast_pkts = r.u32();
  c.out_discards = r.u32();
  c.out_errors = r.u32();
  c.promiscuous_mode = r.u32();
}

/// Decodes one counter sample (compact or expanded): each generic interface counters record
/// becomes one InterfaceCounters in `out`; other counter records are skipped by length. The
/// record framing is checked before anything is emitted, so a malformed sample adds nothing.
DecodeStatus decode_counter_sample(ByteReader& r, bool expanded, const DatagramInfo& info,
                                   ExporterStats& stats, flow::FlowBatch& out) noexcept {
  const uint32_t sequence = r.u32();
  uint32_t source_id = 0;
  if (expanded) {
    const uint32_t source_type = r.u32();
    const uint32_t source_index = r.u32();
    source_id = (source_type << 24) | (source_index & 0x00ffffffu);
  } else {
    source_id = r.u32();
  }
  const uint32_t record_count = r.u32();
  if (!r.ok() || record_count > r.remaining() / kMinElementLen) return DecodeStatus::kBadSample;

  // Pass 1: framing and lengths only.
  ByteReader check = r;
  for (uint32_t record_idx = 0; record_idx < record_count; ++record_idx) {
    const Tag tag = split_tag(check.u32());
    const uint32_t length = check.u32();
    if (!check.ok() || length > check.remaining()) return DecodeStatus::kBadSample;
    if (tag.enterprise == 0 && tag.format == kGenericInterfaceCounters &&
        length < kGenericInterfaceCountersLen) {
      return DecodeStatus::kBadSample;
    }
    check.skip(length);
  }
  // Pass 2: emit.
  for (uint32_t record_idx = 0; record_idx < record_count; ++record_idx) {
    const Tag tag = split_tag(r.u32());
    ByteReader body = r.sub(r.u32());
    if (tag.enterprise != 0 || tag.format != kGenericInterfaceCounters) continue;
    flow::InterfaceCounters& c = out.add_counters();
    c.arrival_ns = info.ctx->arrival_ns;
    c.exporter = info.ctx->exporter;
    c.agent = info.agent;
    c.sub_agent = info.sub_agent;
    c.sequence = sequence;
    c.source_id = source_id;
    read_generic_interface_counters(body, c);
    ++stats.counter_records;
  }
  return DecodeStatus::kOk;
}

}  // namespace

DecodeStatus decode_sflow_v5(std::span<const std::byte> packet, const PacketContext& ctx,
                             ExporterState& exporter, flow::FlowBatch& out) noexcept {
  ExporterStats& stats = exporter.stats;
  ByteReader r(packet);
  const uint32_t version = r.u32();
  if (!r.ok()) {
    stats.count(DecodeStatus::kTruncated);
    return DecodeStatus::kTruncated;
  }
  if (version != kVersion) {
    stats.count(DecodeStatus::kBadVersion);
    return DecodeStatus::kBadVersion;
  }
  DatagramInfo info;
  info.ctx = &ctx;
  const size_t address_start = r.position();
  if (!read_address(r, info.agent)) {
    // Short, or an address type this spec does not define (so its length is unknown).
    const DecodeStatus status = r.ok() && r.position() > address_start ? DecodeStatus::kBadSample
                                                                       : DecodeStatus::kTruncated;
    stats.count(status);
    return status;
  }
  info.sub_agent = r.u32();
  r.skip(8);  // datagram sequence number, uptime
  const uint32_t sample_count = r.u32();
  if (!r.ok()) {
    stats.count(DecodeStatus::kTruncated);
    return DecodeStatus::kTruncated;
  }
  if (sample_count > r.remaining() / kMinElementLen) {
    stats.count(DecodeStatus::kBadRecordCount);
    return DecodeStatus::kBadRecordCount;
  }

  DecodeStatus first_problem = DecodeStatus::kOk;
  for (uint32_t sample_idx = 0; sample_idx < sample_count; ++sample_idx) {
    const Tag tag = split_tag(r.u32());
    const uint32_t length = r.u32();
    if (!r.ok() || length > r.remaining()) {
      // The sample claims more than the datagram holds: nothing after it can be located.
      stats.count(DecodeStatus::kTruncated);
      return first_problem != DecodeStatus::kOk ? first_problem : DecodeStatus::kTruncated;
    }
    ByteReader sample = r.sub(length);
    if (tag.enterprise != 0) continue;  // vendor sample: skipped by its length
    DecodeStatus status = DecodeStatus::kOk;
    switch (tag.format) {
      case kFlowSample: status = decode_flow_sample(sample, false, info, stats, out); break;
      case kExpandedFlowSample: status = decode_flow_sample(sample, true, info, stats, out); break;
      case kCounterSample: status = decode_counter_sample(sample, false, info, stats, out); break;
      case kExpandedCounterSample:
        status = decode_counter_sample(sample, true, info, stats, out);
        break;
      default: break;  // unknown sample format: skipped by its length
    }
    if (status != DecodeStatus::kOk) {
      // The sample's own length is intact, so the next sample is still where it says.
      stats.count(status);
      if (first_problem == DecodeStatus::kOk) first_problem = status;
    }
  }
  return first_problem;
}

}  // namespace fathom::decode::detail
