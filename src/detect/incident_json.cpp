#include "detect/incident_json.h"

#include "flow/json_text.h"

namespace fathom::detect {
namespace {

void append_number(double v, std::string& out) {
  flow::append_json_number(v, out);
}
void append_string(std::string_view text, std::string& out) {
  flow::append_json_string(text, out);
}

void append_items(std::string_view key, const std::vector<TopItem>& items, std::string& out) {
  out += ",\"";
  out += key;
  out += "\":[";
  for (size_t i = 0; i < items.size(); ++i) {
    out += i == 0 ? "{\"key\":" : ",{\"key\":";
    append_string(items[i].key, out);
    out += ",\"weight\":";
    append_number(items[i].weight, out);
    out += '}';
  }
  out += ']';
}

}  // namespace

void append_incident_json(const IncidentEvent& event, std::string& out) {
  const Incident& inc = event.incident;
  out += "{\"type\":\"incident\",\"event\":";
  append_string(to_string(event.kind), out);
  out += ",\"id\":";
  append_string(inc.id, out);
  out += ",\"version\":";
  append_number(inc.version, out);
  out += ",\"state\":";
  append_string(to_string(inc.state), out);
  out += ",\"tenant_id\":";
  append_number(inc.tenant_id, out);
  out += ",\"detection\":";
  append_string(to_string(inc.type), out);
  out += ",\"detail\":";
  append_string(inc.detail, out);
  out += ",\"subject\":";
  append_string(inc.subject.to_string(), out);
  out += ",\"start_ns\":" + std::to_string(inc.start_ns);
  out += ",\"last_seen_ns\":" + std::to_string(inc.last_seen_ns);
  out += ",\"end_ns\":" + std::to_string(inc.end_ns);
  out += ",\"detected_ns\":" + std::to_string(inc.detected_ns);
  out += ",\"first_arrival_ns\":" + std::to_string(inc.first_arrival_ns);
  out += ",\"severity\":";
  append_number(inc.severity, out);
  out += ",\"severity_level\":";
  append_string(to_string(severity_level(inc.severity)), out);
  out += ",\"peak_severity\":";
  append_number(inc.peak_severity, out);
  out += ",\"detections\":";
  append_number(static_cast<double>(inc.detections), out);
  out += ",\"summary\":";
  append_string(inc.latest.summary, out);
  out += ",\"evidence\":[";
  for (size_t i = 0; i < inc.latest.evidence.size(); ++i) {
    const Evidence& e = inc.latest.evidence[i];
    out += i == 0 ? "{\"name\":" : ",{\"name\":";
    append_string(e.name, out);
    out += ",\"value\":";
    append_number(e.value, out);
    out += ",\"ci_low\":";
    append_number(e.ci_low, out);
    out += ",\"ci_high\":";
    append_number(e.ci_high, out);
    out += ",\"threshold\":";
    append_number(e.threshold, out);
    out += ",\"usual\":";
    append_number(e.usual, out);
    out += '}';
  }
  out += ']';
  append_items("top_peers", inc.latest.top_peers, out);
  append_items("top_ports", inc.latest.top_ports, out);
  out += '}';
}

std::string incident_json(const IncidentEvent& event) {
  std::string out;
  append_incident_json(event, out);
  return out;
}

}  // namespace fathom::detect
