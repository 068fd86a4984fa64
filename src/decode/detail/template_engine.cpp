#include "decode/detail/template_engine.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "decode/byte_reader.h"
#include "decode/detail/protocols.h"
#include "decode/detail/template_state.h"

namespace fathom::decode::detail {
namespace {

using flow::FlowRecord;
using flow::SamplingAlgorithm;

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerSec = 1'000'000'000;
// RFC 7011 §6.1.9 / RFC 5905: NTP era 0 starts 1900-01-01; seconds from then to the Unix epoch.
constexpr int64_t kNtpToUnixSecs = 2'208'988'800;
// Largest IE 160 value whose sum with a 32-bit uptime still fits in int64 nanoseconds.
constexpr int64_t kMaxSystemInitMs = std::numeric_limits<int64_t>::max() / kNsPerMs - (1LL << 32);

/// Clock facts a data set's times are relative to.
struct TimeBase {
  WireProtocol protocol = WireProtocol::kIpfix;
  int64_t export_ms = 0;
  uint32_t sys_uptime_ms = 0;    ///< v9 header
  bool has_system_init = false;  ///< IPFIX: IE 160 seen for the domain
  int64_t system_init_ms = 0;
};

/// Per-record values that do not go straight into the FlowRecord.
struct Scratch {
  bool has_start = false;
  bool has_end = false;
  bool bad_time = false;           ///< a time that cannot be represented (counted)
  bool uptime_unresolved = false;  ///< IPFIX uptime without a known system init time
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  uint64_t rev_bytes = 0;
  uint64_t rev_packets = 0;
  uint16_t rev_tcp_flags = 0;
  uint8_t rev_tos = 0;
  bool has_sampler_id = false;
  uint64_t sampler_id = 0;
  uint64_t interval = 0;
  uint64_t packet_interval = 0;
  uint64_t packet_space = 0;
  uint64_t sampling_size = 0;
  uint64_t sampling_population = 0;
  double probability = 0;
  uint8_t algorithm = 0;  ///< IE 35/49 value
  uint16_t selector_algorithm = 0;
  bool has_system_init = false;
  int64_t system_init_ms = 0;
};

int64_t ms_to_ns(uint64_t ms, Scratch& s) noexcept {
  if (ms > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / kNsPerMs)) {
    s.bad_time = true;
    return 0;
  }
  return static_cast<int64_t>(ms) * kNsPerMs;
}

// RFC 3954 §5.1: times are sysUptime ms; the header pairs an uptime with a Unix time. The
// difference is taken as signed 32-bit so a wrapped uptime (after 49.7 days) still works and a
// flow stamped a little after the header (exporter clock skew) stays a little after.
int64_t uptime_to_ns(uint32_t switched, const TimeBase& tb, Scratch& s) noexcept {
  if (tb.protocol == WireProtocol::kNetflowV9) {
    const auto behind = static_cast<int32_t>(tb.sys_uptime_ms - switched);
    return (tb.export_ms - behind) * kNsPerMs;
  }
  // RFC 7011/7012 IE 21/22: ms since systemInitTimeMilliseconds (IE 160, options).
  if (!tb.has_system_init) {
    s.uptime_unresolved = true;
    return 0;
  }
  if (tb.system_init_ms > kMaxSystemInitMs) {
    s.bad_time = true;
    return 0;
  }
  return (tb.system_init_ms + switched) * kNsPerMs;
}

// RFC 7011 §6.1.9/§6.1.10: 32-bit NTP seconds + 32-bit fraction. Seconds below 2^31 are taken
// as era 1 (after 2036-02-07), as RFC 4330 §3 suggests.
int64_t ntp_to_ns(uint64_t ntp) noexcept {
  int64_t secs = static_cast<int64_t>(ntp >> 32);
  if (secs < 0x80000000LL) secs += int64_t{1} << 32;
  const auto frac_ns = static_cast<int64_t>(((ntp & 0xffffffffULL) * kNsPerSec) >> 32);
  return (secs - kNtpToUnixSecs) * kNsPerSec + frac_ns;
}

double load_float(const std::byte* p, uint16_t len) noexcept {
  if (len == 8) return std::bit_cast<double>(ByteReader::load_be64(p));
  return static_cast<double>(std::bit_cast<float>(ByteReader::load_be32(p)));
}

/// Stores one field. `p` holds `len` bytes, already bounds-checked and valid for the target.
void apply(Target target, const std::byte* p, uint16_t len, FlowRecord& r, Scratch& s,
           const TimeBase& tb) noexcept {
  const auto uint = [p, len]() { return ByteReader::load_be_n(p, len); };
  switch (target) {
    case Target::kSkip: break;
    case Target::kBytes: r.bytes = uint(); break;
    case Target::kPackets: r.packets = uint(); break;
    case Target::kProtocol: r.ip_protocol = static_cast<uint8_t>(uint()); break;
    case Target::kTos: r.tos = static_cast<uint8_t>(uint()); break;
    case Target::kTcpFlags: r.tcp_flags = static_cast<uint16_t>(uint()); break;
    case Target::kSrcPort: r.src_port = static_cast<uint16_t>(uint()); break;
    case Target::kDstPort: r.dst_port = static_cast<uint16_t>(uint()); break;
    case Target::kSrcV4: r.src = flow::IpAddress::from_v4_bytes(p); break;
    case Target::kDstV4: r.dst = flow::IpAddress::from_v4_bytes(p); break;
    case Target::kSrcV6: r.src = flow::IpAddress::from_v6_bytes(p); break;
    case Target::kDstV6: r.dst = flow::IpAddress::from_v6_bytes(p); break;
    case Target::kSrcMask: r.src_mask = static_cast<uint8_t>(uint()); break;
    case Target::kDstMask: r.dst_mask = static_cast<uint8_t>(uint()); break;
    case Target::kInputIf: r.input_if = static_cast<uint32_t>(uint()); break;
    case Target::kOutputIf: r.output_if = static_cast<uint32_t>(uint()); break;
    case Target::kNextHopV4: r.next_hop = flow::IpAddress::from_v4_bytes(p); break;
    case Target::kNextHopV6: r.next_hop = flow::IpAddress::from_v6_bytes(p); break;
    case Target::kSrcAs: r.src_as = static_cast<uint32_t>(uint()); break;
    case Target::kDstAs: r.dst_as = static_cast<uint32_t>(uint()); break;
    case Target::kEndUptime:
      s.end_ns = uptime_to_ns(static_cast<uint32_t>(uint()), tb, s);
      s.has_end = true;
      break;
    case Target::kStartUptime:
      s.start_ns = uptime_to_ns(static_cast<uint32_t>(uint()), tb, s);
      s.has_start = true;
      break;
    case Target::kIcmpTypeCode: {
      const auto v = static_cast<uint16_t>(uint());
      r.icmp_type = static_cast<uint8_t>(v >> 8);
      r.icmp_code = static_cast<uint8_t>(v);
      break;
    }
    case Target::kIcmpType: r.icmp_type = static_cast<uint8_t>(uint()); break;
    case Target::kIcmpCode: r.icmp_code = static_cast<uint8_t>(uint()); break;
    case Target::kSamplingInterval: s.interval = uint(); break;
    case Target::kSamplingAlgo: s.algorithm = static_cast<uint8_t>(uint()); break;
    case Target::kSelectorAlgo: s.selector_algorithm = static_cast<uint16_t>(uint()); break;
    case Target::kSamplerId:
      s.sampler_id = uint();
      s.has_sampler_id = true;
      break;
    case Target::kSrcMac: std::memcpy(r.src_mac.data(), p, 6); break;
    case Target::kDstMac: std::memcpy(r.dst_mac.data(), p, 6); break;
    case Target::kVlan: r.vlan = static_cast<uint16_t>(uint() & 0x0fff); break;
    case Target::kDirection: r.exporter_direction = static_cast<uint8_t>(uint()); break;
    case Target::kForwardingStatus: r.forwarding_status = static_cast<uint8_t>(uint()); break;
    case Target::kEndReason: r.end_reason = static_cast<uint8_t>(uint()); break;
    case Target::kStartSec:
      s.start_ns = static_cast<int64_t>(uint()) * kNsPerSec;
      s.has_start = true;
      break;
    case Target::kEndSec:
      s.end_ns = static_cast<int64_t>(uint()) * kNsPerSec;
      s.has_end = true;
      break;
    case Target::kStartMs:
      s.start_ns = ms_to_ns(uint(), s);
      s.has_start = true;
      break;
    case Target::kEndMs:
      s.end_ns = ms_to_ns(uint(), s);
      s.has_end = true;
      break;
    case Target::kStartNtp:
      s.start_ns = ntp_to_ns(uint());
      s.has_start = true;
      break;
    case Target::kEndNtp:
      s.end_ns = ntp_to_ns(uint());
      s.has_end = true;
      break;
    case Target::kStartDeltaUs:
      // RFC 7011 §6.1.8 / IE 158: microseconds before the message's export time.
      s.start_ns = tb.export_ms * kNsPerMs - static_cast<int64_t>(uint()) * 1000;
      s.has_start = true;
      break;
    case Target::kEndDeltaUs:
      s.end_ns = tb.export_ms * kNsPerMs - static_cast<int64_t>(uint()) * 1000;
      s.has_end = true;
      break;
    case Target::kSystemInitMs: {
      const uint64_t v = uint();
      if (v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / kNsPerMs)) {
        s.system_init_ms = static_cast<int64_t>(v);
        s.has_system_init = true;
      }
      break;
    }
    case Target::kPacketInterval: s.packet_interval = uint(); break;
    case Target::kPacketSpace: s.packet_space = uint(); break;
    case Target::kSamplingSize: s.sampling_size = uint(); break;
    case Target::kSamplingPopulation: s.sampling_population = uint(); break;
    case Target::kSamplingProbability: s.probability = load_float(p, len); break;
    case Target::kRevBytes: s.rev_bytes = uint(); break;
    case Target::kRevPackets: s.rev_packets = uint(); break;
    case Target::kRevTcpFlags: s.rev_tcp_flags = static_cast<uint16_t>(uint()); break;
    case Target::kRevTos: s.rev_tos = static_cast<uint8_t>(uint()); break;
    case Target::kCount: break;
  }
}

