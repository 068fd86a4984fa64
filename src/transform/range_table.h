#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "flow/ip_address.h"
#include "transform/ip_prefix.h"

namespace fathom::transform {

/// One run of addresses [first, last] (inclusive) and its value.
struct AddressRange {
  flow::IpAddress first;
  flow::IpAddress last;
  uint32_t value = 0;
};

/// A prefix and a caller-chosen value (an index into the caller's own table).
struct PrefixValue {
  IpPrefix prefix;
  uint32_t value = 0;
};

/// An immutable map from disjoint address ranges to 32-bit values, the lookup structure of
/// every in-memory enrichment (geo, ASN, intel, tenant networks). Value 0 means "nothing here",
/// so callers keep their real data in a table indexed by value - 1 (or value with a dummy 0).
///
/// IPv4 (v4-mapped) and IPv6 are stored apart. IPv4: sorted 32-bit range starts plus, for
/// larger tables, an index on the top bits (up to 16), so a lookup is one index read and a
/// branchless binary search over the few ranges inside that block; with the full /16 index the
/// starts shrink to their low 16 bits. IPv6: the same over 128-bit starts, the index spread
/// over the span the ranges occupy. Small tables (a tenant's few internal networks) skip the
/// index and cost a few hundred bytes. No allocation, no lock, no virtual call per lookup;
/// safe to read from any number of threads. About 15-20 ns per IPv4 lookup on a 1 M-range
/// table that does not fit in cache (bench/enrich_bench.cpp).
class RangeTable {
 public:
  RangeTable() = default;  ///< empty: `find` returns 0 everywhere

  /// From ranges sorted by `first`, pairwise disjoint, `first <= last` each. A range may not
  /// straddle the IPv4-mapped block's edge (::ffff:0.0.0.0 .. ::ffff:255.255.255.255); split it.
  /// Adjacent ranges with the same value are merged; value-0 ranges are dropped. Returns false
  /// (and leaves `out` empty) when the input breaks these rules.
  static bool from_sorted(std::span<const AddressRange> ranges, RangeTable& out);

  /// Value of the range holding `address`, or 0. Always inline: it runs several times per
  /// record, and inlined the table's fields stay in registers across a batch's lookups.
  [[gnu::always_inline]] uint32_t find(const flow::IpAddress& address) const noexcept {
    return address.is_v4() ? find_v4(address.v4()) : find_v6(address);
  }

  size_t range_count() const noexcept;
  /// Heap bytes held (reported in metrics and benchmarks).
  size_t memory_bytes() const noexcept;

 private:
  // Both families are stored as a partition of their whole space into segments: segment i
  // covers [starts[i], starts[i + 1]) and has values[i], 0 for gaps. A lookup is then "the last
  // start <= address", one branchless binary search with no end check. The v4 part covers the
  // 2^32 IPv4 addresses; the v6 part the 2^128 addresses with the v4-mapped block as a gap.
  //
  // Index: `index[k]` is the segment holding the first address whose top `index_bits` bits
  // are k, so the segment of an address with top bits k lies in [index[k], index[k + 1]].
  // Only tables with more than kIndexMinSegments segments get one.
  //
  // Large IPv4 tables (a full /16 index) store segments per /16 instead: bucket k is
  // [index[k], index[k + 1]) of `v4_lows_`/`v4_values_`, the low 16 bits of the starts of the
  // segments starting inside that /16, after a first entry 0 for the segment holding the /16's
  // first address. Two bytes a start instead of four: the table's cache footprint, which is
  // what a lookup pays for under load, drops by a quarter.
  __extension__ using U128 = unsigned __int128;

  [[gnu::always_inline]] uint32_t find_v4(uint32_t address) const noexcept {
    // Branchless binary searches: the compiler makes each step a cmov, so a lookup does not
    // mispredict on the data.
    if (!v4_lows_.empty()) {
      const uint32_t bucket = address >> 16;
      const uint32_t lo = v4_index_[bucket];
      uint32_t n = v4_index_[bucket + 1] - lo;  // >= 1
      // The value's cache line is only known after the search; fetching the bucket's value
      // lines (and its last lows line) now overlaps those misses with the search's instead of
      // paying for them one after the other: a third faster on tables larger than the cache.
      const uint16_t* lows = v4_lows_.data() + lo;
      const uint32_t* values = v4_values_.data() + lo;
      __builtin_prefetch(values);
      __builtin_prefetch(values + n / 2);
      __builtin_prefetch(values + n - 1);
      __builtin_prefetch(lows + n - 1);
      const uint16_t low = static_cast<uint16_t>(address);
      const uint16_t* base = lows;
      while (n > 1) {
        const uint32_t half = n / 2;
        base = base[half] <= low ? base + half : base;
        n -= half;
      }
      return values[base - lows];
    }
    if (v4_starts_.empty()) return 0;
    const uint32_t* starts = v4_starts_.data();
    size_t lo = 0;
    size_t n = v4_starts_.size();
    if (!v4_index_.empty()) {
      const uint32_t bucket = address >> (32 - v4_index_bits_);
      lo = v4_index_[bucket];
      n = v4_index_[bucket + 1] - lo + 1;
    }
    const uint32_t* base = starts + lo;
    while (n > 1) {
      const size_t half = n / 2;
      base = base[half] <= address ? base + half : base;
      n -= half;
    }
    return v4_values_[static_cast<size_t>(base - starts)];
  }
  uint32_t find_v6(const flow::IpAddress& address) const noexcept;  // range_table.cpp

  std::vector<uint32_t> v4_starts_;  ///< segment starts (v4_starts_[0] == 0); empty with lows
  std::vector<uint16_t> v4_lows_;    ///< per-/16 low halves of the starts, or empty
  std::vector<uint32_t> v4_values_;
  std::vector<uint32_t> v4_index_;  ///< (1 << v4_index_bits_) + 1 entries, or empty
  uint32_t v4_index_bits_ = 0;
  std::vector<U128> v6_starts_;  ///< segment starts; v6_starts_[0] == 0 when not empty
  std::vector<uint32_t> v6_values_;
  std::vector<uint32_t> v6_index_;  ///< 2^bits + 1 entries over [base, last start], or empty
  U128 v6_index_base_ = 0;          ///< first address of bucket 1 (bucket 0 is all below)
  uint32_t v6_index_shift_ = 0;     ///< bucket k >= 1 starts at base + (k << shift)
  size_t range_count_ = 0;
};

/// Flattens possibly nested prefixes (CIDR blocks either nest or are disjoint; duplicates are
/// allowed) into sorted disjoint ranges for `RangeTable::from_sorted`. Each elementary range
/// gets `combine(covering)`, where `covering` holds the values of every prefix that covers it,
/// outermost first (so `covering.back()` is the longest match). Ranges no prefix covers are
/// omitted. `combine` returns the range's value (0 drops it). O(n log n).
template <class Combine>
std::vector<AddressRange> flatten_prefixes(std::vector<PrefixValue> prefixes, Combine&& combine);

}  // namespace fathom::transform

#include "transform/detail/range_table_flatten.h"  // the template's definition
