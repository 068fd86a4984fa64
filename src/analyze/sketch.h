#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "flow/ip_address.h"

namespace fathom::analyze {

/// 64-bit hash of an address (wyhash-style multiply-fold + murmur3 fmix64); the sketches below
/// take hashes, so one hash per record serves every sketch that sees the same item. Every
/// multiply has a fixed odd operand, so no address (however chosen) collapses a step to zero.
/// Unseeded: equal addresses hash alike in every process, so sketches built anywhere merge.
uint64_t hash_address(const flow::IpAddress& addr) noexcept;
/// 64-bit hash of a port (or any small integer) under a fixed seed, independent of
/// `hash_address` values (other constants, so port p and an address made of p's bytes do not
/// hash alike). Injective: distinct ports never collide.
uint64_t hash_port(uint16_t port) noexcept;

/// A HyperLogLog distinct counter (Flajolet et al. 2007) with `kRegisters` one-byte
/// registers (m, a power of two, 16..65536). An item's register is the top log2(m) bits of
/// its hash; the register keeps the largest rank seen, rank = leading zeros of the remaining
/// bits + 1 (at most 65 − log2(m)). The estimate is the raw αₘ·m²/Σ2^−M, replaced by linear
/// counting m·ln(m/V) while the raw estimate is at most 5·m/2 and V > 0 registers are zero;
/// with 64-bit hashes no large-range correction is needed (Heule et al. 2013). Mergeable
/// (register-wise max), trivially copyable, `kRegisters` bytes, no allocation. Standard
/// error ≈ 1.04/√m for large counts (m = 32: 18%, m = 1024: 3.3%), much better for counts
/// well below m. Expects well-mixed hashes (`hash_address`, `hash_port`).
///
/// Under sampling it counts *observed* distinct items: a lower bound of the true count
/// (docs/features.md "Distinct counts").
template <size_t kRegisters>
class HyperLogLog {
 public:
  static_assert(kRegisters >= 16 && kRegisters <= 65536 && (kRegisters & (kRegisters - 1)) == 0);

  /// Adds an item by its 64-bit hash. Adding an item again changes nothing.
  void add(uint64_t hash) noexcept;
  /// Register-wise maximum: the sketch of the union (equal to adding both streams to one).
  void merge(const HyperLogLog& other) noexcept;
  /// Estimated number of distinct items added (0 for an empty sketch). O(m).
  double estimate() const noexcept;
  /// The relative standard error of `estimate` for a large count: 1.04 / √m.
  static constexpr double relative_error() noexcept;
  /// True when nothing was added (every register zero).
  bool empty() const noexcept;
  /// Forgets everything added.
  void clear() noexcept;
  friend bool operator==(const HyperLogLog&, const HyperLogLog&) = default;

 private:
  static constexpr int kIndexBits = std::countr_zero(kRegisters);
  std::array<uint8_t, kRegisters> registers_{};
};

/// A hashed histogram of `kBins` bins (power of two, 4..256) of saturating 16-bit counts:
/// `add(hash)` counts one observation in bin hash mod kBins (the *low* bits, so the same hash
/// also feeds a `HyperLogLog`, which reads the top bits). Its Shannon entropy in bits
/// (`entropy_bits`, 0..log2(kBins)) approximates the entropy of the item distribution from
/// below (items that share a bin merge); `normalized_entropy` divides by log2 of the number
/// of non-empty bins, so that "spread evenly" reads 1 for any number of items. A bin stops at
/// 65535 (saturates, never wraps): past that the histogram flattens the heaviest bins, which
/// reads as more entropy than the stream has. Mergeable (bin-wise saturating add), trivially
/// copyable, 2·kBins bytes.
template <size_t kBins>
class EntropyHistogram {
 public:
  static_assert(kBins >= 4 && kBins <= 256 && (kBins & (kBins - 1)) == 0);

  /// Counts `count` observations of the item with this hash (saturating at 65535 per bin).
  void add(uint64_t hash, uint16_t count = 1) noexcept;
  /// Bin-wise saturating add: the histogram of both streams (up to saturation).
  void merge(const EntropyHistogram& other) noexcept;
  /// Σ counts (saturated per bin).
  uint64_t total() const noexcept;
  /// Shannon entropy of the bin distribution, bits. 0 when empty or one bin.
  double entropy_bits() const noexcept;
  /// entropy_bits / log2(non-empty bins), in [0, 1]; 0 when fewer than 2 bins are non-empty.
  double normalized_entropy() const noexcept;
  /// True when nothing was counted.
  bool empty() const noexcept;
  /// Forgets everything counted.
  void clear() noexcept;
  friend bool operator==(const EntropyHistogram&, const EntropyHistogram&) = default;