/// Unsigned big-endian integer of exactly `kWidth` bytes (0: `len` bytes, reduced size).
template <size_t kWidth>
uint64_t load_uint(const std::byte* p, size_t len) noexcept {
  if constexpr (kWidth == 1) return static_cast<uint8_t>(p[0]);
  if constexpr (kWidth == 2) return ByteReader::load_be16(p);
  if constexpr (kWidth == 4) return ByteReader::load_be32(p);
  if constexpr (kWidth == 8) return ByteReader::load_be64(p);
  return ByteReader::load_be_n(p, len);
}

/// Stores the low `kSize` bytes of `v` into the member at `dst` (the truncating cast `apply`
/// makes).
template <size_t kSize>
void store_uint(std::byte* dst, uint64_t v) noexcept {
  if constexpr (kSize == 1) {
    const auto x = static_cast<uint8_t>(v);
    std::memcpy(dst, &x, 1);
  } else if constexpr (kSize == 2) {
    const auto x = static_cast<uint16_t>(v);
    std::memcpy(dst, &x, 2);
  } else if constexpr (kSize == 4) {
    const auto x = static_cast<uint32_t>(v);
    std::memcpy(dst, &x, 4);
  } else {
    std::memcpy(dst, &v, 8);
  }
}

/// Integer steps of one run: `[op, end)` all read `kLoad` bytes (0: their own reduced length)
/// and store `kStore` bytes.
template <size_t kLoad, size_t kStore>
void run_ints(const FastOp* op, const FastOp* end, const std::byte* p, std::byte* base) noexcept {
  for (; op != end; ++op) {
    store_uint<kStore>(base + op->member, load_uint<kLoad>(p + op->offset, op->length));
  }
}

