#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace fathom::estimate::detail {

/// A bounded open-addressing hash table (linear probing, power-of-two capacity) for the
/// per-window state of the estimator: at most `max_entries` keys, after which `find_or_insert`
/// refuses new ones (the caller counts them into an overflow bucket). It grows by doubling up
/// to twice `max_entries` slots and `clear()` keeps the memory, so a table reused window after
/// window stops allocating once it has seen its peak. No erase.
///
/// `Key` and `Value` must be trivially copyable; `Hash` maps a key to a well-mixed size_t.
template <typename Key, typename Value, typename Hash>
class FlatTable {
  static_assert(std::is_trivially_copyable_v<Key> && std::is_trivially_copyable_v<Value>);

 public:
  explicit FlatTable(uint32_t max_entries = 0) : max_entries_(max_entries) {}

  /// The value of `key`, value-initialised on first sight; nullptr when the key is new and
  /// the table already holds `max_entries` keys.
  Value* find_or_insert(const Key& key) {
    if (!slots_.empty()) {
      const size_t idx = probe(key);
      if (used_[idx]) return &slots_[idx].value;
    }
    if (size_ >= max_entries_) return nullptr;
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const size_t idx = probe(key);
    used_[idx] = 1;
    slots_[idx].key = key;
    slots_[idx].value = Value{};
    ++size_;
    return &slots_[idx].value;
  }

  /// The value of `key`, or nullptr.
  const Value* find(const Key& key) const {
    if (slots_.empty()) return nullptr;
    const size_t idx = probe(key);
    return used_[idx] ? &slots_[idx].value : nullptr;
  }

  /// Calls `fn(key, value)` for every entry, in slot order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (size_t slot_idx = 0; slot_idx < slots_.size(); ++slot_idx) {
      if (used_[slot_idx]) fn(slots_[slot_idx].key, slots_[slot_idx].value);
    }
  }

  /// Forgets every entry and keeps the memory.
  void clear() noexcept {
    if (size_ == 0) return;
    std::fill(used_.begin(), used_.end(), uint8_t{0});
    size_ = 0;
  }

  /// Changes the entry limit (existing entries stay even if above it).
  void set_max_entries(uint32_t max_entries) noexcept { max_entries_ = max_entries; }

  size_t size() const noexcept { return size_; }
  bool full() const noexcept { return size_ >= max_entries_; }
  uint32_t max_entries() const noexcept { return max_entries_; }

 private:
  struct Slot {
    Key key;
    Value value;
  };

  // The slot holding `key`, or the empty slot where it would go. The table is never more
  // than half full, so the loop ends.
  size_t probe(const Key& key) const {
    const size_t mask = slots_.size() - 1;
    size_t idx = Hash{}(key)&mask;
    while (used_[idx] && !(slots_[idx].key == key)) idx = (idx + 1) & mask;
    return idx;
  }

  void grow() {
    const size_t capacity = slots_.empty() ? 16 : slots_.size() * 2;
    std::vector<Slot> old_slots(capacity);
    std::vector<uint8_t> old_used(capacity, 0);
    old_slots.swap(slots_);
    old_used.swap(used_);
    for (size_t slot_idx = 0; slot_idx < old_slots.size(); ++slot_idx) {
      if (!old_used[slot_idx]) continue;
      const size_t idx = probe(old_slots[slot_idx].key);
      used_[idx] = 1;
      slots_[idx] = old_slots[slot_idx];
    }
  }

  std::vector<Slot> slots_;
  std::vector<uint8_t> used_;
  size_t size_ = 0;
  uint32_t max_entries_ = 0;
};

/// A 64-bit finaliser (splitmix64) for integer keys.
struct IntegerHash {
  size_t operator()(uint64_t key) const noexcept {
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebULL;
    key ^= key >> 31;
    return static_cast<size_t>(key);
  }
};

}  // namespace fathom::estimate::detail
