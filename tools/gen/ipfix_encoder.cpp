#include "gen/ipfix_encoder.h"

#include <algorithm>
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

namespace {

// One data record of the IPv4 or IPv6 template, in kV4Fields / kV6Fields order.
template <bool kV4>
void write_record(std::byte* at, const ExportRecord& r) {
  FieldCursor w(at);
  if constexpr (kV4) {
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
}

}  // namespace

template <bool kV4>
size_t IpfixEncoder::encode_run(std::span<const ExportRecord> records, int64_t export_ns,
                                const EmitFn& emit) {
  constexpr uint16_t kTid = kV4 ? wire::kTemplateV4 : wire::kTemplateV6;
  constexpr size_t kLen = kV4 ? kV4RecordLen : kV6RecordLen;
  size_t n = 0;
  while (n < records.size() && records[n].src.is_v4() == kV4) ++n;
  size_t done = 0;
  while (done < n) {
    if (set_id_ != kTid) {
      // A new set needs its 4-byte header as well as the record (RFC 7011 §3.3.2).
      if (flow_records_ > 0 && out_.size() + 4 + kLen > wire::kMaxDatagram) {
        flush(emit);
        begin(export_ns);
      }
      close_set();
      open_set(kTid);
    }
    // As many records as the message has room for, written with one bounds check.
    size_t fit = (wire::kMaxDatagram - std::min(out_.size(), wire::kMaxDatagram)) / kLen;
    if (fit == 0 && flow_records_ == 0) fit = 1;  // a message carries at least one record
    if (fit == 0) {
      flush(emit);
      begin(export_ns);
      continue;
    }
    const size_t count = std::min(fit, n - done);
    std::byte* at = out_.extend(count * kLen);
    for (size_t i = 0; i < count; ++i) write_record<kV4>(at + i * kLen, records[done + i]);
    done += count;
    message_data_records_ += static_cast<uint32_t>(count);
    flow_records_ += static_cast<uint32_t>(count);
  }
  return n;
}

void IpfixEncoder::encode(std::span<const ExportRecord> records, int64_t export_ns,
                          const EmitFn& emit) {
  if (records.empty()) return;
  begin(export_ns);
  // Runs of one address family go into one set of that family's template.
  while (!records.empty()) {
    const size_t n = records.front().src.is_v4() ? encode_run<true>(records, export_ns, emit)
                                                 : encode_run<false>(records, export_ns, emit);
    records = records.subspan(n);
  }
  flush(emit);
}

}  // namespace fathom::gen
