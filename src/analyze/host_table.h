#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "analyze/host_slot.h"
#include "flow/ip_address.h"

namespace fathom::analyze {

/// Counters of a host table's admission policy.
struct HostTableStats {
  uint64_t evicted = 0;   ///< a one-off host made room for a new one
  uint64_t rejected = 0;  ///< records of a new host not tracked: the table was full of
                          ///< hosts more active than one-offs
};

/// The hosts of one tenant in one slide (or window): an open-addressing table of HostSlots
/// with linear probing and backward-shift deletion, sized once, cleared (not freed) between
/// slides. At most `max_internal` internal and `max_external` external hosts; when a kind is
/// full, a new host takes the place of the least active of a few nearby hosts if that one
/// was seen in at most `kEvictableRecords` records (a one-off: spoofed flood sources, single
/// probes), else the new host's records are counted and not tracked. Not thread-safe.
class HostTable {
 public:
  static constexpr uint32_t kEvictableRecords = 2;

  HostTable(uint32_t max_internal, uint32_t max_external);

  /// The slot of `host` (hash `hash`, from `hash_address`), inserted when new; nullptr when
  /// the host is not tracked (full, see above).
  HostSlot* find_or_insert(const flow::IpAddress& host, uint64_t hash, bool internal) noexcept;
  /// Starts loading the slot `hash` would probe first (no effect on the table).
  void prefetch(uint64_t hash) const noexcept {
    if (packed_ || slots_.empty()) return;
    const size_t pos = home(hash | 1);
    __builtin_prefetch(&hashes_[pos]);
    __builtin_prefetch(&slots_[pos]);
  }
  /// The slot of `host`, or nullptr.
  const HostSlot* find(const flow::IpAddress& host, uint64_t hash) const noexcept;
  /// Merges every host of `other` into this table (same caps apply).
  void merge(const HostTable& other) noexcept;
  /// Forgets every host, keeping the memory.
  void clear() noexcept;
  /// Makes this table a dense, read-only copy of `src`'s hosts (no empty slots: about half
  /// the memory of a table, and merges from it read memory in order). A packed table is only
  /// read (`for_each`, as the source of `merge`, `find` scans it) until `clear`, which keeps
  /// it packed and empty for the next `pack_from`.
  void pack_from(const HostTable& src);
  bool packed() const noexcept { return packed_; }

  size_t size() const noexcept { return internal_ + external_; }
  uint32_t internal_hosts() const noexcept { return internal_; }
  uint32_t external_hosts() const noexcept { return external_; }
  const HostTableStats& stats() const noexcept { return stats_; }
  /// Bytes of slot memory held (slots and their hashes).
  size_t memory_bytes() const noexcept {
    return slots_.capacity() * sizeof(HostSlot) + hashes_.capacity() * sizeof(uint64_t);
  }

  /// Calls `fn(const HostSlot&)` for every used slot, in table order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (size_t pos = 0; pos < slots_.size(); ++pos) {
      if (hashes_[pos] != 0) fn(slots_[pos]);
    }
  }

 private:
  size_t home(uint64_t hash) const noexcept { return static_cast<size_t>(hash) & mask_; }
  void erase_at(size_t pos) noexcept;
  void grow();

  bool packed_ = false;
  uint32_t max_internal_;
  uint32_t max_external_;
  uint32_t internal_ = 0;
  uint32_t external_ = 0;
  size_t mask_ = 0;
  std::vector<HostSlot> slots_;
  /// Hash of each slot's host, forced odd; 0 marks an empty slot.
  std::vector<uint64_t> hashes_;
  HostTableStats stats_;
};

}  // namespace fathom::analyze
