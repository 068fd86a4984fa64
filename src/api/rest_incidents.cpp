// RestApi: incident lists and one incident's evidence, explanation and history (docs/api.md).
#include <algorithm>
#include <cctype>
#include <cmath>

#include "api/detail/rest_impl.h"
#include "detect/detection.h"
#include "detect/incident.h"

namespace fathom::api {
namespace {

/// The lowest severity of a level (detect::severity_level's bands).
std::optional<double> severity_floor(std::string_view level) {
  if (level == "low") return 0.0;
  if (level == "medium") return 40.0;
  if (level == "high") return 70.0;
  if (level == "critical") return 90.0;
  return std::nullopt;
}

json time_or_null(int64_t ns) {
  return ns != 0 ? json(to_ms(ns)) : json(nullptr);
}

json summary_json(const store::IncidentRecord& r) {
  return json{
      {"id", r.id},
      {"version", r.version},
      {"tenant_id", r.tenant_id},
      {"type", r.detection},
      {"detail", r.detail},
      {"subject", r.subject},
      {"state", r.state},
      {"severity", r.severity},
      {"severity_level", std::string(detect::to_string(detect::severity_level(r.severity)))},
      {"peak_severity", r.peak_severity},
      {"start_ms", to_ms(r.start_ns)},
      {"last_seen_ms", to_ms(r.last_seen_ns)},
      {"end_ms", time_or_null(r.end_ns)},
      {"detected_ms", to_ms(r.detected_ns)},
      {"detections", r.detections},
      {"summary", r.summary}};
}

/// A number of the stored JSON, or null (NaN is stored as null).
json number_or_null(const json& o, const char* key) {
  const auto it = o.find(key);
  if (it == o.end() || !it->is_number()) return nullptr;
  return *it;
}

}  // namespace

Reply RestApi::Impl::incidents(const Principal& who, const HttpRequest& request,
                               std::optional<uint32_t> tenant) {
  const Params params(request);
  if (tenant) {
    if (auto e =
            params.unknown({"limit", "offset", "severity", "since", "state", "type", "until"})) {
      return Reply::bad(*e);
    }
  } else if (auto e = params.unknown(
                 {"limit", "offset", "severity", "since", "state", "tenant", "type", "until"})) {
    return Reply::bad(*e);
  }
  const int64_t now = clock();
  store::IncidentQuery q;
  uint64_t limit = 0, offset = 0;
  if (auto e = uint_param(params, "limit", 1, 1000, 100, limit)) return Reply::bad(*e);
  if (auto e = uint_param(params, "offset", 0, 1'000'000, 0, offset)) return Reply::bad(*e);
  q.limit = static_cast<uint32_t>(limit);
  q.offset = static_cast<uint32_t>(offset);
  if (auto e = time_param(params, "since", now, 0, q.since_ns)) return Reply::bad(*e);
  if (auto e = time_param(params, "until", now, INT64_MAX, q.until_ns)) return Reply::bad(*e);
  if (q.since_ns >= q.until_ns) return Reply::bad("since must be before until");
  if (const std::string* s = params.get("state")) {
    if (*s == "open") {
      q.state = detect::IncidentState::kOpen;
    } else if (*s == "closed") {
      q.state = detect::IncidentState::kClosed;
    } else {
      return Reply::bad("state: open or closed");
    }
  }
  if (const std::string* t = params.get("type")) {
    detect::DetectionType type{};
    if (!detect::parse_detection_type(*t, type)) {
      return Reply::bad(
          "type: a detection type (syn_flood, udp_flood, icmp_flood, amplification, "
          "horizontal_scan, vertical_scan, brute_force, exfiltration, beaconing, intel_contact, "
          "anomaly)");
    }
    q.detection = std::string(detect::to_string(type));
  }
  if (const std::string* s = params.get("severity")) {
    const auto floor = severity_floor(*s);
    if (!floor) return Reply::bad("severity: low, medium, high or critical");
    q.min_severity = *floor;
  }
  if (tenant) {
    q.tenant_id = *tenant;
  } else if (params.get("tenant") != nullptr) {
    uint64_t id = 0;
    if (auto e = uint_param(params, "tenant", 1, UINT32_MAX, 0, id)) return Reply::bad(*e);
    // Another tenant's id behaves like an unknown one: an empty list would say it exists.
    if (!who.sees(static_cast<uint32_t>(id))) {
      return Reply::not_found("no such tenant: " + std::to_string(id));
    }
    q.tenant_id = static_cast<uint32_t>(id);
  } else if (!who.admin) {
    q.tenant_id = who.tenant_id;
  }
  // The path's tenant, or the filter's: one that does not exist is 404 for every token.
  if (q.tenant_id && (tenant || params.get("tenant") != nullptr)) {
    if (auto fail = unknown_tenant(*q.tenant_id, snapshot())) return *fail;
  }
  DbLease l;
  if (auto fail = lease(l)) return *fail;
  auto [count_status, total] = l->count_incidents(q);
  auto [status, rows] = l->incidents(q);
  if (!count_status.ok || !status.ok) {
    l.broken = true;
    return Reply::fail(
        503, "unavailable",
        "the store does not answer: " + (!status.ok ? status.error : count_status.error));
  }
  json list = json::array();
  for (const store::IncidentRecord& r : rows) list.push_back(summary_json(r));
  return Reply::ok(
      json{{"total", total}, {"limit", limit}, {"offset", offset}, {"incidents", std::move(list)}});
}

/// Flows of an incident: at most this many.
constexpr uint32_t kMaxFlows = 200;

Reply RestApi::Impl::incident(const HttpRequest& request, uint32_t tenant, std::string_view id) {
  if (auto e = Params(request).unknown({})) return Reply::bad(*e);
  if (id.empty() || id.size() > 64 ||
      id.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos) {
    return Reply::not_found("no such incident");
  }
  std::string lower(id);  // ids are stored in lower case
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  DbLease l;
  if (auto fail = lease(l)) return *fail;
  store::IncidentQuery q;
  q.tenant_id = tenant;
  q.id = lower;
  q.limit = 1;
  auto [status, rows] = l->incidents(q);
  if (!status.ok) {
    l.broken = true;
    return Reply::fail(503, "unavailable", "the store does not answer: " + status.error);
  }
  if (rows.empty()) return Reply::not_found("no such incident: " + std::string(id));
  const store::IncidentRecord& r = rows.front();
  json body = summary_json(r);
  const json stored = json::parse(r.json, nullptr, false);
  json evidence = json::array();
  if (!stored.is_discarded() && stored.contains("evidence") && stored["evidence"].is_array()) {
    for (const json& e : stored["evidence"]) {
      if (!e.is_object()) continue;
      evidence.push_back({{"name", e.value("name", "")},
                          {"value", number_or_null(e, "value")},
                          {"ci_low", number_or_null(e, "ci_low")},
                          {"ci_high", number_or_null(e, "ci_high")},
                          {"threshold", number_or_null(e, "threshold")},
                          {"usual", number_or_null(e, "usual")}});
    }
  }
  const auto list_of = [&](const char* key) {
    if (stored.is_discarded() || !stored.contains(key) || !stored[key].is_array()) {
      return json::array();
    }
    return stored[key];
  };
  body["top_peers"] = list_of("top_peers");
  body["top_ports"] = list_of("top_ports");
  // The autoencoder's evidence is its score first, then the features with the largest
  // reconstruction errors against the host's usual values (detect/anomaly_detector.cpp).
  json explanation = nullptr;
  if (r.detection == "anomaly" && !evidence.empty() && evidence[0]["name"] == "anomaly_score") {
    json features = json::array();
    for (size_t i = 1; i < evidence.size(); ++i) {
      features.push_back({{"name", evidence[i]["name"]},
                          {"value", evidence[i]["value"]},
                          {"usual", evidence[i]["usual"]}});
    }
    explanation = {{"score", evidence[0]["value"]},
                   {"threshold", evidence[0]["threshold"]},
                   {"features", std::move(features)}};
  }
  body["evidence"] = std::move(evidence);
  body["explanation"] = std::move(explanation);
  auto [hstatus, updates] = l->incident_updates(r.id);
  if (!hstatus.ok) {
    l.broken = true;
    return Reply::fail(503, "unavailable", "the store does not answer: " + hstatus.error);
  }
  json history = json::array();
  for (const store::IncidentUpdate& u : updates) {
    history.push_back(
        {{"version", u.version},
         {"event", u.event},
         {"state", u.state},
         {"severity", u.severity},
         {"severity_level", std::string(detect::to_string(detect::severity_level(u.severity)))},
         {"last_seen_ms", to_ms(u.last_seen_ns)}});
  }
  body["history"] = std::move(history);

  // The subject's raw sampled flows kept after its detections (analyze.incidents.flows), from
  // the incident's start to a capture period past its end.
  const int64_t until = (r.end_ns > 0 ? r.end_ns : r.last_seen_ns) + options.incident_flow_ns;
  auto [flows_status, flows] = l->sampled_flows(tenant, r.subject, r.start_ns, until, kMaxFlows);
  if (!flows_status.ok) {
    l.broken = true;
    return Reply::fail(503, "unavailable", "the store does not answer: " + flows_status.error);
  }
  json list = json::array();
  for (const store::SampledFlow& f : flows) {
    const json stored_flow = json::parse(f.json, nullptr, false);
    if (!stored_flow.is_object()) continue;
    json row = {{"time_ms", to_ms(f.time_ns)}};
    for (const char* key : {"exporter", "src", "src_port", "dst", "dst_port", "proto", "packets",
                            "bytes", "tcp_flags", "sampling_rate", "direction"}) {
      const auto it = stored_flow.find(key);
      row[key] = it != stored_flow.end() ? *it : json(nullptr);
    }
    list.push_back(std::move(row));
  }
  body["flows"] = std::move(list);
  return Reply::ok(std::move(body));
}

}  // namespace fathom::api
