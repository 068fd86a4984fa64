#include "analyze/host_slot.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace fathom::analyze {
namespace {

/// Largest packet assumed for the unit weight of byte intervals (estimate::ModelOptions).
constexpr double kMaxPacketBytes = 1500.0;

/// An estimate from a slot's float sums: `sum` Σ w·y with variance `var`, units of weight
/// `w · unit_size` (docs/features.md "Estimates": the slot keeps no sampled-unit count, so
/// the units are sum / unit weight).
estimate::Estimate slot_estimate(double sum, double var, double w, double unit_size,
                                 const estimate::IntervalOptions& options) {
  const double unit_weight = std::max(1.0, w) * unit_size;
  estimate::Accumulator acc;
  if (sum > 0.0) {
    const double units = sum / std::max(1.0, w) / unit_size;
    acc.records = static_cast<uint64_t>(std::max(1.0, units));
    acc.units = static_cast<uint64_t>(std::max(1.0, std::round(units)));
    acc.raw = sum / std::max(1.0, w);
    acc.sum = sum;
    acc.sum_sq = sum * unit_weight;
    acc.variance = std::max(0.0, var);
    acc.min_unit_weight = unit_weight;
    acc.max_unit_weight = unit_weight;
  }
  return estimate::make_estimate(acc, unit_weight, options);
}

double ratio(double num, double den) {
  return den > 0.0 ? num / den : 0.0;
}

int popcount(const PeerBits& b) {
  return std::popcount(b.words[0]) + std::popcount(b.words[1]);
}

}  // namespace

void HostSlot::merge(const HostSlot& o) noexcept {
  packets_in += o.packets_in;
  packets_out += o.packets_out;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  var_packets_in += o.var_packets_in;
  var_packets_out += o.var_packets_out;
  var_bytes_in += o.var_bytes_in;
  var_bytes_out += o.var_bytes_out;
  flows_in += o.flows_in;
  flows_out += o.flows_out;
  for (size_t c = 0; c < kInboundClassCount; ++c) inbound[c] += o.inbound[c];
  probes_out += o.probes_out;
  for (size_t i = 0; i < auth_records.size(); ++i) {
    auth_records[i] = static_cast<uint16_t>(std::min(0xffff, auth_records[i] + o.auth_records[i]));
  }
  if (o.auth_out > 0 && auth_port_out == 0) auth_port_out = o.auth_port_out;
  auth_in += o.auth_in;
  auth_out += o.auth_out;
  intel_packets += o.intel_packets;
  bytes_out_external += o.bytes_out_external;
  if (o.intel_records > 0) intel_peer = o.intel_peer;
  intel_categories |= o.intel_categories;
  // The heaviest single peer: the same peer adds up, another one replaces it if heavier
  // (a one-counter Misra–Gries summary, approximate across slides).
  if (o.top_peer == top_peer) {
    top_peer_bytes += o.top_peer_bytes;
    top_peer_bytes_out += o.top_peer_bytes_out;
  } else if (o.top_peer_bytes > top_peer_bytes) {
    top_peer = o.top_peer;
    top_peer_bytes = o.top_peer_bytes;
    top_peer_bytes_out = o.top_peer_bytes_out;
    top_remote_port = o.top_remote_port;
  }
  if (o.amp_port_packets > amp_port_packets) {
    amp_port = o.amp_port;
    amp_port_packets = o.amp_port_packets;
  }
  max_weight = std::max(max_weight, o.max_weight);
  if (first_arrival_ns == 0 || (o.first_arrival_ns != 0 && o.first_arrival_ns < first_arrival_ns)) {
    first_arrival_ns = o.first_arrival_ns;
  }
  records += o.records;
  tcp_records += o.tcp_records;
  syn_only_records += o.syn_only_records;
  rst_records += o.rst_records;
  syn_only_out += o.syn_only_out;
  intel_records += o.intel_records;
  peers.merge(o.peers);
  remote_ports.merge(o.remote_ports);
  local_ports.merge(o.local_ports);
  auth_sessions.merge(o.auth_sessions);
  peer_histogram.merge(o.peer_histogram);
  port_histogram.merge(o.port_histogram);
  peer_bits.merge(o.peer_bits);
}

