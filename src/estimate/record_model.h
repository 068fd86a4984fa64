#pragma once

#include <cstdint>

#include "estimate/accumulator.h"
#include "flow/flow_record.h"

namespace fathom::estimate {

/// How the variance of byte totals treats the unknown sizes of the packets inside a flow
/// record (docs/estimation.md "Bytes"). sFlow packet samples and one-packet records are exact
/// under either model.
enum class ByteVarianceModel : uint8_t {
  /// Every packet of the record has the record's mean size B/c. The smallest possible
  /// Σ size² for that mean: it understates the variance of flows that mix large and small
  /// packets (TCP data with ACKs, video with control packets).
  kMeanSize = 0,
  /// Every packet size lies in [min_packet_bytes, max_packet_bytes] and the record takes the
  /// largest Σ size² those bounds allow for its c packets and B bytes (as many packets as
  /// possible at the maximum, one in between, the rest at the minimum: the finite-c form of
  /// the Bhatia–Davis bound). Exact for the bimodal mixes real traffic is made of; overstates
  /// the variance of flows whose packets all have one middling size.
  kSizeBounds = 1,
};

/// Settings of the per-record sampling model.
struct ModelOptions {
  ByteVarianceModel byte_variance = ByteVarianceModel::kSizeBounds;
  /// Smallest plausible packet, in the record's byte unit (L3 for NetFlow/IPFIX: an IPv4 TCP
  /// ACK is 40). A record whose mean is below it uses its mean instead.
  double min_packet_bytes = 40.0;
  /// Largest plausible packet (a 1500-byte MTU). A record whose mean is above it (jumbo
  /// frames, TSO-merged records) uses its mean instead.
  double max_packet_bytes = 1500.0;
};

/// TCP flag bits (RFC 9293 §3.1).
namespace tcp_flag {
inline constexpr uint16_t kSyn = 0x02;
inline constexpr uint16_t kAck = 0x10;
}  // namespace tcp_flag

/// What one flow record adds to the packet, byte and flow-arrival accumulators, and the
/// sampling it went through.
struct RecordTerms {
  /// False when `sampling_rate` is not a finite number >= 1: such a record cannot be scaled
  /// and is counted and skipped by the caller.
  bool valid = false;
  bool tcp_flow_arrival = false;  ///< the record shows a new TCP connection (see below)
  double weight = 1.0;            ///< w = sampling_rate
  double device_rate = 1.0;       ///< N: the device's 1-in-N packet sampling
  double keep_probability = 1.0;  ///< p = N / w: Fathom's secondary (flow-level) keep rate
  Contribution packets;
  Contribution bytes;
  Contribution flows;  ///< all zero unless `tcp_flow_arrival`
};

/// The Horvitz–Thompson terms of one record under the two-stage model: packets sampled 1 in
/// N independently by the device, then the record kept by Fathom with probability p.
/// For c sampled packets carrying B bytes, w = N/p:
///   packets: w·c,  variance  w(N−1)·c + (1−p)(w·c)²
///   bytes:   w·B,  variance  w(N−1)·Q + (1−p)(w·B)²,  Q = Σ size² of the c packets
///            (exact for c = 1, else per `options.byte_variance`)
///   flows:   w if the record shows a TCP flow arrival, variance w(w−1)
/// A record with `packets` = 0 is taken as one packet. Never fails; see `valid`.
///
/// A TCP flow arrival is a record of protocol 6 with SYN set; for sFlow packet samples
/// (`record_flags::kPacketSample`, exact per-packet flags) SYN without ACK, so a SYN-ACK is
/// not counted. Flow records OR the flags of all their packets, so the reverse flow's
/// SYN-ACK counts too: docs/estimation.md "Limitations".
RecordTerms record_terms(const flow::FlowRecord& record, const ModelOptions& options) noexcept;

/// The service port of a record, for per-(protocol, port) totals: 0 for protocols without
/// ports (anything but TCP, UDP, SCTP, DCCP); otherwise the port below 1024 when exactly one
/// is, the destination port when both are, and the lower port when neither is (ephemeral
/// client ports are allocated high). So a request and its response land on the same port.
uint16_t service_port(const flow::FlowRecord& record) noexcept;

}  // namespace fathom::estimate
