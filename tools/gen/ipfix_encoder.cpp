#include "gen/ipfix_encoder.h"

#include <array>
#include <utility>

#include "gen/wire_constants.h"

namespace fathom::gen {
namespace {

using Field = std::pair<uint16_t, uint16_t>;  // (element id, length)

constexpr std::array<Field, 14> kV4Fields = {{
    {wire::ie::kSourceIpv4Address, 4},
    {wire::ie::kDestinationIpv4Address, 4},
    {wire::ie::kSourceTransportPort, 2},
    {wire::ie::kDestinationTransportPort, 2},
    {wire::ie::kProtocolIdentifier, 1},
    {wire::ie::kTcpControlBits, 2},
    {wire::ie::kIpClassOfService, 1},
    {wire::ie::kOctetDeltaCount, 8},
    {wire::ie::kPacketDeltaCount, 8},
    {wire::ie::kFlowStartMilliseconds, 8},
    {wire::ie::kFlowEndMilliseconds, 8},
    {wire::ie::kIngressInterface, 4},
    {wire::ie::kEgressInterface, 4},
    {wire::ie::kFlowEndReason, 1},
}};
constexpr std::array<Field, 14> kV6Fields = {{
    {wire::ie::kSourceIpv6Address, 16},
    {wire::ie::kDestinationIpv6Address, 16},
    {wire::ie::kSourceTransportPort, 2},
    {wire::ie::kDestinationTransportPort, 2},
    {wire::ie::kProtocolIdentifier, 1},
    {wire::ie::kTcpControlBits, 2},
    {wire::ie::kIpClassOfService, 1},
    {wire::ie::kOctetDeltaCount, 8},
    {wire::ie::kPacketDeltaCount, 8},
    {wire::ie::kFlowStartMilliseconds, 8},
    {wire::ie::kFlowEndMilliseconds, 8},
    {wire::ie::kIngressInterface, 4},
    {wire::ie::kEgressInterface, 4},
    {wire::ie::kFlowEndReason, 1},
}};

constexpr size_t record_len(const std::array<Field, 14>& fields) {
  size_t n = 0;
  for (const auto& f : fields) n += f.second;
  return n;
}
constexpr size_t kV4RecordLen = record_len(kV4Fields);
constexpr size_t kV6RecordLen = record_len(kV6Fields);
constexpr uint16_t kNoSet = 0xffff;
constexpr uint32_t kMeteringProcessId = 1;

uint64_t epoch_ms(int64_t ns) {
  return static_cast<uint64_t>(ns / 1'000'000);
}

}  // namespace

IpfixEncoder::IpfixEncoder(const ExporterConfig& config)
    : config_(config), out_(wire::kMaxDatagram + 128) {}

void IpfixEncoder::begin(int64_t export_ns) {
  out_.clear();
  message_data_records_ = 0;
  flow_records_ = 0;
  set_id_ = kNoSet;
  out_.u16(wire::kIpfixVersion);
  out_.u16(0);  // length, patched in flush()
  out_.u32(static_cast<uint32_t>(export_ns / 1'000'000'000));
  out_.u32(sequence_);
  out_.u32(config_.observation_domain);
  if (!templates_sent_ || since_templates_ >= config_.template_refresh_packets) {
    write_templates();
    templates_sent_ = true;
    since_templates_ = 0;
  }
}

void IpfixEncoder::write_templates() {
  // RFC 7011 §3.4.1: template set with both data templates.
  open_set(wire::kIpfixTemplateSetId);
  for (const auto* fields : {&kV4Fields, &kV6Fields}) {
    out_.u16(fields == &kV4Fields ? wire::kTemplateV4 : wire::kTemplateV6);
    out_.u16(static_cast<uint16_t>(fields->size()));
    for (const auto& [id, len] : *fields) {
      out_.u16(id);
      out_.u16(len);
    }
  }
  close_set();
  const bool deterministic = config_.sampling_mode == SamplingMode::kDeterministic;
  // RFC 7011 §3.4.2.2: options template, field count includes the scope field.
  open_set(wire::kIpfixOptionsTemplateSetId);
  out_.u16(wire::kTemplateOptions);
  out_.u16(4);  // field count
  out_.u16(1);  // scope field count
  out_.u16(wire::ie::kMeteringProcessId);
  out_.u16(4);
  out_.u16(wire::ie::kSelectorAlgorithm);
  out_.u16(2);
  out_.u16(deterministic ? wire::ie::kSamplingPacketInterval : wire::ie::kSamplingSize);
  out_.u16(4);
  out_.u16(deterministic ? wire::ie::kSamplingPacketSpace : wire::ie::kSamplingPopulation);
  out_.u16(4);
  close_set();
  // RFC 5477 §8.2: 1 packet selected out of every N (interval 1, space N-1 / size 1 of N).
  open_set(wire::kTemplateOptions);
  out_.u32(kMeteringProcessId);
  out_.u16(deterministic ? wire::kSelectorSystematicCount : wire::kSelectorRandomNofN);
  out_.u32(1);
  out_.u32(deterministic ? config_.sampling_rate - 1 : config_.sampling_rate);
  ++message_data_records_;
  close_set();
}

void IpfixEncoder::open_set(uint16_t id) {
  set_id_ = id;
  set_start_ = out_.size();
  out_.u16(id);
  out_.u16(0);  // length, patched in close_set()
}

void IpfixEncoder::close_set() {
  if (set_id_ == kNoSet) return;
  out_.patch_u16(set_start_ + 2, static_cast<uint16_t>(out_.size() - set_start_));
  set_id_ = kNoSet;
}

void IpfixEncoder::flush(const EmitFn& emit) {
  close_set();
  out_.patch_u16(2, static_cast<uint16_t>(out_.size()));
  sequence_ += message_data_records_;
  ++since_templates_;
  stats_.datagrams++;
  stats_.records += flow_records_;
  stats_.payload_bytes += out_.size();
  emit(out_.span());
}

void IpfixEncoder::encode(std::span<const ExportRecord> records, int64_t export_ns,
                          const EmitFn& emit) {
  if (records.empty()) return;
  begin(export_ns);
  for (const ExportRecord& r : records) {
    const bool v4 = r.src.is_v4();
    const uint16_t tid = v4 ? wire::kTemplateV4 : wire::kTemplateV6;
    const size_t len = v4 ? kV4RecordLen : kV6RecordLen;
    const size_t needed = len + (set_id_ == tid ? 0 : 4);
    if (flow_records_ > 0 && out_.size() + needed > wire::kMaxDatagram) {
      flush(emit);
      begin(export_ns);
    }
    if (set_id_ != tid) {
      close_set();
      open_set(tid);
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
    w.u16(r.tcp_flags);
    w.u8(r.tos);
    w.u64(r.bytes);
    w.u64(r.packets);
    w.u64(epoch_ms(r.first_ns));
    w.u64(epoch_ms(r.last_ns));
    w.u32(1);  // ingressInterface
    w.u32(2);  // egressInterface
    w.u8(r.end_reason);
    ++message_data_records_;
    ++flow_records_;
  }
  flush(emit);
}

}  // namespace fathom::gen
