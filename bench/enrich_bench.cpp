// Enrichment lookups, one core: transform::RangeTable::find (the structure behind geo/ASN,
// intel and tenant networks), GeoAsnTable::find on the real ip-location-db data, and the whole
// Enricher::enrich.
//
// Tables:
//   intel  a synthetic intel-like table of 1 M prefixes built through flatten_prefixes: 900 k
//          random IPv4 blocks /16../32 (so they nest; the /16s alone cover most of the IPv4
//          space, a worst case: every /16 holds ~23 segments) and 100 k IPv6 blocks /32../128
//          in 2000::/4, value = longest match. Built once per process (BM_BuildIntelTable
//          reports the build time of flatten_prefixes + from_sorted).
//   geo    data/geo/geo-whois-asn-country.mmdb + asn-ipv4.csv + asn-ipv6.csv (scripts/install-data;
//          FATHOM_GEO_DIR overrides the directory). Skipped with an error when absent.
//   tenant six internal networks, the per-tenant case (no index, a few hundred bytes).
//
// Address mixes (1 M addresses each, precomputed, read in order like a FlowBatch's records):
//   uniform  uniform random IPv4: nearly every lookup misses the caches (the worst case)
//   zipf     a realistic mix: 100 k hosts (half inside the table's blocks), drawn with a Zipf
//            (s = 1) popularity, so a few hosts carry most records
//   v6       IPv6 addresses, half inside the intel table's v6 blocks, half random in 2000::/4
//
// BM_Enricher: Enricher::enrich over FlowBatch-sized spans (4096) of 262 k realistic records
// (runs of one tenant; one end in the tenant's internal networks, the other external with a
// Zipf popularity over 100 k hosts, a third of them inside intel blocks; 10% IPv6), with the
// real geo/ASN data, the 1 M intel blocks spread over 8 lists, and 100 tenants' networks.
//
// Counters: items_per_second = lookups/s or records/s (thread CPU time: the targets are per
// core); ns/lookup or ns/record; table_bytes (memory_bytes), ranges; load_s / build_s;
// allocs/record (global operator new calls in the timed loop, target 0).
//
// The output is checked, so a fast wrong answer fails: the RangeTable benchmarks' sum of
// values found must equal a reference computed untimed with std::upper_bound over the
// flattened ranges; GeoAsnFind's must equal an untimed pass (its correctness against MaxMind's
// readers is tests/transform/geo_asn_test.cpp's job); Enricher's counts and a checksum of the
// enriched fields must equal an untimed reference pass.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "flow/flow_batch.h"
#include "flow/flow_record.h"
#include "transform/config.h"
#include "transform/enricher.h"
#include "transform/geo_asn.h"
#include "transform/intel.h"
#include "transform/range_table.h"
#include "transform/tenant_networks.h"

