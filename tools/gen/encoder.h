#pragma once

// What every export encoder shares: the exporter's identity and a datagram callback.

#include <cstdint>
#include <functional>
#include <span>

#include "gen/scenario.h"

namespace fathom::gen {

/// Receives one finished UDP payload; the span is valid only during the call.
using EmitFn = std::function<void(std::span<const std::byte>)>;

/// Counters every encoder keeps.
struct EncoderStats {
  uint64_t datagrams = 0;
  uint64_t records = 0;  ///< flow records or packet samples written
  uint64_t payload_bytes = 0;
};

/// Milliseconds since the device booted, as a 32-bit wrapping uptime (v5, v9, sFlow).
inline uint32_t uptime_ms(int64_t t_ns, int64_t boot_ns) noexcept {
  return static_cast<uint32_t>(static_cast<uint64_t>((t_ns - boot_ns) / 1'000'000));
}

}  // namespace fathom::gen
