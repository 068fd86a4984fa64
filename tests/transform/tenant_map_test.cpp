#include "transform/tenant_map.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "testing/addresses.h"

// Counts every heap allocation in this test binary, so a test can prove a call makes none.
namespace {
std::atomic<uint64_t> g_allocations{0};

// Out of line so GCC, inlining operator delete, does not see free() paired with operator new
// (-Wmismatched-new-delete); the same trick as bench/alloc_counter.h.
[[gnu::noinline]] void release(void* p) noexcept {
  std::free(p);
}
}  // namespace

void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// Every form of new is replaced, not only the throwing one: libstdc++'s temporary buffers
// (std::stable_sort) use the nothrow form and free through operator delete, and a sanitizer's
// own nothrow new paired with our free() is an alloc-dealloc mismatch.
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](size_t size) {
  return operator new(size);
}
void* operator new[](size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void operator delete(void* p) noexcept {
  release(p);
}
void operator delete[](void* p) noexcept {
  release(p);
}
void operator delete[](void* p, size_t) noexcept {
  release(p);
}
void operator delete(void* p, size_t) noexcept {
  release(p);
}

namespace fathom::transform {
namespace {

using test_support::ip;
using test_support::prefix;

/// The definition TenantMap implements: among the rules whose block holds the address and
/// whose domain list is empty or holds the domain, the longest prefix wins (the first listed
/// on a tie, which the loader makes impossible across tenants); 0 when none.
uint32_t brute_force(const std::vector<ExporterRule>& rules, const flow::IpAddress& a,
                     uint32_t domain) {
  int best_len = -1;
  uint32_t best = 0;
  for (const ExporterRule& r : rules) {
    if (!r.prefix.contains(a)) continue;
    if (!r.observation_domains.empty() &&
        std::find(r.observation_domains.begin(), r.observation_domains.end(), domain) ==
            r.observation_domains.end()) {
      continue;
    }
    if (r.prefix.length > best_len) {
      best_len = r.prefix.length;
      best = r.tenant_id;
    }
  }
  return best;
}

TEST(TenantMap, EmptyMapKnowsNoExporter) {
  const TenantMap map;
  EXPECT_EQ(map.lookup(ip("10.0.0.1"), 0), 0u);
  EXPECT_EQ(map.resolve(ip("10.0.0.1"), 0), 0u);
  const TenantMap with_default({}, 99);
  EXPECT_EQ(with_default.lookup(ip("10.0.0.1"), 0), 0u);
  EXPECT_EQ(with_default.resolve(ip("10.0.0.1"), 0), 99u);
}

TEST(TenantMap, LongestPrefixThenDomainFilter) {
  const std::vector<ExporterRule> rules = {
      {prefix("10.0.0.0/8"), {}, 1},
      {prefix("10.1.0.0/16"), {}, 2},
      {prefix("10.1.2.3"), {7, 8}, 3},
      {prefix("10.1.2.3"), {9}, 4},
      {prefix("2001:db8::/32"), {}, 5},
      {prefix("255.255.255.255"), {}, 6},  // the very last IPv4 address: no interval after it
      {prefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), {}, 7},  // the very last address
  };
  const TenantMap map(rules);
  EXPECT_EQ(map.rule_count(), rules.size());
  EXPECT_EQ(map.lookup(ip("10.200.0.1"), 0), 1u);
  EXPECT_EQ(map.lookup(ip("10.1.0.1"), 0), 2u);
  EXPECT_EQ(map.lookup(ip("10.1.2.3"), 7), 3u);
  EXPECT_EQ(map.lookup(ip("10.1.2.3"), 8), 3u);
  EXPECT_EQ(map.lookup(ip("10.1.2.3"), 9), 4u);
  EXPECT_EQ(map.lookup(ip("10.1.2.3"), 1), 2u);  // no /32 rule for domain 1: the /16 holds
  EXPECT_EQ(map.lookup(ip("10.1.2.4"), 7), 2u);
  EXPECT_EQ(map.lookup(ip("11.0.0.0"), 0), 0u);
  EXPECT_EQ(map.lookup(ip("9.255.255.255"), 0), 0u);
  EXPECT_EQ(map.lookup(ip("2001:db8:1::1"), 0), 5u);
  EXPECT_EQ(map.lookup(ip("2001:db9::"), 0), 0u);
  EXPECT_EQ(map.lookup(ip("255.255.255.255"), 0), 6u);
  EXPECT_EQ(map.lookup(ip("255.255.255.254"), 0), 0u);
  EXPECT_EQ(map.lookup(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 0), 7u);
  EXPECT_EQ(map.lookup(ip("::"), 0), 0u);
}

TEST(TenantMap, LookupDoesNotAllocate) {
  std::vector<ExporterRule> rules;
  for (uint32_t idx = 0; idx < 500; ++idx) {
    rules.push_back({{flow::IpAddress::from_v4(0x0a000000 + (idx << 8)), 96 + 24}, {}, idx + 1});
  }
  rules.push_back({prefix("10.0.0.0/8"), {1, 2, 3}, 1000});
  const TenantMap map(rules, 7);
  uint64_t sum = 0;
  const uint64_t before = g_allocations.load();
  for (uint32_t idx = 0; idx < 10000; ++idx) {
    const flow::IpAddress a = flow::IpAddress::from_v4(0x0a000000 + idx * 37);
    sum += map.lookup(a, idx % 4) + map.resolve(a, idx % 4);
  }
  EXPECT_EQ(g_allocations.load(), before);
  EXPECT_GT(sum, 0u);
  // The counter works: building a map allocates.
  const TenantMap other(rules);
  EXPECT_GT(g_allocations.load(), before);
}

TEST(TenantMap, FromConfigAppliesThePolicy) {
  Config config;
  Tenant acme;
  acme.id = 1;
  acme.name = "acme";
  acme.exporters.push_back({prefix("192.0.2.0/24"), {}});
  config.tenants.push_back(acme);
  config.default_tenant_id = 42;
  const TenantMap reject = TenantMap::from_config(config);
  EXPECT_EQ(reject.resolve(ip("192.0.2.9"), 0), 1u);
  EXPECT_EQ(reject.resolve(ip("198.51.100.1"), 0), 0u);
  config.unknown_exporters = UnknownExporters::kDefault;
  const TenantMap accept = TenantMap::from_config(config);
  EXPECT_EQ(accept.resolve(ip("192.0.2.9"), 0), 1u);
  EXPECT_EQ(accept.lookup(ip("198.51.100.1"), 0), 0u);
  EXPECT_EQ(accept.resolve(ip("198.51.100.1"), 0), 42u);
}

/// A random address that, half the time, falls inside one of `rules` (so lookups hit nested
/// blocks and their edges, not only empty space).
flow::IpAddress random_address(std::mt19937_64& rng, const std::vector<ExporterRule>& rules,
                               bool v4) {
  flow::IpAddress a;
  if (!rules.empty() && rng() % 2 == 0) {
    const ExporterRule& r = rules[rng() % rules.size()];
    switch (rng() % 3) {
      case 0: a = r.prefix.address; break;
      case 1: a = r.prefix.last(); break;
      default: {
        a = r.prefix.address;
        const flow::IpAddress last = r.prefix.last();
        for (size_t byte_idx = 0; byte_idx < 16; ++byte_idx) {
          const uint8_t host = static_cast<uint8_t>(last.bytes[byte_idx] ^ a.bytes[byte_idx]);
          a.bytes[byte_idx] = static_cast<uint8_t>(a.bytes[byte_idx] | (rng() & host));
        }
      }
    }
    return a;
  }
  if (v4) return flow::IpAddress::from_v4(static_cast<uint32_t>(rng()));
  for (uint8_t& b : a.bytes) b = static_cast<uint8_t>(rng());
  a.bytes[0] = 0x20;  // keep the v6 draws in a small part of the space so blocks nest
  return a;
}

TEST(TenantMap, MatchesBruteForceOnRandomPrefixes) {
  const uint64_t seed = 20261123;
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 40; ++round) {
    std::vector<ExporterRule> rules;
    const size_t rule_count = 1 + rng() % 60;
    for (size_t rule_idx = 0; rule_idx < rule_count; ++rule_idx) {
      const bool v4 = rng() % 3 != 0;
      ExporterRule r;
      // Short random prefixes collide and nest often; long ones make single addresses.
      const unsigned len =
          v4 ? 96 + static_cast<unsigned>(rng() % 33) : static_cast<unsigned>(rng() % 129);
      flow::IpAddress a = random_address(rng, {}, v4);
      std::string text = a.to_string() + "/" + std::to_string(v4 ? len - 96 : len);
      IpPrefix p;
      const PrefixParse status = parse_ip_prefix(text, p);
      ASSERT_TRUE(status == PrefixParse::kOk || status == PrefixParse::kHostBits) << text;
      r.prefix = p;  // host bits cleared either way
      if (rng() % 4 == 0) {
        for (uint64_t d = rng() % 3 + 1; d > 0; --d) {
          r.observation_domains.push_back(static_cast<uint32_t>(rng() % 4));
        }
      }
      r.tenant_id = static_cast<uint32_t>(rule_idx + 1);
      rules.push_back(r);
    }
    const TenantMap map(rules);
    for (int probe = 0; probe < 2000; ++probe) {
      const flow::IpAddress a = random_address(rng, rules, rng() % 3 != 0);
      const uint32_t domain = static_cast<uint32_t>(rng() % 5);
      const uint32_t want = brute_force(rules, a, domain);
      ASSERT_EQ(map.lookup(a, domain), want) << "seed " << seed << " round " << round << " addr "
                                             << a.to_string() << " domain " << domain;
    }
  }
}

}  // namespace
}  // namespace fathom::transform
