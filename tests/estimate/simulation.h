#pragma once

// Seeded traffic simulation for the estimator property tests: a population of flows with
// heavy-tailed packet counts and realistic within-flow packet-size mixes, thinned by
// independent 1-in-N packet sampling (and optionally a flow-level keep probability) into
// NetFlow-style flow records or sFlow-style packet records. The true totals are known.
//
// Flows are never simulated packet by packet: a flow's packets are split over its size
// classes with a multinomial draw, and each class is thinned with one binomial draw. That is
// exactly independent per-packet sampling in distribution, at a cost per flow, not per packet.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "estimate/record_model.h"
#include "flow/flow_record.h"

namespace fathom::estimate::testing {

/// A flow's packet sizes: a categorical distribution over up to three L3 sizes.
struct SizeMix {
  std::array<double, 3> bytes{};
  std::array<double, 3> probability{};
  bool tcp = true;
};

/// The flow classes of the simulated traffic, chosen with the given shares. Real traffic is
/// bimodal (MTU-sized data, 40–64 byte ACKs and control packets) with some middling sizes.
struct FlowClass {
  double share;
  SizeMix mix;
};
inline constexpr std::array<FlowClass, 5> kFlowClasses = {{
    {0.35, {{1500, 1200, 52}, {0.85, 0.05, 0.10}, true}},  // bulk TCP data, a few ACKs
    {0.20, {{52, 40, 1500}, {0.80, 0.15, 0.05}, true}},    // the ACK side of a transfer
    {0.20, {{120, 350, 900}, {0.40, 0.40, 0.20}, true}},   // interactive request/response
    {0.15, {{1350, 110, 0}, {0.60, 0.40, 0.0}, false}},    // QUIC/video: data + control
    {0.10, {{80, 200, 512}, {0.50, 0.30, 0.20}, false}},   // DNS, NTP, small UDP
}};

/// Size of a TCP SYN (and the reverse SYN-ACK) in bytes.
inline constexpr double kSynBytes = 60;

/// Shape of one window's population.
struct PopulationOptions {
  int flows = 200;            ///< flows per window
  double pareto_alpha = 1.3;  ///< tail index of the packet counts (heavy: < 2)
  double pareto_min = 100;    ///< smallest flow, in packets
  double max_packets = 2e6;   ///< truncation: a flow's packets in one window
};

/// How the population is sampled and exported.
struct SamplingOptions {
  uint32_t device_rate = 100;     ///< 1-in-N packet sampling by the device
  double keep_probability = 1.0;  ///< Fathom's secondary flow-level keep probability
  bool sflow = false;             ///< one record per sampled packet instead of per flow
  /// When > 0, the secondary sampling is size-aware (threshold sampling, Duffield, Lund and
  /// Thorup): a record of c sampled packets is kept with p = min(1, N·c / threshold) instead
  /// of `keep_probability`.
  double threshold_packets = 0;
};

/// The true totals of a window's population.
struct Truth {
  double packets = 0;
  double bytes = 0;
  double flows = 0;  ///< TCP flows (each starts with one SYN)
};

/// Everything a record needs besides its counters, set by the caller (addresses, tenant...).
inline flow::FlowRecord base_record(const SamplingOptions& sampling) {
  flow::FlowRecord r;
  r.device_sampling_rate = sampling.device_rate;
  r.sampling_rate = sampling.device_rate / sampling.keep_probability;
  if (sampling.keep_probability < 1.0) r.flags |= flow::record_flags::kSecondarySampled;
  if (sampling.sflow) {
    r.flags |= flow::record_flags::kPacketSample;
    r.source = flow::SourceProtocol::kSflowV5;
  } else {
    r.source = flow::SourceProtocol::kIpfix;
  }
  return r;
}

/// Draws a flow size from the truncated Pareto of `pop`.
inline uint64_t draw_flow_packets(std::mt19937_64& rng, const PopulationOptions& pop) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const double u = 1.0 - unit(rng);  // (0, 1]
  const double k = pop.pareto_min * std::pow(u, -1.0 / pop.pareto_alpha);
  return static_cast<uint64_t>(std::min(std::floor(k), pop.max_packets));
}

