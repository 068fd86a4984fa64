#include "transform/range_table.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "testing/addresses.h"

namespace fathom::transform {
namespace {

using detail::from_u128;
using detail::to_u128;
using detail::U128;

using test_support::ip;
using test_support::prefix;

/// An order-sensitive combination, so a wrong covering order shows; about one in eight
/// results is 0 (dropped), so gaps inside covered space are exercised too.
uint32_t combine_hash(std::span<const uint32_t> covering) {
  uint32_t h = 17;
  for (uint32_t v : covering) h = h * 31 + v;
  return (h % 8 == 0) ? 0 : h % 5 + 1;  // few distinct values: many adjacent merges
}

/// Brute-force reference of flatten_prefixes + RangeTable::find: the covering prefixes of an
/// address, outermost first (ties by value, as flatten_prefixes orders duplicates).
class Reference {
 public:
  explicit Reference(const std::vector<PrefixValue>& prefixes) {
    for (const PrefixValue& p : prefixes) {
      const U128 mask = p.prefix.length == 0 ? 0 : ~U128{0} << (128 - p.prefix.length);
      blocks_.push_back({to_u128(p.prefix.address), mask, p.prefix.length, p.value});
    }
  }

  uint32_t find(const flow::IpAddress& a) const {
    std::vector<std::pair<uint8_t, uint32_t>> covering;
    const U128 q = to_u128(a);
    for (const Block& b : blocks_) {
      if ((q & b.mask) == b.first) covering.emplace_back(b.length, b.value);
    }
    std::sort(covering.begin(), covering.end());
    std::vector<uint32_t> values;
    for (const auto& c : covering) values.push_back(c.second);
    return values.empty() ? 0 : combine_hash(values);
  }

