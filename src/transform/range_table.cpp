#include "transform/range_table.h"

#include <algorithm>
#include <bit>

namespace fathom::transform {
namespace {

using detail::U128;

/// Below this many segments a family gets no index: a binary search over a few cache lines
/// is as fast, and a tenant's table stays a few hundred bytes.
constexpr size_t kIndexMinSegments = 64;
/// Widest index: 2^16 + 1 entries (256 KiB) for IPv4, on the /16.
constexpr uint32_t kMaxIndexBits = 16;

/// Segments of one family being built: starts and values, gaps included.
template <class Start>
struct Segments {
  std::vector<Start> starts;
  std::vector<uint32_t> values;

  /// Appends [first, last] (value != 0) after the ranges appended so far. `space_last` is
  /// the family's last address.
  void add(Start first, Start last, uint32_t value, Start space_last) {
    if (starts.empty()) {
      if (first != 0) {  // the leading gap
        starts.push_back(0);
        values.push_back(0);
      }
      starts.push_back(first);
      values.push_back(value);
    } else if (end_ == first && values.back() == value) {
      // Adjacent with the same value: extend the open segment.
    } else {
      if (end_ != first) {  // the gap between the previous range and this one
        starts.push_back(end_);
        values.push_back(0);
      }
      starts.push_back(first);
      values.push_back(value);
    }
    open_to_end_ = last == space_last;
    end_ = static_cast<Start>(last + 1);  // wraps to 0 when open_to_end_
  }

  /// Closes the last range with a gap up to the end of the space.
  void finish() {
    if (!starts.empty() && !open_to_end_) {
      starts.push_back(end_);
      values.push_back(0);
    }
    starts.shrink_to_fit();
    values.shrink_to_fit();
  }

