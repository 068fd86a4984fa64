#pragma once
// Definition of transform::flatten_prefixes (declared in transform/range_table.h), and the
// 128-bit address arithmetic it shares with range_table.cpp.

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include "flow/ip_address.h"
#include "transform/range_table.h"  // included from its end; this makes either order work

namespace fathom::transform {
namespace detail {

/// An address as one unsigned 128-bit integer (GCC/Clang extension; `__extension__` keeps
/// -Wpedantic quiet), so ranges can be compared and stepped with plain arithmetic.
__extension__ using U128 = unsigned __int128;

inline U128 to_u128(const flow::IpAddress& a) noexcept {
  // Two big-endian 64-bit halves (bytes are in network order).
  uint64_t hi = 0;
  uint64_t lo = 0;
  std::memcpy(&hi, a.bytes.data(), 8);
  std::memcpy(&lo, a.bytes.data() + 8, 8);
  if constexpr (std::endian::native == std::endian::little) {
    hi = __builtin_bswap64(hi);
    lo = __builtin_bswap64(lo);
  }
  return (U128{hi} << 64) | lo;
}

inline flow::IpAddress from_u128(U128 v) noexcept {
  uint64_t hi = static_cast<uint64_t>(v >> 64);
  uint64_t lo = static_cast<uint64_t>(v);
  if constexpr (std::endian::native == std::endian::little) {
    hi = __builtin_bswap64(hi);
    lo = __builtin_bswap64(lo);
  }
  flow::IpAddress a;
  std::memcpy(a.bytes.data(), &hi, 8);
  std::memcpy(a.bytes.data() + 8, &lo, 8);
  return a;
}

/// ::ffff:0.0.0.0 and ::ffff:255.255.255.255, the edges of the v4-mapped block (RFC 4291
/// §2.5.5.2), which RangeTable keeps apart from the rest of the IPv6 space.
inline constexpr U128 kV4First = U128{0xffff} << 32;
inline constexpr U128 kV4Last = kV4First | 0xffffffffu;
inline constexpr U128 kU128Max = ~U128{0};

/// The last address of the block `address`/`length` (length in the 128-bit space, 0..128).
inline U128 block_last(U128 address, uint8_t length) noexcept {
  if (length == 0) return kU128Max;
  if (length >= 128) return address;
  return address | (kU128Max >> length);
}

/// Appends [first, last] with `value` to `out`: drops value 0, splits at the v4-mapped block's
/// edges (RangeTable::from_sorted refuses ranges that straddle them), and merges with the
/// previous range when adjacent with the same value. Ranges must arrive in address order.
void append_range(std::vector<AddressRange>& out, U128 first, U128 last, uint32_t value);

}  // namespace detail

template <class Combine>
std::vector<AddressRange> flatten_prefixes(std::vector<PrefixValue> prefixes, Combine&& combine) {
  using detail::U128;
  struct Item {
    U128 first;
    U128 last;
    uint8_t length;
    uint32_t value;
  };
  std::vector<Item> items;
  items.reserve(prefixes.size());
  for (const PrefixValue& p : prefixes) {
    // Host bits are cleared defensively: a caller's stray bit must not make a block overlap
    // its neighbours without nesting.
    const uint8_t length = std::min<uint8_t>(p.prefix.length, 128);
    const U128 mask = length == 0 ? 0 : detail::kU128Max << (128 - length);
    const U128 first = detail::to_u128(p.prefix.address) & mask;
    items.push_back({first, detail::block_last(first, length), length, p.value});
  }
  prefixes.clear();
  prefixes.shrink_to_fit();
  // By address, then outermost first: a block is pushed before the blocks it contains. Value
  // breaks ties so duplicates give `combine` the same order whatever the input order was.
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.first != b.first) return a.first < b.first;
    if (a.length != b.length) return a.length < b.length;
    return a.value < b.value;
  });

  std::vector<AddressRange> out;
  out.reserve(items.size() * 2 + 2);
  // The sweep: `lasts`/`values` is the stack of blocks covering `cursor`, outermost at the
  // bottom; everything before `cursor` has been emitted. `exhausted` marks a cursor that has
  // moved past ffff:...:ffff (it cannot be represented).
  std::vector<U128> lasts;
  std::vector<uint32_t> values;
  U128 cursor = 0;
  bool exhausted = false;
  auto emit = [&](U128 last) {
    if (exhausted || cursor > last) return;
    detail::append_range(out, cursor, last,
                         combine(std::span<const uint32_t>(values.data(), values.size())));
    if (last == detail::kU128Max) {
      exhausted = true;
    } else {
      cursor = last + 1;
    }
  };
  for (const Item& item : items) {
    // Close the blocks that end before this one starts (CIDR blocks nest or are disjoint).
    while (!lasts.empty() && lasts.back() < item.first) {
      emit(lasts.back());
      lasts.pop_back();
      values.pop_back();
    }
    if (!exhausted && cursor < item.first) {
      // The part before this block under the enclosing ones (if any); item.first > 0 here.
      if (!lasts.empty()) emit(item.first - 1);
      cursor = item.first;
    }
    lasts.push_back(item.last);
    values.push_back(item.value);
  }
  while (!lasts.empty()) {
    emit(lasts.back());
    lasts.pop_back();
    values.pop_back();
  }
  return out;
}

}  // namespace fathom::transform