/// Runs a fast program (`Template::fast_runs` over `fast_ops`) over the record at `p`; the
/// caller checked that `min_record_len`, the exact record length, bytes remain. Time fields are
/// left raw.
void run_fast(std::span<const FastRun> runs, const FastOp* ops, const std::byte* p, FlowRecord& r,
              Scratch& s, const TimeBase& tb) noexcept {
  auto* const base = reinterpret_cast<std::byte*>(&r);
  for (const FastRun& run : runs) {
    const FastOp* const first = ops + run.begin;
    const FastOp* const last = ops + run.end;
    switch (run.code) {
      case OpCode::kGeneric:
        for (const FastOp* op = first; op != last; ++op) {
          apply(op->target, p + op->offset, op->length, r, s, tb);
        }
        break;
      case OpCode::kInt1To1: run_ints<1, 1>(first, last, p, base); break;
      case OpCode::kInt1To2: run_ints<1, 2>(first, last, p, base); break;
      case OpCode::kInt1To4: run_ints<1, 4>(first, last, p, base); break;
      case OpCode::kInt1To8: run_ints<1, 8>(first, last, p, base); break;
      case OpCode::kInt2To1: run_ints<2, 1>(first, last, p, base); break;
      case OpCode::kInt2To2: run_ints<2, 2>(first, last, p, base); break;
      case OpCode::kInt2To4: run_ints<2, 4>(first, last, p, base); break;
      case OpCode::kInt2To8: run_ints<2, 8>(first, last, p, base); break;
      case OpCode::kInt4To1: run_ints<4, 1>(first, last, p, base); break;
      case OpCode::kInt4To2: run_ints<4, 2>(first, last, p, base); break;
      case OpCode::kInt4To4: run_ints<4, 4>(first, last, p, base); break;
      case OpCode::kInt4To8: run_ints<4, 8>(first, last, p, base); break;
      case OpCode::kInt8To1: run_ints<8, 1>(first, last, p, base); break;
      case OpCode::kInt8To2: run_ints<8, 2>(first, last, p, base); break;
      case OpCode::kInt8To4: run_ints<8, 4>(first, last, p, base); break;
      case OpCode::kInt8To8: run_ints<8, 8>(first, last, p, base); break;
      case OpCode::kIntNTo1: run_ints<0, 1>(first, last, p, base); break;
      case OpCode::kIntNTo2: run_ints<0, 2>(first, last, p, base); break;
      case OpCode::kIntNTo4: run_ints<0, 4>(first, last, p, base); break;
      case OpCode::kIntNTo8: run_ints<0, 8>(first, last, p, base); break;
      case OpCode::kAddressV4:
        for (const FastOp* op = first; op != last; ++op) {
          const flow::IpAddress a = flow::IpAddress::from_v4_bytes(p + op->offset);
          std::memcpy(base + op->member, &a, sizeof(a));
        }
        break;
      case OpCode::kAddressV6:
        for (const FastOp* op = first; op != last; ++op) {
          std::memcpy(base + op->member, p + op->offset, 16);
        }
        break;
      case OpCode::kMac:
        for (const FastOp* op = first; op != last; ++op) {
          std::memcpy(base + op->member, p + op->offset, 6);
        }
        break;
    }
  }
}