 private:
  Start end_ = 0;  ///< first address after the last range added
  bool open_to_end_ = false;
};

/// Index bits for `segments` segments: about two segments per bucket, at most kMaxIndexBits.
uint32_t index_bits_for(size_t segments) {
  if (segments <= kIndexMinSegments) return 0;
  return std::min<uint32_t>(kMaxIndexBits, static_cast<uint32_t>(std::bit_width(segments)) - 1);
}

/// index[k] = the segment holding the first address with top `bits` bits == k.
template <class Start>
std::vector<uint32_t> build_index(const std::vector<Start>& starts, uint32_t bits) {
  if (bits == 0) return {};
  constexpr uint32_t kWidth = sizeof(Start) * 8;
  const size_t buckets = size_t{1} << bits;
  std::vector<uint32_t> index(buckets + 1);
  size_t seg = 0;
  for (size_t k = 0; k < buckets; ++k) {
    const Start bucket_first = static_cast<Start>(static_cast<Start>(k) << (kWidth - bits));
    while (seg + 1 < starts.size() && starts[seg + 1] <= bucket_first) ++seg;
    index[k] = static_cast<uint32_t>(seg);
  }
  index[buckets] = static_cast<uint32_t>(starts.size() - 1);
  return index;
}

/// The IPv6 index: 2^bits buckets over [starts[1], starts.back()] (where the boundaries are:
/// IPv6 data sits in a small corner of the space, 2000::/3, which an index on the top bits
/// would leave in a few buckets). Bucket k >= 1 begins at base + (k << shift); bucket 0 also
/// holds every address below base, the last bucket every address above its range.
void build_v6_index(const std::vector<U128>& starts, std::vector<uint32_t>& index, U128& base,
                    uint32_t& shift) {
  const uint32_t bits = index_bits_for(starts.size());
  if (bits == 0) return;
  base = starts[1];  // starts[0] == 0; more than kIndexMinSegments starts
  const U128 span = starts.back() - base;
  const auto span_hi = static_cast<uint64_t>(span >> 64);
  const auto span_bits = static_cast<uint32_t>(
      span_hi != 0 ? 64 + std::bit_width(span_hi) : std::bit_width(static_cast<uint64_t>(span)));
  shift = span_bits > bits ? span_bits - bits : 0;
  const size_t buckets = size_t{1} << bits;
  index.assign(buckets + 1, 0);
  size_t seg = 0;
  for (size_t k = 1; k < buckets; ++k) {
    const U128 bucket_first = base + (U128{k} << shift);
    while (seg + 1 < starts.size() && starts[seg + 1] <= bucket_first) ++seg;
    index[k] = static_cast<uint32_t>(seg);
  }
  index[buckets] = static_cast<uint32_t>(starts.size() - 1);
}

/// The per-/16 layout of large IPv4 tables (see range_table.h): for each /16, an entry with
/// low half 0 for the segment holding its first address, then the segments starting inside it.
void split_by_16(const std::vector<uint32_t>& starts, const std::vector<uint32_t>& values,
                 std::vector<uint32_t>& index, std::vector<uint16_t>& lows,
                 std::vector<uint32_t>& out_values) {
  constexpr size_t kBuckets = size_t{1} << 16;
  index.assign(kBuckets + 1, 0);
  lows.reserve(starts.size() + kBuckets);
  out_values.reserve(starts.size() + kBuckets);
  size_t seg = 0;  // the segment holding the current bucket's first address
  for (size_t bucket = 0; bucket < kBuckets; ++bucket) {
    const auto bucket_first = static_cast<uint32_t>(bucket << 16);
    while (seg + 1 < starts.size() && starts[seg + 1] <= bucket_first) ++seg;
    index[bucket] = static_cast<uint32_t>(lows.size());
    lows.push_back(0);
    out_values.push_back(values[seg]);
    for (size_t next = seg + 1; next < starts.size() && (starts[next] >> 16) == bucket; ++next) {
      lows.push_back(static_cast<uint16_t>(starts[next]));
      out_values.push_back(values[next]);
    }
  }
  index[kBuckets] = static_cast<uint32_t>(lows.size());
  lows.shrink_to_fit();
  out_values.shrink_to_fit();
}

/// The last i in [lo, hi] with starts[i] <= key, given starts[lo] <= key. Branchless: the
/// compiler turns the conditional into a cmov, so a lookup costs no mispredictions.
template <class Start>
inline size_t last_not_above(const Start* starts, size_t lo, size_t hi, Start key) noexcept {
  const Start* base = starts + lo;
  size_t n = hi - lo + 1;
  while (n > 1) {
    const size_t half = n / 2;
    base = base[half] <= key ? base + half : base;
    n -= half;
  }
  return static_cast<size_t>(base - starts);
}

}  // namespace

namespace detail {

void append_range(std::vector<AddressRange>& out, U128 first, U128 last, uint32_t value) {
  if (value == 0 || first > last) return;
  // Split at the v4-mapped block's edges.
  if (first < kV4First && last >= kV4First) {
    append_range(out, first, kV4First - 1, value);
    append_range(out, kV4First, last, value);
    return;
  }
  if (first <= kV4Last && last > kV4Last) {
    append_range(out, first, kV4Last, value);
    append_range(out, kV4Last + 1, last, value);
    return;
  }
  if (!out.empty() && first != kV4First && first != kV4Last + 1 && out.back().value == value &&
      to_u128(out.back().last) + 1 == first) {
    out.back().last = from_u128(last);
    return;
  }
  out.push_back({from_u128(first), from_u128(last), value});
}

}  // namespace detail

bool RangeTable::from_sorted(std::span<const AddressRange> ranges, RangeTable& out) {
  out = RangeTable();
  // Validate everything first, so a refused input leaves `out` empty.
  U128 prev_last = 0;
  for (size_t range_idx = 0; range_idx < ranges.size(); ++range_idx) {
    const U128 first = detail::to_u128(ranges[range_idx].first);
    const U128 last = detail::to_u128(ranges[range_idx].last);
    if (first > last) return false;
    if (range_idx > 0 && first <= prev_last) return false;  // unsorted or overlapping
    if (first < detail::kV4First && last >= detail::kV4First) return false;
    if (first <= detail::kV4Last && last > detail::kV4Last) return false;
    prev_last = last;
  }

  Segments<uint32_t> v4;
  Segments<U128> v6;
  // At most a range and a gap each, and a closing gap: reserved once (address space only until
  // written), so building a million-range table copies nothing while it grows.
  v4.starts.reserve(ranges.size() * 2 + 1);
  v4.values.reserve(ranges.size() * 2 + 1);
  v6.starts.reserve(ranges.size() * 2 + 1);
  v6.values.reserve(ranges.size() * 2 + 1);
  size_t count = 0;
  uint32_t prev_value = 0;
  U128 prev_end = 0;  // last + 1 of the previous non-zero range
  for (const AddressRange& r : ranges) {
    if (r.value == 0) continue;
    const U128 first = detail::to_u128(r.first);
    const U128 last = detail::to_u128(r.last);
    // Counted as ranges after merging adjacent equal values (not across the v4 block's edges).
    const bool merges = count > 0 && prev_value == r.value && prev_end == first &&
                        first != detail::kV4First && first != detail::kV4Last + 1;
    count += merges ? 0 : 1;
    prev_value = r.value;
    prev_end = last + 1;
    if (first >= detail::kV4First && last <= detail::kV4Last) {
      v4.add(static_cast<uint32_t>(first), static_cast<uint32_t>(last), r.value, 0xffffffffu);
    } else {
      v6.add(first, last, r.value, detail::kU128Max);
    }
  }
  v4.finish();
  v6.finish();

  out.v4_index_bits_ = index_bits_for(v4.starts.size());
  if (out.v4_index_bits_ == 16) {
    split_by_16(v4.starts, v4.values, out.v4_index_, out.v4_lows_, out.v4_values_);
  } else {
    out.v4_starts_ = std::move(v4.starts);
    out.v4_values_ = std::move(v4.values);
    out.v4_index_ = build_index(out.v4_starts_, out.v4_index_bits_);
  }
  out.v6_starts_ = std::move(v6.starts);
  out.v6_values_ = std::move(v6.values);
  build_v6_index(out.v6_starts_, out.v6_index_, out.v6_index_base_, out.v6_index_shift_);
  out.range_count_ = count;
  return true;
}

uint32_t RangeTable::find_v6(const flow::IpAddress& address) const noexcept {
  if (v6_starts_.empty()) return 0;
  const U128 key = detail::to_u128(address);
  size_t lo = 0;
  size_t hi = v6_starts_.size() - 1;
  if (!v6_index_.empty()) {
    const U128 offset = key < v6_index_base_ ? 0 : (key - v6_index_base_) >> v6_index_shift_;
    const size_t bucket =
        offset < v6_index_.size() - 2 ? static_cast<size_t>(offset) : v6_index_.size() - 2;
    lo = v6_index_[bucket];
    hi = v6_index_[bucket + 1];
    // As for IPv4 (range_table.h): the value lines load during the search, not after it.
    __builtin_prefetch(v6_values_.data() + lo);
    __builtin_prefetch(v6_values_.data() + hi);
  }
  return v6_values_[last_not_above(v6_starts_.data(), lo, hi, key)];
}

size_t RangeTable::range_count() const noexcept {
  return range_count_;
}

size_t RangeTable::memory_bytes() const noexcept {
  return v4_starts_.capacity() * sizeof(uint32_t) + v4_lows_.capacity() * sizeof(uint16_t) +
         v4_values_.capacity() * sizeof(uint32_t) + v4_index_.capacity() * sizeof(uint32_t) +
         v6_starts_.capacity() * sizeof(U128) + v6_values_.capacity() * sizeof(uint32_t) +
         v6_index_.capacity() * sizeof(uint32_t);
}

}  // namespace fathom::transform
