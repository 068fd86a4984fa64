// NetFlow v5 decoder: Cisco's fixed 24-byte header followed by up to 30 fixed 48-byte records
// ("NetFlow Export Datagram Format", Cisco NetFlow Services Solutions Guide, version 5).
#include <cstddef>
#include <cstdint>
#include <span>

#include "decode/byte_reader.h"
#include "decode/detail/protocols.h"

namespace fathom::decode::detail {
namespace {

constexpr size_t kHeaderLen = 24;
constexpr size_t kRecordLen = 48;
/// Cisco's limit on records per v5 datagram; a larger count is a corrupt or hostile header.
constexpr uint16_t kMaxRecords = 30;

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerSec = 1'000'000'000;

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoIcmpv6 = 58;

struct Header {
  uint16_t count = 0;
  uint32_t sys_uptime_ms = 0;
  int64_t export_ns = 0;  ///< unix_secs/unix_nsecs as epoch ns
  uint32_t observation_domain = 0;
  uint32_t sampling_rate = 1;
  flow::SamplingAlgorithm sampling_algorithm = flow::SamplingAlgorithm::kUnknown;
};

/// Epoch ns of a record's first/last switched time (router uptime in ms). The age is the
/// uptime minus the time, taken modulo 2^32 and read as signed: a time from before a 49.7-day
/// uptime wrap (time > uptime, far apart) comes out as a small positive age, and a time a
/// little after the export (time > uptime, close together; clock skew) as a small negative one.
int64_t uptime_to_epoch_ns(const Header& h, uint32_t time_ms) noexcept {
  const auto age_ms = static_cast<int32_t>(h.sys_uptime_ms - time_ms);
  return h.export_ns - int64_t{age_ms} * kNsPerMs;
}

void decode_record(ByteReader& r, const Header& h, const PacketContext& ctx,
                   flow::FlowRecord& rec) noexcept {
  rec.arrival_ns = ctx.arrival_ns;
  rec.exporter = ctx.exporter;
  rec.exporter_port = ctx.exporter_port;
  rec.source = flow::SourceProtocol::kNetflowV5;
  rec.observation_domain = h.observation_domain;
  rec.device_sampling_rate = h.sampling_rate;
  rec.sampling_rate = static_cast<double>(h.sampling_rate);
  rec.sampling_algorithm = h.sampling_algorithm;

  rec.src = flow::IpAddress::from_v4(r.u32());
  rec.dst = flow::IpAddress::from_v4(r.u32());
  const uint32_t next_hop = r.u32();
  if (next_hop != 0) rec.next_hop = flow::IpAddress::from_v4(next_hop);
  rec.input_if = r.u16();
  rec.output_if = r.u16();
  rec.packets = r.u32();
  rec.bytes = r.u32();
  const uint32_t first_ms = r.u32();
  const uint32_t last_ms = r.u32();
  rec.start_ns = uptime_to_epoch_ns(h, first_ms);
  rec.end_ns = uptime_to_epoch_ns(h, last_ms);
  rec.src_port = r.u16();
  rec.dst_port = r.u16();
  r.skip(1);  // pad1
  rec.tcp_flags = r.u8();
  rec.ip_protocol = r.u8();
  rec.tos = r.u8();
  rec.src_as = r.u16();
  rec.dst_as = r.u16();
  rec.src_mask = r.u8();
  rec.dst_mask = r.u8();
  r.skip(2);  // pad2
  // v5 has no ICMP fields: exporters put type << 8 | code in the destination port. The port is
  // kept as exported (what every v5 tool shows) and also split into the ICMP fields.
  if (rec.ip_protocol == kProtoIcmp || rec.ip_protocol == kProtoIcmpv6) {
    rec.icmp_type = static_cast<uint8_t>(rec.dst_port >> 8);
    rec.icmp_code = static_cast<uint8_t>(rec.dst_port & 0xffu);
  }
}

}  // namespace

DecodeStatus decode_netflow_v5(std::span<const std::byte> packet, const PacketContext& ctx,
                               ExporterState& exporter, flow::FlowBatch& out) noexcept {
  ExporterStats& stats = exporter.stats;
  ByteReader r(packet);
  if (!r.has(kHeaderLen)) {
    stats.count(DecodeStatus::kTruncated);
    return DecodeStatus::kTruncated;
  }
  if (r.u16() != 5) {
    stats.count(DecodeStatus::kBadVersion);
    return DecodeStatus::kBadVersion;
  }
  Header h;
  h.count = r.u16();
  h.sys_uptime_ms = r.u32();
  const uint32_t unix_secs = r.u32();
  const uint32_t unix_nsecs = r.u32();
  r.skip(4);  // flow_sequence
  const uint8_t engine_type = r.u8();
  const uint8_t engine_id = r.u8();
  const uint16_t sampling = r.u16();

  if (h.count > kMaxRecords) {
    stats.count(DecodeStatus::kBadRecordCount);
    return DecodeStatus::kBadRecordCount;
  }
  // Trailing bytes after the last record are tolerated (padding); fewer bytes than promised
  // are not: the count is wrong or the datagram was cut.
  if (r.remaining() < size_t{h.count} * kRecordLen) {
    stats.count(DecodeStatus::kTruncated);
    return DecodeStatus::kTruncated;
  }

  h.export_ns = int64_t{unix_secs} * kNsPerSec + int64_t{unix_nsecs};
  h.observation_domain = (uint32_t{engine_type} << 8) | engine_id;
  // Top 2 bits: sampling mode (1 deterministic, 2 random); low 14 bits: 1-in-N interval, where
  // 0 means unsampled.
  const uint16_t interval = sampling & 0x3fffu;
  const uint16_t mode = sampling >> 14;
  h.sampling_rate = interval == 0 ? 1 : interval;
  if (mode == 1) h.sampling_algorithm = flow::SamplingAlgorithm::kDeterministic;
  if (mode == 2) h.sampling_algorithm = flow::SamplingAlgorithm::kRandom;

  for (uint16_t record_idx = 0; record_idx < h.count; ++record_idx) {
    ByteReader record = r.sub(kRecordLen);  // length checked above: cannot fail
    decode_record(record, h, ctx, out.add());
  }
  stats.records += h.count;
  return DecodeStatus::kOk;
}

}  // namespace fathom::decode::detail
