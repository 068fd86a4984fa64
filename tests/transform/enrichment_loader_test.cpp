#include "transform/enrichment_loader.h"

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "testing/addresses.h"
#include "transform/geo_asn.h"
#include "transform/intel.h"

namespace fathom::transform {
namespace {

namespace fs = std::filesystem;

using test_support::ip;
using test_support::prefix;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "fathom_loader_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  /// Writes `name` the way list updaters do: a temporary file renamed over the old one.
  std::string write(const std::string& name, const std::string& content) const {
    const std::string path = (path_ / name).string();
    const std::string temp = path + ".tmp";
    std::ofstream(temp, std::ios::binary) << content;
    fs::rename(temp, path);
    return path;
  }
  std::string path(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

/// Tenant 1 owns 10.1.0.0/16; one intel list; a geo CSV and an ASN CSV.
Config config_in(const TempDir& dir) {
  Config config;
  Tenant tenant;
  tenant.id = 1;
  tenant.name = "acme";
  tenant.internal_networks = {prefix("10.1.0.0/16")};
  config.tenants.push_back(tenant);
  IntelList list;
  list.name = "blocklist";
  list.path = dir.write("blocklist.netset", "# v1\n198.51.100.0/24\nbad line\n");
  list.category = IntelCategory::kAttacker;
  list.severity = 40;
  config.enrichment.intel_lists.push_back(list);
  config.enrichment.geo_databases.push_back(
      dir.write("geo.csv", "198.51.100.0,198.51.100.255,DE\n203.0.113.0,203.0.113.255,FR\n"));
  config.enrichment.asn_databases.push_back(
      dir.write("asn.csv", "198.51.100.0,198.51.100.255,64500,Example\n"));
  config.enrichment.reload_check_seconds = 3600;  // tests drive checks with check_now()
  return config;
}

flow::FlowRecord enriched(const Enricher& enricher, const char* src, const char* dst) {
  flow::FlowRecord r;
  r.tenant_id = 1;
  r.src = ip(src);
  r.dst = ip(dst);
  enricher.enrich(std::span<flow::FlowRecord>(&r, 1));
  return r;
}

TEST(EnrichmentLoader, LoadsEverythingAtStart) {
  TempDir dir;
  const Config config = config_in(dir);
  Enricher enricher;
  EnrichmentLoader loader(config, enricher);
  std::string error;
  ASSERT_TRUE(loader.load_all(error)) << error;
  ASSERT_TRUE(enricher.intel());
  ASSERT_TRUE(enricher.geo_asn());
  ASSERT_TRUE(enricher.tenant_networks());

  const flow::FlowRecord r = enriched(enricher, "198.51.100.1", "10.1.0.1");
  EXPECT_EQ(r.direction, flow::Direction::kInbound);
  EXPECT_EQ(r.src_country, (std::array<char, 2>{'D', 'E'}));
  EXPECT_EQ(r.src_as, 64500u);
  EXPECT_EQ(r.src_intel, 1u << static_cast<unsigned>(IntelCategory::kAttacker));
  EXPECT_EQ(r.src_reputation, 40);

  const LoaderStats stats = loader.stats();
  ASSERT_EQ(stats.sources.size(), 3u);
  EXPECT_EQ(stats.sources[0].kind, "intel");
  EXPECT_EQ(stats.sources[0].name, "blocklist");
  EXPECT_EQ(stats.sources[0].entries, 1u);
  EXPECT_EQ(stats.sources[0].bad_lines, 1u);
  EXPECT_GT(stats.sources[0].loaded_at_ns, 0);
  EXPECT_EQ(stats.sources[1].kind, "geo");
  EXPECT_EQ(stats.sources[1].entries, 2u);
  EXPECT_EQ(stats.sources[2].kind, "asn");
  EXPECT_EQ(stats.sources[2].entries, 1u);
  for (const LoaderSourceStats& source : stats.sources) {
    EXPECT_EQ(source.reloads, 0u);
    EXPECT_EQ(source.failures, 0u);
  }
  EXPECT_EQ(stats.intel_prefixes, 1u);
  EXPECT_GT(stats.intel_memory_bytes, 0u);
  EXPECT_GT(stats.geo_asn_memory_bytes, 0u);
  EXPECT_GT(stats.tenant_networks_memory_bytes, 0u);

  // Nothing changed: a check reloads nothing.
  loader.check_now();
  EXPECT_EQ(loader.stats().reloads, 0u);
  EXPECT_EQ(loader.stats().checks, 1u);
}

TEST(EnrichmentLoader, StartupErrorsNameTheSource) {
  TempDir dir;
  Config config = config_in(dir);
  config.enrichment.intel_lists[0].path = dir.path("missing.netset");
  Enricher enricher;
  std::string error;
  EXPECT_FALSE(EnrichmentLoader(config, enricher).load_all(error));
  EXPECT_NE(error.find("missing.netset"), std::string::npos) << error;
  EXPECT_NE(error.find("blocklist"), std::string::npos) << error;

  config = config_in(dir);
  config.enrichment.geo_databases[0] = dir.path("missing-geo.mmdb");
  error.clear();
  EXPECT_FALSE(EnrichmentLoader(config, enricher).load_all(error));
  EXPECT_NE(error.find("missing-geo.mmdb"), std::string::npos) << error;
}

TEST(EnrichmentLoader, NoSourcesLeavesThemUnset) {
  Config config;
  Enricher enricher;
  EnrichmentLoader loader(config, enricher);
  std::string error;
  ASSERT_TRUE(loader.load_all(error)) << error;
  EXPECT_FALSE(enricher.intel());
  EXPECT_FALSE(enricher.geo_asn());
  EXPECT_TRUE(enricher.tenant_networks());
  loader.check_now();
  EXPECT_TRUE(loader.stats().sources.empty());
}

TEST(EnrichmentLoader, ReloadsChangedFilesAndKeepsTheOldVersionOnFailure) {
  TempDir dir;
  const Config config = config_in(dir);
  Enricher enricher;
  EnrichmentLoader loader(config, enricher);
  std::string error;
  ASSERT_TRUE(loader.load_all(error)) << error;
  const std::shared_ptr<const IntelSet> first = enricher.intel();

  // A new version of the list.
  dir.write("blocklist.netset", "# v2\n203.0.113.0/24\n");
  loader.check_now();
  const std::shared_ptr<const IntelSet> second = enricher.intel();
  ASSERT_NE(second, first);
  EXPECT_TRUE(second->find(ip("203.0.113.1")).listed());
  EXPECT_FALSE(second->find(ip("198.51.100.1")).listed());
  LoaderStats stats = loader.stats();
  EXPECT_EQ(stats.reloads, 1u);
  EXPECT_EQ(stats.sources[0].reloads, 1u);
  EXPECT_EQ(stats.sources[0].bad_lines, 0u);
  EXPECT_EQ(stats.sources[1].reloads, 0u);  // geo did not change

  // A broken version: nothing valid. The old set stays, the failure is counted once.
  dir.write("blocklist.netset", "# v3, truncated download\n<html>\n");
  loader.check_now();
  EXPECT_EQ(enricher.intel(), second);
  stats = loader.stats();
  EXPECT_EQ(stats.failures, 1u);
  EXPECT_EQ(stats.sources[0].failures, 1u);
  EXPECT_NE(stats.sources[0].last_error.find("no valid entries"), std::string::npos);
  loader.check_now();  // same broken file: not retried
  EXPECT_EQ(loader.stats().failures, 1u);

  // A missing file: still the old set.
  fs::remove(dir.path("blocklist.netset"));
  loader.check_now();
  EXPECT_EQ(enricher.intel(), second);
  EXPECT_EQ(loader.stats().failures, 2u);

  // Fixed: picked up.
  dir.write("blocklist.netset", "192.0.2.0/24\n");
  loader.check_now();
  ASSERT_NE(enricher.intel(), second);
  EXPECT_TRUE(enricher.intel()->find(ip("192.0.2.1")).listed());
  stats = loader.stats();
  EXPECT_EQ(stats.reloads, 2u);
  EXPECT_TRUE(stats.sources[0].last_error.empty());

  // The geo database changes.
  const std::shared_ptr<const GeoAsnTable> geo = enricher.geo_asn();
  dir.write("geo.csv", "198.51.100.0,198.51.100.255,SE\n");
  loader.check_now();
  ASSERT_NE(enricher.geo_asn(), geo);
  EXPECT_EQ(enricher.geo_asn()->find(ip("198.51.100.1")).country, (std::array<char, 2>{'S', 'E'}));
  EXPECT_EQ(loader.stats().sources[1].reloads, 1u);
  // ... and breaks: the previous table stays.
  dir.write("geo.csv", "garbage\n");
  const std::shared_ptr<const GeoAsnTable> geo2 = enricher.geo_asn();
  loader.check_now();
  EXPECT_EQ(enricher.geo_asn(), geo2);
  EXPECT_EQ(loader.stats().sources[1].failures, 1u);
}

TEST(EnrichmentLoader, ApplyConfigSwapsNetworksAndReloadsChangedSources) {
  TempDir dir;
  Config config = config_in(dir);
  Enricher enricher;
  EnrichmentLoader loader(config, enricher);
  std::string error;
  ASSERT_TRUE(loader.load_all(error)) << error;
  const std::shared_ptr<const GeoAsnTable> geo = enricher.geo_asn();
  EXPECT_EQ(enriched(enricher, "10.2.0.1", "198.51.100.1").direction, flow::Direction::kTransit);

  // New networks, a second list, the ASN override.
  config.tenants[0].internal_networks.push_back(prefix("10.2.0.0/16"));
  IntelList extra;
  extra.name = "scored";
  extra.path = dir.write("scored.csv", "203.0.113.9,c2,90\n");
  config.enrichment.intel_lists.push_back(extra);
  config.enrichment.asn_overrides_exporter = true;
  loader.apply_config(config);
  flow::FlowRecord r = enriched(enricher, "10.2.0.1", "203.0.113.9");
  EXPECT_EQ(r.direction, flow::Direction::kOutbound);
  EXPECT_EQ(r.dst_reputation, 90);
  EXPECT_EQ(enricher.geo_asn(), geo);  // geo settings unchanged: not reloaded
  LoaderStats stats = loader.stats();
  ASSERT_EQ(stats.sources.size(), 4u);
  EXPECT_EQ(stats.sources[1].name, "scored");
  EXPECT_EQ(stats.sources[1].entries, 1u);
  EXPECT_GT(stats.sources[0].loaded_at_ns, 0);

  r.src_as = 65000;
  r.src = ip("198.51.100.1");
  enricher.enrich(std::span<flow::FlowRecord>(&r, 1));
  EXPECT_EQ(r.src_as, 64500u);

  // A list that does not load: the previous set stays.
  config.enrichment.intel_lists[1].path = dir.path("nowhere.csv");
  const std::shared_ptr<const IntelSet> before = enricher.intel();
  loader.apply_config(config);
  EXPECT_EQ(enricher.intel(), before);
  EXPECT_EQ(loader.stats().sources[1].failures, 1u);

  // No lists, no databases.
  config.enrichment.intel_lists.clear();
  config.enrichment.geo_databases.clear();
  config.enrichment.asn_databases.clear();
  loader.apply_config(config);
  EXPECT_FALSE(enricher.intel());
  EXPECT_FALSE(enricher.geo_asn());
  EXPECT_TRUE(loader.stats().sources.empty());
}

TEST(EnrichmentLoader, StartAndStopReturnPromptly) {
  TempDir dir;
  Config config = config_in(dir);
  Enricher enricher;
  EnrichmentLoader loader(config, enricher);
  std::string error;
  ASSERT_TRUE(loader.load_all(error)) << error;
  loader.start();
  loader.start();  // no second thread
  config.enrichment.reload_check_seconds = 0;
  loader.apply_config(config);  // wakes the thread with the new interval
  loader.stop();                // an hour-long wait must not delay this
  loader.stop();
  loader.start();
  // The destructor stops it again.
}

/// Version `k` of a list: even versions list 198.51.100.0/26 at severity 30, odd ones
/// 203.0.113.0/26 at severity 70; a comment of k characters makes every version's size differ.
std::string list_version(int k) {
  std::string text = "# version " + std::string(static_cast<size_t>(k) + 1, 'v') + "\n";
  text += k % 2 == 0 ? "198.51.100.0/26\n" : "203.0.113.0/26\n";
  return text;
}

TEST(EnrichmentLoader, ReadersSeeOneWholeVersionWhileListsReload) {
  TempDir dir;
  Config config;
  Tenant tenant;
  tenant.id = 1;
  tenant.name = "acme";
  tenant.internal_networks = {prefix("10.1.0.0/16")};
  config.tenants.push_back(tenant);
  for (const char* name : {"a", "b"}) {
    IntelList list;
    list.name = name;
    list.path = dir.write(std::string(name) + ".txt", list_version(0));
    list.severity = 50;
    config.enrichment.intel_lists.push_back(list);
  }
  // Two lists rewritten together: a reader must never see list a at one version and list b
  // at another inside one batch either, since both are one IntelSet.
  Enricher enricher;
  EnrichmentLoader loader(config, enricher);
  std::string error;
  ASSERT_TRUE(loader.load_all(error)) << error;

  // A batch with 64 addresses of each version's block.
  std::vector<flow::FlowRecord> batch;
  for (uint32_t host = 0; host < 64; ++host) {
    for (const uint32_t base : {0xc6336400u, 0xcb007100u}) {  // 198.51.100.0, 203.0.113.0
      flow::FlowRecord r;
      r.tenant_id = 1;
      r.src = flow::IpAddress::from_v4(base + host);
      r.dst = flow::IpAddress::from_v4(0x0a010001u);
      batch.push_back(r);
    }
  }

  std::atomic<bool> done{false};
  std::atomic<uint64_t> inconsistent{0};
  std::atomic<uint64_t> batches{0};
  auto reader = [&] {
    std::vector<flow::FlowRecord> records = batch;
    while (!done.load(std::memory_order_acquire)) {
      enricher.enrich(records);
      size_t listed_even = 0;
      size_t listed_odd = 0;
      for (size_t record_idx = 0; record_idx < records.size(); ++record_idx) {
        const flow::FlowRecord& r = records[record_idx];
        // Both lists at severity 50: an address listed by both scores 75.
        const bool listed = r.src_intel != 0 && r.src_reputation == 75;
        if (!listed && r.src_intel != 0) inconsistent.fetch_add(1);
        if (listed) ++(record_idx % 2 == 0 ? listed_even : listed_odd);
      }
      const bool even_version = listed_even == 64 && listed_odd == 0;
      const bool odd_version = listed_even == 0 && listed_odd == 64;
      if (!even_version && !odd_version) inconsistent.fetch_add(1);
      batches.fetch_add(1);
    }
  };
  std::vector<std::thread> readers;
  for (int reader_idx = 0; reader_idx < 2; ++reader_idx) readers.emplace_back(reader);

  constexpr int kVersions = 12;
  for (int k = 1; k <= kVersions; ++k) {
    dir.write("a.txt", list_version(k));
    dir.write("b.txt", list_version(k));
    loader.check_now();
    // The loader picked the version up (possibly together with the previous one).
    EXPECT_EQ(enricher.intel()->find(ip(k % 2 == 0 ? "198.51.100.1" : "203.0.113.1")).reputation,
              75)
        << k;
  }
  // Let the readers see the last version at least once before stopping them.
  const uint64_t seen = batches.load();
  while (batches.load() < seen + 4) std::this_thread::yield();
  done.store(true, std::memory_order_release);
  for (std::thread& t : readers) t.join();

  EXPECT_EQ(inconsistent.load(), 0u);
  EXPECT_EQ(loader.stats().reloads, static_cast<uint64_t>(kVersions));
  EXPECT_EQ(loader.stats().failures, 0u);
  const flow::FlowRecord last = enriched(enricher, "198.51.100.5", "10.1.0.1");
  EXPECT_EQ(last.src_reputation, kVersions % 2 == 0 ? 75 : 0);
}

}  // namespace
}  // namespace fathom::transform
