#pragma once

// Templates of one exporter, compiled once into a compact decode program, held in a bounded
// LRU cache keyed by (protocol, observation domain / source id, template id).

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "decode/decode_status.h"
#include "decode/detail/ie_table.h"

namespace fathom::decode::detail {

/// Which template protocol a template, data set or pending set belongs to.
enum class WireProtocol : uint8_t { kNetflowV9 = 9, kIpfix = 10 };

/// IPFIX field specifier bit saying a 4-byte enterprise number follows (RFC 7011 §3.2).
inline constexpr uint16_t kEnterpriseBit = 0x8000;

/// Template field length meaning "variable length" (RFC 7011 §7).
inline constexpr uint16_t kVariableLength = 0xFFFF;

/// One field specifier as it came off the wire: element id (for IPFIX with the enterprise bit
/// 0x8000 when an enterprise number follows; NetFlow v9 has no such bit), length, enterprise
/// number (0 for IANA elements and all NetFlow v9 fields).
struct FieldSpec {
  uint16_t id = 0;
  uint16_t length = 0;
  uint32_t pen = 0;
  friend bool operator==(const FieldSpec&, const FieldSpec&) = default;
};

/// One step of a compiled template: read `length` bytes (kVariableLength: a variable-length
/// field, RFC 7011 §7) and store them into `target` (kSkip: step over them).
struct FieldOp {
  uint16_t length = 0;
  Target target = Target::kSkip;
};

/// What one step of a fixed-length template's fast program does (`FastOp`). The integer codes
/// name the wire width read (1, 2, 4, 8 bytes, or N: any other reduced size, RFC 7011 §6.2) and
/// the width of the FlowRecord member written; the value is truncated to the member as a cast
/// would. Anything else (scratch values, conversions) goes through `kGeneric` and its `Target`.
enum class OpCode : uint8_t {
  kGeneric,
  kInt1To1,
  kInt1To2,
  kInt1To4,
  kInt1To8,
  kInt2To1,
  kInt2To2,
  kInt2To4,
  kInt2To8,
  kInt4To1,
  kInt4To2,
  kInt4To4,
  kInt4To8,
  kInt8To1,
  kInt8To2,
  kInt8To4,
  kInt8To8,
  kIntNTo1,
  kIntNTo2,
  kIntNTo4,
  kIntNTo8,
  kAddressV4,  ///< 4 bytes into an IpAddress member, v4-mapped
  kAddressV6,  ///< 16 bytes into an IpAddress member
  kMac,        ///< 6 bytes into a MAC member
};

/// How the raw value of a data template's flow start (or end) field, stored in
/// FlowRecord::start_ns (end_ns) by an integer op, becomes epoch nanoseconds. Decided once per
/// template so records pay one switch, not a per-field conversion.
enum class TimeKind : uint8_t {
  kNone,         ///< no such field
  kUptimeV9,     ///< IE 21/22, NetFlow v9: relative to the header's sysUptime (RFC 3954 §5.1)
  kUptimeIpfix,  ///< IE 21/22, IPFIX: relative to systemInitTimeMilliseconds (IE 160)
  kSec,          ///< IE 150/151
  kMs,           ///< IE 152/153
  kNtp,          ///< IE 154-157 (RFC 7011 §6.1.9/§6.1.10)
  kDeltaUs,      ///< IE 158/159: µs before the export time
};

/// One step of a fixed-length template's fast program: the field at byte `offset` of the record,
/// `length` bytes, stored by `code` into the FlowRecord member at byte `member` (kGeneric: handed
/// to the generic store for `target`). Skipped fields have no step.
struct FastOp {
  uint16_t offset = 0;
  uint16_t length = 0;
  uint16_t member = 0;
  OpCode code = OpCode::kGeneric;
  Target target = Target::kSkip;
};

/// Consecutive steps of a fast program that share one code, so a record pays one dispatch per
/// run instead of one per field: `Template::fast_ops[begin, end)`.
struct FastRun {
  uint16_t begin = 0;
  uint16_t end = 0;
  OpCode code = OpCode::kGeneric;
};

/// Packs the cache key.
constexpr uint64_t template_key(WireProtocol protocol, uint32_t domain,
                                uint16_t template_id) noexcept {
  return (uint64_t{static_cast<uint8_t>(protocol)} << 48) | (uint64_t{domain} << 16) | template_id;
}

/// A learned (data or options) template and its decode program.
struct Template {
  WireProtocol protocol = WireProtocol::kIpfix;
  uint32_t domain = 0;
  uint16_t id = 0;
  bool is_options = false;
  uint16_t scope_count = 0;       ///< options templates: leading scope fields
  std::vector<FieldSpec> fields;  ///< as on the wire (kept for persistence and comparison)
  std::vector<FieldOp> ops;       ///< the compiled program (adjacent skips merged)
  /// Fixed-length data templates with at most one start and one end time field: the program
  /// without skips (`fast` true); empty otherwise.
  std::vector<FastOp> fast_ops;
  /// Runs over `fast_ops`. When no two steps write the same FlowRecord bytes, the steps are
  /// sorted by code first (the order of independent stores does not matter); otherwise they
  /// stay in field order so the last field wins, as on the wire.
  std::vector<FastRun> fast_runs;
  bool fast = false;
  bool fast_generic = false;              ///< some fast op is kGeneric (needs the scratch values)
  TimeKind start_time = TimeKind::kNone;  ///< fast programs: how start_ns is converted
  TimeKind end_time = TimeKind::kNone;    ///< fast programs: how end_ns is converted
  uint32_t min_record_len = 0;            ///< fixed lengths + 1 byte per variable-length field
  bool has_varlen = false;                ///< record length varies: bounds-check per field
  bool per_record_sampling = false;       ///< carries a sampler id or sampling interval per record
  uint64_t last_used = 0;                 ///< LRU tick