/// Runs a template's program over one record at the start of `rec`. Returns the bytes consumed,
/// or 0 when a variable-length field overruns the data (nothing beyond `rec` is read).
size_t run_program(const Template& t, std::span<const std::byte> rec, FlowRecord& r, Scratch& s,
                   const TimeBase& tb) noexcept {
  const std::byte* p = rec.data();
  if (!t.has_varlen) {
    // The caller checked rec.size() >= min_record_len, which is the exact record length.
    size_t off = 0;
    for (const FieldOp& op : t.ops) {
      apply(op.target, p + off, op.length, r, s, tb);
      off += op.length;
    }
    return off;
  }
  size_t off = 0;
  const size_t size = rec.size();
  for (const FieldOp& op : t.ops) {
    size_t len = op.length;
    if (op.length == kVariableLength) {
      // RFC 7011 §7: 1-byte length, or 255 followed by a 2-byte length.
      if (off + 1 > size) return 0;
      len = static_cast<uint8_t>(p[off]);
      off += 1;
      if (len == 255) {
        if (off + 2 > size) return 0;
        len = ByteReader::load_be16(p + off);
        off += 2;
      }
    }
    if (len > size - off) return 0;
    apply(op.target, p + off, static_cast<uint16_t>(len), r, s, tb);
    off += len;
  }
  return off;
}

SamplingAlgorithm algorithm_of(const Scratch& s) noexcept {
  // IE 35 / 49: 1 deterministic, 2 random (RFC 3954 §8, RFC 7012).
  if (s.algorithm == 1) return SamplingAlgorithm::kDeterministic;
  if (s.algorithm == 2) return SamplingAlgorithm::kRandom;
  // RFC 5477 selectorAlgorithm: 1/2 systematic, 3 random n-out-of-N, 4 uniform probabilistic.
  if (s.selector_algorithm == 1 || s.selector_algorithm == 2) {
    return SamplingAlgorithm::kDeterministic;
  }
  if (s.selector_algorithm == 3 || s.selector_algorithm == 4) return SamplingAlgorithm::kRandom;
  return SamplingAlgorithm::kUnknown;
}

uint32_t clamp_rate(double rate) noexcept {
  if (!(rate >= 1.0)) return 0;
  if (rate >= 4294967295.0) return 0xffffffffu;
  return static_cast<uint32_t>(std::lround(rate));
}

/// A rate stated by the record itself (sampling interval, packet interval/space, size and
/// population, probability); 0 when the record states none.
uint32_t direct_rate(const Scratch& s) noexcept {
  if (s.interval != 0) return s.interval > 0xffffffffu ? 0xffffffffu : uint32_t(s.interval);
  if (s.packet_interval != 0) {
    // RFC 5477 §8.2.1 / IE 305-306: one packet selected in every interval + space.
    return clamp_rate(static_cast<double>(s.packet_interval + s.packet_space) /
                      static_cast<double>(s.packet_interval));
  }
  if (s.sampling_size != 0 && s.sampling_population != 0) {
    return clamp_rate(static_cast<double>(s.sampling_population) /
                      static_cast<double>(s.sampling_size));
  }
  if (s.probability > 0 && s.probability <= 1) return clamp_rate(1.0 / s.probability);
  return 0;
}