 private:
  struct Block {
    U128 first;
    U128 mask;
    uint8_t length;
    uint32_t value;
  };
  std::vector<Block> blocks_;
};

IpPrefix random_prefix(std::mt19937_64& rng, bool v4) {
  IpPrefix p;
  U128 addr = 0;
  uint8_t length = 0;
  if (v4) {
    // Clustered in a few /8s so blocks nest deeply; some anywhere.
    static constexpr uint32_t kEights[] = {10, 100, 192, 0, 255};
    uint32_t a = static_cast<uint32_t>(rng());
    if (rng() % 4 != 0) a = (kEights[rng() % 5] << 24) | (a & 0x00ffffffu);
    if (rng() % 4 == 0) a &= 0xff00ffffu;  // more nesting in x.0.y.z
    addr = detail::kV4First | a;
    length = static_cast<uint8_t>(96 + rng() % 33);
  } else {
    addr = (U128{rng()} << 64) | rng();
    switch (rng() % 6) {
      case 0: addr = (U128{0x20010db8} << 96) | (addr & ((U128{1} << 96) - 1)); break;
      case 1: addr = (U128{0x2001} << 112) | (addr & ((U128{1} << 96) - 1)); break;
      case 2: addr &= (U128{1} << 40) - 1; break;        // near ::, around the v4-mapped block
      case 3: addr = ~U128{0} - (addr & 0xffff); break;  // near ffff:...:ffff
      default: break;
    }
    length = static_cast<uint8_t>(rng() % 129);
    if (rng() % 3 == 0) length = static_cast<uint8_t>(24 + rng() % 41);  // /24 .. /64
  }
  const U128 mask = length == 0 ? 0 : ~U128{0} << (128 - length);
  p.address = from_u128(addr & mask);
  p.length = length;
  return p;
}

/// Queries: every prefix's edges and their neighbours, special addresses, random ones.
std::vector<flow::IpAddress> queries_for(const std::vector<PrefixValue>& prefixes,
                                         std::mt19937_64& rng, size_t random_count) {
  std::vector<flow::IpAddress> out;
  for (const PrefixValue& p : prefixes) {
    const U128 first = to_u128(p.prefix.address);
    const U128 last = to_u128(p.prefix.last());
    out.push_back(from_u128(first));
    out.push_back(from_u128(last));
    out.push_back(from_u128(first - 1));  // wraps at :: on purpose
    out.push_back(from_u128(last + 1));
  }
  for (const char* s : {"::", "::1", "::fffe:ffff:ffff", "::ffff:0.0.0.0", "::ffff:0.0.0.1",
                        "255.255.255.255", "255.255.255.254", "::1:0:0:0", "0.0.0.0", "10.0.0.0",
                        "10.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "2001:db8::", "2001::"}) {
    out.push_back(ip(s));
  }
  for (size_t query_idx = 0; query_idx < random_count; ++query_idx) {
    if (query_idx % 2 == 0) {
      out.push_back(flow::IpAddress::from_v4(static_cast<uint32_t>(rng())));
    } else {
      out.push_back(from_u128((U128{rng()} << 64) | rng()));
    }
  }
  // Random addresses inside random prefixes (where the interesting values are).
  for (size_t query_idx = 0; query_idx < random_count && !prefixes.empty(); ++query_idx) {
    const PrefixValue& p = prefixes[rng() % prefixes.size()];
    const U128 first = to_u128(p.prefix.address);
    const U128 span = to_u128(p.prefix.last()) - first;
    const U128 r = (U128{rng()} << 64) | rng();
    out.push_back(from_u128(span == ~U128{0} ? r : first + r % (span + 1)));
  }
  return out;
}

void check_against_reference(const std::vector<PrefixValue>& prefixes, uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::vector<AddressRange> ranges = flatten_prefixes(prefixes, combine_hash);
  // The flattened ranges are what from_sorted accepts: sorted, disjoint, no straddling.
  RangeTable table;
  ASSERT_TRUE(RangeTable::from_sorted(ranges, table));
  EXPECT_EQ(table.range_count(), ranges.size());  // flatten already merged adjacent equals
  const Reference reference(prefixes);
  size_t mismatches = 0;
  for (const flow::IpAddress& q : queries_for(prefixes, rng, 1000)) {
    const uint32_t want = reference.find(q);
    const uint32_t got = table.find(q);
    if (got != want && ++mismatches <= 10) {
      ADD_FAILURE() << q.to_string() << ": got " << got << ", want " << want;
    }
  }
  EXPECT_EQ(mismatches, 0u);
}

TEST(FlattenPrefixes, RandomNestedIpv4MatchesBruteForce) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    std::mt19937_64 rng(seed);
    std::vector<PrefixValue> prefixes;
    for (uint32_t idx = 0; idx < 600; ++idx) {
      prefixes.push_back({random_prefix(rng, true), static_cast<uint32_t>(rng() % 50 + 1)});
    }
    prefixes.push_back(prefixes[7]);  // a duplicate
    check_against_reference(prefixes, seed);
  }
}

TEST(FlattenPrefixes, RandomNestedIpv6AndIpv4MatchesBruteForce) {
  for (uint64_t seed : {11u, 12u, 13u}) {
    std::mt19937_64 rng(seed);
    std::vector<PrefixValue> prefixes;
    for (uint32_t idx = 0; idx < 600; ++idx) {
      prefixes.push_back({random_prefix(rng, idx % 3 == 0), static_cast<uint32_t>(rng() % 50 + 1)});
    }
    // Blocks that cover the v4-mapped block or end at its edges.
    for (const char* s : {"::/0", "::/64", "::fffe:0:0/95", "::/80", "::fffe:0:0/96",
                          "::1:0:0:0/96", "ffff::/16"}) {
      prefixes.push_back({prefix(s), static_cast<uint32_t>(rng() % 50 + 1)});
    }
    check_against_reference(prefixes, seed);
  }
}

TEST(FlattenPrefixes, LargeRandomTableUsesIndexAndMatches) {
  // Enough segments for both families to get an index.
  std::mt19937_64 rng(21);
  std::vector<PrefixValue> prefixes;
  for (uint32_t idx = 0; idx < 1500; ++idx) {
    prefixes.push_back({random_prefix(rng, idx % 2 == 0), static_cast<uint32_t>(idx + 1)});
  }
  check_against_reference(prefixes, 21);
}

TEST(FlattenPrefixes, LongestMatchAndCoveringOrder) {
  const std::vector<PrefixValue> prefixes = {
      {prefix("10.0.0.0/8"), 1},    {prefix("10.1.0.0/16"), 2},
      {prefix("10.1.2.0/24"), 3},   {prefix("10.1.2.0/24"), 4},  // duplicate block, another list
      {prefix("2001:db8::/32"), 5},
  };
  std::vector<std::vector<uint32_t>> seen;
  const auto ranges = flatten_prefixes(prefixes, [&](std::span<const uint32_t> covering) {
    seen.emplace_back(covering.begin(), covering.end());
    return covering.back();
  });
  const std::vector<std::vector<uint32_t>> want_seen = {{1},    {1, 2}, {1, 2, 3, 4},
                                                        {1, 2}, {1},    {5}};
  EXPECT_EQ(seen, want_seen);
  RangeTable table;
  ASSERT_TRUE(RangeTable::from_sorted(ranges, table));
  EXPECT_EQ(table.find(ip("10.0.0.1")), 1u);
  EXPECT_EQ(table.find(ip("10.1.0.0")), 2u);
  EXPECT_EQ(table.find(ip("10.1.2.255")), 4u);
  EXPECT_EQ(table.find(ip("10.1.3.0")), 2u);
  EXPECT_EQ(table.find(ip("11.0.0.0")), 0u);
  EXPECT_EQ(table.find(ip("9.255.255.255")), 0u);
  EXPECT_EQ(table.find(ip("2001:db8:ffff::1")), 5u);
  EXPECT_EQ(table.find(ip("2001:db9::")), 0u);
}

TEST(FlattenPrefixes, WholeSpaceIsSplitAtTheV4MappedBlock) {
  const auto ranges = flatten_prefixes(std::vector<PrefixValue>{{prefix("::/0"), 9}},
                                       [](std::span<const uint32_t> c) { return c.back(); });
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges[0].first, ip("::"));
  EXPECT_EQ(ranges[0].last, ip("::fffe:ffff:ffff"));
  EXPECT_EQ(ranges[1].first, ip("0.0.0.0"));
  EXPECT_EQ(ranges[1].last, ip("255.255.255.255"));
  EXPECT_EQ(ranges[2].first, ip("::1:0:0:0"));
  EXPECT_EQ(ranges[2].last, ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  RangeTable table;
  ASSERT_TRUE(RangeTable::from_sorted(ranges, table));
  EXPECT_EQ(table.range_count(), 3u);
  for (const char* s : {"::", "0.0.0.0", "255.255.255.255", "::fffe:ffff:ffff", "::1:0:0:0",
                        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "1.2.3.4", "2001:db8::1"}) {
    EXPECT_EQ(table.find(ip(s)), 9u) << s;
  }
}

TEST(FlattenPrefixes, EmptyInputAndZeroValues) {
  EXPECT_TRUE(flatten_prefixes(std::vector<PrefixValue>{}, [](std::span<const uint32_t>) {
                return 1u;
              }).empty());
  const auto ranges = flatten_prefixes(
      std::vector<PrefixValue>{{prefix("10.0.0.0/8"), 1}, {prefix("10.1.0.0/16"), 2}},
      [](std::span<const uint32_t> c) { return c.back() == 2 ? 0u : c.back(); });
  ASSERT_EQ(ranges.size(), 2u);  // 10.1/16 cut out of 10/8
  EXPECT_EQ(ranges[0].last, ip("10.0.255.255"));
  EXPECT_EQ(ranges[1].first, ip("10.2.0.0"));
}

TEST(RangeTable, EmptyTableFindsNothing) {
  const RangeTable empty;
  EXPECT_EQ(empty.range_count(), 0u);
  EXPECT_EQ(empty.memory_bytes(), 0u);
  for (const char* s : {"::", "1.2.3.4", "255.255.255.255", "2001:db8::1"}) {
    EXPECT_EQ(empty.find(ip(s)), 0u) << s;
  }
  RangeTable built;
  ASSERT_TRUE(RangeTable::from_sorted({}, built));
  EXPECT_EQ(built.range_count(), 0u);
  EXPECT_EQ(built.find(ip("1.2.3.4")), 0u);
  // Only value-0 ranges: nothing stored.
  const std::vector<AddressRange> zeros = {{ip("1.0.0.0"), ip("1.0.0.255"), 0}};
  ASSERT_TRUE(RangeTable::from_sorted(zeros, built));
  EXPECT_EQ(built.range_count(), 0u);
  EXPECT_EQ(built.find(ip("1.0.0.1")), 0u);
}

TEST(RangeTable, FromSortedRejectsBadInput) {
  RangeTable table;
  const std::vector<AddressRange> good = {{ip("1.0.0.0"), ip("1.0.0.255"), 1}};
  ASSERT_TRUE(RangeTable::from_sorted(good, table));
  ASSERT_EQ(table.range_count(), 1u);

  const std::vector<std::vector<AddressRange>> bad = {
      // first > last
      {{ip("1.0.0.9"), ip("1.0.0.1"), 1}},
      // unsorted
      {{ip("2.0.0.0"), ip("2.0.0.255"), 1}, {ip("1.0.0.0"), ip("1.0.0.255"), 2}},
      // overlapping
      {{ip("1.0.0.0"), ip("1.0.0.255"), 1}, {ip("1.0.0.255"), ip("1.0.1.255"), 2}},
      // the same first twice
      {{ip("1.0.0.0"), ip("1.0.0.0"), 1}, {ip("1.0.0.0"), ip("1.0.0.0"), 2}},
      // straddling the v4-mapped block's lower edge
      {{ip("::fffe:ffff:ffff"), ip("::ffff:0.0.0.0"), 1}},
      // straddling its upper edge
      {{ip("255.255.255.255"), ip("::1:0:0:0"), 1}},
      // covering the whole block
      {{ip("::"), ip("ffff::"), 1}},
  };
  for (size_t case_idx = 0; case_idx < bad.size(); ++case_idx) {
    EXPECT_FALSE(RangeTable::from_sorted(bad[case_idx], table)) << "case " << case_idx;
    EXPECT_EQ(table.range_count(), 0u) << "case " << case_idx;
    EXPECT_EQ(table.find(ip("1.0.0.1")), 0u) << "case " << case_idx;
  }
  // Unsorted only through a value-0 range is still refused (the rule is on the input).
  const std::vector<AddressRange> unsorted_zero = {{ip("2.0.0.0"), ip("2.0.0.255"), 1},
                                                   {ip("1.0.0.0"), ip("1.0.0.255"), 0}};
  EXPECT_FALSE(RangeTable::from_sorted(unsorted_zero, table));
}

TEST(RangeTable, AdjacentEqualValuesMerge) {
  RangeTable table;
  const std::vector<AddressRange> ranges = {
      {ip("1.0.0.0"), ip("1.0.0.255"), 7},
      {ip("1.0.1.0"), ip("1.0.1.255"), 7},  // merges with the previous
      {ip("1.0.2.0"), ip("1.0.2.255"), 8},  // adjacent, another value
      {ip("1.0.4.0"), ip("1.0.4.255"), 8},  // not adjacent
      {ip("255.255.255.0"), ip("255.255.255.255"), 3},
      {ip("::1:0:0:0"), ip("::1:0:0:ff"), 3},  // adjacent across the block's edge: kept apart
      {ip("::1:0:0:100"), ip("::1:0:0:1ff"), 3},
  };
  ASSERT_TRUE(RangeTable::from_sorted(ranges, table));
  EXPECT_EQ(table.range_count(), 5u);
  EXPECT_EQ(table.find(ip("0.255.255.255")), 0u);
  EXPECT_EQ(table.find(ip("1.0.0.0")), 7u);
  EXPECT_EQ(table.find(ip("1.0.1.255")), 7u);
  EXPECT_EQ(table.find(ip("1.0.2.0")), 8u);
  EXPECT_EQ(table.find(ip("1.0.3.0")), 0u);
  EXPECT_EQ(table.find(ip("1.0.4.128")), 8u);
  EXPECT_EQ(table.find(ip("1.0.5.0")), 0u);
  EXPECT_EQ(table.find(ip("255.255.255.255")), 3u);
  EXPECT_EQ(table.find(ip("::1:0:0:1ff")), 3u);
  EXPECT_EQ(table.find(ip("::1:0:0:200")), 0u);
  EXPECT_EQ(table.find(ip("::fffe:ffff:ffff")), 0u);
}

TEST(RangeTable, RandomDisjointRangesMatchLinearScan) {
  // from_sorted on its own, with ranges that are not prefixes, for tables without an index,
  // with a partial one, and (60000: over 65536 IPv4 segments) with the per-/16 layout.
  for (size_t count : {3u, 40u, 5000u, 60000u}) {
    SCOPED_TRACE("count " + std::to_string(count));
    std::mt19937_64 rng(count);
    std::vector<U128> points;
    for (size_t idx = 0; idx < count * 2; ++idx) {
      const bool v4 = idx % 3 != 0;
      auto v4_point = static_cast<uint32_t>(rng());
      // Some on /16 edges, where the per-/16 layout splits.
      if (rng() % 8 == 0) v4_point = rng() % 2 == 0 ? v4_point & 0xffff0000u : v4_point | 0xffffu;
      points.push_back(v4 ? detail::kV4First | v4_point
                          : (U128{rng() >> (idx % 2 ? 0 : 60)} << 64) | rng());
    }
    std::sort(points.begin(), points.end());
    points.erase(std::unique(points.begin(), points.end()), points.end());
    std::vector<AddressRange> ranges;
    for (size_t idx = 0; idx + 1 < points.size(); idx += 2) {
      U128 first = points[idx];
      U128 last = points[idx + 1];
      // Clip to one side of the v4-mapped block's edges.
      const bool first_v4 = first >= detail::kV4First && first <= detail::kV4Last;
      if (first_v4) last = std::min(last, detail::kV4Last);
      if (first < detail::kV4First) last = std::min(last, detail::kV4First - 1);
      ranges.push_back({from_u128(first), from_u128(last), static_cast<uint32_t>(rng() % 4)});
    }
    RangeTable table;
    ASSERT_TRUE(RangeTable::from_sorted(ranges, table));
    // Reference: std::upper_bound over the input as given.
    std::vector<U128> firsts;
    for (const AddressRange& r : ranges) firsts.push_back(to_u128(r.first));
    size_t mismatches = 0;
    auto check = [&](U128 q) {
      uint32_t want = 0;
      const auto it = std::upper_bound(firsts.begin(), firsts.end(), q);
      if (it != firsts.begin()) {
        const AddressRange& r = ranges[static_cast<size_t>(it - firsts.begin()) - 1];
        if (q <= to_u128(r.last)) want = r.value;
      }
      const uint32_t got = table.find(from_u128(q));
      if (got != want && ++mismatches <= 10) {
        ADD_FAILURE() << from_u128(q).to_string() << ": got " << got << ", want " << want;
      }
    };
    for (const AddressRange& r : ranges) {
      for (U128 q :
           {to_u128(r.first), to_u128(r.last), to_u128(r.first) - 1, to_u128(r.last) + 1}) {
        check(q);
      }
    }
    for (size_t idx = 0; idx < 500; ++idx) {
      check(idx % 2 ? detail::kV4First | static_cast<uint32_t>(rng())
                    : (U128{rng()} << 64) | rng());
    }
    EXPECT_EQ(mismatches, 0u);
  }
}

TEST(RangeTable, SmallTablesStaySmall) {
  // A tenant's handful of internal networks: no index, a few hundred bytes.
  std::vector<PrefixValue> prefixes;
  for (const char* s : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                        "2001:db8::/32", "fd00::/8"}) {
    prefixes.push_back({prefix(s), 1});
  }
  RangeTable table;
  ASSERT_TRUE(RangeTable::from_sorted(
      flatten_prefixes(prefixes, [](std::span<const uint32_t>) { return 1u; }), table));
  EXPECT_EQ(table.range_count(), 6u);
  EXPECT_LT(table.memory_bytes(), 512u);
  EXPECT_EQ(table.find(ip("172.31.255.255")), 1u);
  EXPECT_EQ(table.find(ip("172.32.0.0")), 0u);
  EXPECT_EQ(table.find(ip("fdff::1")), 1u);
}

}  // namespace
}  // namespace fathom::transform
