#include "estimate/window_result.h"

#include <algorithm>
#include <functional>
#include <utility>

namespace fathom::estimate {
namespace {

// Merges two vectors sorted by `key_less` into `into`, combining equal keys with `combine`.
template <typename T, typename Less, typename Combine>
void merge_sorted(std::vector<T>& into, const std::vector<T>& from, Less key_less,
                  Combine combine) {
  if (from.empty()) return;
  std::vector<T> merged;
  merged.reserve(into.size() + from.size());
  size_t into_idx = 0;
  size_t from_idx = 0;
  while (into_idx < into.size() || from_idx < from.size()) {
    if (from_idx == from.size() ||
        (into_idx < into.size() && key_less(into[into_idx], from[from_idx]))) {
      merged.push_back(into[into_idx++]);
    } else if (into_idx == into.size() || key_less(from[from_idx], into[into_idx])) {
      merged.push_back(from[from_idx++]);
    } else {
      merged.push_back(into[into_idx++]);
      combine(merged.back(), from[from_idx++]);
    }
  }
  into = std::move(merged);
}

uint32_t port_key(const PortTotals& p) noexcept {
  return (uint32_t{p.protocol} << 16) | p.port;
}

// The n entries of `items` largest by `score`, largest first (ties: the earlier entry).
template <typename T, typename Score>
std::vector<const T*> top_n(const std::vector<T>& items, size_t n, Score score) {
  std::vector<const T*> order;
  order.reserve(items.size());
  for (const T& item : items) order.push_back(&item);
  const size_t keep = std::min(n, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(),
                    [&](const T* a, const T* b) {
                      const double sa = score(*a);
                      const double sb = score(*b);
                      return sa > sb || (sa == sb && std::less<const T*>{}(a, b));
                    });
  order.resize(keep);
  return order;
}

}  // namespace

void HostTotals::merge(const HostTotals& other) noexcept {
  sent_packets.merge(other.sent_packets);
  sent_bytes.merge(other.sent_bytes);
  received_packets.merge(other.received_packets);
  received_bytes.merge(other.received_bytes);
  max_sampling_rate = std::max(max_sampling_rate, other.max_sampling_rate);
}

void PortTotals::merge(const PortTotals& other) noexcept {
  traffic.merge(other.traffic);
  max_sampling_rate = std::max(max_sampling_rate, other.max_sampling_rate);
}

void WindowCounters::merge(const WindowCounters& other) noexcept {
  records_counted += other.records_counted;
  records_not_counted += other.records_not_counted;
  records_late += other.records_late;
  records_bad_rate += other.records_bad_rate;
  records_rate_unknown += other.records_rate_unknown;
  hosts_overflowed += other.hosts_overflowed;
  ports_overflowed += other.ports_overflowed;
  peers_overflowed += other.peers_overflowed;
  conversations_overflowed += other.conversations_overflowed;
}

void WindowResult::merge(const WindowResult& other) {
  if (start_ns == end_ns) {  // an empty (default) result takes the other's range
    start_ns = other.start_ns;
    end_ns = other.end_ns;
  } else if (other.start_ns != other.end_ns) {
    start_ns = std::min(start_ns, other.start_ns);
    end_ns = std::max(end_ns, other.end_ns);
  }
  if (tenant_id == 0) tenant_id = other.tenant_id;
  total.merge(other.total);
  for (size_t dir_idx = 0; dir_idx < kDirectionCount; ++dir_idx) {
    by_direction[dir_idx].merge(other.by_direction[dir_idx]);
  }
  merge_sorted(
      hosts, other.hosts,
      [](const HostTotals& a, const HostTotals& b) { return a.address < b.address; },
      [](HostTotals& a, const HostTotals& b) { a.merge(b); });
  other_hosts.merge(other.other_hosts);
  merge_sorted(
      ports, other.ports,
      [](const PortTotals& a, const PortTotals& b) { return port_key(a) < port_key(b); },
      [](PortTotals& a, const PortTotals& b) { a.merge(b); });
  other_ports.merge(other.other_ports);
  merge_sorted(
      peers, other.peers,
      [](const PeerItem& a, const PeerItem& b) { return a.address < b.address; },
      [](PeerItem& a, const PeerItem& b) { a.weight.merge(b.weight); });
  peers_capped = peers_capped || other.peers_capped;
  max_sampling_rate = std::max(max_sampling_rate, other.max_sampling_rate);
  counters.merge(other.counters);
}

TrafficEstimate estimate_traffic(const TrafficTotals& traffic, double window_sampling_rate,
                                 const SummaryOptions& options) {
  TrafficEstimate out;
  const double w = std::max(window_sampling_rate, 1.0);
  out.packets = make_estimate(traffic.packets, w, options.interval);
  out.bytes = make_estimate(traffic.bytes, w * options.max_packet_bytes, options.interval);
  out.tcp_flows = make_estimate(traffic.tcp_flows, w, options.interval);
  return out;
}

HostEstimate estimate_host(const HostTotals& host, double window_sampling_rate,
                           const SummaryOptions& options) {
  HostEstimate out;
  out.address = host.address;
  const double w = std::max({window_sampling_rate, host.max_sampling_rate, 1.0});
  const double wb = w * options.max_packet_bytes;
  out.sent_packets = make_estimate(host.sent_packets, w, options.interval);
  out.sent_bytes = make_estimate(host.sent_bytes, wb, options.interval);
  out.received_packets = make_estimate(host.received_packets, w, options.interval);
  out.received_bytes = make_estimate(host.received_bytes, wb, options.interval);
  return out;
}

PortEstimate estimate_port(const PortTotals& port, double window_sampling_rate,
                           const SummaryOptions& options) {
  PortEstimate out;
  out.protocol = port.protocol;
  out.port = port.port;
  const TrafficEstimate t = estimate_traffic(
      port.traffic, std::max(window_sampling_rate, port.max_sampling_rate), options);
  out.packets = t.packets;
  out.bytes = t.bytes;
  out.tcp_flows = t.tcp_flows;
  return out;
}

TenantWindowSummary summarize(const WindowResult& result, const SummaryOptions& options) {
  TenantWindowSummary out;
  out.tenant_id = result.tenant_id;
  out.start_ns = result.start_ns;
  out.end_ns = result.end_ns;
  const double w = result.max_sampling_rate;
  out.total = estimate_traffic(result.total, w, options);
  for (size_t dir_idx = 0; dir_idx < kDirectionCount; ++dir_idx) {
    out.by_direction[dir_idx] = estimate_traffic(result.by_direction[dir_idx], w, options);
  }
  out.counters = result.counters;

  DistinctCounter peers;
  for (const PeerItem& peer : result.peers) peers.add(peer.weight);
  out.external_peers = peers.result(result.peers_capped);

  DistinctCounter hosts;
  for (const HostTotals& host : result.hosts) {
    hosts.add(
        ItemWeight{host.sent_packets.sum + host.received_packets.sum, host.max_sampling_rate});
  }
  out.internal_hosts = hosts.result(result.counters.hosts_overflowed > 0);

  DistinctCounter ports;
  for (const PortTotals& port : result.ports) {
    ports.add(ItemWeight{port.traffic.packets.sum, port.max_sampling_rate});
  }
  out.service_ports = ports.result(result.counters.ports_overflowed > 0);

  for (const HostTotals* host :
       top_n(result.hosts, options.top_n, [](const HostTotals& h) { return h.bytes(); })) {
    out.top_hosts.push_back(estimate_host(*host, w, options));
  }
  for (const PortTotals* port : top_n(result.ports, options.top_n,
                                      [](const PortTotals& p) { return p.traffic.bytes.sum; })) {
    out.top_ports.push_back(estimate_port(*port, w, options));
  }
  return out;
}

}  // namespace fathom::estimate
