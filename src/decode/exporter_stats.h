#pragma once

#include <array>
#include <cstdint>

#include "decode/decode_status.h"

namespace fathom::decode {

/// Counters for one exporter (UDP source address). Written only by the decoding thread that
/// owns the exporter; read by metrics as plain loads (a torn read of a monotonic counter is
/// harmless for monitoring).
struct ExporterStats {
  uint64_t packets = 0;              ///< export packets seen (decoded or not)
  uint64_t bytes = 0;                ///< export packet payload bytes
  uint64_t packets_ok = 0;           ///< packets decoded without any error
  uint64_t records = 0;              ///< flow records emitted
  uint64_t counter_records = 0;      ///< sFlow interface counter records emitted
  uint64_t templates_added = 0;      ///< new or changed templates learned
  uint64_t templates_withdrawn = 0;  ///< IPFIX withdrawals honoured
  uint64_t templates_active = 0;     ///< templates currently held (gauge)
  uint64_t pending_parked = 0;       ///< data sets parked waiting for their template
  uint64_t pending_decoded = 0;      ///< parked data sets decoded once the template arrived
  uint64_t sampling_unknown = 0;     ///< records emitted without a known sampling rate
  int64_t last_seen_ns = 0;          ///< arrival time of the latest packet
  uint8_t last_version = 0;          ///< 5, 9, 10 (IPFIX) or 0x50 for sFlow v5
  /// One counter per `DecodeStatus` (index kOk unused): why something was dropped or noted.
  std::array<uint64_t, kDecodeStatusCount> reasons{};

  void count(DecodeStatus s) noexcept { ++reasons[static_cast<size_t>(s)]; }
  uint64_t reason(DecodeStatus s) const noexcept { return reasons[static_cast<size_t>(s)]; }
};

}  // namespace fathom::decode
