#include "bus/wire_format.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <type_traits>

namespace fathom::bus::wire {
namespace {

static_assert(std::endian::native == std::endian::little ||
              std::endian::native == std::endian::big);
// Tripwires: a field added to FlowRecord or InterfaceCounters changes their size. Encode it,
// bump kVersion and keep decoding the old one (docs/wire-format.md "Versioning").
static_assert(sizeof(flow::FlowRecord) == 192, "FlowRecord changed: update the wire format");
static_assert(sizeof(flow::InterfaceCounters) == 152,
              "InterfaceCounters changed: update the wire format");

template <typename T>
T to_little(T v) noexcept {
  if constexpr (std::endian::native == std::endian::big && sizeof(T) > 1) {
    using U = std::make_unsigned_t<T>;
    U u = static_cast<U>(v);
    if constexpr (sizeof(T) == 2) u = __builtin_bswap16(u);
    if constexpr (sizeof(T) == 4) u = __builtin_bswap32(u);
    if constexpr (sizeof(T) == 8) u = __builtin_bswap64(u);
    return static_cast<T>(u);
  } else {
    return v;
  }
}

/// Sequential little-endian writer over memory the caller sized; no checks (the sizes are
/// constants of the version).
struct Writer {
  std::byte* p;
  template <typename T>
  void put(T v) noexcept {
    static_assert(std::is_integral_v<T>);
    const T le = to_little(v);
    std::memcpy(p, &le, sizeof le);
    p += sizeof le;
  }
  void put_f64(double v) noexcept { put(std::bit_cast<uint64_t>(v)); }
  void put_raw(const void* src, size_t n) noexcept {
    std::memcpy(p, src, n);
    p += n;
  }
  void put_addr(const flow::IpAddress& a) noexcept { put_raw(a.bytes.data(), a.bytes.size()); }
};

/// Sequential little-endian reader over memory whose length decode_header already checked
/// against the counts, so each fixed-size field read is in bounds by construction.
struct Reader {
  const std::byte* p;
  template <typename T>
  T get() noexcept {
    static_assert(std::is_integral_v<T>);
    T v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return to_little(v);
  }
  double get_f64() noexcept { return std::bit_cast<double>(get<uint64_t>()); }
  void get_raw(void* dst, size_t n) noexcept {
    std::memcpy(dst, p, n);
    p += n;
  }
  void get_addr(flow::IpAddress& a) noexcept { get_raw(a.bytes.data(), a.bytes.size()); }
};

// v1 header offsets (docs/wire-format.md "Header").
constexpr size_t kOffVersion = 4;

/// Decodes one v1 record; false when a field is out of its domain.
bool decode_record_v1(Reader& in, flow::FlowRecord& r) noexcept {
  r.arrival_ns = in.get<int64_t>();
  r.start_ns = in.get<int64_t>();
  r.end_ns = in.get<int64_t>();
  r.bytes = in.get<uint64_t>();
  r.packets = in.get<uint64_t>();
  r.sampling_rate = in.get_f64();
  in.get_addr(r.exporter);
  in.get_addr(r.src);
  in.get_addr(r.dst);
  in.get_addr(r.next_hop);
  r.observation_domain = in.get<uint32_t>();
  r.device_sampling_rate = in.get<uint32_t>();
  r.tenant_id = in.get<uint32_t>();
  r.input_if = in.get<uint32_t>();
  r.output_if = in.get<uint32_t>();
  r.src_as = in.get<uint32_t>();
  r.dst_as = in.get<uint32_t>();
  r.intel_flags = in.get<uint32_t>();
  r.src_intel = in.get<uint16_t>();
  r.dst_intel = in.get<uint16_t>();
  r.exporter_port = in.get<uint16_t>();
  r.src_port = in.get<uint16_t>();
  r.dst_port = in.get<uint16_t>();
  r.tcp_flags = in.get<uint16_t>();
  r.vlan = in.get<uint16_t>();
  r.flags = in.get<uint16_t>();
  r.sampler_id = in.get<uint16_t>();
  r.ip_protocol = in.get<uint8_t>();
  r.tos = in.get<uint8_t>();
  r.icmp_type = in.get<uint8_t>();
  r.icmp_code = in.get<uint8_t>();
  r.src_mask = in.get<uint8_t>();
  r.dst_mask = in.get<uint8_t>();
  r.exporter_direction = in.get<uint8_t>();
  r.forwarding_status = in.get<uint8_t>();
  r.end_reason = in.get<uint8_t>();
  const uint8_t source = in.get<uint8_t>();
  const uint8_t algorithm = in.get<uint8_t>();
  const uint8_t direction = in.get<uint8_t>();
  r.src_reputation = in.get<uint8_t>();
  r.dst_reputation = in.get<uint8_t>();
  in.get_raw(r.src_mac.data(), r.src_mac.size());
  in.get_raw(r.dst_mac.data(), r.dst_mac.size());
  in.get_raw(r.src_country.data(), r.src_country.size());
  in.get_raw(r.dst_country.data(), r.dst_country.size());
  // Enums are checked so no stage downstream ever holds a value outside its enumerators, and
  // the rate is checked because every Horvitz–Thompson sum multiplies by it.
  r.source = static_cast<flow::SourceProtocol>(source);
  r.sampling_algorithm = static_cast<flow::SamplingAlgorithm>(algorithm);
  r.direction = static_cast<flow::Direction>(direction);
  return source <= static_cast<uint8_t>(flow::SourceProtocol::kVpcFlowLog) &&
         algorithm <= static_cast<uint8_t>(flow::SamplingAlgorithm::kRandom) &&
         direction <= static_cast<uint8_t>(flow::Direction::kTransit) &&
         std::isfinite(r.sampling_rate) && r.sampling_rate > 0.0;
}

void decode_counters_v1(Reader& in, flow::InterfaceCounters& c) noexcept {
  c.arrival_ns = in.get<int64_t>();
  in.get_addr(c.exporter);
  in.get_addr(c.agent);
  c.sub_agent = in.get<uint32_t>();
  c.sequence = in.get<uint32_t>();
  c.source_id = in.get<uint32_t>();
  c.if_index = in.get<uint32_t>();
  c.if_type = in.get<uint32_t>();
  c.if_speed = in.get<uint64_t>();
  c.if_direction = in.get<uint32_t>();
  c.if_status = in.get<uint32_t>();
  c.in_octets = in.get<uint64_t>();
  c.in_ucast_pkts = in.get<uint32_t>();
  c.in_multicast_pkts = in.get<uint32_t>();
  c.in_broadcast_pkts = in.get<uint32_t>();
  c.in_discards = in.get<uint32_t>();
  c.in_errors = in.get<uint32_t>();
  c.in_unknown_protos = in.get<uint32_t>();
  c.out_octets = in.get<uint64_t>();
  c.out_ucast_pkts = in.get<uint32_t>();
  c.out_multicast_pkts = in.get<uint32_t>();
  c.out_broadcast_pkts = in.get<uint32_t>();
  c.out_discards = in.get<uint32_t>();
  c.out_errors = in.get<uint32_t>();
  c.promiscuous_mode = in.get<uint32_t>();
  c.tenant_id = in.get<uint32_t>();
}

}  // namespace

std::string_view to_string(WireStatus status) noexcept {
  switch (status) {
    case WireStatus::kOk: return "ok";
    case WireStatus::kTruncated: return "truncated";
    case WireStatus::kBadMagic: return "bad_magic";
    case WireStatus::kNewerVersion: return "newer_version";
    case WireStatus::kBadVersion: return "bad_version";
    case WireStatus::kBadHeader: return "bad_header";
    case WireStatus::kTooManyRecords: return "too_many_records";
    case WireStatus::kTrailingBytes: return "trailing_bytes";
    case WireStatus::kBadField: return "bad_field";
  }
  return "unknown";
}

void encode_header(const BatchHeader& header, std::byte* out) noexcept {
  Writer w{out};
  w.put_raw(kMagic, sizeof kMagic);
  w.put(header.version);
  w.put(header.flags);
  w.put(static_cast<uint16_t>(kHeaderBytes));
  w.put(static_cast<uint16_t>(kRecordBytes));
  w.put(static_cast<uint16_t>(kCounterBytes));
  w.put(uint16_t{0});  // reserved
  w.put(header.tenant_id);
  w.put(header.record_count);
  w.put(header.counter_count);
  w.put(uint32_t{0});  // reserved
  w.put(header.encoded_ns);
}

void encode_record(const flow::FlowRecord& r, std::byte* out) noexcept {
  Writer w{out};
  w.put(r.arrival_ns);
  w.put(r.start_ns);
  w.put(r.end_ns);
  w.put(r.bytes);
  w.put(r.packets);
  w.put_f64(r.sampling_rate);
  w.put_addr(r.exporter);
  w.put_addr(r.src);
  w.put_addr(r.dst);
  w.put_addr(r.next_hop);
  w.put(r.observation_domain);
  w.put(r.device_sampling_rate);
  w.put(r.tenant_id);
  w.put(r.input_if);
  w.put(r.output_if);
  w.put(r.src_as);
  w.put(r.dst_as);
  w.put(r.intel_flags);
  w.put(r.src_intel);
  w.put(r.dst_intel);
  w.put(r.exporter_port);
  w.put(r.src_port);
  w.put(r.dst_port);
  w.put(r.tcp_flags);
  w.put(r.vlan);
  w.put(r.flags);
  w.put(r.sampler_id);
  w.put(r.ip_protocol);
  w.put(r.tos);
  w.put(r.icmp_type);
  w.put(r.icmp_code);
  w.put(r.src_mask);
  w.put(r.dst_mask);
  w.put(r.exporter_direction);
  w.put(r.forwarding_status);
  w.put(r.end_reason);
  w.put(static_cast<uint8_t>(r.source));
  w.put(static_cast<uint8_t>(r.sampling_algorithm));
  w.put(static_cast<uint8_t>(r.direction));
  w.put(r.src_reputation);
  w.put(r.dst_reputation);
  w.put_raw(r.src_mac.data(), r.src_mac.size());
  w.put_raw(r.dst_mac.data(), r.dst_mac.size());
  w.put_raw(r.src_country.data(), r.src_country.size());
  w.put_raw(r.dst_country.data(), r.dst_country.size());
}

void encode_counters(const flow::InterfaceCounters& c, std::byte* out) noexcept {
  Writer w{out};
  w.put(c.arrival_ns);
  w.put_addr(c.exporter);
  w.put_addr(c.agent);
  w.put(c.sub_agent);
  w.put(c.sequence);
  w.put(c.source_id);
  w.put(c.if_index);
  w.put(c.if_type);
  w.put(c.if_speed);
  w.put(c.if_direction);
  w.put(c.if_status);
  w.put(c.in_octets);
  w.put(c.in_ucast_pkts);
  w.put(c.in_multicast_pkts);
  w.put(c.in_broadcast_pkts);
  w.put(c.in_discards);
  w.put(c.in_errors);
  w.put(c.in_unknown_protos);
  w.put(c.out_octets);
  w.put(c.out_ucast_pkts);
  w.put(c.out_multicast_pkts);
  w.put(c.out_broadcast_pkts);
  w.put(c.out_discards);
  w.put(c.out_errors);
  w.put(c.promiscuous_mode);
  w.put(c.tenant_id);
}

void encode(BatchHeader header, std::span<const flow::FlowRecord> records,
            std::span<const flow::InterfaceCounters> counters, std::span<std::byte> out) noexcept {
  header.record_count = static_cast<uint32_t>(records.size());
  header.counter_count = static_cast<uint32_t>(counters.size());
  std::byte* p = out.data();
  encode_header(header, p);
  p += kHeaderBytes;
  for (const flow::FlowRecord& r : records) {
    encode_record(r, p);
    p += kRecordBytes;
  }
  for (const flow::InterfaceCounters& c : counters) {
    encode_counters(c, p);
    p += kCounterBytes;
  }
}

WireStatus decode_header(std::span<const std::byte> message, BatchHeader& header) noexcept {
  // Magic and version first, so a newer writer's message (whose header may be longer) is
  // reported as such rather than as truncated or malformed.
  if (message.size() < kOffVersion + 2) {
    return message.size() >= 4 && std::memcmp(message.data(), kMagic, 4) != 0
               ? WireStatus::kBadMagic
               : WireStatus::kTruncated;
  }
  if (std::memcmp(message.data(), kMagic, sizeof kMagic) != 0) return WireStatus::kBadMagic;
  Reader in{message.data() + kOffVersion};
  header.version = in.get<uint16_t>();
  if (header.version == 0) return WireStatus::kBadVersion;
  if (header.version > kVersion) return WireStatus::kNewerVersion;
  if (message.size() < kHeaderBytes) return WireStatus::kTruncated;
  header.flags = in.get<uint16_t>();
  const uint16_t header_bytes = in.get<uint16_t>();
  const uint16_t record_bytes = in.get<uint16_t>();
  const uint16_t counter_bytes = in.get<uint16_t>();
  const uint16_t reserved16 = in.get<uint16_t>();
  header.tenant_id = in.get<uint32_t>();
  header.record_count = in.get<uint32_t>();
  header.counter_count = in.get<uint32_t>();
  const uint32_t reserved32 = in.get<uint32_t>();
  header.encoded_ns = in.get<int64_t>();
  // v1 is the only version so far: its sizes are fixed, and nothing is reserved for later.
  if (header_bytes != kHeaderBytes || record_bytes != kRecordBytes ||
      counter_bytes != kCounterBytes || header.flags != 0 || reserved16 != 0 || reserved32 != 0)
    return WireStatus::kBadHeader;
  if (header.record_count > kMaxRecordsPerMessage || header.counter_count > kMaxCountersPerMessage)
    return WireStatus::kTooManyRecords;
  // Both counts are capped, so this cannot overflow.
  const size_t need = encoded_size(header.record_count, header.counter_count);
  if (message.size() < need) return WireStatus::kTruncated;
  if (message.size() > need) return WireStatus::kTrailingBytes;
  return WireStatus::kOk;
}

WireStatus decode(std::span<const std::byte> message, flow::FlowBatch& out, BatchHeader& header) {
  out.clear();
  if (const WireStatus status = decode_header(message, header); status != WireStatus::kOk)
    return status;
  Reader in{message.data() + kHeaderBytes};
  for (uint32_t record_idx = 0; record_idx < header.record_count; ++record_idx) {
    if (!decode_record_v1(in, out.add())) {
      out.clear();
      return WireStatus::kBadField;
    }
  }
  for (uint32_t counter_idx = 0; counter_idx < header.counter_count; ++counter_idx)
    decode_counters_v1(in, out.add_counters());
  return WireStatus::kOk;
}

}  // namespace fathom::bus::wire
