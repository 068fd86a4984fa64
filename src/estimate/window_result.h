#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "estimate/accumulator.h"
#include "estimate/distinct.h"
#include "estimate/record_model.h"
#include "flow/flow_record.h"
#include "flow/ip_address.h"

namespace fathom::estimate {

/// Packets, bytes and TCP flow arrivals of one slice of traffic.
struct TrafficTotals {
  Accumulator packets;
  Accumulator bytes;
  Accumulator tcp_flows;

  void add(const RecordTerms& terms) noexcept {
    packets.add(terms.packets);
    bytes.add(terms.bytes);
    if (terms.tcp_flow_arrival) tcp_flows.add(terms.flows);
  }
  void merge(const TrafficTotals& other) noexcept {
    packets.merge(other.packets);
    bytes.merge(other.bytes);
    tcp_flows.merge(other.tcp_flows);
  }
  friend bool operator==(const TrafficTotals&, const TrafficTotals&) = default;
};

/// One internal host (an address in the tenant's own networks) in a window: what it sent
/// (outbound and internal records with it as source) and received (inbound and internal
/// records with it as destination).
struct HostTotals {
  flow::IpAddress address;  ///< `::` for the overflow bucket
  Accumulator sent_packets;
  Accumulator sent_bytes;
  Accumulator received_packets;
  Accumulator received_bytes;
  double max_sampling_rate = 0.0;  ///< largest sampling_rate of its records

  /// Adds `other`'s sums (the address stays).
  void merge(const HostTotals& other) noexcept;
  /// Estimated bytes sent plus received (the top-N order).
  double bytes() const noexcept { return sent_bytes.sum + received_bytes.sum; }
};

/// One (protocol, service port) in a window; `service_port()` defines the port.
struct PortTotals {
  uint8_t protocol = 0;
  uint16_t port = 0;  ///< 0 for protocols without ports
  TrafficTotals traffic;
  double max_sampling_rate = 0.0;

  /// Adds `other`'s sums (the key stays).
  void merge(const PortTotals& other) noexcept;
};

/// One external peer (the far end of an inbound or outbound record).
struct PeerItem {
  flow::IpAddress address;
  ItemWeight weight;
};

/// Number of `flow::Direction` values; `TrafficTotals` per direction are indexed by the
/// enum's value (an out-of-range value counts as kUnknown).
inline constexpr size_t kDirectionCount = 5;

/// Per-window counters of the records behind a WindowResult.
struct WindowCounters {
  uint64_t records_counted = 0;      ///< records in the estimates
  uint64_t records_not_counted = 0;  ///< skipped: `record_flags::kNotCounted` (de-duplication)
  /// Arrived after their window had closed (not in any estimate), counted in the tenant's
  /// next window to close.
  uint64_t records_late = 0;
  uint64_t records_bad_rate = 0;  ///< skipped: sampling_rate not a finite number >= 1
  /// Counted, but the device never announced its sampling rate (assumed 1: the estimates
  /// undercount this exporter's traffic).
  uint64_t records_rate_unknown = 0;
  uint64_t hosts_overflowed = 0;  ///< host sides added to `other_hosts` (table full)
  uint64_t ports_overflowed = 0;  ///< records added to `other_ports` (table full)
  uint64_t peers_overflowed = 0;  ///< peers not kept for the distinct count (set full)
  /// Secondary-sampled records whose conversation was not tracked (table full): their
  /// covariance with the conversation's other records is missing from the variances.
  uint64_t conversations_overflowed = 0;

  void merge(const WindowCounters& other) noexcept;
  friend bool operator==(const WindowCounters&, const WindowCounters&) = default;
};

/// Everything the estimator learned about one tenant in one window, as mergeable sums:
/// two WindowResults of the same tenant merge into the result of the longer window (the
/// analysis stage builds its W-second windows and rollups this way). Produced by
/// `WindowEstimator`; turned into reportable numbers by `summarize`.
struct WindowResult {
  uint32_t tenant_id = 0;
  int64_t start_ns = 0;  ///< window start (inclusive), ns since the epoch
  int64_t end_ns = 0;    ///< window end (exclusive)