/// Looks up the rate for a record of `domain` that names `sampler` (or none).
const SamplerRate* lookup_rate(const TemplateState& state, uint32_t domain, bool has_sampler,
                               uint64_t sampler) noexcept {
  auto it = state.samplers.find(
      TemplateState::sampler_key(domain, has_sampler ? static_cast<uint32_t>(sampler) : 0));
  if (it != state.samplers.end()) return &it->second;
  if (has_sampler) return nullptr;
  auto dom = state.domains.find(domain);
  if (dom != state.domains.end() && dom->second.has_default_rate) {
    return &dom->second.default_rate;
  }
  return nullptr;
}

DomainInfo* domain_info(TemplateState& state, uint32_t domain) {
  auto it = state.domains.find(domain);
  if (it != state.domains.end()) return &it->second;
  if (state.domains.size() >= TemplateState::kMaxDomains) return nullptr;
  return &state.domains.try_emplace(domain).first->second;
}

bool same_rate(const SamplerRate& a, const SamplerRate& b) noexcept {
  return a.rate == b.rate && a.algorithm == b.algorithm;
}

/// Options record: remember what it announces (sampling rate, clock base). True when that
/// changed anything (a re-announcement of the same values is not a change to save).
bool absorb_options(TemplateState& state, uint32_t domain, const Scratch& s) {
  bool changed = false;
  if (s.has_system_init) {
    if (DomainInfo* d = domain_info(state, domain)) {
      changed = changed || !d->has_system_init || d->system_init_ms != s.system_init_ms;
      d->has_system_init = true;
      d->system_init_ms = s.system_init_ms;
    }
  }
  const uint32_t rate = direct_rate(s);
  if (rate == 0) return changed;
  const SamplerRate value{rate, algorithm_of(s)};
  const uint64_t key =
      TemplateState::sampler_key(domain, s.has_sampler_id ? uint32_t(s.sampler_id) : 0);
  auto it = state.samplers.find(key);
  if (it != state.samplers.end()) {
    changed = changed || !same_rate(it->second, value);
    it->second = value;
  } else if (state.samplers.size() < TemplateState::kMaxSamplers) {
    state.samplers.emplace(key, value);
    changed = true;
  }
  if (DomainInfo* d = domain_info(state, domain)) {
    changed = changed || !d->has_default_rate || !same_rate(d->default_rate, value);
    d->has_default_rate = true;
    d->default_rate = value;
  }
  return changed;
}

void set_rate(FlowRecord& r, const SamplerRate* rate, ExporterStats& stats) noexcept {
  if (rate == nullptr) {
    r.device_sampling_rate = 1;
    r.sampling_rate = 1.0;
    r.flags |= flow::record_flags::kSamplingRateUnknown;
    ++stats.sampling_unknown;
    return;
  }
  r.device_sampling_rate = rate->rate;
  r.sampling_rate = static_cast<double>(rate->rate);
  r.sampling_algorithm = rate->algorithm;
}

void emit_reverse(const FlowRecord& fwd, const Scratch& s, ExporterStats& stats,
                  flow::FlowBatch& out) {
  FlowRecord rev = fwd;
  std::swap(rev.src, rev.dst);
  std::swap(rev.src_port, rev.dst_port);
  std::swap(rev.src_mask, rev.dst_mask);
  std::swap(rev.src_as, rev.dst_as);
  std::swap(rev.src_mac, rev.dst_mac);
  std::swap(rev.input_if, rev.output_if);
  rev.bytes = s.rev_bytes;
  rev.packets = s.rev_packets;
  rev.tcp_flags = s.rev_tcp_flags;
  rev.tos = s.rev_tos;
  rev.flags |= flow::record_flags::kBiflowReverse;
  out.add() = rev;
  ++stats.records;
  if (rev.flags & flow::record_flags::kSamplingRateUnknown) ++stats.sampling_unknown;
}

/// Epoch ns of a raw start/end value of `kind` (the rules of `apply` for the same targets).
/// Sets `bad` for a time that cannot be represented, `unresolved` for an IPFIX uptime whose
/// system init time is unknown.
inline int64_t convert_time(TimeKind kind, uint64_t raw, const TimeBase& tb, bool& bad,
                            bool& unresolved) noexcept {
  switch (kind) {
    case TimeKind::kNone: return 0;
    case TimeKind::kUptimeV9: {
      // RFC 3954 §5.1, see uptime_to_ns.
      const auto behind = static_cast<int32_t>(tb.sys_uptime_ms - static_cast<uint32_t>(raw));
      return (tb.export_ms - behind) * kNsPerMs;
    }
    case TimeKind::kUptimeIpfix:
      if (!tb.has_system_init) {
        unresolved = true;
        return 0;
      }
      if (tb.system_init_ms > kMaxSystemInitMs) {
        bad = true;
        return 0;
      }
      return (tb.system_init_ms + static_cast<uint32_t>(raw)) * kNsPerMs;
    case TimeKind::kSec: return static_cast<int64_t>(raw) * kNsPerSec;
    case TimeKind::kMs:
      if (raw > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / kNsPerMs)) {
        bad = true;
        return 0;
      }
      return static_cast<int64_t>(raw) * kNsPerMs;
    case TimeKind::kNtp: return ntp_to_ns(raw);
    case TimeKind::kDeltaUs: return tb.export_ms * kNsPerMs - static_cast<int64_t>(raw) * 1000;
  }
  return 0;
}

