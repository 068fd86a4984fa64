#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "analyze/sketch.h"
#include "analyze/window_engine.h"
#include "estimate/accumulator.h"

namespace fathom::analyze {

/// Estimated packets, bytes and TCP flow arrivals of one slice of a tenant's traffic, each
/// with its interval.
struct TrafficSummary {
  estimate::Estimate packets;
  estimate::Estimate bytes;
  estimate::Estimate flows;
};

/// One tenant's traffic in one window, detached from the engine's buckets: what the store
/// keeps as a per-minute rollup and the API shows as the tenant's latest window.
struct TenantSummary {
  uint32_t tenant_id = 0;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  uint64_t records = 0;  ///< sampled records behind it
  TrafficSummary total;
  /// By `flow::Direction` (index = enum value; names from `flow::to_string`).
  std::array<TrafficSummary, 5> by_direction;
  /// By `protocol_class_name` index: tcp, udp, icmp, other.
  std::array<TrafficSummary, 4> by_protocol;
  std::vector<HeavyHitter> top_sources;       ///< by estimated bytes sent
  std::vector<HeavyHitter> top_destinations;  ///< by estimated bytes received
  /// By estimated bytes; key = IpAddress::from_v4(protocol << 16 | port).
  std::vector<HeavyHitter> top_ports;
  /// The external side's country (key from_v4(letter << 8 | letter), "ZZ" unknown) and AS
  /// (key from_v4(AS number), 0 unknown), by estimated bytes.
  std::vector<HeavyHitter> top_countries;
  std::vector<HeavyHitter> top_asns;
};

/// The summary of `window` with the `top_n` heaviest sources, destinations and ports, and
/// intervals at `options.level`. An empty slice gets the interval of seeing nothing at the
/// tenant's largest sampling weight in the window (1 when none was seen).
TenantSummary summarise(const TenantWindow& window, size_t top_n = 10,
                        const estimate::IntervalOptions& options = {});

/// The summary as one JSON object: tenant, times, records, "total", "by_direction",
/// "by_protocol" (each {packets, bytes, flows} of {value, ci_low, ci_high}) and the three top
/// lists ({key, weight, error}; ports as "tcp/443"), then "top_countries" (keys "DE", "ZZ")
/// and "top_asns" (keys "3320", "0").
std::string tenant_summary_json(const TenantSummary& summary);

}  // namespace fathom::analyze
