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
/// large tables, an index on the top 16 bits, so a lookup is one index read and a binary search
/// over the few ranges inside that /16. IPv6: the same over 128-bit starts. Small tables (a
/// tenant's few internal networks) skip the index and cost a few hundred bytes. No allocation,
/// no lock, no virtual call per lookup; safe to read from any number of threads.
class RangeTable {
 public:
  RangeTable() = default;  ///< empty: `find` returns 0 everywhere

  /// From ranges sorted by `first`, pairwise disjoint, `first <= last` each. A range may not
  /// straddle the IPv4-mapped block's edge (::ffff:0.0.0.0 .. ::ffff:255.255.255.255); split it.
  /// Adjacent ranges with the same value are merged; value-0 ranges are dropped. Returns false
  /// (and leaves `out` empty) when the input breaks these rules.
  static bool from_sorted(std::span<const AddressRange> ranges, RangeTable& out);

  /// Value of the range holding `address`, or 0.
  uint32_t find(const flow::IpAddress& address) const noexcept;

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
  __extension__ using U128 = unsigned __int128;

  uint32_t find_v4(uint32_t address) const noexcept;
  uint32_t find_v6(U128 address) const noexcept;

  std::vector<uint32_t> v4_starts_;  ///< segment starts; v4_starts_[0] == 0 when not empty
  std::vector<uint32_t> v4_values_;
  std::vector<uint32_t> v4_index_;  ///< (1 << v4_index_bits_) + 1 entries, or empty
  uint32_t v4_index_bits_ = 0;
  std::vector<U128> v6_starts_;  ///< segment starts; v6_starts_[0] == 0 when not empty
  std::vector<uint32_t> v6_values_;
  std::vector<uint32_t> v6_index_;  ///< on the top v6_index_bits_ bits, or empty
  uint32_t v6_index_bits_ = 0;
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