/// Simulates one flow of `packets` true packets with size mix `mix`, appends its sampled
/// record(s) built from `proto_record` to `out`, and adds its truth to `truth`.
inline void simulate_flow(std::mt19937_64& rng, uint64_t packets, const SizeMix& mix,
                          const SamplingOptions& sampling, const flow::FlowRecord& proto_record,
                          std::vector<flow::FlowRecord>& out, Truth& truth) {
  const double q = 1.0 / sampling.device_rate;
  // The first packet of a TCP flow is its SYN.
  const bool tcp = mix.tcp;
  uint64_t rest = tcp ? packets - 1 : packets;
  std::array<uint64_t, 3> in_class{};
  double remaining_p = 1.0;
  for (size_t class_idx = 0; class_idx < 3; ++class_idx) {
    const double pr = mix.probability[class_idx];
    if (class_idx == 2 || remaining_p <= pr) {
      in_class[class_idx] = rest;
    } else {
      std::binomial_distribution<uint64_t> split(rest, pr / remaining_p);
      in_class[class_idx] = split(rng);
    }
    rest -= in_class[class_idx];
    remaining_p -= pr;
    truth.bytes += static_cast<double>(in_class[class_idx]) * mix.bytes[class_idx];
  }
  truth.packets += static_cast<double>(packets);
  if (tcp) {
    truth.bytes += kSynBytes;
    truth.flows += 1;
  }

  std::bernoulli_distribution keep(sampling.keep_probability);
  std::array<uint64_t, 3> sampled{};
  for (size_t class_idx = 0; class_idx < 3; ++class_idx) {
    std::binomial_distribution<uint64_t> thin(in_class[class_idx], q);
    sampled[class_idx] = in_class[class_idx] > 0 ? thin(rng) : 0;
  }
  const bool syn_sampled = tcp && std::bernoulli_distribution(q)(rng);

  flow::FlowRecord r = proto_record;
  r.ip_protocol = tcp ? 6 : 17;
  if (sampling.sflow) {
    // One record per sampled packet, exact flags; each kept independently by Fathom.
    r.packets = 1;
    if (syn_sampled && keep(rng)) {
      r.bytes = static_cast<uint64_t>(kSynBytes);
      r.tcp_flags = tcp_flag::kSyn;
      out.push_back(r);
    }
    r.tcp_flags = tcp ? tcp_flag::kAck : 0;
    for (size_t class_idx = 0; class_idx < 3; ++class_idx) {
      r.bytes = static_cast<uint64_t>(mix.bytes[class_idx]);
      for (uint64_t pkt_idx = 0; pkt_idx < sampled[class_idx]; ++pkt_idx) {
        if (keep(rng)) out.push_back(r);
      }
    }
    return;
  }
  uint64_t c = syn_sampled ? 1 : 0;
  double bytes = syn_sampled ? kSynBytes : 0.0;
  for (size_t class_idx = 0; class_idx < 3; ++class_idx) {
    c += sampled[class_idx];
    bytes += static_cast<double>(sampled[class_idx]) * mix.bytes[class_idx];
  }
  if (c == 0) return;
  if (sampling.threshold_packets > 0) {
    const double p =
        std::min(1.0, sampling.device_rate * static_cast<double>(c) / sampling.threshold_packets);
    if (!std::bernoulli_distribution(p)(rng)) return;
    r.sampling_rate = sampling.device_rate / p;
    if (p < 1.0) r.flags |= flow::record_flags::kSecondarySampled;
  } else if (!keep(rng)) {
    return;
  }
  r.packets = c;
  r.bytes = static_cast<uint64_t>(bytes);
  r.tcp_flags = 0;
  if (syn_sampled) r.tcp_flags |= tcp_flag::kSyn;
  if (tcp && c > (syn_sampled ? 1u : 0u)) r.tcp_flags |= tcp_flag::kAck;
  out.push_back(r);
}

/// Picks a flow class by its share.
inline const SizeMix& draw_mix(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  double u = unit(rng);
  for (const FlowClass& fc : kFlowClasses) {
    if (u < fc.share) return fc.mix;
    u -= fc.share;
  }
  return kFlowClasses.back().mix;
}

/// Simulates one window's population; appends the sampled records to `out` and returns the
/// truth.
inline Truth simulate_window(std::mt19937_64& rng, const PopulationOptions& pop,
                             const SamplingOptions& sampling, std::vector<flow::FlowRecord>& out) {
  Truth truth;
  const flow::FlowRecord proto = base_record(sampling);
  for (int flow_idx = 0; flow_idx < pop.flows; ++flow_idx) {
    const SizeMix& mix = draw_mix(rng);
    const uint64_t packets = draw_flow_packets(rng, pop);
    simulate_flow(rng, packets, mix, sampling, proto, out, truth);
  }
  return truth;
}

}  // namespace fathom::estimate::testing
