#pragma once

// Test-side builders for NetFlow v9 and IPFIX messages on top of WireWriter: headers, sets
// with patched lengths, template records. Tests then break one field on purpose.

#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "decode/decoder.h"
#include "testing/wire_writer.h"

namespace fathom::testing {

/// A template field specifier; `pen` non-zero sets the IPFIX enterprise bit.
struct Field {
  uint16_t id;
  uint16_t length;
  uint32_t pen = 0;
};

/// Export time used by default in these tests: 2024-01-15 12:03:00 UTC.
inline constexpr uint32_t kExportSecs = 1705320180;
inline constexpr int64_t kArrivalNs = 1'705'320'181'000'000'000;

/// A v9 or IPFIX message under construction.
class FlowPacket {
 public:
  static FlowPacket v9(uint32_t sys_uptime_ms, uint32_t unix_secs = kExportSecs,
                       uint32_t source_id = 0) {
    FlowPacket p(false);
    p.w.u16(9).u16(0).u32(sys_uptime_ms).u32(unix_secs).u32(1).u32(source_id);
    return p;
  }
  static FlowPacket ipfix(uint32_t export_secs = kExportSecs, uint32_t domain = 0) {
    FlowPacket p(true);
    p.w.u16(10).u16(0).u32(export_secs).u32(1).u32(domain);
    return p;
  }

  /// Opens a set (FlowSet) with `id`; close it with end_set().
  FlowPacket& begin_set(uint16_t id) {
    set_start_ = w.size();
    w.u16(id).u16(0);
    return *this;
  }
  FlowPacket& end_set() {
    w.patch_u16(set_start_ + 2, static_cast<uint16_t>(w.size() - set_start_));
    return *this;
  }

  /// A template record (inside a template set).
  FlowPacket& template_record(uint16_t id, std::initializer_list<Field> fields) {
    w.u16(id).u16(static_cast<uint16_t>(fields.size()));
    for (const Field& f : fields) field(f);
    return *this;
  }
  /// A whole template set holding one template.
  FlowPacket& template_set(uint16_t id, std::initializer_list<Field> fields) {
    return begin_set(ipfix_ ? 2 : 0).template_record(id, fields).end_set();
  }
  /// A whole options template set holding one options template.
  FlowPacket& options_template_set(uint16_t id, std::initializer_list<Field> scope,
                                   std::initializer_list<Field> options) {
    begin_set(ipfix_ ? 3 : 1);
    if (ipfix_) {
      w.u16(id).u16(static_cast<uint16_t>(scope.size() + options.size()));
      w.u16(static_cast<uint16_t>(scope.size()));
    } else {
      w.u16(id).u16(static_cast<uint16_t>(scope.size() * 4));
      w.u16(static_cast<uint16_t>(options.size() * 4));
    }
    for (const Field& f : scope) field(f);
    for (const Field& f : options) field(f);
    if (!ipfix_) w.pad_to(4);
    return end_set();
  }

  /// Finishes the message (IPFIX: patches the message length) and returns its bytes.
  std::span<const std::byte> bytes() {
    if (ipfix_) w.patch_u16(2, static_cast<uint16_t>(w.size()));
    return w.span();
  }

  WireWriter w;

 private:
  explicit FlowPacket(bool ipfix) : ipfix_(ipfix) {}
  void field(const Field& f) {
    if (f.pen != 0) {
      w.u16(static_cast<uint16_t>(f.id | 0x8000)).u16(f.length).u32(f.pen);
    } else {
      w.u16(f.id).u16(f.length);
    }
  }
  bool ipfix_;
  size_t set_start_ = 0;
};

/// Packet context used by these tests: exporter 192.0.2.1:2055.
inline decode::PacketContext test_context(int64_t arrival_ns = kArrivalNs) {
  decode::PacketContext ctx;
  ctx.exporter = flow::IpAddress::from_v4(0xC0000201);
  ctx.exporter_port = 2055;
  ctx.arrival_ns = arrival_ns;
  return ctx;
}

/// Stats of the exporter at `exporter` (default: the test context's exporter).
inline decode::ExporterStats stats_of(const decode::Decoder& decoder,
                                      const flow::IpAddress& exporter = test_context().exporter) {
  decode::ExporterStats stats;
  decoder.for_each_exporter([&](const decode::ExporterState& e) {
    if (e.address == exporter) stats = e.stats;
  });
  return stats;
}

/// Decodes one message with `decoder` into `out` using the default test context.
inline decode::DecodeStatus feed(decode::Decoder& decoder, FlowPacket& packet, flow::FlowBatch& out,
                                 int64_t arrival_ns = kArrivalNs) {
  return decoder.decode(packet.bytes(), test_context(arrival_ns), out);
}

}  // namespace fathom::testing
