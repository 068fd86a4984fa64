#include "store/detail/batch_codec.h"

#include <bit>
#include <cstring>

namespace fathom::store::detail {
namespace {

constexpr std::string_view kMagic = "FSB";

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u8(uint8_t v) { out_ += static_cast<char>(v); }
  void u32(uint32_t v) {
    for (int shift = 0; shift < 32; shift += 8) out_ += static_cast<char>((v >> shift) & 0xff);
  }
  void u64(uint64_t v) {
    for (int shift = 0; shift < 64; shift += 8) out_ += static_cast<char>((v >> shift) & 0xff);
  }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f64(double v) { u64(std::bit_cast<uint64_t>(v)); }
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void estimate(const Estimate& e) {
    f64(e.value);
    f64(e.ci_low);
    f64(e.ci_high);
  }

 private:
  std::string& out_;
};

/// Bounds-checked: every read checks what remains first; a short read sets `ok_` false and
/// returns zeros from then on.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const noexcept { return ok_; }
  bool at_end() const noexcept { return in_.empty(); }
  uint8_t u8() { return static_cast<uint8_t>(fixed(1)); }
  uint32_t u32() { return static_cast<uint32_t>(fixed(4)); }
  uint64_t u64() { return fixed(8); }
  int64_t i64() { return static_cast<int64_t>(fixed(8)); }
  double f64() { return std::bit_cast<double>(fixed(8)); }
  std::string str() {
    const uint32_t len = u32();
    if (!ok_ || len > in_.size()) {
      ok_ = false;
      return {};
    }
    std::string s(in_.substr(0, len));
    in_.remove_prefix(len);
    return s;
  }
  Estimate estimate() {
    Estimate e;
    e.value = f64();
    e.ci_low = f64();
    e.ci_high = f64();
    return e;
  }
  /// A record count, capped by the bytes left (each record takes at least `min_bytes`), so a
  /// corrupt count cannot reserve gigabytes.
  uint32_t count(size_t min_bytes) {
    const uint32_t n = u32();
    if (!ok_ || static_cast<uint64_t>(n) * min_bytes > in_.size()) {
      ok_ = false;
      return 0;
    }
    return n;
  }

 private:
  uint64_t fixed(size_t bytes) {
    if (!ok_ || in_.size() < bytes) {
      ok_ = false;
      return 0;
    }
    uint64_t v = 0;
    for (size_t idx = 0; idx < bytes; ++idx) {
      v |= uint64_t{static_cast<uint8_t>(in_[idx])} << (8 * idx);
    }
    in_.remove_prefix(bytes);
    return v;
  }

  std::string_view in_;
  bool ok_ = true;
};

}  // namespace

std::string encode_batch(const WriteBatch& batch) {
  std::string out;
  Writer w(out);
  out.append(kMagic);
  w.u8(kBatchFormatVersion);
  w.u32(static_cast<uint32_t>(batch.incidents.size()));
  for (const IncidentRecord& r : batch.incidents) {
    w.str(r.id);
    w.u32(r.version);
    w.str(r.event);
    w.u32(r.tenant_id);
    w.str(r.detection);
    w.str(r.detail);
    w.str(r.subject);
    w.str(r.state);
    w.f64(r.severity);
    w.f64(r.peak_severity);
    w.i64(r.start_ns);
    w.i64(r.last_seen_ns);
    w.i64(r.end_ns);
    w.i64(r.detected_ns);
    w.u64(r.detections);
    w.str(r.summary);
    w.str(r.json);
  }
  w.u32(static_cast<uint32_t>(batch.rollups.size()));
  for (const Rollup& r : batch.rollups) {
    w.u32(r.tenant_id);
    w.i64(r.minute_ns);
    w.estimate(r.packets);
    w.estimate(r.bytes);
    w.estimate(r.flows);
    w.str(r.detail_json);
  }
  w.u32(static_cast<uint32_t>(batch.tenants.size()));
  for (const TenantRecord& t : batch.tenants) {
    w.u32(t.tenant_id);
    w.str(t.name);
    w.i64(t.first_seen_ns);
    w.i64(t.last_seen_ns);
  }
  w.u32(static_cast<uint32_t>(batch.exporters.size()));
  for (const ExporterRecord& e : batch.exporters) {
    w.str(e.address);
    w.u32(e.tenant_id);
    w.str(e.protocol);
    w.i64(e.first_seen_ns);
    w.i64(e.last_seen_ns);
    w.u64(e.packets);
    w.u64(e.records);
    w.u64(e.malformed);
  }
  w.u32(static_cast<uint32_t>(batch.state.size()));
  for (const StateEntry& s : batch.state) {
    w.u32(s.tenant_id);
    w.str(s.key);
    w.str(s.value);
    w.i64(s.updated_ns);
  }
  w.u32(static_cast<uint32_t>(batch.flows.size()));
  for (const SampledFlow& f : batch.flows) {
    w.u32(f.tenant_id);
    w.str(f.subject);
    w.i64(f.time_ns);
    w.str(f.json);
  }
  return out;
}

