#include "alert/syslog_format.h"

#include <cmath>
#include <cstdio>
#include <ctime>

namespace fathom::alert {
namespace {

void add_extension(std::string_view key, std::string_view value, std::string& out) {
  if (value.empty()) return;
  if (out.back() != '|') out += ' ';
  out += key;
  out += '=';
  out += cef_escape_extension(value);
}

std::string millis(int64_t ns) {
  return std::to_string(ns / 1'000'000);
}

std::string printable_ascii(std::string_view text, size_t max_len) {
  if (text.empty()) return "-";
  std::string out;
  for (const char c : text.substr(0, max_len)) {
    // RFC 5424 §6: header fields are PRINTUSASCII (33..126).
    out += (c >= 33 && c <= 126) ? c : '_';
  }
  return out;
}

}  // namespace

std::string cef_escape_header(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\' || c == '|') {
      out += '\\';
      out += c;
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string cef_escape_extension(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '=': out += "\\="; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
  return out;
}

int cef_severity(double severity) noexcept {
  if (!(severity > 0.0)) return 0;
  const double scaled = std::round(severity / 10.0);
  return scaled >= 10.0 ? 10 : static_cast<int>(scaled);
}

std::string format_cef(const Alert& alert, std::string_view version) {
  std::string out = "CEF:0|Fathom|Fathom|";
  out += cef_escape_header(version);
  out += '|';
  out += cef_escape_header(alert.detection);
  out += '|';
  out += cef_escape_header(alert.summary.empty() ? alert.detection : alert.summary);
  out += '|';
  out += std::to_string(cef_severity(alert.severity));
  out += '|';
  add_extension("rt", millis(alert.created_ns), out);
  add_extension("cat", to_string(alert.kind), out);
  add_extension("externalId", alert.incident_id, out);
  add_extension("cs1Label", "tenant", out);
  add_extension("cs1", std::to_string(alert.tenant_id), out);
  if (!alert.subject.empty()) {
    add_extension("cs2Label", "subject", out);
    add_extension("cs2", alert.subject, out);
  }
  add_extension("cs3Label", "level", out);
  add_extension("cs3", detect::to_string(alert.level), out);
  if (!alert.detail.empty()) {
    add_extension("cs4Label", "detail", out);
    add_extension("cs4", alert.detail, out);
  }
  add_extension("cn1Label", "severity", out);
  add_extension("cn1",
                std::to_string(static_cast<int64_t>(
                    std::lround(std::isfinite(alert.severity) ? alert.severity : 0.0))),
                out);
  if (alert.start_ns != 0) add_extension("start", millis(alert.start_ns), out);
  if (alert.end_ns != 0) add_extension("end", millis(alert.end_ns), out);
  if (alert.kind == AlertKind::kSuppressed) {
    add_extension("cnt", std::to_string(alert.suppressed), out);
  }
  add_extension("msg", alert.summary, out);
  return out;
}

std::string sd_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

std::string rfc3339_utc(int64_t unix_ns) {
  int64_t sec = unix_ns / 1'000'000'000;
  int64_t rem = unix_ns % 1'000'000'000;
  if (rem < 0) {
    rem += 1'000'000'000;
    --sec;
  }
  const time_t t = static_cast<time_t>(sec);
  tm parts{};
  gmtime_r(&t, &parts);
  char buf[48];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &parts);
  std::string out(buf, n);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06dZ", static_cast<int>(rem / 1000));
  out += frac;
  return out;
}

uint8_t syslog_severity(detect::SeverityLevel level) noexcept {
  switch (level) {
    case detect::SeverityLevel::kCritical: return 2;
    case detect::SeverityLevel::kHigh: return 3;
    case detect::SeverityLevel::kMedium: return 4;
    case detect::SeverityLevel::kLow: return 5;
  }
  return 5;
}

std::string format_rfc5424(const Alert& alert, const SyslogHeader& header,
                           std::string_view version) {
  // RFC 5424 §6.2.1: PRI = facility × 8 + severity.
  const unsigned pri = unsigned{header.facility} * 8 + syslog_severity(alert.level);
  std::string out = "<" + std::to_string(pri) + ">1 ";
  out += rfc3339_utc(alert.created_ns);
  out += ' ';
  out += printable_ascii(header.hostname, 255);
  out += " fathom ";
  out += header.procid == 0 ? "-" : std::to_string(header.procid);
  out += ' ';
  out += to_string(alert.kind);  // MSGID
  out += " [fathom@32473 kind=\"";
  out += sd_escape(to_string(alert.kind));
  out += '"';
  if (!alert.incident_id.empty()) {
    out += " incident=\"";
    out += sd_escape(alert.incident_id);
    out += '"';
  }
  out += " tenant=\"" + std::to_string(alert.tenant_id) + "\" level=\"";
  out += sd_escape(detect::to_string(alert.level));
  out += "\"] ";
  out += format_cef(alert, version);
  return out;
}

std::string octet_counted(std::string_view message) {
  std::string out = std::to_string(message.size());
  out += ' ';
  out += message;
  return out;
}

}  // namespace fathom::alert
