#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "detect/incident.h"
#include "flow/ip_address.h"

namespace fathom::alert::testing {

/// An incident event of tenant `tenant` with id `id` at `severity`.
inline detect::IncidentEvent incident_event(detect::IncidentEventKind kind, std::string id,
                                            double severity, uint32_t tenant = 1) {
  detect::IncidentEvent event;
  event.kind = kind;
  detect::Incident& inc = event.incident;
  inc.id = std::move(id);
  inc.version = 1;
  inc.tenant_id = tenant;
  inc.type = detect::DetectionType::kSynFlood;
  inc.severity = severity;
  inc.peak_severity = severity;
  inc.start_ns = 1'700'000'000'000'000'000;
  inc.last_seen_ns = inc.start_ns + 10'000'000'000;
  inc.subject = flow::IpAddress::from_v4(0x0a000005);
  inc.latest.summary = "SYN flood to 10.0.0.5:443";
  if (kind == detect::IncidentEventKind::kClose) {
    inc.state = detect::IncidentState::kClosed;
    inc.end_ns = inc.last_seen_ns;
  }
  return event;
}

/// Polls `condition` until it holds or `timeout` passes; the result of the last check. Waits
/// on a condition, never asserts on elapsed time.
inline bool wait_for(const std::function<bool()>& condition,
                     std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

}  // namespace fathom::alert::testing
