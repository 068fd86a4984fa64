#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "estimate/accumulator.h"
#include "flow/ip_address.h"

namespace fathom::analyze {

/// The per-host feature vector of one window (docs/features.md has each feature's meaning
/// and what sampling does to it). Rates are per second of the window, so windows of every
/// length compare; ratios and shares are in [0, 1]; distinct counts are *observed* (lower
/// bounds under sampling). The autoencoder (issue 8) reads these in this order.
enum class Feature : uint8_t {
  kPacketsInPerS = 0,    ///< estimated packets received per second
  kPacketsOutPerS,       ///< estimated packets sent per second
  kBytesInPerS,          ///< estimated bytes received per second
  kBytesOutPerS,         ///< estimated bytes sent per second
  kFlowsInPerS,          ///< estimated TCP connections accepted per second (SYN records)
  kFlowsOutPerS,         ///< estimated TCP connections opened per second
  kDistinctPeers,        ///< peers seen (HyperLogLog of observed peers)
  kDistinctRemotePorts,  ///< peer-side ports seen
  kDistinctLocalPorts,   ///< host-side ports seen
  kSynOnlyRatio,         ///< TCP records with SYN and no ACK / TCP records
  kRstRatio,             ///< TCP records with RST / TCP records
  kMeanPacketBytes,      ///< bytes / packets, both directions
  kPeerEntropy,          ///< normalised entropy of peers over sampled records
  kPortEntropy,          ///< normalised entropy of peer-side ports over sampled records
  kIntelShare,           ///< share of estimated packets to or from intel-listed addresses
  kNewPeerShare,         ///< share of the window's peers not seen in the host's history
};
inline constexpr size_t kFeatureCount = 16;

/// Stable snake_case name of a feature ("packets_in_per_s", ...), as in docs and JSON.
std::string_view to_string(Feature feature) noexcept;

using FeatureVector = std::array<float, kFeatureCount>;

inline float& at(FeatureVector& v, Feature f) noexcept {
  return v[static_cast<size_t>(f)];
}
inline float at(const FeatureVector& v, Feature f) noexcept {
  return v[static_cast<size_t>(f)];
}

/// A traffic class for the volumetric rules: what a victim receives.
enum class InboundClass : uint8_t {
  kSynOnly = 0,        ///< TCP packets of records with SYN and no ACK (floods, scans)
  kUdp = 1,            ///< UDP from a non-amplification source port
  kIcmp = 2,           ///< ICMP and ICMPv6
  kAmplification = 3,  ///< UDP from a reflection service port (`amplification_service`)
};
inline constexpr size_t kInboundClassCount = 4;

/// Name of an inbound class: "syn_only", "udp", "icmp", "amplification".
std::string_view to_string(InboundClass c) noexcept;

/// The reflection service a UDP source port belongs to: "dns" (53), "ntp" (123), "snmp"
/// (161), "cldap" (389), "ssdp" (1900), "memcached" (11211), "chargen" (19), "qotd" (17),
/// "rpcbind" (111), "netbios" (137), "wsd" (3702), "coap" (5683), "ard" (3283); "" otherwise.
std::string_view amplification_service(uint16_t src_port) noexcept;

/// Well-known authentication service of a TCP destination port: "ssh" (22), "telnet" (23),
/// "rdp" (3389), "" otherwise. Brute-force rules watch these.
std::string_view auth_service(uint16_t dst_port) noexcept;

/// A packet count estimated with the simple Poisson model (every record carries about the
/// same weight): value Σ w·c, variance Σ (w − 1)·w·c approximated by (w_max − 1)·value.
/// Used for the sub-volumes the slot keeps without a variance of their own.
estimate::Estimate poisson_estimate(double weighted, double units, double max_weight,
                                    const estimate::IntervalOptions& options = {}) noexcept;

/// One host's window: the feature vector plus the estimates (with intervals) that rules
/// and explanations need. Built at window close, not per record.
struct HostWindow {
  flow::IpAddress host;
  bool internal = false;  ///< in the tenant's networks (else an external host it talks to)
  FeatureVector features{};
  estimate::Estimate packets_in;
  estimate::Estimate packets_out;
  estimate::Estimate bytes_in;
  estimate::Estimate bytes_out;
  estimate::Estimate flows_in;   ///< TCP connections accepted
  estimate::Estimate flows_out;  ///< TCP connections opened
  /// Estimated packets received by class (volumetric rules), per window (not per second).
  std::array<estimate::Estimate, kInboundClassCount> inbound;
  uint16_t amplification_port = 0;  ///< the reflection source port with the most packets
  /// Estimated SYN-only connection attempts this host sent (probes), per window.
  estimate::Estimate probes_out;
  /// Estimated connections this host accepted on an auth port / opened to one, per window.
  estimate::Estimate auth_flows_in;
  estimate::Estimate auth_flows_out;
  /// Distinct client ports seen connecting to an auth port of this host (HyperLogLog): how
  /// many sessions at least, whatever the sampling.
  double auth_sessions_observed = 0.0;
  uint16_t auth_port_in = 0;  ///< the auth port of those connections
  uint16_t auth_port_out = 0;
  /// Sampled records the host took part in, and of those: TCP, SYN-only sent, intel.
  uint32_t records = 0;
  uint32_t syn_only_records_out = 0;
  uint32_t intel_records = 0;
  uint16_t intel_categories = 0;  ///< OR of the listed peers' categories
  flow::IpAddress intel_peer;     ///< one listed peer (the latest seen)
  /// Estimated bytes sent to peers outside the tenant, per window.
  estimate::Estimate bytes_out_external;
  flow::IpAddress top_peer;         ///< the external peer with the most bytes (approximate)
  double top_peer_bytes = 0.0;      ///< its estimated bytes, both directions
  double top_peer_bytes_out = 0.0;  ///< of those, sent by this host
  uint16_t top_remote_port = 0;     ///< the peer-side port of the heaviest records
  double max_sampling_rate = 1.0;   ///< largest sampling rate of its records
  int64_t first_arrival_ns = 0;     ///< earliest arrival of its records in the window
};

}  // namespace fathom::analyze
