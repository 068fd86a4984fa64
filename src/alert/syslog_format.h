#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "alert/alert.h"

namespace fathom::alert {

/// Escapes a CEF header field (CEF spec "Header information"): `\` → `\\`, `|` → `\|`; CR and
/// LF, not allowed in the header, become spaces.
std::string cef_escape_header(std::string_view text);
/// Escapes a CEF extension value: `\` → `\\`, `=` → `\=`, LF → `\n`, CR → `\r` (a CRLF pair
/// becomes `\r\n`); pipes are legal in extensions and left alone.
std::string cef_escape_extension(std::string_view text);
/// CEF severity 0..10 of a 0..100 severity (rounded; NaN is 0).
int cef_severity(double severity) noexcept;

/// `CEF:0|Fathom|Fathom|<version>|<detection>|<name>|<severity>|<extensions>` for `alert`:
/// the name is its summary (the detection type when empty); the extensions are rt, cat (alert
/// kind), externalId (incident id), cs1 tenant, cs2 subject, cs3 level, cs4 detail, cn1
/// severity, start, end, msg (summary), and cnt for a suppression summary.
std::string format_cef(const Alert& alert, std::string_view version);

/// Escapes an RFC 5424 §6.3.3 PARAM-VALUE: `"`, `\` and `]` get a backslash.
std::string sd_escape(std::string_view text);
/// RFC 3339 UTC timestamp with microseconds ("2026-12-07T01:25:17.123456Z").
std::string rfc3339_utc(int64_t unix_ns);
/// RFC 5424 §6.2.1 severity of an alert level: critical 2, high 3, medium 4, low 5.
uint8_t syslog_severity(detect::SeverityLevel level) noexcept;

/// What goes into the RFC 5424 header besides the alert.
struct SyslogHeader {
  uint8_t facility = 10;
  std::string hostname;  ///< "-" when empty; characters outside printable ASCII become '_'
  uint32_t procid = 0;   ///< 0 = "-"
};

/// The whole RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME fathom PROCID MSGID
/// [fathom@32473 kind=.. incident=.. tenant=.. level=..] CEF:...` (MSGID = the alert kind;
/// 32473 is the RFC 5612 documentation enterprise number).
std::string format_rfc5424(const Alert& alert, const SyslogHeader& header,
                           std::string_view version);
/// RFC 6587 §3.4.1 octet counting: "<length> <message>".
std::string octet_counted(std::string_view message);

}  // namespace fathom::alert
