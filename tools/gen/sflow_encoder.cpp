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
// Counter sample without its records: sequence, source id, record count.
constexpr size_t kCounterSampleFixed = 12;
constexpr uint32_t kIfTypeEthernet = 6;  // ethernetCsmacd (IANAifType)
constexpr uint64_t kIfSpeed = 10'000'000'000;
constexpr uint32_t kFullDuplex = 1;
constexpr uint32_t kAdminAndOperUp = 3;
constexpr uint64_t kFramingBytes = 18;  // Ethernet header and FCS around each L3 packet

}  // namespace

SflowEncoder::SflowEncoder(const ExporterConfig& config, int64_t boot_ns)
    : config_(config), boot_ns_(boot_ns), out_(wire::kMaxDatagram + 512), header_(512) {}

void SflowEncoder::begin(int64_t export_ns) {
  out_.clear();
  samples_in_datagram_ = 0;
  counters_in_datagram_ = 0;
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
  stats_.records += samples_in_datagram_ - counters_in_datagram_;
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

void SflowEncoder::write_counter_sample(uint32_t if_index, const InterfaceTotals& in,
                                        const InterfaceTotals& out) {
  // sFlow v5 §5: the sequence number counts the samples of one data source.
  uint32_t& sequence = counter_sequence_[if_index == kInputIfIndex ? 0 : 1];
  ++sequence;
  out_.u32(wire::kSflowCounterSample);
  out_.u32(
      static_cast<uint32_t>(kCounterSampleFixed + 8 + wire::kSflowGenericInterfaceCountersLen));
  out_.u32(sequence);
  out_.u32(if_index);  // source id: type 0 (ifIndex) << 24 | index
  out_.u32(1);         // one counter record
  out_.u32(wire::kSflowGenericInterfaceCounters);
  out_.u32(static_cast<uint32_t>(wire::kSflowGenericInterfaceCountersLen));
  FieldCursor w(out_.extend(wire::kSflowGenericInterfaceCountersLen));
  w.u32(if_index);
  w.u32(kIfTypeEthernet);
  w.u64(kIfSpeed);
  w.u32(kFullDuplex);
  w.u32(kAdminAndOperUp);
  w.u64(in.l3_bytes + kFramingBytes * in.packets);
  w.u32(static_cast<uint32_t>(in.packets));  // ifInUcastPkts (Counter32, wraps)
  for (int i = 0; i < 5; ++i) w.u32(0);      // multicast, broadcast, discards, errors, unknown
  w.u64(out.l3_bytes + kFramingBytes * out.packets);
  w.u32(static_cast<uint32_t>(out.packets));  // ifOutUcastPkts
  for (int i = 0; i < 4; ++i) w.u32(0);       // multicast, broadcast, discards, errors
  w.u32(0);                                   // ifPromiscuousMode
  ++samples_in_datagram_;
  ++counters_in_datagram_;
  ++counter_samples_;
}

void SflowEncoder::encode_counters(const InterfaceTotals& totals, int64_t export_ns,
                                   const EmitFn& emit) {
  begin(export_ns);
  // Every sampled packet enters on the input interface and leaves on the output one.
  write_counter_sample(kInputIfIndex, totals, InterfaceTotals{});
  write_counter_sample(kOutputIfIndex, InterfaceTotals{}, totals);
  flush(emit);
}

}  // namespace fathom::gen