 private:
  std::array<uint16_t, kBins> bins_{};
};

/// One entry of a heavy-hitter summary.
struct HeavyHitter {
  flow::IpAddress key;
  double weight = 0.0;  ///< estimated weight (an overestimate by at most `error`)
  double error = 0.0;   ///< how much of `weight` may not be the key's: weight − error <= true
  /// Sampling variance of the key's own part (weight − error): the sum of the Horvitz–Thompson
  /// variance terms added while the key held its counter. With `error` it bounds the key's
  /// full-network weight: [weight − error − z·√variance, weight + z·√variance].
  double variance = 0.0;
};

/// Space-Saving top-k (Metwally, Agrawal, El Abbadi 2005) over addresses with real-valued
/// weights (Horvitz–Thompson bytes or packets), `capacity` counters. Each reported weight
/// overestimates the key's true weight by at most its `error` (weight − error <= true <=
/// weight); a key not in the summary weighs at most the smallest counter, which is at most
/// total/capacity, so any key whose true weight exceeds total/capacity is in the summary.
///
/// Mergeable (Agarwal et al. 2012, "Mergeable summaries" §3), so per-slide summaries combine
/// into windows: see `merge`. Memory is fixed at construction: `capacity` counters in a
/// min-heap on weight plus an open-addressing index (linear probing, ≥ 2·capacity slots,
/// backward-shift deletion) from key to heap position. `add` is O(1) for a key already
/// heavy (it sits near the heap's bottom) and O(log capacity) at worst (an eviction sifts
/// from the root); it never allocates. A stream-summary of buckets would be O(1) only for
/// unit increments, not for real-valued weights. Not thread-safe: one owner.
class SpaceSaving {
 public:
  /// `capacity` counters, clamped to [1, 2^24]. Allocates everything it will use.
  explicit SpaceSaving(size_t capacity = 64);
  /// Copies keep the full reserve, so a copy does not allocate on its first `add`s either.
  SpaceSaving(const SpaceSaving& other);
  SpaceSaving& operator=(const SpaceSaving& other);

  /// Adds `weight` to `key`: its counter grows, or, when the key has none and the summary is
  /// full, the smallest counter is handed to it (weight min + `weight`, error min). A weight
  /// that is not finite and > 0 (negative, zero, NaN, ±inf) changes nothing and is counted
  /// in `ignored`. `variance`: the sampling variance of `weight` as an estimate (its
  /// Horvitz–Thompson variance term; ignored unless finite and >= 0); a key handed the smallest
  /// counter starts its variance afresh (what it inherits is in its `error`). Never allocates.
  void add(const flow::IpAddress& key, double weight, double variance = 0.0) noexcept;
  /// Combines `other` (a summary of another stream) into this one: the summary of the
  /// concatenated streams, with this one's capacity. Each key's weight becomes the sum of its
  /// two weights, standing in the other summary's smallest counter for a summary that lacks
  /// the key (0 if that summary is not full), its lower bound the sum of its known lower
  /// bounds (weight − error), and the `capacity` heaviest are kept. In Misra–Gries terms
  /// (weight − smallest counter, a k-counter Space-Saving being a (k−1)-counter Misra–Gries)
  /// this is Agarwal et al.'s merge: counts added, the capacity-th largest subtracted, the
  /// error grown by it; which keeps Σ weights <= total, hence smallest <= total/capacity.
  /// Both guarantees hold for the union when both summaries have the same capacity; merging a
  /// smaller one keeps the bounds true but weakens the threshold to total/(its capacity).
  /// Allocates scratch (off the per-record path). `merge(*this)` doubles every weight.
  void merge(const SpaceSaving& other);
  /// Up to `n` entries, heaviest first (ties by key for determinism).
  std::vector<HeavyHitter> top(size_t n) const;
  /// Σ of every weight added (exact up to rounding), including merged summaries' totals.
  double total() const noexcept { return total_; }
  size_t capacity() const noexcept { return capacity_; }
  /// Keys held: min(distinct keys seen, capacity).
  size_t size() const noexcept { return counters_.size(); }
  /// Weights `add` refused (not finite and positive), including merged summaries' counts.
  uint64_t ignored() const noexcept { return ignored_; }
  /// Forgets every key, the total and the ignored count; keeps the memory.
  void clear() noexcept;

 private:
  struct Counter {
    flow::IpAddress key;
    double weight = 0.0;
    double error = 0.0;
    double variance = 0.0;
    uint64_t hash = 0;  ///< hash_address(key): its home slot, kept for backward shifts
    uint32_t slot = 0;  ///< where index_ points at this counter
  };
  static constexpr int32_t kEmpty = -1;

  /// Index slot holding `key`, or the empty slot where it would go.
  size_t find_slot(const flow::IpAddress& key, uint64_t hash) const noexcept;
  /// Position of `key` (whose hash_address is `hash`) in counters_, or kEmpty.
  int32_t find(const flow::IpAddress& key, uint64_t hash) const noexcept;
  /// Empties index slot `slot` and shifts the probe run after it back (no tombstones).
  void erase_slot(size_t slot) noexcept;
  /// Restores the heap from position `pos` towards the leaves / the root.
  void sift_down(size_t pos) noexcept;
  void sift_up(size_t pos) noexcept;
  /// Points counters_[pos]'s index slot at heap position `pos` (after it moved there).
  void place(size_t pos) noexcept { index_[counters_[pos].slot] = static_cast<int32_t>(pos); }
  /// The bound on a key the summary does not hold: the smallest weight if full, else 0.
  double absent_bound() const noexcept;

  size_t capacity_;
  double total_ = 0.0;
  uint64_t ignored_ = 0;
  size_t mask_ = 0;                ///< index_.size() − 1 (a power of two)
  std::vector<Counter> counters_;  ///< a min-heap on weight; capacity reserved up front
  std::vector<int32_t> index_;     ///< open-addressing index: slot → position in counters_
};

}  // namespace fathom::analyze

#include "analyze/detail/sketch_impl.h"
