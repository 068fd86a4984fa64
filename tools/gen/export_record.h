#pragma once

// What a simulated device's flow cache or packet sampler hands to its encoder.

#include <cstdint>

#include "flow/ip_address.h"
#include "gen/flow_spec.h"

namespace fathom::gen {

/// flowEndReason (IE 136) values (RFC 5102 §5.11.3).
inline constexpr uint8_t kEndIdle = 1;
inline constexpr uint8_t kEndActive = 2;
inline constexpr uint8_t kEndOfFlow = 3;
inline constexpr uint8_t kEndForced = 4;

/// One NetFlow/IPFIX flow record as exported (sampled counters).
struct ExportRecord {
  int64_t first_ns = 0;
  int64_t last_ns = 0;
  flow::IpAddress src;
  flow::IpAddress dst;
  uint64_t bytes = 0;
  uint64_t packets = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t proto = 0;
  uint8_t tos = 0;
  uint8_t tcp_flags = 0;
  uint8_t end_reason = kEndIdle;
  Label label = 0;
};

/// One sFlow packet sample: the sampled packet's header fields and the sampler's pool step.
struct PacketSample {
  int64_t time_ns = 0;
  flow::IpAddress src;
  flow::IpAddress dst;
  uint32_t pool_delta =
      0;                 ///< packets the sampler saw since its previous sample, this one included
  uint32_t tcp_seq = 0;  ///< synthetic sequence number (for a realistic header)
  uint16_t src_port = 0;
  uint16_t dst_port = 0;  ///< ICMP: type << 8 | code
  uint16_t size = 0;      ///< L3 bytes
  uint8_t proto = 0;
  uint8_t tos = 0;
  uint8_t tcp_flags = 0;
  Label label = 0;
};

}  // namespace fathom::gen
