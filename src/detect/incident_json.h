#pragma once

#include <string>

#include "detect/incident.h"

namespace fathom::detect {

/// Appends one incident event as a JSON object (no newline): `"type":"incident"`, the event,
/// the incident's id, version, state, tenant, detection type, subject, times, severities and
/// its latest evidence with intervals.
void append_incident_json(const IncidentEvent& event, std::string& out);
/// The same as a new string.
std::string incident_json(const IncidentEvent& event);

}  // namespace fathom::detect
