#include "gen/netflow_v5_encoder.h"

#include <algorithm>

#include "gen/wire_constants.h"

namespace fathom::gen {
namespace {

uint32_t clamp32(uint64_t v) {
  return static_cast<uint32_t>(std::min<uint64_t>(v, 0xffffffffu));
}

}  // namespace

NetflowV5Encoder::NetflowV5Encoder(const ExporterConfig& config, int64_t boot_ns)
    : config_(config), boot_ns_(boot_ns), out_(wire::kV5HeaderLen + 30 * wire::kV5RecordLen) {}

void NetflowV5Encoder::encode(std::span<const ExportRecord> records, int64_t export_ns,
                              const EmitFn& emit) {
  uint16_t count = 0;
  out_.clear();
  out_.zeros(wire::kV5HeaderLen);  // patched in flush()
  for (const ExportRecord& r : records) {
    if (!r.src.is_v4()) {
      ++skipped_v6_;
      continue;
    }
    FieldCursor w(out_.extend(wire::kV5RecordLen));
    w.ipv4(r.src);
    w.ipv4(r.dst);
    w.u32(0);  // nexthop
    w.u16(1);  // input ifIndex
    w.u16(2);  // output ifIndex
    w.u32(clamp32(r.packets));
    w.u32(clamp32(r.bytes));
    w.u32(uptime_ms(r.first_ns, boot_ns_));
    w.u32(uptime_ms(r.last_ns, boot_ns_));
    w.u16(r.src_port);
    w.u16(r.dst_port);
    w.u8(0);  // pad1
    w.u8(r.tcp_flags);
    w.u8(r.proto);
    w.u8(r.tos);
    w.u16(0);  // src_as
    w.u16(0);  // dst_as
    w.u8(0);   // src_mask
    w.u8(0);   // dst_mask
    w.u16(0);  // pad2
    if (++count == wire::kV5MaxRecords) {
      flush(export_ns, count, emit);
      count = 0;
      out_.clear();
      out_.zeros(wire::kV5HeaderLen);
    }
  }
  if (count > 0) flush(export_ns, count, emit);
}

void NetflowV5Encoder::flush(int64_t export_ns, uint16_t count, const EmitFn& emit) {
  uint16_t sampling = 0;
  if (config_.sampling_rate > 1) {
    const uint16_t mode = config_.sampling_mode == SamplingMode::kDeterministic
                              ? wire::kV5ModeDeterministic
                              : wire::kV5ModeRandom;
    sampling = static_cast<uint16_t>(mode << 14 | (config_.sampling_rate & 0x3fff));
  }
  out_.patch_u16(0, wire::kV5Version);
  out_.patch_u16(2, count);
  out_.patch_u32(4, uptime_ms(export_ns, boot_ns_));
  out_.patch_u32(8, static_cast<uint32_t>(export_ns / 1'000'000'000));
  out_.patch_u32(12, static_cast<uint32_t>(export_ns % 1'000'000'000));
  out_.patch_u32(16, flow_sequence_);
  // engine_type, engine_id: the observation domain's two low bytes.
  out_.patch_u16(20, static_cast<uint16_t>(config_.observation_domain & 0xffff));
  out_.patch_u16(22, sampling);
  flow_sequence_ += count;
  stats_.datagrams++;
  stats_.records += count;
  stats_.payload_bytes += out_.size();
  emit(out_.span());
}

}  // namespace fathom::gen