/// Decodes the records of one data set whose template has a fast program (`t.fast`): every
/// record starts as a copy of `proto` (the per-set fields), the program fills the wire fields,
/// and times are converted once per record by the template's time kinds.
DecodeStatus run_fast_set(const Template& t, std::span<const std::byte> body,
                          const MessageInfo& info, const TimeBase& tb, const FlowRecord& proto,
                          bool rate_unknown, const Config& config, ExporterState& exporter,
                          flow::FlowBatch& out) {
  TemplateState& state = *exporter.templates;
  ExporterStats& stats = exporter.stats;
  const int64_t export_ns = tb.export_ms * kNsPerMs;
  // Template facts in locals: the program's stores go through byte pointers, which the compiler
  // must assume alias anything it would otherwise reload per record.
  const std::span<const FastRun> runs = t.fast_runs;
  const FastOp* const ops = t.fast_ops.data();
  const TimeKind start_time = t.start_time;
  const TimeKind end_time = t.end_time;
  const bool has_start = start_time != TimeKind::kNone;
  const bool has_end = end_time != TimeKind::kNone;
  const bool generic = t.fast_generic;
  const bool per_record_sampling = t.per_record_sampling;
  const size_t record_len = t.min_record_len;
  const std::byte* const data = body.data();
  uint64_t records = 0;
  Scratch s;
  for (size_t pos = 0; body.size() - pos >= record_len; pos += record_len) {
    FlowRecord& r = out.add();
    r = proto;
    if (generic) s = Scratch{};
    run_fast(runs, ops, data + pos, r, s, tb);
    bool bad = false;
    bool unresolved = false;
    bool start_ok = has_start;
    bool end_ok = has_end;
    int64_t start_ns = 0;
    int64_t end_ns = 0;
    if (has_start) {
      start_ns = convert_time(start_time, std::bit_cast<uint64_t>(r.start_ns), tb, bad, unresolved);
    }
    if (has_end) {
      end_ns = convert_time(end_time, std::bit_cast<uint64_t>(r.end_ns), tb, bad, unresolved);
    }
    if (bad) {
      stats.count(DecodeStatus::kBadTimestamp);
      start_ok = end_ok = false;
    } else if (unresolved) {
      start_ok = end_ok = false;  // IPFIX uptimes before the domain's IE 160 is known
    }
    if (!start_ok && !end_ok) {
      r.start_ns = r.end_ns = export_ns;
      r.flags |= flow::record_flags::kNoFlowTimes;
    } else {
      r.start_ns = start_ok ? start_ns : end_ns;
      r.end_ns = end_ok ? end_ns : start_ns;
    }
    ++records;
    if (per_record_sampling) {
      const uint32_t direct = direct_rate(s);
      if (direct != 0) {
        const SamplerRate rate{direct, algorithm_of(s)};
        set_rate(r, &rate, stats);
      } else {
        set_rate(r, lookup_rate(state, info.domain, s.has_sampler_id, s.sampler_id), stats);
      }
    }
    if (!generic) continue;
    if (s.has_sampler_id) r.sampler_id = static_cast<uint16_t>(s.sampler_id);
    if (config.emit_biflow_reverse && (s.rev_bytes != 0 || s.rev_packets != 0)) {
      const FlowRecord fwd = r;  // `r` may move when the batch grows
      emit_reverse(fwd, s, stats, out);
    }
  }
  stats.records += records;
  if (rate_unknown) stats.sampling_unknown += records;
  // What is left is padding (RFC 7011 §3.3.1: shorter than the smallest record).
  return DecodeStatus::kOk;
}

