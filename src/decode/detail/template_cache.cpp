#include "decode/detail/template_cache.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>
#include <type_traits>

#include "decode/config.h"
#include "flow/flow_record.h"

namespace fathom::decode::detail {
namespace {

// Largest record a template may describe: a whole UDP payload minus the smallest headers.
constexpr uint32_t kMaxRecordLen = 65535 - 16 - 4;

IeInfo info_for(WireProtocol protocol, const FieldSpec& f) noexcept {
  // NetFlow v9 field types have no enterprise bit: types >= 32768 are vendor types, unknown.
  if (protocol == WireProtocol::kNetflowV9 || (f.id & kEnterpriseBit) == 0) return ie_info(f.id);
  const auto id = static_cast<uint16_t>(f.id & ~kEnterpriseBit);
  if (f.pen == kReversePen) return reverse_ie_info(id);  // RFC 5103 §6.1
  return IeInfo{};  // other enterprise elements: skipped by length
}

using flow::FlowRecord;

// The fast program stores into FlowRecord members by byte offset.
static_assert(std::is_standard_layout_v<FlowRecord>);

/// A FlowRecord member: byte offset and size (size 0: not a plain member store).
struct Member {
  size_t offset = 0;
  size_t size = 0;
};

// Offset and size of a FlowRecord member, for the two tables below; #undef after them.
#define FATHOM_MEMBER(name) (Member{offsetof(FlowRecord, name), sizeof(FlowRecord::name)})

/// The member an unsigned integer target is stored in as is (a truncating cast), or size 0.
Member int_member(Target target) noexcept {
  switch (target) {
    case Target::kBytes: return FATHOM_MEMBER(bytes);
    case Target::kPackets: return FATHOM_MEMBER(packets);
    case Target::kProtocol: return FATHOM_MEMBER(ip_protocol);
    case Target::kTos: return FATHOM_MEMBER(tos);
    case Target::kTcpFlags: return FATHOM_MEMBER(tcp_flags);
    case Target::kSrcPort: return FATHOM_MEMBER(src_port);
    case Target::kDstPort: return FATHOM_MEMBER(dst_port);
    case Target::kSrcMask: return FATHOM_MEMBER(src_mask);
    case Target::kDstMask: return FATHOM_MEMBER(dst_mask);
    case Target::kInputIf: return FATHOM_MEMBER(input_if);
    case Target::kOutputIf: return FATHOM_MEMBER(output_if);
    case Target::kSrcAs: return FATHOM_MEMBER(src_as);
    case Target::kDstAs: return FATHOM_MEMBER(dst_as);
    case Target::kIcmpType: return FATHOM_MEMBER(icmp_type);
    case Target::kIcmpCode: return FATHOM_MEMBER(icmp_code);
    case Target::kDirection: return FATHOM_MEMBER(exporter_direction);
    case Target::kForwardingStatus: return FATHOM_MEMBER(forwarding_status);
    case Target::kEndReason: return FATHOM_MEMBER(end_reason);
    default: return {};
  }
}

/// The address or MAC member a target is copied into, or size 0.
Member bytes_member(Target target) noexcept {
  switch (target) {
    case Target::kSrcV4:
    case Target::kSrcV6: return FATHOM_MEMBER(src);
    case Target::kDstV4:
    case Target::kDstV6: return FATHOM_MEMBER(dst);
    case Target::kNextHopV4:
    case Target::kNextHopV6: return FATHOM_MEMBER(next_hop);
    case Target::kSrcMac: return FATHOM_MEMBER(src_mac);
    case Target::kDstMac: return FATHOM_MEMBER(dst_mac);
    default: return {};
  }
}

#undef FATHOM_MEMBER

size_t width_index(size_t bytes) noexcept {
  switch (bytes) {
    case 1: return 0;
    case 2: return 1;
    case 4: return 2;
    case 8: return 3;
    default: return 4;  // reduced-size 3, 5, 6, 7 (loads only)
  }
}

/// The time kind of a start (`start` true) or end time target; kNone for other targets.
TimeKind time_kind(WireProtocol protocol, Target target, bool start) noexcept {
  const bool v9 = protocol == WireProtocol::kNetflowV9;
  switch (target) {
    case Target::kStartUptime:
      return start ? (v9 ? TimeKind::kUptimeV9 : TimeKind::kUptimeIpfix) : TimeKind::kNone;
    case Target::kEndUptime:
      return start ? TimeKind::kNone : (v9 ? TimeKind::kUptimeV9 : TimeKind::kUptimeIpfix);
    case Target::kStartSec: return start ? TimeKind::kSec : TimeKind::kNone;
    case Target::kEndSec: return start ? TimeKind::kNone : TimeKind::kSec;
    case Target::kStartMs: return start ? TimeKind::kMs : TimeKind::kNone;
    case Target::kEndMs: return start ? TimeKind::kNone : TimeKind::kMs;
    case Target::kStartNtp: return start ? TimeKind::kNtp : TimeKind::kNone;
    case Target::kEndNtp: return start ? TimeKind::kNone : TimeKind::kNtp;
    case Target::kStartDeltaUs: return start ? TimeKind::kDeltaUs : TimeKind::kNone;
    case Target::kEndDeltaUs: return start ? TimeKind::kNone : TimeKind::kDeltaUs;
    default: return TimeKind::kNone;
  }
}

/// The fast step for a field of `length` bytes feeding `target`. Widths were validated by the
/// compiler's first pass (IeInfo min/max), so every code below sees a width it can read.
FastOp fast_op(const Template& t, Target target, uint16_t offset, uint16_t length) noexcept {
  FastOp op;
  op.offset = offset;
  op.length = length;
  op.target = target;
  Member m = int_member(target);
  // Time fields are stored raw into start_ns/end_ns and converted once per record.
  if (time_kind(t.protocol, target, true) != TimeKind::kNone) {
    m = Member{offsetof(FlowRecord, start_ns), sizeof(FlowRecord::start_ns)};
  } else if (time_kind(t.protocol, target, false) != TimeKind::kNone) {
    m = Member{offsetof(FlowRecord, end_ns), sizeof(FlowRecord::end_ns)};
  }
  if (m.size != 0) {
    const size_t code =
        static_cast<size_t>(OpCode::kInt1To1) + width_index(length) * 4 + width_index(m.size);
    op.code = static_cast<OpCode>(code);
    op.member = static_cast<uint16_t>(m.offset);
    return op;
  }
  if (const Member b = bytes_member(target); b.size != 0) {
    op.member = static_cast<uint16_t>(b.offset);
    if (target == Target::kSrcMac || target == Target::kDstMac) {
      op.code = OpCode::kMac;
    } else {
      op.code = length == 4 ? OpCode::kAddressV4 : OpCode::kAddressV6;
    }
  }
  return op;
}

/// The FlowRecord bytes a fast step writes (size 0: only scratch values).
Member written_bytes(const FastOp& op) noexcept {
  switch (op.code) {
    case OpCode::kGeneric:
      // The generic store writes scratch values, except for these two targets.
      if (op.target == Target::kIcmpTypeCode) {
        return Member{offsetof(FlowRecord, icmp_type), 2};
      }
      if (op.target == Target::kVlan) return Member{offsetof(FlowRecord, vlan), 2};
      return {};
    case OpCode::kAddressV4:
    case OpCode::kAddressV6: return Member{op.member, sizeof(flow::IpAddress)};
    case OpCode::kMac: return Member{op.member, 6};
    default: {
      // Integer stores: the member size is the code's second width.
      constexpr size_t kSizes[] = {1, 2, 4, 8};
      const size_t index = static_cast<size_t>(op.code) - static_cast<size_t>(OpCode::kInt1To1);
      return Member{op.member, kSizes[index % 4]};
    }
  }
}

/// True when no two steps write the same FlowRecord byte, so their order does not matter.
bool stores_are_independent(const std::vector<FastOp>& ops) noexcept {
  static_assert(offsetof(FlowRecord, icmp_code) == offsetof(FlowRecord, icmp_type) + 1);
  std::array<bool, sizeof(FlowRecord)> written{};
  for (const FastOp& op : ops) {
    const Member m = written_bytes(op);
    for (size_t byte = m.offset; byte < m.offset + m.size; ++byte) {
      if (written[byte]) return false;
      written[byte] = true;
    }
  }
  return true;
}

/// Builds the fast program of a fixed-length data template from `t.ops`. Templates with several
/// start (or end) time fields keep the generic program: there the last field wins and each
/// conversion may flag the record, which the one-conversion-per-record path does not model.
void compile_fast_ops(Template& t) {
  size_t start_fields = 0;
  size_t end_fields = 0;
  for (const FieldOp& op : t.ops) {
    if (const TimeKind k = time_kind(t.protocol, op.target, true); k != TimeKind::kNone) {
      t.start_time = k;
      ++start_fields;
    }
    if (const TimeKind k = time_kind(t.protocol, op.target, false); k != TimeKind::kNone) {
      t.end_time = k;
      ++end_fields;
    }
  }
  if (start_fields > 1 || end_fields > 1) {
    t.start_time = t.end_time = TimeKind::kNone;
    return;
  }
  t.fast_ops.reserve(t.ops.size());
  size_t offset = 0;
  for (const FieldOp& op : t.ops) {
    if (op.target != Target::kSkip) {
      t.fast_ops.push_back(fast_op(t, op.target, static_cast<uint16_t>(offset), op.length));
      if (t.fast_ops.back().code == OpCode::kGeneric) t.fast_generic = true;
    }
    offset += op.length;
  }
  if (stores_are_independent(t.fast_ops)) {
    std::stable_sort(t.fast_ops.begin(), t.fast_ops.end(),
                     [](const FastOp& a, const FastOp& b) { return a.code < b.code; });
  }
  for (size_t op_idx = 0; op_idx < t.fast_ops.size(); ++op_idx) {
    const OpCode code = t.fast_ops[op_idx].code;
    if (t.fast_runs.empty() || t.fast_runs.back().code != code) {
      t.fast_runs.push_back({static_cast<uint16_t>(op_idx), static_cast<uint16_t>(op_idx), code});
    }
    t.fast_runs.back().end = static_cast<uint16_t>(op_idx + 1);
  }
  t.fast = true;
}

}  // namespace

DecodeStatus compile_template(Template& t) {
  t.ops.clear();
  t.fast_ops.clear();
  t.fast_runs.clear();
  t.fast = false;
  t.fast_generic = false;
  t.start_time = t.end_time = TimeKind::kNone;
  t.min_record_len = 0;
  t.has_varlen = false;
  t.per_record_sampling = false;
  if (t.fields.size() > kMaxFieldsPerTemplate) return DecodeStatus::kTemplateTooLarge;
  if (t.fields.empty() || t.scope_count > t.fields.size()) return DecodeStatus::kBadTemplate;
  if (t.is_options && (t.scope_count == 0 || t.scope_count > kMaxScopeFields)) {
    return DecodeStatus::kBadTemplate;
  }

  // Pass 1: the best-ranked element per target; the others are skipped.
  std::array<uint8_t, kTargetCount> best;
  best.fill(std::numeric_limits<uint8_t>::max());
  for (size_t field_idx = 0; field_idx < t.fields.size(); ++field_idx) {
    const FieldSpec& f = t.fields[field_idx];
    // RFC 3954 §6.1: v9 scope fields are scope types (system, interface, ...), not elements.
    if (t.protocol == WireProtocol::kNetflowV9 && field_idx < t.scope_count) continue;
    const IeInfo info = info_for(t.protocol, f);
    if (info.target == Target::kSkip) continue;
    if (f.length == kVariableLength || f.length < info.min_len || f.length > info.max_len) {
      return DecodeStatus::kBadFieldLength;
    }
    auto& slot = best[static_cast<size_t>(info.target)];
    if (info.rank < slot) slot = info.rank;
  }

  // Pass 2: emit ops, merging adjacent fixed-length skips.
  t.ops.reserve(t.fields.size());
  for (size_t field_idx = 0; field_idx < t.fields.size(); ++field_idx) {
    const FieldSpec& f = t.fields[field_idx];
    Target target = Target::kSkip;
    if (!(t.protocol == WireProtocol::kNetflowV9 && field_idx < t.scope_count)) {
      const IeInfo info = info_for(t.protocol, f);
      if (info.target != Target::kSkip && best[static_cast<size_t>(info.target)] == info.rank) {
        target = info.target;
        best[static_cast<size_t>(info.target)] = std::numeric_limits<uint8_t>::max() - 1;
      }
    }
    if (f.length == kVariableLength) {
      if (t.protocol != WireProtocol::kIpfix) return DecodeStatus::kBadFieldLength;
      t.has_varlen = true;
      t.min_record_len += 1;  // RFC 7011 §7: at least the 1-byte length prefix
      t.ops.push_back({kVariableLength, Target::kSkip});
      continue;
    }
    t.min_record_len += f.length;
    if (target == Target::kSamplerId || target == Target::kSamplingInterval ||
        target == Target::kPacketInterval || target == Target::kSamplingProbability ||
        target == Target::kSamplingPopulation) {
      t.per_record_sampling = true;
    }
    if (target == Target::kSkip && !t.ops.empty() && t.ops.back().target == Target::kSkip &&
        t.ops.back().length != kVariableLength &&
        uint32_t{t.ops.back().length} + f.length < kVariableLength) {
      t.ops.back().length = static_cast<uint16_t>(t.ops.back().length + f.length);
      continue;
    }
    t.ops.push_back({f.length, target});
  }
  if (t.min_record_len == 0) return DecodeStatus::kBadTemplate;
  if (t.min_record_len > kMaxRecordLen) return DecodeStatus::kTemplateTooLarge;
  if (!t.has_varlen && !t.is_options) compile_fast_ops(t);
  return DecodeStatus::kOk;
}

Template* TemplateCache::find(uint64_t key) noexcept {
  auto it = templates_.find(key);
  if (it == templates_.end()) return nullptr;
  it->second.last_used = ++tick_;
  return &it->second;
}

bool TemplateCache::refresh(uint64_t key, std::span<const FieldSpec> fields, uint16_t scope_count,
                            bool is_options) noexcept {
  auto it = templates_.find(key);
  if (it == templates_.end()) return false;
  Template& t = it->second;
  if (t.scope_count != scope_count || t.is_options != is_options ||
      !std::equal(t.fields.begin(), t.fields.end(), fields.begin(), fields.end())) {
    return false;
  }
  t.last_used = ++tick_;
  return true;
}

const Template* TemplateCache::peek(uint64_t key) const noexcept {
  auto it = templates_.find(key);
  return it == templates_.end() ? nullptr : &it->second;
}

TemplateCache::PutResult TemplateCache::put(Template&& t, size_t max_templates, uint64_t& evicted) {
  const uint64_t key = t.key();
  t.last_used = ++tick_;
  auto it = templates_.find(key);
  if (it != templates_.end()) {
    const bool same = it->second.fields == t.fields && it->second.scope_count == t.scope_count &&
                      it->second.is_options == t.is_options;
    it->second = std::move(t);
    return same ? PutResult::kUnchanged : PutResult::kReplaced;
  }
  if (max_templates == 0) return PutResult::kRefused;
  while (templates_.size() >= max_templates) {
    auto victim = templates_.begin();
    for (auto cand = templates_.begin(); cand != templates_.end(); ++cand) {
      if (cand->second.last_used < victim->second.last_used) victim = cand;
    }
    templates_.erase(victim);
    ++evicted;
  }
  templates_.emplace(key, std::move(t));
  return PutResult::kAdded;
}

bool TemplateCache::erase(uint64_t key) noexcept {
  return templates_.erase(key) > 0;
}

size_t TemplateCache::erase_domain(WireProtocol protocol, uint32_t domain, bool options) noexcept {
  size_t n = 0;
  for (auto it = templates_.begin(); it != templates_.end();) {
    const Template& t = it->second;
    if (t.protocol == protocol && t.domain == domain && t.is_options == options) {
      it = templates_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

}  // namespace fathom::decode::detail