  TrafficTotals total;
  std::array<TrafficTotals, kDirectionCount> by_direction{};  ///< index: flow::Direction
  /// Every internal host seen, sorted by address; at most the estimator's host cap.
  std::vector<HostTotals> hosts;
  HostTotals other_hosts;  ///< hosts beyond the cap, summed (address `::`)
  /// Every (protocol, service port) seen, sorted; at most the estimator's port cap.
  std::vector<PortTotals> ports;
  PortTotals other_ports;  ///< ports beyond the cap, summed
  /// External peers seen, sorted by address, for the distinct-peer count.
  std::vector<PeerItem> peers;
  bool peers_capped = false;       ///< the peer set hit its cap
  double max_sampling_rate = 0.0;  ///< largest sampling_rate counted (zero-sample intervals)
  WindowCounters counters;

  /// Adds `other` (the same tenant; any time range) to this result: start and end widen to
  /// cover both, sums add, hosts, ports and peers are unioned by key. Unions are not capped
  /// again: a merged result can hold up to the sum of both sides' entries.
  void merge(const WindowResult& other);
};

/// Estimates for one host (see HostTotals).
struct HostEstimate {
  flow::IpAddress address;
  Estimate sent_packets;
  Estimate sent_bytes;
  Estimate received_packets;
  Estimate received_bytes;
};

/// Estimates for one (protocol, service port).
struct PortEstimate {
  uint8_t protocol = 0;
  uint16_t port = 0;
  Estimate packets;
  Estimate bytes;
  Estimate tcp_flows;
};

/// Packets, bytes and TCP flow arrivals as estimates.
struct TrafficEstimate {
  Estimate packets;
  Estimate bytes;
  Estimate tcp_flows;  ///< TCP connections opened (SYN-flagged records)
};

/// The public, reportable view of one tenant window: what /metrics and the API show.
struct TenantWindowSummary {
  uint32_t tenant_id = 0;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  TrafficEstimate total;
  std::array<TrafficEstimate, kDirectionCount> by_direction{};  ///< index: flow::Direction
  DistinctEstimate external_peers;  ///< distinct far ends of inbound/outbound records
  DistinctEstimate internal_hosts;  ///< distinct internal hosts active
  DistinctEstimate service_ports;   ///< distinct (protocol, service port) pairs
  WindowCounters counters;          ///< records counted, skipped, late, hosts overflowed...
  /// The busiest hosts by estimated bytes sent + received, largest first (at most top_n).
  std::vector<HostEstimate> top_hosts;
  /// The busiest (protocol, service port) pairs by estimated bytes, largest first.
  std::vector<PortEstimate> top_ports;
};

/// Settings of `summarize`.
struct SummaryOptions {
  size_t top_n = 10;
  IntervalOptions interval;
  /// Bytes one unseen packet could carry, for the upper limit of a byte total with no
  /// samples (its packets' limit is 3.689 × sampling rate at 95%).
  double max_packet_bytes = 1500.0;
};

/// Estimates, intervals, distinct counts and top-N lists of `result`. Allocates (the top-N
/// vectors); once per tenant window, never per record.
TenantWindowSummary summarize(const WindowResult& result, const SummaryOptions& options = {});

/// The estimates of one host, with the window's largest sampling rate as the weight of
/// the unseen (see `make_estimate`).
HostEstimate estimate_host(const HostTotals& host, double window_sampling_rate,
                           const SummaryOptions& options = {});

/// The estimates of one (protocol, service port).
PortEstimate estimate_port(const PortTotals& port, double window_sampling_rate,
                           const SummaryOptions& options = {});

/// Packets, bytes and flows of `traffic` as estimates.
TrafficEstimate estimate_traffic(const TrafficTotals& traffic, double window_sampling_rate,
                                 const SummaryOptions& options = {});

}  // namespace fathom::estimate