/// Decodes the records of one data set whose template is known.
DecodeStatus run_data_set(const Template& t, std::span<const std::byte> body,
                          const MessageInfo& info, uint16_t extra_flags, const Config& config,
                          ExporterState& exporter, flow::FlowBatch& out) {
  TemplateState& state = *exporter.templates;
  ExporterStats& stats = exporter.stats;
  TimeBase tb;
  tb.protocol = info.protocol;
  tb.export_ms = int64_t{info.export_secs} * 1000;
  tb.sys_uptime_ms = info.sys_uptime_ms;
  if (auto dom = state.domains.find(info.domain); dom != state.domains.end()) {
    tb.has_system_init = dom->second.has_system_init;
    tb.system_init_ms = dom->second.system_init_ms;
  }
  const int64_t export_ns = tb.export_ms * kNsPerMs;
  const auto source = info.protocol == WireProtocol::kNetflowV9 ? flow::SourceProtocol::kNetflowV9
                                                                : flow::SourceProtocol::kIpfix;
  // Resolve the sampling rate once per set unless records name their own sampler.
  const SamplerRate* set_rate_ptr =
      t.per_record_sampling ? nullptr : lookup_rate(state, info.domain, false, 0);
  if (t.fast) {
    FlowRecord proto;
    proto.arrival_ns = info.arrival_ns;
    proto.exporter = exporter.address;
    proto.exporter_port = info.exporter_port;
    proto.observation_domain = info.domain;
    proto.source = source;
    proto.flags = extra_flags;
    // Records that name their own sampler get their rate one by one; the others share the
    // set's, copied with the prototype (an unknown rate is counted per record by run_fast_set).
    if (!t.per_record_sampling) {
      ExporterStats uncounted;
      set_rate(proto, set_rate_ptr, uncounted);
    }
    return run_fast_set(t, body, info, tb, proto, !t.per_record_sampling && set_rate_ptr == nullptr,
                        config, exporter, out);
  }

  DecodeStatus status = DecodeStatus::kOk;
  size_t pos = 0;
  while (body.size() - pos >= t.min_record_len) {
    const std::span<const std::byte> rest = body.subspan(pos);
    Scratch s;
    if (t.is_options) {
      FlowRecord scratch_record;
      const size_t used = run_program(t, rest, scratch_record, s, tb);
      if (used == 0) {
        if (!all_zero(rest)) status = DecodeStatus::kBadFieldLength;
        break;
      }
      pos += used;
      if (absorb_options(state, info.domain, s)) {
        note_domain_change(state, info.domain, exporter.stats.last_seen_ns);
      }
      // Clock base may have changed for the following records of this message.
      if (s.has_system_init) {
        tb.has_system_init = true;
        tb.system_init_ms = s.system_init_ms;
      }
      continue;
    }
    FlowRecord& r = out.add();
    const size_t used = run_program(t, rest, r, s, tb);
    if (used == 0) {
      out.pop_back();
      if (!all_zero(rest)) status = DecodeStatus::kBadFieldLength;
      break;
    }
    pos += used;
    r.arrival_ns = info.arrival_ns;
    r.exporter = exporter.address;
    r.exporter_port = info.exporter_port;
    r.observation_domain = info.domain;
    r.source = source;
    r.flags |= extra_flags;
    if (s.bad_time) {
      stats.count(DecodeStatus::kBadTimestamp);
      s.has_start = s.has_end = false;
    } else if (s.uptime_unresolved) {
      s.has_start = s.has_end = false;  // IPFIX uptimes before the domain's IE 160 is known
    }
    if (!s.has_start && !s.has_end) {
      r.start_ns = r.end_ns = export_ns;
      r.flags |= flow::record_flags::kNoFlowTimes;
    } else {
      r.start_ns = s.has_start ? s.start_ns : s.end_ns;
      r.end_ns = s.has_end ? s.end_ns : s.start_ns;
    }
    if (t.per_record_sampling) {
      const uint32_t direct = direct_rate(s);
      if (direct != 0) {
        const SamplerRate rate{direct, algorithm_of(s)};
        set_rate(r, &rate, stats);
      } else {
        set_rate(r, lookup_rate(state, info.domain, s.has_sampler_id, s.sampler_id), stats);
      }
    } else {
      set_rate(r, set_rate_ptr, stats);
    }
    if (s.has_sampler_id) r.sampler_id = static_cast<uint16_t>(s.sampler_id);
    ++stats.records;
    if (config.emit_biflow_reverse && (s.rev_bytes != 0 || s.rev_packets != 0)) {
      const FlowRecord fwd = r;  // `r` may move when the batch grows
      emit_reverse(fwd, s, stats, out);
    }
  }
  // What is left is padding (RFC 7011 §3.3.1: shorter than the smallest record), unless a
  // variable-length field overran.
  if (status != DecodeStatus::kOk) stats.count(status);
  return status;
}

}  // namespace

bool all_zero(std::span<const std::byte> bytes) noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

TemplateState& template_state(ExporterState& exporter) {
  if (!exporter.templates) exporter.templates = std::make_unique<TemplateState>();
  return *exporter.templates;
}

