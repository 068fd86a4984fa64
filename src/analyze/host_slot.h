#pragma once

#include <array>
#include <cstdint>
#include <type_traits>

#include "analyze/features.h"
#include "analyze/sketch.h"
#include "flow/ip_address.h"

namespace fathom::analyze {

/// 128 bits of hashed peers: the host's peers of a slide, and (in the tenant's history) every
/// peer it had before the window; `new peer share` compares the two (docs/features.md).
struct PeerBits {
  std::array<uint64_t, 2> words{};
  void add(uint64_t hash) noexcept { words[(hash >> 6) & 1] |= uint64_t{1} << (hash & 63); }
  void merge(const PeerBits& o) noexcept {
    words[0] |= o.words[0];
    words[1] |= o.words[1];
  }
  bool empty() const noexcept { return (words[0] | words[1]) == 0; }
};

/// What one host did in one slide (or a merged window): Horvitz–Thompson sums from the host's
/// side, a few small sketches, and counts of sampled records. Filled per record by
/// `HostTable`, merged (`merge`) into windows, turned into features and estimates at window
/// close (`host_window`, `host_features`). Trivially copyable; floats, because a slot is kept
/// per host per slide and memory per host is the analysis stage's budget.
struct HostSlot {
  flow::IpAddress host;  ///< `::` = empty slot
  // Horvitz–Thompson sums (sampled value × sampling rate) and their variance terms.
  float packets_in = 0, packets_out = 0, bytes_in = 0, bytes_out = 0;
  float var_packets_in = 0, var_packets_out = 0, var_bytes_in = 0, var_bytes_out = 0;
  float flows_in = 0, flows_out = 0;                ///< weighted TCP flow-arrival (SYN) records
  std::array<float, kInboundClassCount> inbound{};  ///< weighted packets received, by class
  float probes_out = 0;                             ///< weighted SYN-only records sent
  float auth_in = 0;   ///< weighted SYN records received on an auth port
  float auth_out = 0;  ///< weighted SYN records sent to an auth port
  float intel_packets = 0;
  float bytes_out_external = 0;  ///< weighted bytes sent to peers outside the tenant
  /// Weighted bytes with `top_peer`, the heaviest single *external* peer (a one-counter
  /// Misra–Gries summary: finds the peer that carries most of the bytes, if one does).
  float top_peer_bytes = 0;
  float top_peer_bytes_out = 0;  ///< of those, sent by this host
  float max_weight = 0;          ///< largest sampling rate of its records
  float amp_port_packets = 0;    ///< weighted packets of the record that set `amp_port`
  uint32_t records = 0;          ///< sampled records it took part in
  uint32_t tcp_records = 0;
  uint32_t syn_only_records = 0;  ///< TCP, SYN without ACK (either direction)
  uint32_t rst_records = 0;
  uint32_t syn_only_out = 0;  ///< of those, sent by this host
  uint32_t intel_records = 0;
  uint16_t amp_port = 0;  ///< reflection source port with the heaviest record
  /// Sampled records to this host's SSH, Telnet and RDP ports (saturating): the busiest
  /// names a brute force's service.
  std::array<uint16_t, 3> auth_records{};
  uint16_t auth_port_out = 0;
  uint16_t top_remote_port = 0;  ///< service port of the conversations with `top_peer`
  uint16_t intel_categories = 0;
  uint8_t internal = 0;  ///< 1: in the tenant's networks
  flow::IpAddress top_peer;
  flow::IpAddress intel_peer;
  int64_t first_arrival_ns = 0;
  HyperLogLog<32> peers;
  HyperLogLog<32> remote_ports;
  HyperLogLog<32> local_ports;
  HyperLogLog<32> auth_sessions;  ///< client ports of records to an auth port of this host
  EntropyHistogram<8> peer_histogram;
  EntropyHistogram<8> port_histogram;
  PeerBits peer_bits;

  /// Adds `other` (the same host in another slide) to this one.
  void merge(const HostSlot& other) noexcept;
};

static_assert(std::is_trivially_copyable_v<HostSlot>);

/// The feature vector of a merged slot over a window of `window_s` seconds; `history` is the
/// host's peers before the window (null when none is kept: the share is then 1 for a host
/// with peers).
FeatureVector host_features(const HostSlot& slot, double window_s,
                            const PeerBits* history) noexcept;

/// Everything rules and explanations need of one host: features plus estimates with
/// intervals (docs/features.md "Estimates").
HostWindow host_window(const HostSlot& slot, double window_s, const PeerBits* history,
                       const estimate::IntervalOptions& options = {});

}  // namespace fathom::analyze
