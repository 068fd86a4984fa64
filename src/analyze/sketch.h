#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "flow/ip_address.h"

namespace fathom::analyze {

/// 64-bit hash of an address (wyhash-style fold + murmur3 fmix64); the sketches below take
/// hashes, so one hash per record serves every sketch that sees the same item.
uint64_t hash_address(const flow::IpAddress& addr) noexcept;
/// 64-bit hash of a port (or any small integer) under a fixed seed, independent of
/// `hash_address` values.
uint64_t hash_port(uint16_t port) noexcept;

/// A HyperLogLog distinct counter (Flajolet et al. 2007) with `kRegisters` one-byte
/// registers (a power of two, 16..65536), the small-range correction of Heule et al. 2013
/// (linear counting below 2.5·m, with the threshold table replaced by linear counting while
/// any register is zero and the raw estimate is under 5·m/2). Mergeable (register-wise max),
/// trivially copyable, `kRegisters` bytes, no allocation. Standard error ≈ 1.04/√m
/// (m = 32: 18%, m = 1024: 3.3%), much better for counts well below m.
///
/// Under sampling it counts *observed* distinct items: a lower bound of the true count
/// (docs/features.md "Distinct counts").
template <size_t kRegisters>
class HyperLogLog {
 public:
  static_assert(kRegisters >= 16 && kRegisters <= 65536 && (kRegisters & (kRegisters - 1)) == 0);

  /// Adds an item by its 64-bit hash.
  void add(uint64_t hash) noexcept;
  /// Register-wise maximum: the sketch of the union.
  void merge(const HyperLogLog& other) noexcept;
  /// Estimated number of distinct items added (0 for an empty sketch).
  double estimate() const noexcept;
  /// The relative standard error of `estimate` for a large count: 1.04 / √m.
  static constexpr double relative_error() noexcept;
  bool empty() const noexcept;
  void clear() noexcept;
  friend bool operator==(const HyperLogLog&, const HyperLogLog&) = default;

 private:
  std::array<uint8_t, kRegisters> registers_{};
};

/// A hashed histogram of `kBins` bins (power of two, 4..256) of saturating 16-bit counts:
/// `add(hash)` counts one observation in bin hash mod kBins. Its Shannon entropy in bits
/// (`entropy_bits`, 0..log2(kBins)) approximates the entropy of the item distribution from
/// below (items that share a bin merge); `normalized_entropy` divides by
/// log2(min(kBins, observed_bins)) so that "spread evenly" reads 1 for any number of items.
/// Mergeable (bin-wise saturating add), trivially copyable, 2·kBins bytes.
template <size_t kBins>
class EntropyHistogram {
 public:
  static_assert(kBins >= 4 && kBins <= 256 && (kBins & (kBins - 1)) == 0);

  void add(uint64_t hash, uint16_t count = 1) noexcept;
  void merge(const EntropyHistogram& other) noexcept;
  /// Σ counts (saturated per bin).
  uint64_t total() const noexcept;
  /// Shannon entropy of the bin distribution, bits. 0 when empty or one bin.
  double entropy_bits() const noexcept;
  /// entropy_bits / log2(non-empty bins), 0 when fewer than 2 bins are non-empty.
  double normalized_entropy() const noexcept;
  bool empty() const noexcept;
  void clear() noexcept;
  friend bool operator==(const EntropyHistogram&, const EntropyHistogram&) = default;

 private:
  std::array<uint16_t, kBins> bins_{};
};

/// One entry of a heavy-hitter summary.
struct HeavyHitter {
  flow::IpAddress key;
  double weight = 0.0;  ///< estimated weight (an overestimate by at most `error`)
  double error = 0.0;   ///< the weight it may have inherited from an evicted key
};

/// Space-Saving top-k (Metwally, Agrawal, El Abbadi 2005) over addresses with real-valued
/// weights (Horvitz–Thompson bytes or packets), `capacity` counters. Any key whose true
/// weight exceeds total/capacity is guaranteed to be in the summary; each reported weight
/// overestimates the true weight by at most its `error`. Mergeable (Agarwal et al. 2012: add
/// the two summaries' counters, keep the `capacity` largest, subtract the (capacity+1)-th
/// weight), so per-slide summaries combine into windows. Memory: fixed at construction
/// (capacity counters plus an index); `add` is O(1) amortised with no allocation after the
/// first `capacity` keys.
class SpaceSaving {
 public:
  explicit SpaceSaving(size_t capacity = 64);

  void add(const flow::IpAddress& key, double weight) noexcept;
  void merge(const SpaceSaving& other);
  /// Up to `n` entries, heaviest first (ties by key for determinism).
  std::vector<HeavyHitter> top(size_t n) const;
  /// Σ of every weight added (exact).
  double total() const noexcept { return total_; }
  size_t capacity() const noexcept { return capacity_; }
  size_t size() const noexcept;
  void clear() noexcept;

 private:
  size_t capacity_;
  double total_ = 0.0;
  struct Counter {
    flow::IpAddress key;
    double weight = 0.0;
    double error = 0.0;
  };
  std::vector<Counter> counters_;  ///< implementation-defined order (a min-heap on weight)
  std::vector<int32_t> index_;     ///< open-addressing index: slot → position in counters_
  // The implementation may add private members.
};

}  // namespace fathom::analyze
