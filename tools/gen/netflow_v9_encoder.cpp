#include "gen/netflow_v9_encoder.h"

#include <algorithm>
#include <array>
#include <utility>

#include "gen/wire_constants.h"

namespace fathom::gen {
namespace {

using Field = std::pair<uint16_t, uint16_t>;  // (element id, length)

constexpr std::array<Field, 13> kV4Fields = {{
    {wire::ie::kSourceIpv4Address, 4},
    {wire::ie::kDestinationIpv4Address, 4},
    {wire::ie::kSourceTransportPort, 2},
    {wire::ie::kDestinationTransportPort, 2},
    {wire::ie::kProtocolIdentifier, 1},
    {wire::ie::kTcpControlBits, 1},
    {wire::ie::kIpClassOfService, 1},
    {wire::ie::kOctetDeltaCount, 8},
    {wire::ie::kPacketDeltaCount, 4},
    {wire::ie::kFirstSwitched, 4},
    {wire::ie::kLastSwitched, 4},
    {wire::ie::kIngressInterface, 4},
    {wire::ie::kEgressInterface, 4},
}};
constexpr std::array<Field, 13> kV6Fields = {{
    {wire::ie::kSourceIpv6Address, 16},
    {wire::ie::kDestinationIpv6Address, 16},
    {wire::ie::kSourceTransportPort, 2},
    {wire::ie::kDestinationTransportPort, 2},
    {wire::ie::kProtocolIdentifier, 1},
    {wire::ie::kTcpControlBits, 1},
    {wire::ie::kIpClassOfService, 1},
    {wire::ie::kOctetDeltaCount, 8},
    {wire::ie::kPacketDeltaCount, 4},
    {wire::ie::kFirstSwitched, 4},
    {wire::ie::kLastSwitched, 4},
    {wire::ie::kIngressInterface, 4},
    {wire::ie::kEgressInterface, 4},
}};

constexpr size_t record_len(const std::array<Field, 13>& fields) {
  size_t n = 0;
  for (const auto& f : fields) n += f.second;
  return n;
}
constexpr size_t kV4RecordLen = record_len(kV4Fields);
constexpr size_t kV6RecordLen = record_len(kV6Fields);
constexpr uint16_t kNoFlowset = 0xffff;

}  // namespace

NetflowV9Encoder::NetflowV9Encoder(const ExporterConfig& config, int64_t boot_ns)
    : config_(config), boot_ns_(boot_ns), out_(wire::kMaxDatagram + 128) {}

void NetflowV9Encoder::begin(int64_t export_ns) {
  out_.clear();
  count_ = 0;
  data_records_ = 0;
  flowset_id_ = kNoFlowset;
  out_.u16(wire::kV9Version);
  out_.u16(0);  // count, patched in flush()
  out_.u32(uptime_ms(export_ns, boot_ns_));
  out_.u32(static_cast<uint32_t>(export_ns / 1'000'000'000));
  out_.u32(packet_sequence_);
  out_.u32(config_.observation_domain);
  if (!templates_sent_ || since_templates_ >= config_.template_refresh_packets) {
    write_templates();
    templates_sent_ = true;
    since_templates_ = 0;
  }
}

void NetflowV9Encoder::write_templates() {
  // RFC 3954 §5.2: template flowset holding both data templates.
  open_flowset(wire::kV9TemplateFlowsetId);
  for (const auto* fields : {&kV4Fields, &kV6Fields}) {
    out_.u16(fields == &kV4Fields ? wire::kTemplateV4 : wire::kTemplateV6);
    out_.u16(static_cast<uint16_t>(fields->size()));
    for (const auto& [id, len] : *fields) {
      out_.u16(id);
      out_.u16(len);
    }
    ++count_;
  }
  close_flowset();
  // RFC 3954 §6.1: options template; scope and option lengths are in bytes.
  open_flowset(wire::kV9OptionsFlowsetId);
  out_.u16(wire::kTemplateOptions);
  out_.u16(4);  // option scope length: one (type, length) pair
  out_.u16(8);  // option length: two pairs
  out_.u16(wire::kV9ScopeInterface);
  out_.u16(4);
  out_.u16(wire::ie::kSamplingInterval);
  out_.u16(4);
  out_.u16(wire::ie::kSamplingAlgorithm);
  out_.u16(1);
  ++count_;
  close_flowset();
  // The options data record: interface 0, interval, algorithm (1 deterministic, 2 random).
  open_flowset(wire::kTemplateOptions);
  out_.u32(0);
  out_.u32(config_.sampling_rate);
  out_.u8(config_.sampling_mode == SamplingMode::kDeterministic ? 1 : 2);
  ++count_;
  close_flowset();
}

void NetflowV9Encoder::open_flowset(uint16_t id) {
  flowset_id_ = id;
  flowset_start_ = out_.size();
  out_.u16(id);
  out_.u16(0);  // length, patched in close_flowset()
}

void NetflowV9Encoder::close_flowset() {
  if (flowset_id_ == kNoFlowset) return;
  out_.pad_to(4);  // RFC 3954 §5.3: flowsets padded to a 32-bit boundary
  out_.patch_u16(flowset_start_ + 2, static_cast<uint16_t>(out_.size() - flowset_start_));
  flowset_id_ = kNoFlowset;
}

void NetflowV9Encoder::flush(const EmitFn& emit) {
  close_flowset();
  out_.patch_u16(2, count_);
  ++packet_sequence_;
  ++since_templates_;
  stats_.datagrams++;
  stats_.records += data_records_;
  stats_.payload_bytes += out_.size();
  emit(out_.span());
}

void NetflowV9Encoder::encode(std::span<const ExportRecord> records, int64_t export_ns,
                              const EmitFn& emit) {
  if (records.empty()) return;
  begin(export_ns);
  for (const ExportRecord& r : records) {
    const bool v4 = r.src.is_v4();
    const uint16_t tid = v4 ? wire::kTemplateV4 : wire::kTemplateV6;
    const size_t len = v4 ? kV4RecordLen : kV6RecordLen;
    const size_t needed = len + (flowset_id_ == tid ? 0 : 4 + 3);  // new header + padding
    if (data_records_ > 0 && out_.size() + needed > wire::kMaxDatagram) {
      flush(emit);
      begin(export_ns);
    }
    if (flowset_id_ != tid) {
      close_flowset();
      open_flowset(tid);
    }
    FieldCursor w(out_.extend(len));
    if (v4) {
      w.ipv4(r.src);
      w.ipv4(r.dst);
    } else {
      w.ipv6(r.src);
      w.ipv6(r.dst);
    }
    w.u16(r.src_port);
    w.u16(r.dst_port);
    w.u8(r.proto);
    w.u8(r.tcp_flags);
    w.u8(r.tos);
    w.u64(r.bytes);
    w.u32(static_cast<uint32_t>(std::min<uint64_t>(r.packets, 0xffffffffu)));
    w.u32(uptime_ms(r.first_ns, boot_ns_));
    w.u32(uptime_ms(r.last_ns, boot_ns_));
    w.u32(1);  // input ifIndex
    w.u32(2);  // output ifIndex
    ++count_;
    ++data_records_;
  }
  flush(emit);
}

}  // namespace fathom::gen
