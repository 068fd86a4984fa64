// NetFlow v9 (RFC 3954): header, FlowSet walk, template and options template records. Data
// FlowSets run through the shared template engine (decode/detail/template_engine.h).

#include <array>
#include <cstdint>
#include <span>
#include <utility>

#include "decode/byte_reader.h"
#include "decode/detail/protocols.h"
#include "decode/detail/template_engine.h"
#include "decode/detail/template_state.h"

namespace fathom::decode::detail {
namespace {

constexpr size_t kHeaderLen = 20;    // RFC 3954 §5.1
constexpr size_t kSetHeaderLen = 4;  // RFC 3954 §5.2: FlowSet ID + length
constexpr uint16_t kTemplateSetId = 0;
constexpr uint16_t kOptionsSetId = 1;
constexpr uint16_t kMinDataSetId = 256;

/// Keeps the first problem of a packet as its status.
void note(DecodeStatus& status, DecodeStatus s) noexcept {
  if (status == DecodeStatus::kOk) status = s;
}

/// Template FlowSet (RFC 3954 §5.2): records of template id, field count, (type, length) pairs.
DecodeStatus template_set(ByteReader body, const MessageInfo& info, const Config& config,
                          ExporterState& exporter) {
  DecodeStatus status = DecodeStatus::kOk;
  std::array<FieldSpec, kMaxFieldsPerTemplate> buf;  // one record's fields, before any Template
  while (body.remaining() >= 4) {
    if (all_zero(body.rest())) break;  // padding
    const uint16_t template_id = body.u16();
    const uint16_t field_count = body.u16();
    if (!body.has(size_t{field_count} * 4)) {
      // The record claims more fields than the set holds: the rest of the set is unreliable.
      exporter.stats.count(DecodeStatus::kTruncated);
      note(status, DecodeStatus::kTruncated);
      break;
    }
    if (field_count > kMaxFieldsPerTemplate) {
      body.skip(size_t{field_count} * 4);
      exporter.stats.count(DecodeStatus::kTemplateTooLarge);
      note(status, DecodeStatus::kTemplateTooLarge);
      continue;
    }
    if (template_id < kMinDataSetId || field_count == 0) {
      body.skip(size_t{field_count} * 4);
      exporter.stats.count(DecodeStatus::kBadTemplate);
      note(status, DecodeStatus::kBadTemplate);
      continue;
    }
    // Read onto the stack first: an unchanged re-announcement (every few packets) then costs
    // no allocation.
    const std::span<FieldSpec> fields(buf.data(), field_count);
    for (FieldSpec& f : fields) {
      f.id = body.u16();
      f.length = body.u16();
    }
    if (refresh_template(WireProtocol::kNetflowV9, info.domain, template_id, fields, 0, false,
                         exporter)) {
      continue;
    }
    Template t;
    t.protocol = WireProtocol::kNetflowV9;
    t.domain = info.domain;
    t.id = template_id;
    t.fields.assign(fields.begin(), fields.end());
    const DecodeStatus s = learn_template(std::move(t), config, exporter);
    if (s != DecodeStatus::kOk) note(status, s);
  }
  return status;
}

/// Options Template FlowSet (RFC 3954 §6.1): template id, scope length and option length in
/// bytes, then scope (type, length) pairs and option (type, length) pairs, then padding.
DecodeStatus options_template_set(ByteReader body, const MessageInfo& info, const Config& config,
                                  ExporterState& exporter) {
  DecodeStatus status = DecodeStatus::kOk;
  std::array<FieldSpec, kMaxFieldsPerTemplate> buf;  // one record's fields, before any Template
  while (body.remaining() >= 6) {
    if (all_zero(body.rest())) break;  // padding
    const uint16_t template_id = body.u16();
    const uint16_t scope_len = body.u16();
    const uint16_t option_len = body.u16();
    const size_t total = size_t{scope_len} + option_len;
    if (scope_len % 4 != 0 || option_len % 4 != 0 || !body.has(total)) {
      // Lengths we cannot walk: the rest of the set is unreliable.
      const DecodeStatus s =
          body.has(total) ? DecodeStatus::kBadTemplate : DecodeStatus::kTruncated;
      exporter.stats.count(s);
      note(status, s);
      break;
    }
    const size_t scope_count = scope_len / 4;
    const size_t field_count = total / 4;
    if (field_count > kMaxFieldsPerTemplate) {
      body.skip(total);
      exporter.stats.count(DecodeStatus::kTemplateTooLarge);
      note(status, DecodeStatus::kTemplateTooLarge);
      continue;
    }
    if (template_id < kMinDataSetId || scope_count == 0 || scope_count > kMaxScopeFields) {
      body.skip(total);
      exporter.stats.count(DecodeStatus::kBadTemplate);
      note(status, DecodeStatus::kBadTemplate);
      continue;
    }
    const std::span<FieldSpec> fields(buf.data(), field_count);
    for (FieldSpec& f : fields) {
      f.id = body.u16();
      f.length = body.u16();
    }
    if (refresh_template(WireProtocol::kNetflowV9, info.domain, template_id, fields,
                         static_cast<uint16_t>(scope_count), true, exporter)) {
      continue;
    }
    Template t;
    t.protocol = WireProtocol::kNetflowV9;
    t.domain = info.domain;
    t.id = template_id;
    t.is_options = true;
    t.scope_count = static_cast<uint16_t>(scope_count);
    t.fields.assign(fields.begin(), fields.end());
    const DecodeStatus s = learn_template(std::move(t), config, exporter);
    if (s != DecodeStatus::kOk) note(status, s);
  }
  return status;
}

}  // namespace

DecodeStatus decode_netflow_v9(std::span<const std::byte> packet, const PacketContext& ctx,
                               const Config& config, ExporterState& exporter,
                               flow::FlowBatch& out) noexcept {
  ExporterStats& stats = exporter.stats;
  ByteReader r(packet);
  if (!r.has(kHeaderLen)) {
    stats.count(DecodeStatus::kTruncated);
    return DecodeStatus::kTruncated;
  }
  const uint16_t version = r.u16();
  if (version != 9) {
    stats.count(DecodeStatus::kBadVersion);
    return DecodeStatus::kBadVersion;
  }
  r.u16();  // record count: exporters disagree on what it counts (RFC 3954 §5.1); unused
  MessageInfo info;
  info.protocol = WireProtocol::kNetflowV9;
  info.sys_uptime_ms = r.u32();
  info.export_secs = r.u32();
  r.u32();  // sequence number
  info.domain = r.u32();
  info.arrival_ns = ctx.arrival_ns;
  info.exporter_port = ctx.exporter_port;

  DecodeStatus status = DecodeStatus::kOk;
  try {
    // Also refreshes the gauge after a state load, which restores templates but not stats.
    stats.templates_active = template_state(exporter).cache.size();
    while (r.remaining() > 0) {
      if (r.remaining() < kSetHeaderLen) {
        if (!all_zero(r.rest())) {
          stats.count(DecodeStatus::kTruncated);
          note(status, DecodeStatus::kTruncated);
        }
        break;
      }
      const uint16_t set_id = r.u16();
      const uint16_t set_len = r.u16();
      if (set_len < kSetHeaderLen || set_len - kSetHeaderLen > r.remaining()) {
        // RFC 3954 §5.2: the length covers the FlowSet header; a lie leaves no next FlowSet.
        stats.count(DecodeStatus::kBadSetLength);
        note(status, DecodeStatus::kBadSetLength);
        break;
      }
      ByteReader body = r.sub(set_len - kSetHeaderLen);
      DecodeStatus s = DecodeStatus::kOk;
      if (set_id == kTemplateSetId) {
        s = template_set(body, info, config, exporter);
      } else if (set_id == kOptionsSetId) {
        s = options_template_set(body, info, config, exporter);
      } else if (set_id >= kMinDataSetId) {
        s = decode_data_set(set_id, body.rest(), info, config, exporter, out);
      }  // ids 2-255 are reserved: skipped
      if (s != DecodeStatus::kOk) note(status, s);
    }
    drain_pending(config, exporter, out);
  } catch (...) {
    // Only allocation (a new template, a parked set) can throw; the packet stops there.
    stats.count(DecodeStatus::kTooManyTemplates);
    note(status, DecodeStatus::kTooManyTemplates);
  }
  return status;
}

}  // namespace fathom::decode::detail
