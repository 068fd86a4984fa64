#include "analyze/tenant_summary.h"

#include <algorithm>

#include "flow/flow_record.h"
#include "flow/json_text.h"

namespace fathom::analyze {
namespace {

TrafficSummary summarise(const estimate::TrafficTotals& t, double zero_weight,
                         const estimate::IntervalOptions& options) {
  // Bytes: nothing seen could still have been up to one maximum-size packet per unit.
  constexpr double kMaxPacketBytes = 1500.0;
  return {estimate::make_estimate(t.packets, zero_weight, options),
          estimate::make_estimate(t.bytes, zero_weight * kMaxPacketBytes, options),
          estimate::make_estimate(t.tcp_flows, zero_weight, options)};
}

void append_estimate(const char* name, const estimate::Estimate& e, std::string& out) {
  out += '"';
  out += name;
  out += "\":{\"value\":";
  flow::append_json_number(e.value, out);
  out += ",\"ci_low\":";
  flow::append_json_number(e.ci_low, out);
  out += ",\"ci_high\":";
  flow::append_json_number(e.ci_high, out);
  out += '}';
}

void append_traffic(const TrafficSummary& t, std::string& out) {
  out += '{';
  append_estimate("packets", t.packets, out);
  out += ',';
  append_estimate("bytes", t.bytes, out);
  out += ',';
  append_estimate("flows", t.flows, out);
  out += '}';
}

std::string port_key(const flow::IpAddress& key) {
  const uint32_t v = key.v4();
  const uint32_t protocol = v >> 16;
  const char* name = protocol == 6 ? "tcp" : protocol == 17 ? "udp" : nullptr;
  std::string out = name != nullptr ? name : std::to_string(protocol);
  out += '/';
  out += std::to_string(v & 0xFFFF);
  return out;
}

enum class KeyKind { kAddress, kPort, kCountry, kAsn };

std::string key_text(const flow::IpAddress& key, KeyKind kind) {
  switch (kind) {
    case KeyKind::kPort: return port_key(key);
    case KeyKind::kCountry: {
      const uint32_t v = key.v4();
      return std::string{static_cast<char>(v >> 8 & 0xFF), static_cast<char>(v & 0xFF)};
    }
    case KeyKind::kAsn: return std::to_string(key.v4());
    case KeyKind::kAddress: break;
  }
  return key.to_string();
}

void append_top(const char* name, const std::vector<HeavyHitter>& items, KeyKind kind,
                std::string& out) {
  out += ",\"";
  out += name;
  out += "\":[";
  for (size_t idx = 0; idx < items.size(); ++idx) {
    out += idx == 0 ? "{\"key\":" : ",{\"key\":";
    flow::append_json_string(key_text(items[idx].key, kind), out);
    out += ",\"weight\":";
    flow::append_json_number(items[idx].weight, out);
    out += ",\"error\":";
    flow::append_json_number(items[idx].error, out);
    out += ",\"variance\":";
    flow::append_json_number(items[idx].variance, out);
    out += '}';
  }
  out += ']';
}

}  // namespace

TenantSummary summarise(const TenantWindow& window, size_t top_n,
                        const estimate::IntervalOptions& options) {
  TenantSummary s;
  s.tenant_id = window.tenant_id;
  s.start_ns = window.start_ns;
  s.end_ns = window.end_ns;
  if (window.bucket == nullptr) return s;
  const TenantTotals& totals = window.bucket->totals;
  s.records = totals.records;
  const double zero_weight = std::max(1.0, totals.total.packets.max_unit_weight);
  s.total = summarise(totals.total, zero_weight, options);
  for (size_t idx = 0; idx < s.by_direction.size(); ++idx) {
    s.by_direction[idx] = summarise(totals.by_direction[idx], zero_weight, options);
  }
  for (size_t idx = 0; idx < s.by_protocol.size(); ++idx) {
    s.by_protocol[idx] = summarise(totals.by_protocol[idx], zero_weight, options);
  }
  s.top_sources = window.bucket->top_sources.top(top_n);
  s.top_destinations = window.bucket->top_destinations.top(top_n);
  s.top_ports = window.bucket->top_ports.top(top_n);
  s.top_countries = window.bucket->top_countries.top(top_n);
  s.top_asns = window.bucket->top_asns.top(top_n);
  return s;
}

std::string tenant_summary_json(const TenantSummary& s) {
  std::string out;
  out.reserve(2048);
  out += "{\"tenant_id\":" + std::to_string(s.tenant_id);
  out += ",\"start_ns\":" + std::to_string(s.start_ns);
  out += ",\"end_ns\":" + std::to_string(s.end_ns);
  out += ",\"records\":" + std::to_string(s.records);
  out += ",\"total\":";
  append_traffic(s.total, out);
  out += ",\"by_direction\":{";
  for (size_t idx = 0; idx < s.by_direction.size(); ++idx) {
    if (idx != 0) out += ',';
    flow::append_json_string(flow::to_string(static_cast<flow::Direction>(idx)), out);
    out += ':';
    append_traffic(s.by_direction[idx], out);
  }
  out += "},\"by_protocol\":{";
  for (size_t idx = 0; idx < s.by_protocol.size(); ++idx) {
    if (idx != 0) out += ',';
    flow::append_json_string(protocol_class_name(idx), out);
    out += ':';
    append_traffic(s.by_protocol[idx], out);
  }
  out += '}';
  append_top("top_sources", s.top_sources, KeyKind::kAddress, out);
  append_top("top_destinations", s.top_destinations, KeyKind::kAddress, out);
  append_top("top_ports", s.top_ports, KeyKind::kPort, out);
  append_top("top_countries", s.top_countries, KeyKind::kCountry, out);
  append_top("top_asns", s.top_asns, KeyKind::kAsn, out);
  out += '}';
  return out;
}

}  // namespace fathom::analyze