bool decode_batch(std::string_view record, WriteBatch& out) {
  out = {};
  if (!record.starts_with(kMagic)) return false;
  Reader r(record.substr(kMagic.size()));
  // Version 1 (before sampled flows) still decodes: a spool written by the previous release
  // replays after an upgrade.
  const uint8_t version = r.u8();
  if (version != kBatchFormatVersion && version != 1) return false;
  // Minimum encoded sizes: a record's fixed-width fields plus 4 bytes per string length.
  for (uint32_t n = r.count(8 * 4 + 2 * 4 + 7 * 8), idx = 0; idx < n && r.ok(); ++idx) {
    IncidentRecord x;
    x.id = r.str();
    x.version = r.u32();
    x.event = r.str();
    x.tenant_id = r.u32();
    x.detection = r.str();
    x.detail = r.str();
    x.subject = r.str();
    x.state = r.str();
    x.severity = r.f64();
    x.peak_severity = r.f64();
    x.start_ns = r.i64();
    x.last_seen_ns = r.i64();
    x.end_ns = r.i64();
    x.detected_ns = r.i64();
    x.detections = r.u64();
    x.summary = r.str();
    x.json = r.str();
    out.incidents.push_back(std::move(x));
  }
  for (uint32_t n = r.count(4 + 8 + 9 * 8 + 4), idx = 0; idx < n && r.ok(); ++idx) {
    Rollup x;
    x.tenant_id = r.u32();
    x.minute_ns = r.i64();
    x.packets = r.estimate();
    x.bytes = r.estimate();
    x.flows = r.estimate();
    x.detail_json = r.str();
    out.rollups.push_back(std::move(x));
  }
  for (uint32_t n = r.count(4 + 4 + 16), idx = 0; idx < n && r.ok(); ++idx) {
    TenantRecord x;
    x.tenant_id = r.u32();
    x.name = r.str();
    x.first_seen_ns = r.i64();
    x.last_seen_ns = r.i64();
    out.tenants.push_back(std::move(x));
  }
  for (uint32_t n = r.count(4 + 4 + 4 + 5 * 8), idx = 0; idx < n && r.ok(); ++idx) {
    ExporterRecord x;
    x.address = r.str();
    x.tenant_id = r.u32();
    x.protocol = r.str();
    x.first_seen_ns = r.i64();
    x.last_seen_ns = r.i64();
    x.packets = r.u64();
    x.records = r.u64();
    x.malformed = r.u64();
    out.exporters.push_back(std::move(x));
  }
  for (uint32_t n = r.count(4 + 4 + 4 + 8), idx = 0; idx < n && r.ok(); ++idx) {
    StateEntry x;
    x.tenant_id = r.u32();
    x.key = r.str();
    x.value = r.str();
    x.updated_ns = r.i64();
    out.state.push_back(std::move(x));
  }
  if (version >= 2) {
    for (uint32_t n = r.count(4 + 4 + 8 + 4), idx = 0; idx < n && r.ok(); ++idx) {
      SampledFlow x;
      x.tenant_id = r.u32();
      x.subject = r.str();
      x.time_ns = r.i64();
      x.json = r.str();
      out.flows.push_back(std::move(x));
    }
  }
  return r.ok() && r.at_end();
}

}  // namespace fathom::store::detail