DecodeStatus learn_template(Template&& t, const Config& config, ExporterState& exporter) {
  ExporterStats& stats = exporter.stats;
  const DecodeStatus compiled = compile_template(t);
  if (compiled != DecodeStatus::kOk) {
    stats.count(compiled);
    return compiled;
  }
  TemplateState& state = template_state(exporter);
  const uint64_t key = t.key();
  const uint32_t t_domain = t.domain;
  uint64_t evicted = 0;
  const auto result = state.cache.put(std::move(t), config.max_templates_per_exporter, evicted);
  for (uint64_t i = 0; i < evicted; ++i) stats.count(DecodeStatus::kTemplateEvicted);
  stats.templates_active = state.cache.size();
  if (result == TemplateCache::PutResult::kRefused) {
    stats.count(DecodeStatus::kTooManyTemplates);
    return DecodeStatus::kTooManyTemplates;
  }
  if (result != TemplateCache::PutResult::kUnchanged) {
    ++stats.templates_added;
    note_domain_change(state, t_domain, stats.last_seen_ns);
  }
  // Parked sets wait for the end of the message: options records later in it (sampling rate,
  // clock base) then apply to them too.
  if (state.pending.size() != 0 && state.ready.size() < TemplateState::kMaxReady) {
    state.ready.push_back(key);
  }
  return DecodeStatus::kOk;
}

bool refresh_template(WireProtocol protocol, uint32_t domain, uint16_t template_id,
                      std::span<const FieldSpec> fields, uint16_t scope_count, bool is_options,
                      ExporterState& exporter) {
  if (!exporter.templates) return false;
  TemplateState& state = *exporter.templates;
  const uint64_t key = template_key(protocol, domain, template_id);
  if (!state.cache.refresh(key, fields, scope_count, is_options)) return false;
  // As learn_template for an unchanged template: parked sets wait for the end of the message.
  if (state.pending.size() != 0 && state.ready.size() < TemplateState::kMaxReady) {
    state.ready.push_back(key);
  }
  return true;
}

void drain_pending(const Config& config, ExporterState& exporter, flow::FlowBatch& out) {
  if (!exporter.templates || exporter.templates->ready.empty()) return;
  TemplateState& state = *exporter.templates;
  // Options sets first, so their rates and clock bases apply to the data sets after them.
  std::stable_partition(state.ready.begin(), state.ready.end(), [&state](uint64_t key) {
    const Template* t = state.cache.peek(key);
    return t != nullptr && t->is_options;
  });
  std::vector<PendingSet> taken;
  for (const uint64_t key : state.ready) state.pending.take(key, taken);
  state.ready.clear();
  for (const PendingSet& set : taken) {
    const Template* tmpl = state.cache.peek(set.key);
    if (tmpl == nullptr) continue;  // withdrawn later in the same message: dropped
    run_data_set(*tmpl, set.body, set.info, flow::record_flags::kDecodedLate, config, exporter,
                 out);
    ++exporter.stats.pending_decoded;
  }
}

size_t withdraw_templates(ExporterState& exporter, WireProtocol protocol, uint32_t domain,
                          uint16_t template_id, bool all_data, bool all_options) noexcept {
  if (!exporter.templates) return 0;
  TemplateCache& cache = exporter.templates->cache;
  size_t n = 0;
  if (all_data) n += cache.erase_domain(protocol, domain, false);
  if (all_options) n += cache.erase_domain(protocol, domain, true);
  if (!all_data && !all_options) n += cache.erase(template_key(protocol, domain, template_id));
  exporter.stats.templates_withdrawn += n;
  exporter.stats.templates_active = cache.size();
  if (n > 0) note_domain_change(*exporter.templates, domain, exporter.stats.last_seen_ns);
  return n;
}

DecodeStatus decode_data_set(uint16_t set_id, std::span<const std::byte> body,
                             const MessageInfo& info, const Config& config, ExporterState& exporter,
                             flow::FlowBatch& out) {
  TemplateState& state = template_state(exporter);
  const uint64_t key = template_key(info.protocol, info.domain, set_id);
  if (const Template* t = state.cache.find(key)) {
    return run_data_set(*t, body, info, 0, config, exporter, out);
  }
  exporter.stats.count(DecodeStatus::kUnknownTemplate);
  if (!state.pending.park(key, info, body, config.max_pending_bytes_per_exporter)) {
    exporter.stats.count(DecodeStatus::kPendingOverflow);
    return DecodeStatus::kPendingOverflow;
  }
  ++exporter.stats.pending_parked;
  return DecodeStatus::kUnknownTemplate;
}

}  // namespace fathom::decode::detail
