#include "gen/sflow_encoder.h"

#include "gen/frame_builder.h"
#include "gen/wire_constants.h"

namespace fathom::gen {
namespace {

constexpr uint32_t kInputIfIndex = 1;
constexpr uint32_t kOutputIfIndex = 2;
constexpr MacAddress kHostMac = {0x02, 0x42, 0xac, 0x11, 0x00, 0x02};
constexpr MacAddress kRouterMac = {0x02, 0x42, 0xac, 0x11, 0x00, 0x01};
// Flow sample without its records: 8 words (seq, source, rate, pool, drops, in, out, nrec).
constexpr size_t kFlowSampleFixed = 32;
// Raw packet header record without the header bytes: format, length, protocol, frame_length,
// stripped, header_length.
constexpr size_t kRawHeaderFixed = 24;

}  // namespace

SflowEncoder::SflowEncoder(const ExporterConfig& config, int64_t boot_ns)
    : config_(config), boot_ns_(boot_ns), out_(wire::kMaxDatagram + 512), header_(512) {}

void SflowEncoder::begin(int64_t export_ns) {
  out_.clear();
  samples_in_datagram_ = 0;
  out_.u32(wire::kSflowVersion);
  if (config_.address.is_v4()) {
    out_.u32(wire::kSflowAddressV4);
    out_.ipv4(config_.address);
  } else {
    out_.u32(wire::kSflowAddressV6);
    out_.ipv6(config_.address);
  }
  out_.u32(config_.observation_domain);  // sub-agent id
  out_.u32(datagram_sequence_ + 1);
  out_.u32(uptime_ms(export_ns, boot_ns_));
  count_offset_ = out_.size();
  out_.u32(0);  // number of samples, patched in flush()
}

void SflowEncoder::flush(const EmitFn& emit) {
  out_.patch_u32(count_offset_, samples_in_datagram_);
  ++datagram_sequence_;
  stats_.datagrams++;
  stats_.records += samples_in_datagram_;
  stats_.payload_bytes += out_.size();
  emit(out_.span());
}

void SflowEncoder::encode(std::span<const PacketSample> samples, int64_t export_ns,
                          const EmitFn& emit) {
  if (samples.empty()) return;
  begin(export_ns);
  for (const PacketSample& s : samples) {
    PacketHeaderFields f;
    f.src = s.src;
    f.dst = s.dst;
    f.l3_size = s.size;
    f.src_port = s.src_port;
    f.dst_port = s.dst_port;
    f.tcp_seq = s.tcp_seq;
    f.proto = s.proto;
    f.tos = s.tos;
    f.tcp_flags = s.tcp_flags;
    f.ip_id = ip_id_++;
    header_.clear();
    write_packet_header(header_, f, kHostMac, kRouterMac, config_.sflow_header_bytes);
    const size_t header_len = header_.size();
    const size_t padded = (header_len + 3) & ~size_t{3};
    const size_t record_len = kRawHeaderFixed + padded;
    const size_t sample_len = kFlowSampleFixed + record_len;
    if (samples_in_datagram_ > 0 && out_.size() + 8 + sample_len > wire::kMaxDatagram) {
      flush(emit);
      begin(export_ns);
    }
    sample_pool_ += s.pool_delta;
    ++sample_sequence_;
    out_.u32(wire::kSflowFlowSample);
    out_.u32(static_cast<uint32_t>(sample_len));
    out_.u32(sample_sequence_);
    out_.u32(kInputIfIndex);  // source id: type 0 (ifIndex) << 24 | index
    out_.u32(config_.sampling_rate);
    out_.u32(sample_pool_);
    out_.u32(0);  // drops
    out_.u32(kInputIfIndex);
    out_.u32(kOutputIfIndex);
    out_.u32(1);  // one flow record
    out_.u32(wire::kSflowRawPacketHeader);
    out_.u32(static_cast<uint32_t>(record_len - 8));
    out_.u32(wire::kSflowHeaderEthernet);
    // frame_length: the original frame including the FCS the device stripped.
    out_.u32(static_cast<uint32_t>(wire::kEthernetHeaderLen + s.size + wire::kSflowFcsBytes));
    out_.u32(wire::kSflowFcsBytes);
    out_.u32(static_cast<uint32_t>(header_len));
    out_.bytes(header_.span().data(), header_len);
    out_.zeros(padded - header_len);
    ++samples_in_datagram_;
  }
  flush(emit);
}

}  // namespace fathom::gen