  uint64_t key() const noexcept { return template_key(protocol, domain, id); }
};

/// Compiles `t.fields` into `t.ops`, and for fixed-length data templates with at most one start
/// and one end time also into the fast program (`fast_ops`, `fast_runs`, `start_time`,
/// `end_time`). Throws only std::bad_alloc. Returns kOk, or:
///   kTemplateTooLarge  more than kMaxFieldsPerTemplate fields, or wider than any message;
///   kBadFieldLength    a known element with a width it cannot have (an IPv4 address of 3
///                      bytes, a variable-length counter);
///   kBadTemplate       zero fields, records of zero length, scope count above the fields.
DecodeStatus compile_template(Template& t);

/// Bounded LRU cache of templates. Not thread-safe (owned by one exporter's decoding thread).
class TemplateCache {
 public:
  /// Outcome of `put`.
  enum class PutResult : uint8_t {
    kUnchanged,  ///< the same layout was already known (refreshed)
    kAdded,      ///< a new template id
    kReplaced,   ///< same id, new layout (RFC 7011 §8: the new definition wins)
    kRefused,    ///< the budget is zero
  };

  /// Finds a template and marks it used; nullptr when unknown.
  Template* find(uint64_t key) noexcept;
  /// When the template under `key` has exactly these fields, scope count and kind, marks it used
  /// and returns true (a periodic re-announcement: nothing to compile or allocate).
  bool refresh(uint64_t key, std::span<const FieldSpec> fields, uint16_t scope_count,
               bool is_options) noexcept;
  /// Finds without touching the LRU order.
  const Template* peek(uint64_t key) const noexcept;

  /// Inserts or replaces `t`; when `max_templates` are held, first evicts the least recently
  /// used one and adds 1 to `evicted`.
  PutResult put(Template&& t, size_t max_templates, uint64_t& evicted);

  /// Removes one template; false when it was not held.
  bool erase(uint64_t key) noexcept;
  /// Removes all data (or all options) templates of one domain; returns how many.
  size_t erase_domain(WireProtocol protocol, uint32_t domain, bool options) noexcept;

  size_t size() const noexcept { return templates_.size(); }
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const auto& [key, t] : templates_) fn(t);
  }

 private:
  std::unordered_map<uint64_t, Template> templates_;
  uint64_t tick_ = 0;
};

}  // namespace fathom::decode::detail
