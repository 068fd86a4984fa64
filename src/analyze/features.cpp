#include "analyze/features.h"

#include <algorithm>

namespace fathom::analyze {

std::string_view to_string(Feature feature) noexcept {
  static constexpr std::string_view kNames[kFeatureCount] = {
      "packets_in_per_s",     "packets_out_per_s", "bytes_in_per_s", "bytes_out_per_s",
      "flows_in_per_s",       "flows_out_per_s",   "distinct_peers", "distinct_remote_ports",
      "distinct_local_ports", "syn_only_ratio",    "rst_ratio",      "mean_packet_bytes",
      "peer_entropy",         "port_entropy",      "intel_share",    "new_peer_share",
  };
  const auto idx = static_cast<size_t>(feature);
  return idx < kFeatureCount ? kNames[idx] : std::string_view{"unknown"};
}

std::string_view to_string(InboundClass c) noexcept {
  switch (c) {
    case InboundClass::kSynOnly: return "syn_only";
    case InboundClass::kUdp: return "udp";
    case InboundClass::kIcmp: return "icmp";
    case InboundClass::kAmplification: return "amplification";
  }
  return "unknown";
}

std::string_view amplification_service(uint16_t src_port) noexcept {
  switch (src_port) {
    case 17: return "qotd";
    case 19: return "chargen";
    case 53: return "dns";
    case 111: return "rpcbind";
    case 123: return "ntp";
    case 137: return "netbios";
    case 161: return "snmp";
    case 389: return "cldap";
    case 1900: return "ssdp";
    case 3283: return "ard";
    case 3702: return "wsd";
    case 5683: return "coap";
    case 11211: return "memcached";
    default: return {};
  }
}

std::string_view auth_service(uint16_t dst_port) noexcept {
  switch (dst_port) {
    case 22: return "ssh";
    case 23: return "telnet";
    case 3389: return "rdp";
    default: return {};
  }
}

estimate::Estimate poisson_estimate(double weighted, double units, double max_weight,
                                    const estimate::IntervalOptions& options) noexcept {
  const double w = std::max(1.0, max_weight);
  estimate::Accumulator acc;
  if (weighted > 0.0) {
    acc.records = static_cast<uint64_t>(std::max(1.0, units));
    acc.units = static_cast<uint64_t>(std::max(1.0, units + 0.5));
    acc.raw = weighted / w;
    acc.sum = weighted;
    acc.sum_sq = weighted * w;
    acc.variance = (w - 1.0) * weighted;
    acc.min_unit_weight = w;
    acc.max_unit_weight = w;
  }
  return estimate::make_estimate(acc, w, options);
}

}  // namespace fathom::analyze
