#pragma once

// Data sets that arrived before their template, parked (bounded) with what is needed to decode
// them later.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "decode/detail/template_cache.h"

namespace fathom::decode::detail {

/// Header facts of the message a set came in: everything a data set needs besides its template.
struct MessageInfo {
  WireProtocol protocol = WireProtocol::kIpfix;
  uint32_t domain = 0;         ///< v9 source id / IPFIX observation domain
  uint32_t export_secs = 0;    ///< header export time (Unix seconds)
  uint32_t sys_uptime_ms = 0;  ///< v9 header sysUptime; 0 for IPFIX
  int64_t arrival_ns = 0;
  uint16_t exporter_port = 0;
};

/// One parked data set.
struct PendingSet {
  uint64_t key = 0;  ///< template_key() of the template it waits for
  MessageInfo info;
  std::vector<std::byte> body;  ///< the set's records (set header removed)
};

/// FIFO of parked data sets, bounded in bytes (each set costs its body plus a fixed overhead,
/// so a flood of tiny sets is bounded too).
class PendingBuffer {
 public:
  static constexpr size_t kOverheadBytes = sizeof(PendingSet);

  /// Parks a copy of `body`; false (nothing kept) when it would exceed `max_bytes`.
  bool park(uint64_t key, const MessageInfo& info, std::span<const std::byte> body,
            size_t max_bytes);
  /// Moves every set waiting for `key` into `taken` (in arrival order).
  void take(uint64_t key, std::vector<PendingSet>& taken);
  /// Drops sets that arrived before `cutoff_ns`; returns how many.
  size_t expire(int64_t cutoff_ns) noexcept;

  size_t bytes() const noexcept { return bytes_; }
  size_t size() const noexcept { return sets_.size(); }

 private:
  std::vector<PendingSet> sets_;
  size_t bytes_ = 0;
};

}  // namespace fathom::decode::detail