namespace {

using fathom::flow::IpAddress;
using fathom::transform::AddressRange;
using fathom::transform::GeoAsnTable;
using fathom::transform::IpPrefix;
using fathom::transform::PrefixValue;
using fathom::transform::RangeTable;
using fathom::transform::detail::from_u128;
using fathom::transform::detail::to_u128;
using fathom::transform::detail::U128;

constexpr size_t kAddresses = size_t{1} << 20;
constexpr size_t kIntelPrefixes = 1'000'000;

IpPrefix make_prefix(U128 address, uint8_t length) {
  const U128 mask = length == 0 ? 0 : ~U128{0} << (128 - length);
  return IpPrefix{from_u128(address & mask), length};
}

std::vector<PrefixValue> intel_prefixes() {
  std::mt19937_64 rng(1);
  std::vector<PrefixValue> out;
  out.reserve(kIntelPrefixes);
  for (uint32_t idx = 0; idx < kIntelPrefixes; ++idx) {
    if (idx % 10 == 9) {  // 10% IPv6, in 2000::/4
      const U128 a = (U128{0x2} << 124) | (((U128{rng()} << 64) | rng()) >> 4);
      out.push_back({make_prefix(a, static_cast<uint8_t>(32 + rng() % 97)), idx + 1});
    } else {
      const U128 a = fathom::transform::detail::kV4First | static_cast<uint32_t>(rng());
      out.push_back({make_prefix(a, static_cast<uint8_t>(96 + 16 + rng() % 17)), idx + 1});
    }
  }
  return out;
}

struct Intel {
  std::vector<PrefixValue> prefixes;
  std::vector<AddressRange> ranges;
  RangeTable table;
  double build_seconds = 0;
};

const Intel& intel() {
  static const Intel* built = [] {
    auto* t = new Intel();
    t->prefixes = intel_prefixes();
    const auto start = std::chrono::steady_clock::now();
    t->ranges = fathom::transform::flatten_prefixes(
        t->prefixes, [](std::span<const uint32_t> covering) { return covering.back(); });
    if (!RangeTable::from_sorted(t->ranges, t->table)) std::abort();
    t->build_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return t;
  }();
  return *built;
}

/// Reference lookup: std::upper_bound over the flattened ranges.
uint32_t reference_find(const std::vector<AddressRange>& ranges, const IpAddress& a) {
  const U128 q = to_u128(a);
  auto it = std::upper_bound(ranges.begin(), ranges.end(), q,
                             [](U128 v, const AddressRange& r) { return v < to_u128(r.first); });
  if (it == ranges.begin()) return 0;
  --it;
  return q <= to_u128(it->last) ? it->value : 0;
}

/// An address inside a random prefix of `prefixes` of the wanted family.
IpAddress inside(const std::vector<PrefixValue>& prefixes, bool v6, std::mt19937_64& rng) {
  for (;;) {
    const PrefixValue& p = prefixes[rng() % prefixes.size()];
    if (p.prefix.is_v4() == v6) continue;
    const U128 first = to_u128(p.prefix.address);
    const U128 span = to_u128(p.prefix.last()) - first;
    const U128 r = (U128{rng()} << 64) | rng();
    return from_u128(span == ~U128{0} ? r : first + r % (span + 1));
  }
}

enum class Mix { kUniform, kZipf, kV6 };

std::vector<IpAddress> addresses(Mix mix) {
  std::mt19937_64 rng(static_cast<uint64_t>(mix) + 100);
  const std::vector<PrefixValue>& prefixes = intel().prefixes;
  std::vector<IpAddress> out;
  out.reserve(kAddresses);
  if (mix == Mix::kUniform) {
    for (size_t idx = 0; idx < kAddresses; ++idx) {
      out.push_back(IpAddress::from_v4(static_cast<uint32_t>(rng())));
    }
  } else if (mix == Mix::kV6) {
    for (size_t idx = 0; idx < kAddresses; ++idx) {
      out.push_back(idx % 2 == 0
                        ? inside(prefixes, true, rng)
                        : from_u128((U128{0x2} << 124) | (((U128{rng()} << 64) | rng()) >> 4)));
    }
  } else {
    // 100 k hosts, half inside intel blocks; Zipf(1) popularity by inverse-CDF sampling.
    constexpr size_t kHosts = 100'000;
    std::vector<IpAddress> hosts;
    for (size_t idx = 0; idx < kHosts; ++idx) {
      hosts.push_back(idx % 2 == 0 ? inside(prefixes, false, rng)
                                   : IpAddress::from_v4(static_cast<uint32_t>(rng())));
    }
    std::vector<double> cdf(kHosts);
    double sum = 0;
    for (size_t idx = 0; idx < kHosts; ++idx) cdf[idx] = sum += 1.0 / static_cast<double>(idx + 1);
    std::uniform_real_distribution<double> u(0, sum);
    for (size_t idx = 0; idx < kAddresses; ++idx) {
      const size_t rank =
          static_cast<size_t>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
      out.push_back(hosts[std::min(rank, kHosts - 1)]);
    }
  }
  return out;
}

const std::vector<IpAddress>& mix_addresses(Mix mix) {
  static std::vector<IpAddress> cache[3];
  auto& v = cache[static_cast<int>(mix)];
  if (v.empty()) v = addresses(mix);
  return v;
}

/// Times `find` over the mix; checks the sum of results against `want` every iteration.
template <class Find>
void run_lookups(benchmark::State& state, const std::vector<IpAddress>& addrs, uint64_t want,
                 Find find) {
  for (auto _ : state) {
    uint64_t sum = 0;
    for (const IpAddress& a : addrs) sum += find(a);
    benchmark::DoNotOptimize(sum);
    if (sum != want) {
      state.SkipWithError("wrong result: checksum differs from the reference");
      return;
    }
  }
  const auto lookups = static_cast<int64_t>(state.iterations() * addrs.size());
  state.SetItemsProcessed(lookups);
  state.counters["ns/lookup"] = benchmark::Counter(
      static_cast<double>(lookups), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_IntelRangeTable(benchmark::State& state, Mix mix) {
  const Intel& t = intel();
  const std::vector<IpAddress>& addrs = mix_addresses(mix);
  uint64_t want = 0;
  for (const IpAddress& a : addrs) want += reference_find(t.ranges, a);
  run_lookups(state, addrs, want, [&](const IpAddress& a) { return t.table.find(a); });
  state.counters["table_bytes"] = static_cast<double>(t.table.memory_bytes());
  state.counters["ranges"] = static_cast<double>(t.table.range_count());
}
BENCHMARK_CAPTURE(BM_IntelRangeTable, uniform_v4, Mix::kUniform);
BENCHMARK_CAPTURE(BM_IntelRangeTable, zipf_v4, Mix::kZipf);
BENCHMARK_CAPTURE(BM_IntelRangeTable, v6, Mix::kV6);

void BM_BuildIntelTable(benchmark::State& state) {
  for (auto _ : state) {
    const Intel& t = intel();  // built once; the first call's time is the figure
    benchmark::DoNotOptimize(&t);
  }
  state.counters["build_s"] = intel().build_seconds;
  state.counters["prefixes"] = static_cast<double>(kIntelPrefixes);
  state.counters["table_bytes"] = static_cast<double>(intel().table.memory_bytes());
  state.counters["ranges"] = static_cast<double>(intel().table.range_count());
}
BENCHMARK(BM_BuildIntelTable)->Iterations(1);

void BM_TenantRangeTable(benchmark::State& state) {
  std::vector<PrefixValue> prefixes;
  for (const char* text : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                           "2001:db8::/32", "fd00::/8"}) {
    IpPrefix p;
    fathom::transform::parse_ip_prefix(text, p);
    prefixes.push_back({p, 1});
  }
  const auto ranges =
      fathom::transform::flatten_prefixes(prefixes, [](std::span<const uint32_t>) { return 1u; });
  RangeTable table;
  if (!RangeTable::from_sorted(ranges, table)) std::abort();
  // Realistic: about half the addresses are the tenant's own.
  std::mt19937_64 rng(5);
  std::vector<IpAddress> addrs;
  for (size_t idx = 0; idx < kAddresses / 4; ++idx) {
    addrs.push_back(idx % 2 == 0 ? IpAddress::from_v4(0x0a000000u | (rng() & 0xffffff))
                                 : IpAddress::from_v4(static_cast<uint32_t>(rng())));
  }
  uint64_t want = 0;
  for (const IpAddress& a : addrs) want += reference_find(ranges, a);
  run_lookups(state, addrs, want, [&](const IpAddress& a) { return table.find(a); });
  state.counters["table_bytes"] = static_cast<double>(table.memory_bytes());
}
BENCHMARK(BM_TenantRangeTable);

// --- GeoAsnTable on the real data ------------------------------------------------------------

std::string geo_dir() {
  if (const char* env = std::getenv("FATHOM_GEO_DIR")) return env;
  std::string here = __FILE__;  // <source>/bench/enrich_bench.cpp
  here = here.substr(0, here.rfind('/'));
  return here.substr(0, here.rfind('/')) + "/data/geo";
}

struct Geo {
  std::shared_ptr<const GeoAsnTable> table;
  std::string error;
  double load_seconds = 0;
};

const Geo& geo() {
  static const Geo* loaded = [] {
    auto* g = new Geo();
    fathom::transform::Enrichment config;
    config.geo_databases = {geo_dir() + "/geo-whois-asn-country.mmdb"};
    config.asn_databases = {geo_dir() + "/asn-ipv4.csv", geo_dir() + "/asn-ipv6.csv"};
    const auto start = std::chrono::steady_clock::now();
    g->table = GeoAsnTable::load(config, g->error);
    g->load_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return g;
  }();
  return *loaded;
}

uint64_t geo_value(const fathom::transform::GeoAsnInfo& info) {
  return info.asn + static_cast<uint64_t>(static_cast<uint8_t>(info.country[0]));
}

void BM_GeoAsnFind(benchmark::State& state, Mix mix) {
  const Geo& g = geo();
  if (!g.table) {
    state.SkipWithError(("geo/ASN data not loaded: " + g.error).c_str());
    return;
  }
  const std::vector<IpAddress>& addrs = mix_addresses(mix);
  // Reference: the same table, looked up once untimed; this checks determinism only, the
  // correctness against MaxMind's reader is tests/transform/geo_asn_test.cpp's job.
  uint64_t want = 0;
  for (const IpAddress& a : addrs) want += geo_value(g.table->find(a));
  run_lookups(state, addrs, want, [&](const IpAddress& a) { return geo_value(g.table->find(a)); });
  state.counters["table_bytes"] = static_cast<double>(g.table->memory_bytes());
  state.counters["ranges"] = static_cast<double>(g.table->range_count());
  state.counters["load_s"] = g.load_seconds;
}
BENCHMARK_CAPTURE(BM_GeoAsnFind, uniform_v4, Mix::kUniform);
BENCHMARK_CAPTURE(BM_GeoAsnFind, zipf_v4, Mix::kZipf);
BENCHMARK_CAPTURE(BM_GeoAsnFind, v6, Mix::kV6);

// --- the whole enrichment stage -----------------------------------------------------------

/// 1 M intel blocks (the intel table's) spread over 8 lists of different categories and
/// severities, so records match several lists at once.
std::shared_ptr<const fathom::transform::IntelSet> intel_set() {
  using fathom::transform::IntelCategory;
  static const std::shared_ptr<const fathom::transform::IntelSet> set = [] {
    constexpr IntelCategory kCategories[] = {IntelCategory::kMalware, IntelCategory::kC2,
                                             IntelCategory::kBotnet,  IntelCategory::kScanner,
                                             IntelCategory::kSpam,    IntelCategory::kHijacked,
                                             IntelCategory::kTor,     IntelCategory::kAttacker};
    std::vector<fathom::transform::IntelListData> lists(8);
    for (size_t list_idx = 0; list_idx < lists.size(); ++list_idx) {
      lists[list_idx].info.name = "list" + std::to_string(list_idx);
    }
    const std::vector<PrefixValue>& prefixes = intel().prefixes;
    for (size_t idx = 0; idx < prefixes.size(); ++idx) {
      const size_t list_idx = (idx * 7919) % lists.size();
      lists[list_idx].entries.push_back(
          {prefixes[idx].prefix, kCategories[list_idx], static_cast<uint8_t>(20 + list_idx * 10)});
    }
    std::string error;
    auto built = fathom::transform::IntelSet::from_entries(std::move(lists), error);
    if (!built) std::abort();
    return built;
  }();
  return set;
}

/// Records of 100 tenants, in runs of one tenant as a collector's batches hold them.
std::vector<fathom::flow::FlowRecord> enrich_records(
    std::vector<fathom::transform::Tenant>& tenants) {
  constexpr uint32_t kTenants = 100;
  constexpr size_t kRecords = 64 * fathom::flow::FlowBatch::kDefaultCapacity;
  std::mt19937_64 rng(9);
  for (uint32_t id = 1; id <= kTenants; ++id) {
    fathom::transform::Tenant t;
    t.id = id;
    t.name = "t" + std::to_string(id);
    // A public /20 and a /16 of RFC 1918 space, and an IPv6 /48.
    const auto v4 = static_cast<uint32_t>(rng()) & 0xfffff000u;
    t.internal_networks.push_back({IpAddress::from_v4(v4), 96 + 20});
    t.internal_networks.push_back({IpAddress::from_v4(0x0a000000u | (id << 16)), 96 + 16});
    t.internal_networks.push_back({from_u128((U128{0x20010db8} << 96) | (U128{id} << 80)), 48});
    tenants.push_back(std::move(t));
  }
  // External hosts: 100 k, a third inside intel blocks, 10% IPv6; Zipf(1) popularity.
  constexpr size_t kHosts = 100'000;
  std::vector<IpAddress> hosts;
  for (size_t idx = 0; idx < kHosts; ++idx) {
    const bool v6 = idx % 10 == 0;
    if (idx % 3 == 0) {
      hosts.push_back(inside(intel().prefixes, v6, rng));
    } else {
      hosts.push_back(v6 ? from_u128((U128{0x2a00} << 112) | (((U128{rng()} << 64) | rng()) >> 20))
                         : IpAddress::from_v4(static_cast<uint32_t>(rng())));
    }
  }
  std::vector<double> cdf(kHosts);
  double sum = 0;
  for (size_t idx = 0; idx < kHosts; ++idx) cdf[idx] = sum += 1.0 / static_cast<double>(idx + 1);
  std::uniform_real_distribution<double> u(0, sum);

  std::vector<fathom::flow::FlowRecord> records(kRecords);
  uint32_t tenant = 1;
  for (size_t idx = 0; idx < kRecords; ++idx) {
    if (idx % 256 == 0) tenant = static_cast<uint32_t>(rng() % kTenants) + 1;  // runs
    fathom::flow::FlowRecord& r = records[idx];
    r.tenant_id = tenant;
    const size_t rank =
        static_cast<size_t>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
    const IpAddress external = hosts[std::min(rank, kHosts - 1)];
    const IpAddress internal =
        !external.is_v4()
            ? from_u128((U128{0x20010db8} << 96) | (U128{tenant} << 80) | (rng() & 0xffff))
            : IpAddress::from_v4((rng() % 2 == 0 ? 0x0a000000u | (tenant << 16) : 0) |
                                 (rng() % 2 == 0 ? static_cast<uint32_t>(rng() & 0xffff)
                                                 : static_cast<uint32_t>(rng())));
    const bool outbound = rng() % 2 == 0;
    r.src = outbound ? internal : external;
    r.dst = outbound ? external : internal;
    r.bytes = 1500;
    r.packets = 1;
  }
  return records;
}

uint64_t enrich_checksum(std::span<const fathom::flow::FlowRecord> records) {
  uint64_t h = 0;
  for (const fathom::flow::FlowRecord& r : records) {
    h = h * 31 + r.src_as;
    h = h * 31 + r.dst_as;
    h = h * 31 + (static_cast<uint64_t>(static_cast<uint8_t>(r.src_country[0])) << 8 |
                  static_cast<uint8_t>(r.dst_country[1]));
    h = h * 31 + r.intel_flags;
    h = h * 31 + (uint64_t{r.src_intel} << 16 | r.dst_intel);
    h = h * 31 + (uint64_t{r.src_reputation} << 8 | r.dst_reputation);
    h = h * 31 + static_cast<uint64_t>(r.direction);
  }
  return h;
}

void BM_Enricher(benchmark::State& state) {
  const Geo& g = geo();
  if (!g.table) {
    state.SkipWithError(("geo/ASN data not loaded: " + g.error).c_str());
    return;
  }
  std::vector<fathom::transform::Tenant> tenants;
  std::vector<fathom::flow::FlowRecord> records = enrich_records(tenants);
  fathom::transform::Enricher enricher;
  enricher.set_tenant_networks(std::make_shared<const fathom::transform::TenantNetworks>(tenants));
  enricher.set_geo_asn(g.table);
  enricher.set_intel(intel_set());
  // Reference: one untimed pass (enrichment is idempotent: every pass gives the same records).
  constexpr size_t kBatch = fathom::flow::FlowBatch::kDefaultCapacity;
  std::span<fathom::flow::FlowRecord> all(records);
  fathom::transform::EnrichCounts want;
  for (size_t at = 0; at < all.size(); at += kBatch)
    want += enricher.enrich(all.subspan(at, kBatch));
  const uint64_t want_sum = enrich_checksum(all);
  if (want.intel_src + want.intel_dst == 0 || want.geo_misses >= 2 * want.records) {
    state.SkipWithError("unrealistic records: no intel hits or no geo hits");
    return;
  }
  const uint64_t allocs_before = fathom::bench::allocations();
  for (auto _ : state) {
    fathom::transform::EnrichCounts counts;
    for (size_t at = 0; at < all.size(); at += kBatch) {
      counts += enricher.enrich(all.subspan(at, kBatch));
    }
    benchmark::DoNotOptimize(counts);
    if (counts.records != want.records || counts.intel_src != want.intel_src) {
      state.SkipWithError("wrong result: counts differ from the reference pass");
      return;
    }
  }
  const uint64_t allocs = fathom::bench::allocations() - allocs_before;
  if (enrich_checksum(all) != want_sum) {
    state.SkipWithError("wrong result: records differ from the reference pass");
    return;
  }
  const auto n = static_cast<int64_t>(state.iterations() * all.size());
  state.SetItemsProcessed(n);
  state.counters["ns/record"] = benchmark::Counter(
      static_cast<double>(n), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["allocs/record"] = static_cast<double>(allocs) / static_cast<double>(n);
  state.counters["intel_hits/record"] =
      static_cast<double>(want.intel_src + want.intel_dst) / static_cast<double>(want.records);
  state.counters["intel_bytes"] = static_cast<double>(intel_set()->memory_bytes());
  state.counters["geo_bytes"] = static_cast<double>(g.table->memory_bytes());
}
BENCHMARK(BM_Enricher);

}  // namespace

BENCHMARK_MAIN();
