#include "alert/alert.h"

#include <cstring>

#include "detect/incident_json.h"
#include "flow/json_text.h"

namespace fathom::alert {
namespace {

constexpr uint8_t kRecordVersion = 1;

void put_u64(uint64_t v, std::string& out) {
  for (int byte_idx = 0; byte_idx < 8; ++byte_idx) {
    out += static_cast<char>((v >> (8 * byte_idx)) & 0xff);
  }
}
void put_str(std::string_view s, std::string& out) {
  put_u64(s.size(), out);
  out.append(s);
}

/// Bounds-checked reader over a spool record.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool u8(uint8_t& v) {
    if (data_.empty()) return false;
    v = static_cast<uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }
  bool u64(uint64_t& v) {
    if (data_.size() < 8) return false;
    v = 0;
    for (int byte_idx = 0; byte_idx < 8; ++byte_idx) {
      v |= uint64_t{static_cast<uint8_t>(data_[byte_idx])} << (8 * byte_idx);
    }
    data_.remove_prefix(8);
    return true;
  }
  bool i64(int64_t& v) {
    uint64_t u = 0;
    if (!u64(u)) return false;
    v = static_cast<int64_t>(u);
    return true;
  }
  bool str(std::string& v) {
    uint64_t len = 0;
    if (!u64(len) || len > data_.size()) return false;
    v.assign(data_.substr(0, len));
    data_.remove_prefix(len);
    return true;
  }
  bool done() const noexcept { return data_.empty(); }

 private:
  std::string_view data_;
};

void append_header(const Alert& alert, std::string& out) {
  out += "{\"type\":\"alert\",\"alert\":";
  flow::append_json_string(to_string(alert.kind), out);
  out += ",\"level\":";
  flow::append_json_string(detect::to_string(alert.level), out);
  out += ",\"tenant_id\":" + std::to_string(alert.tenant_id);
  out += ",\"created_ns\":" + std::to_string(alert.created_ns);
}

}  // namespace

std::string_view to_string(AlertKind kind) noexcept {
  switch (kind) {
    case AlertKind::kOpen: return "open";
    case AlertKind::kEscalation: return "escalation";
    case AlertKind::kClose: return "close";
    case AlertKind::kSuppressed: return "suppressed";
  }
  return "unknown";
}

Alert make_alert(AlertKind kind, const detect::IncidentEvent& event, int64_t created_ns) {
  const detect::Incident& inc = event.incident;
  Alert alert;
  alert.kind = kind;
  alert.incident_id = inc.id;
  alert.version = inc.version;
  alert.tenant_id = inc.tenant_id;
  alert.level = detect::severity_level(inc.severity);
  alert.severity = inc.severity;
  alert.detection = std::string(detect::to_string(inc.type));
  alert.detail = inc.detail;
  alert.subject = inc.subject.to_string();
  alert.summary = inc.latest.summary;
  alert.start_ns = inc.start_ns;
  alert.end_ns = inc.end_ns != 0 ? inc.end_ns : inc.last_seen_ns;
  alert.created_ns = created_ns;
  append_header(alert, alert.json);
  alert.json += ",\"incident\":";
  detect::append_incident_json(event, alert.json);
  alert.json += '}';
  return alert;
}

Alert make_suppressed_alert(uint32_t tenant_id, uint64_t count, detect::SeverityLevel level,
                            int64_t created_ns) {
  Alert alert;
  alert.kind = AlertKind::kSuppressed;
  alert.tenant_id = tenant_id;
  alert.level = level;
  alert.detection = "alerts_suppressed";
  alert.summary =
      std::to_string(count) + " alerts suppressed for tenant " + std::to_string(tenant_id);
  alert.created_ns = created_ns;
  alert.end_ns = created_ns;
  alert.suppressed = count;
  append_header(alert, alert.json);
  alert.json += ",\"suppressed\":" + std::to_string(count);
  alert.json += ",\"message\":";
  flow::append_json_string(alert.summary, alert.json);
  alert.json += '}';
  return alert;
}

std::string encode_alert(const Alert& alert) {
  std::string out;
  out.reserve(alert.json.size() + alert.summary.size() + 256);
  out += static_cast<char>(kRecordVersion);
  out += static_cast<char>(alert.kind);
  out += static_cast<char>(alert.level);
  put_str(alert.incident_id, out);
  put_u64(alert.version, out);
  put_u64(alert.tenant_id, out);
  uint64_t severity_bits = 0;
  std::memcpy(&severity_bits, &alert.severity, sizeof severity_bits);
  put_u64(severity_bits, out);
  put_str(alert.detection, out);
  put_str(alert.detail, out);
  put_str(alert.subject, out);
  put_str(alert.summary, out);
  put_u64(static_cast<uint64_t>(alert.start_ns), out);
  put_u64(static_cast<uint64_t>(alert.end_ns), out);
  put_u64(static_cast<uint64_t>(alert.created_ns), out);
  put_u64(alert.suppressed, out);
  put_str(alert.json, out);
  return out;
}

bool decode_alert(std::string_view record, Alert& out) {
  Reader in(record);
  uint8_t version = 0;
  uint8_t kind = 0;
  uint8_t level = 0;
  if (!in.u8(version) || version != kRecordVersion) return false;
  if (!in.u8(kind) || kind > static_cast<uint8_t>(AlertKind::kSuppressed)) return false;
  if (!in.u8(level) || level > static_cast<uint8_t>(detect::SeverityLevel::kCritical)) {
    return false;
  }
  Alert alert;
  alert.kind = static_cast<AlertKind>(kind);
  alert.level = static_cast<detect::SeverityLevel>(level);
  uint64_t version_field = 0;
  uint64_t tenant = 0;
  uint64_t severity_bits = 0;
  if (!in.str(alert.incident_id) || !in.u64(version_field) || !in.u64(tenant) ||
      !in.u64(severity_bits) || !in.str(alert.detection) || !in.str(alert.detail) ||
      !in.str(alert.subject) || !in.str(alert.summary) || !in.i64(alert.start_ns) ||
      !in.i64(alert.end_ns) || !in.i64(alert.created_ns) || !in.u64(alert.suppressed) ||
      !in.str(alert.json) || !in.done()) {
    return false;
  }
  if (version_field > UINT32_MAX || tenant > UINT32_MAX) return false;
  alert.version = static_cast<uint32_t>(version_field);
  alert.tenant_id = static_cast<uint32_t>(tenant);
  std::memcpy(&alert.severity, &severity_bits, sizeof severity_bits);
  out = std::move(alert);
  return true;
}

}  // namespace fathom::alert