FeatureVector host_features(const HostSlot& s, double window_s, const PeerBits* history) noexcept {
  FeatureVector v{};
  const double per_s = window_s > 0.0 ? 1.0 / window_s : 0.0;
  at(v, Feature::kPacketsInPerS) = static_cast<float>(s.packets_in * per_s);
  at(v, Feature::kPacketsOutPerS) = static_cast<float>(s.packets_out * per_s);
  at(v, Feature::kBytesInPerS) = static_cast<float>(s.bytes_in * per_s);
  at(v, Feature::kBytesOutPerS) = static_cast<float>(s.bytes_out * per_s);
  at(v, Feature::kFlowsInPerS) = static_cast<float>(s.flows_in * per_s);
  at(v, Feature::kFlowsOutPerS) = static_cast<float>(s.flows_out * per_s);
  at(v, Feature::kDistinctPeers) = static_cast<float>(s.peers.estimate());
  at(v, Feature::kDistinctRemotePorts) = static_cast<float>(s.remote_ports.estimate());
  at(v, Feature::kDistinctLocalPorts) = static_cast<float>(s.local_ports.estimate());
  at(v, Feature::kSynOnlyRatio) = static_cast<float>(ratio(s.syn_only_records, s.tcp_records));
  at(v, Feature::kRstRatio) = static_cast<float>(ratio(s.rst_records, s.tcp_records));
  at(v, Feature::kMeanPacketBytes) = static_cast<float>(
      ratio(double{s.bytes_in} + s.bytes_out, double{s.packets_in} + s.packets_out));
  at(v, Feature::kPeerEntropy) = static_cast<float>(s.peer_histogram.normalized_entropy());
  at(v, Feature::kPortEntropy) = static_cast<float>(s.port_histogram.normalized_entropy());
  at(v, Feature::kIntelShare) = static_cast<float>(
      std::min(1.0, ratio(s.intel_packets, double{s.packets_in} + s.packets_out)));
  const int seen = popcount(s.peer_bits);
  if (seen > 0) {
    PeerBits fresh = s.peer_bits;
    if (history != nullptr) {
      fresh.words[0] &= ~history->words[0];
      fresh.words[1] &= ~history->words[1];
    }
    at(v, Feature::kNewPeerShare) = static_cast<float>(popcount(fresh)) / static_cast<float>(seen);
  }
  return v;
}

HostWindow host_window(const HostSlot& s, double window_s, const PeerBits* history,
                       const estimate::IntervalOptions& options) {
  HostWindow h;
  h.host = s.host;
  h.internal = s.internal != 0;
  h.features = host_features(s, window_s, history);
  const double w = std::max(1.0, double{s.max_weight});
  h.max_sampling_rate = w;
  h.packets_in = slot_estimate(s.packets_in, s.var_packets_in, w, 1.0, options);
  h.packets_out = slot_estimate(s.packets_out, s.var_packets_out, w, 1.0, options);
  h.bytes_in = slot_estimate(s.bytes_in, s.var_bytes_in, w, kMaxPacketBytes, options);
  h.bytes_out = slot_estimate(s.bytes_out, s.var_bytes_out, w, kMaxPacketBytes, options);
  // Flow arrivals, probes and auth connections are counts of records each of weight w:
  // variance w(w − 1) per record (estimate::record_terms), i.e. (w − 1) × the sum.
  const auto count = [&](double sum) {
    return slot_estimate(sum, (w - 1.0) * sum, w, 1.0, options);
  };
  // Bytes to external peers carry no variance term of their own: scale the host's byte
  // variance by their share.
  const double ext_share =
      s.bytes_out > 0 ? std::min(1.0, double{s.bytes_out_external} / s.bytes_out) : 0.0;
  h.bytes_out_external =
      slot_estimate(s.bytes_out_external, s.var_bytes_out * ext_share, w, kMaxPacketBytes, options);
  h.flows_in = count(s.flows_in);
  h.flows_out = count(s.flows_out);
  h.probes_out = count(s.probes_out);
  h.auth_flows_in = count(s.auth_in);
  h.auth_flows_out = count(s.auth_out);
  for (size_t c = 0; c < kInboundClassCount; ++c) {
    h.inbound[c] = poisson_estimate(s.inbound[c], s.inbound[c] / w, w, options);
  }
  h.amplification_port = s.amp_port;
  constexpr uint16_t kAuthPorts[3] = {22, 23, 3389};
  size_t busiest = 0;
  for (size_t i = 1; i < s.auth_records.size(); ++i) {
    if (s.auth_records[i] > s.auth_records[busiest]) busiest = i;
  }
  h.auth_port_in = s.auth_records[busiest] > 0 ? kAuthPorts[busiest] : 0;
  h.auth_sessions_observed = s.auth_sessions.estimate();
  h.auth_port_out = s.auth_port_out;
  h.records = s.records;
  h.syn_only_records_out = s.syn_only_out;
  h.intel_records = s.intel_records;
  h.intel_categories = s.intel_categories;
  h.intel_peer = s.intel_peer;
  h.top_peer = s.top_peer;
  h.top_peer_bytes = s.top_peer_bytes;
  h.top_peer_bytes_out = s.top_peer_bytes_out;
  h.top_remote_port = s.top_remote_port;
  h.first_arrival_ns = s.first_arrival_ns;
  return h;
}

}  // namespace fathom::analyze
