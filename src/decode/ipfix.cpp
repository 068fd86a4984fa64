// IPFIX (RFC 7011): message header, set walk, template and options template records with
// enterprise elements, variable-length fields and withdrawals. Data sets run through the shared
// template engine (decode/detail/template_engine.h); RFC 5103 biflows are handled there.

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

constexpr size_t kHeaderLen = 16;    // RFC 7011 §3.1
constexpr size_t kSetHeaderLen = 4;  // RFC 7011 §3.3.2
constexpr uint16_t kTemplateSetId = 2;
constexpr uint16_t kOptionsSetId = 3;
constexpr uint16_t kMinDataSetId = 256;

void note(DecodeStatus& status, DecodeStatus s) noexcept {
  if (status == DecodeStatus::kOk) status = s;
}

/// Reads `count` field specifiers (RFC 7011 §3.2) into `fields` (when it has room for them;
/// otherwise only steps over them). False when the set ends first.
bool read_fields(ByteReader& body, size_t count, std::span<FieldSpec> fields) noexcept {
  for (size_t field_idx = 0; field_idx < count; ++field_idx) {
    if (!body.has(4)) return false;
    const uint16_t raw_id = body.u16();
    FieldSpec f;
    f.id = raw_id;  // enterprise bit kept: it says a PEN follows (RFC 7011 §3.2)
    f.length = body.u16();
    if (raw_id & kEnterpriseBit) {
      if (!body.has(4)) return false;
      f.pen = body.u32();
    }
    if (field_idx < fields.size()) fields[field_idx] = f;
  }
  return true;
}

/// Template set (id 2) or options template set (id 3), RFC 7011 §3.4.1-§3.4.2, §8.1.
DecodeStatus template_set(ByteReader body, bool options, const MessageInfo& info,
                          const Config& config, ExporterState& exporter) {
  ExporterStats& stats = exporter.stats;
  DecodeStatus status = DecodeStatus::kOk;
  std::array<FieldSpec, kMaxFieldsPerTemplate> buf;  // one record's fields, before any Template
  while (body.remaining() >= 4) {
    if (all_zero(body.rest())) break;  // RFC 7011 §3.3.1 padding
    const uint16_t template_id = body.u16();
    const uint16_t field_count = body.u16();
    if (field_count == 0) {
      // RFC 7011 §8.1: withdrawal; id 2 (3 in an options set) withdraws every data (options)
      // template of the domain.
      const bool all = template_id == (options ? kOptionsSetId : kTemplateSetId);
      if (!all && template_id < kMinDataSetId) {
        stats.count(DecodeStatus::kBadTemplate);
        note(status, DecodeStatus::kBadTemplate);
        continue;
      }
      withdraw_templates(exporter, WireProtocol::kIpfix, info.domain, template_id, all && !options,
                         all && options);
      continue;
    }
    uint16_t scope_count = 0;
    if (options) {
      if (!body.has(2)) {
        stats.count(DecodeStatus::kTruncated);
        note(status, DecodeStatus::kTruncated);
        break;
      }
      scope_count = body.u16();
    }
    const bool too_large = field_count > kMaxFieldsPerTemplate;
    // Read onto the stack first: an unchanged re-announcement (every few messages) then costs
    // no allocation.
    const std::span<FieldSpec> fields(buf.data(), too_large ? 0 : field_count);
    if (!read_fields(body, field_count, fields)) {
      // The record runs past its set: nothing after it can be located.
      stats.count(DecodeStatus::kTruncated);
      note(status, DecodeStatus::kTruncated);
      break;
    }
    if (too_large) {
      stats.count(DecodeStatus::kTemplateTooLarge);
      note(status, DecodeStatus::kTemplateTooLarge);
      continue;
    }
    if (template_id < kMinDataSetId || (options && scope_count == 0) || scope_count > field_count) {
      stats.count(DecodeStatus::kBadTemplate);
      note(status, DecodeStatus::kBadTemplate);
      continue;
    }
    if (refresh_template(WireProtocol::kIpfix, info.domain, template_id, fields, scope_count,
                         options, exporter)) {
      continue;
    }
    Template t;
    t.protocol = WireProtocol::kIpfix;
    t.domain = info.domain;
    t.id = template_id;
    t.is_options = options;
    t.scope_count = scope_count;
    t.fields.assign(fields.begin(), fields.end());
    const DecodeStatus s = learn_template(std::move(t), config, exporter);
    if (s != DecodeStatus::kOk) note(status, s);
  }
  return status;
}

}  // namespace

DecodeStatus decode_ipfix(std::span<const std::byte> packet, const PacketContext& ctx,
                          const Config& config, ExporterState& exporter,
                          flow::FlowBatch& out) noexcept {
  ExporterStats& stats = exporter.stats;
  if (packet.size() < kHeaderLen) {
    stats.count(DecodeStatus::kTruncated);
    return DecodeStatus::kTruncated;
  }
  ByteReader header(packet);
  const uint16_t version = header.u16();
  if (version != 10) {
    stats.count(DecodeStatus::kBadVersion);
    return DecodeStatus::kBadVersion;
  }
  const uint16_t message_len = header.u16();
  DecodeStatus status = DecodeStatus::kOk;
  // RFC 7011 §3.1: the length covers the header; one message per UDP datagram (§10.3.2).
  if (message_len < kHeaderLen || message_len > packet.size()) {
    stats.count(DecodeStatus::kBadMessageLength);
    return DecodeStatus::kBadMessageLength;
  }
  if (message_len < packet.size()) {
    // Trailing bytes after the message: decode the message, count the disagreement.
    stats.count(DecodeStatus::kBadMessageLength);
    note(status, DecodeStatus::kBadMessageLength);
  }
  MessageInfo info;
  info.protocol = WireProtocol::kIpfix;
  info.export_secs = header.u32();
  header.u32();  // sequence number
  info.domain = header.u32();
  info.arrival_ns = ctx.arrival_ns;
  info.exporter_port = ctx.exporter_port;

  ByteReader r(packet.subspan(kHeaderLen, message_len - kHeaderLen));
  try {
    // Also refreshes the gauge after a state load, which restores templates but not stats.
    stats.templates_active = template_state(exporter).cache.size();
    while (r.remaining() > 0) {
      if (r.remaining() < kSetHeaderLen) {
        stats.count(DecodeStatus::kTruncated);
        note(status, DecodeStatus::kTruncated);
        break;
      }
      const uint16_t set_id = r.u16();
      const uint16_t set_len = r.u16();
      if (set_len < kSetHeaderLen || set_len - kSetHeaderLen > r.remaining()) {
        // RFC 7011 §3.3.2: the length includes the set header; a lie leaves no next set.
        stats.count(DecodeStatus::kBadSetLength);
        note(status, DecodeStatus::kBadSetLength);
        break;
      }
      ByteReader body = r.sub(set_len - kSetHeaderLen);
      DecodeStatus s = DecodeStatus::kOk;
      if (set_id == kTemplateSetId || set_id == kOptionsSetId) {
        s = template_set(body, set_id == kOptionsSetId, info, config, exporter);
      } else if (set_id >= kMinDataSetId) {
        s = decode_data_set(set_id, body.rest(), info, config, exporter, out);
      }  // 0, 1 (NetFlow v9 ids) and 4-255 are reserved: skipped
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
