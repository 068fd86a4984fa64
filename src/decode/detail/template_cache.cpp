#include "decode/detail/template_cache.h"

#include <array>
#include <limits>

#include "decode/config.h"

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

}  // namespace

DecodeStatus compile_template(Template& t) noexcept {
  t.ops.clear();
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
  return DecodeStatus::kOk;
}

Template* TemplateCache::find(uint64_t key) noexcept {
  auto it = templates_.find(key);
  if (it == templates_.end()) return nullptr;
  it->second.last_used = ++tick_;
  return &it->second;
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
