#include "analyze/host_table.h"

#include <algorithm>
#include <cstring>

namespace fathom::analyze {
namespace {

/// Address equality in two 8-byte loads (std::array's == is a memcmp call).
inline bool same(const flow::IpAddress& a, const flow::IpAddress& b) noexcept {
  uint64_t a0, a1, b0, b1;
  std::memcpy(&a0, a.bytes.data(), 8);
  std::memcpy(&a1, a.bytes.data() + 8, 8);
  std::memcpy(&b0, b.bytes.data(), 8);
  std::memcpy(&b1, b.bytes.data() + 8, 8);
  return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

constexpr size_t kInitialCapacity = 64;
/// Slots probed for an evictable host when a kind is full.
constexpr size_t kEvictionProbes = 8;

size_t capacity_for(uint32_t hosts) {
  size_t cap = kInitialCapacity;
  while (cap < size_t{hosts} * 2) cap <<= 1;  // load factor <= 0.5 when full
  return cap;
}

}  // namespace

HostTable::HostTable(uint32_t max_internal, uint32_t max_external)
    : max_internal_(max_internal), max_external_(max_external) {
  const size_t cap = std::min(kInitialCapacity, capacity_for(max_internal + max_external));
  slots_.resize(cap);
  hashes_.assign(cap, 0);
  mask_ = cap - 1;
}

void HostTable::grow() {
  std::vector<HostSlot> old_slots = std::move(slots_);
  std::vector<uint64_t> old_hashes = std::move(hashes_);
  const size_t cap = old_slots.size() * 2;
  slots_.assign(cap, HostSlot{});
  hashes_.assign(cap, 0);
  mask_ = cap - 1;
  for (size_t pos = 0; pos < old_slots.size(); ++pos) {
    if (old_hashes[pos] == 0) continue;
    size_t at = home(old_hashes[pos]);
    while (hashes_[at] != 0) at = (at + 1) & mask_;
    hashes_[at] = old_hashes[pos];
    slots_[at] = old_slots[pos];
  }
}

void HostTable::erase_at(size_t pos) noexcept {
  // Backward-shift deletion: move later members of the probe run into the hole so that
  // every remaining key stays reachable from its home slot without tombstones.
  size_t hole = pos;
  size_t next = (pos + 1) & mask_;
  while (hashes_[next] != 0) {
    const size_t want = home(hashes_[next]);
    // `next` may move into `hole` when its home is not in the cyclic range (hole, next].
    const bool movable =
        hole <= next ? (want <= hole || want > next) : (want <= hole && want > next);
    if (movable) {
      slots_[hole] = slots_[next];
      hashes_[hole] = hashes_[next];
      hole = next;
    }
    next = (next + 1) & mask_;
  }
  hashes_[hole] = 0;
  slots_[hole] = HostSlot{};
}

HostSlot* HostTable::find_or_insert(const flow::IpAddress& host, uint64_t hash,
                                    bool internal) noexcept {
  const uint64_t h = hash | 1;
  size_t pos = home(h);
  while (hashes_[pos] != 0) {
    if (hashes_[pos] == h && same(slots_[pos].host, host)) return &slots_[pos];
    pos = (pos + 1) & mask_;
  }
  uint32_t& count = internal ? internal_ : external_;
  const uint32_t limit = internal ? max_internal_ : max_external_;
  if (count >= limit) {
    // Full: look for a one-off of the same kind near the new host's home.
    size_t victim = SIZE_MAX;
    uint32_t fewest = kEvictableRecords + 1;
    size_t probe = home(h);
    for (size_t step = 0; step < kEvictionProbes * 4 && step < slots_.size(); ++step) {
      if (hashes_[probe] != 0 && (slots_[probe].internal != 0) == internal &&
          slots_[probe].records < fewest) {
        fewest = slots_[probe].records;
        victim = probe;
        if (fewest <= 1) break;
      }
      probe = (probe + 1) & mask_;
    }
    if (victim == SIZE_MAX) {
      ++stats_.rejected;
      return nullptr;
    }
    ++stats_.evicted;
    erase_at(victim);
    --count;
    pos = home(h);
    while (hashes_[pos] != 0) pos = (pos + 1) & mask_;
  } else if ((internal_ + external_ + 1) * 2 > slots_.size()) {
    grow();
    pos = home(h);
    while (hashes_[pos] != 0) pos = (pos + 1) & mask_;
  }
  ++count;
  hashes_[pos] = h;
  HostSlot& slot = slots_[pos];
  slot = HostSlot{};
  slot.host = host;
  slot.internal = internal ? 1 : 0;
  return &slot;
}

const HostSlot* HostTable::find(const flow::IpAddress& host, uint64_t hash) const noexcept {
  const uint64_t h = hash | 1;
  if (packed_) {
    for (size_t pos = 0; pos < slots_.size(); ++pos) {
      if (hashes_[pos] == h && same(slots_[pos].host, host)) return &slots_[pos];
    }
    return nullptr;
  }
  size_t pos = home(h);
  while (hashes_[pos] != 0) {
    if (hashes_[pos] == h && same(slots_[pos].host, host)) return &slots_[pos];
    pos = (pos + 1) & mask_;
  }
  return nullptr;
}

void HostTable::merge(const HostTable& other) noexcept {
  for (size_t pos = 0; pos < other.slots_.size(); ++pos) {
    if (other.hashes_[pos] == 0) continue;
    const HostSlot& src = other.slots_[pos];
    HostSlot* dst = find_or_insert(src.host, other.hashes_[pos], src.internal != 0);
    if (dst != nullptr) dst->merge(src);
  }
}

void HostTable::clear() noexcept {
  if (packed_) {
    slots_.clear();
    hashes_.clear();
  } else {
    std::fill(hashes_.begin(), hashes_.end(), 0);
  }
  internal_ = 0;
  external_ = 0;
  stats_ = {};
}

void HostTable::pack_from(const HostTable& src) {
  packed_ = true;
  mask_ = 0;
  slots_.clear();
  hashes_.clear();
  slots_.reserve(src.size());
  hashes_.reserve(src.size());
  for (size_t pos = 0; pos < src.slots_.size(); ++pos) {
    if (src.hashes_[pos] == 0) continue;
    slots_.push_back(src.slots_[pos]);
    hashes_.push_back(src.hashes_[pos]);
  }
  internal_ = src.internal_;
  external_ = src.external_;
  stats_ = src.stats_;
}

}  // namespace fathom::analyze
