#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "detect/detection.h"
#include "detect/incident.h"

namespace fathom::alert {

/// Why an alert was raised.
enum class AlertKind : uint8_t {
  kOpen = 0,        ///< an incident opened (or was first seen by the alerter)
  kEscalation = 1,  ///< its severity level rose above the highest level already alerted
  kClose = 2,       ///< it closed (sent to every sink that received one of its alerts)
  kSuppressed = 3,  ///< summary: "N alerts suppressed for tenant T" by the rate limit
};
/// "open", "escalation", "close", "suppressed".
std::string_view to_string(AlertKind kind) noexcept;

/// One alert as every sink sees it: the incident's fields a sink formats from, and the JSON
/// body that the webhook and JSON-lines sinks send as is. Built off the analysis thread;
/// strings are fine.
struct Alert {
  AlertKind kind = AlertKind::kOpen;
  std::string incident_id;  ///< empty for kSuppressed
  uint32_t version = 0;     ///< the incident's version at this event
  uint32_t tenant_id = 0;
  detect::SeverityLevel level = detect::SeverityLevel::kLow;
  double severity = 0.0;   ///< 0..100
  std::string detection;   ///< detection type name ("syn_flood"); "alerts_suppressed" for a summary
  std::string detail;      ///< sub-type, may be empty
  std::string subject;     ///< address text; empty for kSuppressed
  std::string summary;     ///< one line for people (the latest detection's summary)
  int64_t start_ns = 0;    ///< incident start
  int64_t end_ns = 0;      ///< incident end (close) or last seen
  int64_t created_ns = 0;  ///< wall clock when the alert was raised (syslog timestamp)
  uint64_t suppressed = 0;  ///< kSuppressed: how many alerts the summary stands for
  /// The JSON object sent by webhook and JSON lines: `{"type":"alert","alert":<kind>,
  /// "level":..,"tenant_id":..,"created_ns":..,"incident":<detect::incident_json>}`.
  std::string json;
};

/// The alert for `event` (`json` rendered with detect::incident_json).
Alert make_alert(AlertKind kind, const detect::IncidentEvent& event, int64_t created_ns);
/// The summary alert for `count` alerts of `tenant_id` suppressed by the rate limit; `level`
/// is the highest level among them.
Alert make_suppressed_alert(uint32_t tenant_id, uint64_t count, detect::SeverityLevel level,
                            int64_t created_ns);

/// Serialises `alert` for the disk spool (a versioned, length-prefixed record).
std::string encode_alert(const Alert& alert);
/// Reads a record written by `encode_alert`; false on a truncated, unknown-version or
/// otherwise malformed record (nothing is trusted: lengths are checked against what remains).
bool decode_alert(std::string_view record, Alert& out);

}  // namespace fathom::alert
