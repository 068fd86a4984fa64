#include "transform/enricher.h"

#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "testing/addresses.h"
#include "transform/geo_asn.h"
#include "transform/intel.h"
#include "transform/tenant_networks.h"

namespace fathom::transform {
namespace {

namespace fs = std::filesystem;
using flow::Direction;
namespace flags = flow::intel_flags;

using test_support::ip;
using test_support::prefix;

uint16_t bit(IntelCategory category) {
  return static_cast<uint16_t>(1u << static_cast<unsigned>(category));
}

flow::FlowRecord record(uint32_t tenant, const char* src, const char* dst) {
  flow::FlowRecord r;
  r.tenant_id = tenant;
  r.src = ip(src);
  r.dst = ip(dst);
  return r;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "fathom_enricher_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name, const std::string& content) const {
    const std::string path = (path_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

 private:
  fs::path path_;
};

/// Tenant 1: 10.1.0.0/16 and 2001:db8:1::/48. Tenant 2: 10.2.0.0/16. Tenant 3: no networks.
std::shared_ptr<const TenantNetworks> networks() {
  std::vector<Tenant> tenants(3);
  tenants[0].id = 1;
  tenants[0].internal_networks = {prefix("10.1.0.0/16"), prefix("2001:db8:1::/48")};
  tenants[1].id = 2;
  tenants[1].internal_networks = {prefix("10.2.0.0/16")};
  tenants[2].id = 3;
  return std::make_shared<const TenantNetworks>(tenants);
}

/// 198.51.100.0/24: DE, AS 64500. 203.0.113.0/24: FR, no AS. 192.0.2.0/24: AS 64501 only.
/// 10.1.0.0/16 (tenant 1's own, public in this test): NL, AS 64502.
std::shared_ptr<const GeoAsnTable> geo_asn(const TempDir& dir) {
  Enrichment enrichment;
  enrichment.geo_databases.push_back(dir.file("geo.csv",
                                              "198.51.100.0,198.51.100.255,DE\n"
                                              "203.0.113.0,203.0.113.255,FR\n"
                                              "10.1.0.0,10.1.255.255,NL\n"));
  enrichment.asn_databases.push_back(dir.file("asn.csv",
                                              "198.51.100.0,198.51.100.255,64500,Example A\n"
                                              "192.0.2.0,192.0.2.255,64501,Example B\n"
                                              "10.1.0.0,10.1.255.255,64502,Example C\n"));
  std::string error;
  auto table = GeoAsnTable::load(enrichment, error);
  EXPECT_TRUE(table) << error;
  return table;
}

/// "drop" (hijacked, 50): 198.51.100.0/25. "c2" (c2, 80): 198.51.100.7, 2001:db8:bad::/48.
std::shared_ptr<const IntelSet> intel() {
  std::vector<IntelListData> lists(2);
  lists[0].info.name = "drop";
  lists[0].entries = {{prefix("198.51.100.0/25"), IntelCategory::kHijacked, 50}};
  lists[1].info.name = "c2";
  lists[1].entries = {{prefix("198.51.100.7"), IntelCategory::kC2, 80},
                      {prefix("2001:db8:bad::/48"), IntelCategory::kC2, 80}};
  std::string error;
  auto set = IntelSet::from_entries(std::move(lists), error);
  EXPECT_TRUE(set) << error;
  return set;
}

TEST(Enricher, LeavesTenantZeroAlone) {
  TempDir dir;
  Enricher enricher;
  enricher.set_tenant_networks(networks());
  enricher.set_geo_asn(geo_asn(dir));
  enricher.set_intel(intel());
  flow::FlowRecord r = record(0, "198.51.100.7", "10.1.0.1");
  r.intel_flags = 0xf0;
  r.direction = Direction::kTransit;
  const flow::FlowRecord before = r;
  std::vector<flow::FlowRecord> records{r};
  const EnrichCounts counts = enricher.enrich(records);
  EXPECT_EQ(counts.records, 0u);
  EXPECT_EQ(std::memcmp(&records[0], &before, sizeof before), 0);
}

TEST(Enricher, DirectionAndInternalBits) {
  Enricher enricher;
  enricher.set_tenant_networks(networks());
  std::vector<flow::FlowRecord> records{
      record(1, "10.1.0.1", "10.1.0.2"),           // internal
      record(1, "10.1.0.1", "198.51.100.1"),       // outbound
      record(1, "198.51.100.1", "2001:db8:1::5"),  // inbound (IPv6 internal)
      record(1, "10.2.0.1", "198.51.100.1"),       // transit: 10.2/16 is tenant 2's
      record(2, "10.2.0.1", "198.51.100.1"),       // outbound for tenant 2
      record(3, "10.1.0.1", "10.1.0.2"),           // tenant without networks
      record(4, "10.1.0.1", "10.1.0.2"),           // unknown tenant
      record(1, "198.51.100.1", "10.1.9.9"),       // back to tenant 1: inbound
  };
  records[0].intel_flags = flags::kSrcListed;  // stale bits are cleared
  const EnrichCounts counts = enricher.enrich(records);
  const std::vector<std::pair<Direction, uint32_t>> expected{
      {Direction::kInternal, flags::kSrcInternal | flags::kDstInternal},
      {Direction::kOutbound, flags::kSrcInternal},
      {Direction::kInbound, flags::kDstInternal},
      {Direction::kTransit, 0},
      {Direction::kOutbound, flags::kSrcInternal},
      {Direction::kUnknown, 0},
      {Direction::kUnknown, 0},
      {Direction::kInbound, flags::kDstInternal},
  };
  for (size_t record_idx = 0; record_idx < records.size(); ++record_idx) {
    EXPECT_EQ(records[record_idx].direction, expected[record_idx].first) << record_idx;
    EXPECT_EQ(records[record_idx].intel_flags, expected[record_idx].second) << record_idx;
  }
  EXPECT_EQ(counts.records, 8u);
  EXPECT_EQ(counts.no_networks, 2u);
  EXPECT_EQ(counts.geo_misses, 0u);  // no geo table: nothing to miss
  EXPECT_EQ(counts.intel_src + counts.intel_dst, 0u);
}

TEST(Enricher, CountriesAndAsnFillOrOverride) {
  TempDir dir;
  Enricher enricher;
  enricher.set_tenant_networks(networks());
  enricher.set_geo_asn(geo_asn(dir));
  std::vector<flow::FlowRecord> records{
      record(1, "198.51.100.9", "10.1.0.1"),  // inbound; exporter AS numbers below
      record(1, "10.1.0.1", "203.0.113.1"),   // outbound to FR, no AS known
      record(1, "192.0.2.1", "10.9.0.1"),     // transit: AS only / nothing
  };
  records[0].src_as = 65000;  // the exporter's (peer) AS: kept unless overriding
  records[0].dst_as = 0;
  EnrichCounts counts = enricher.enrich(records);
  EXPECT_EQ(records[0].src_country, (std::array<char, 2>{'D', 'E'}));
  EXPECT_EQ(records[0].dst_country, (std::array<char, 2>{'N', 'L'}));
  EXPECT_EQ(records[0].src_as, 65000u);
  EXPECT_EQ(records[0].dst_as, 64502u);
  EXPECT_EQ(records[1].dst_country, (std::array<char, 2>{'F', 'R'}));
  EXPECT_EQ(records[1].dst_as, 0u);
  EXPECT_EQ(records[2].src_country, (std::array<char, 2>{0, 0}));
  EXPECT_EQ(records[2].src_as, 64501u);
  EXPECT_EQ(records[2].dst_as, 0u);
  // Misses of external ends only: record 1's dst AS, record 2's src country, dst both.
  EXPECT_EQ(counts.geo_misses, 2u);
  EXPECT_EQ(counts.asn_misses, 2u);

  enricher.set_asn_overrides_exporter(true);
  records[0].src_as = 65000;
  records[2].dst_as = 65001;  // the database knows nothing here: the exporter's value stays
  counts = enricher.enrich(records);
  EXPECT_EQ(records[0].src_as, 64500u);
  EXPECT_EQ(records[2].dst_as, 65001u);
}

TEST(Enricher, IntelCategoriesFlagsAndReputation) {
  Enricher enricher;
  enricher.set_tenant_networks(networks());
  enricher.set_intel(intel());
  std::vector<flow::FlowRecord> records{
      record(1, "198.51.100.7", "10.1.0.1"),    // on both lists
      record(1, "10.1.0.1", "198.51.100.100"),  // drop only
      record(1, "10.1.0.1", "198.51.100.200"),  // not listed
      record(1, "2001:db8:bad::1", "2001:db8:1::1"),
      record(1, "198.51.100.7", "10.1.0.2"),  // same source again (the per-side cache)
  };
  const EnrichCounts counts = enricher.enrich(records);
  EXPECT_EQ(records[0].src_intel, bit(IntelCategory::kHijacked) | bit(IntelCategory::kC2));
  EXPECT_EQ(records[0].src_reputation, 90);  // 100 * (1 - 0.5 * 0.2)
  EXPECT_EQ(records[0].dst_intel, 0);
  EXPECT_EQ(records[0].intel_flags, flags::kSrcListed | flags::kDstInternal);
  EXPECT_EQ(records[1].dst_intel, bit(IntelCategory::kHijacked));
  EXPECT_EQ(records[1].dst_reputation, 50);
  EXPECT_EQ(records[1].intel_flags, flags::kDstListed | flags::kSrcInternal);
  EXPECT_EQ(records[2].dst_intel, 0);
  EXPECT_EQ(records[2].dst_reputation, 0);
  EXPECT_EQ(records[2].intel_flags, flags::kSrcInternal);
  EXPECT_EQ(records[3].src_intel, bit(IntelCategory::kC2));
  EXPECT_EQ(records[3].src_reputation, 80);
  EXPECT_EQ(records[4].src_intel, records[0].src_intel);
  EXPECT_EQ(records[4].src_reputation, 90);
  EXPECT_EQ(counts.intel_src, 3u);
  EXPECT_EQ(counts.intel_dst, 1u);
}

TEST(Enricher, RepeatedAndAlternatingAddressesMatchSingleRecords) {
  TempDir dir;
  Enricher enricher;
  enricher.set_tenant_networks(networks());
  enricher.set_geo_asn(geo_asn(dir));
  enricher.set_intel(intel());
  const std::vector<const char*> addresses{"198.51.100.7",    "198.51.100.7", "203.0.113.1",
                                           "198.51.100.7",    "10.1.0.1",     "10.1.0.1",
                                           "2001:db8:bad::9", "192.0.2.1"};
  std::vector<flow::FlowRecord> batch;
  for (size_t idx = 0; idx < addresses.size(); ++idx) {
    batch.push_back(
        record(idx % 3 == 0 ? 2 : 1, addresses[idx], addresses[addresses.size() - 1 - idx]));
  }
  std::vector<flow::FlowRecord> one_by_one = batch;
  enricher.enrich(batch);
  for (flow::FlowRecord& r : one_by_one) enricher.enrich(std::span<flow::FlowRecord>(&r, 1));
  for (size_t idx = 0; idx < batch.size(); ++idx) {
    EXPECT_EQ(std::memcmp(&batch[idx], &one_by_one[idx], sizeof(flow::FlowRecord)), 0) << idx;
  }
}

TEST(Enricher, WithoutSourcesClearsIntelAndLeavesGeo) {
  Enricher enricher;
  flow::FlowRecord r = record(1, "198.51.100.7", "10.1.0.1");
  r.src_country = {'X', 'X'};
  r.src_as = 7;
  r.src_intel = 3;
  r.src_reputation = 9;
  std::vector<flow::FlowRecord> records{r};
  const EnrichCounts counts = enricher.enrich(records);
  EXPECT_EQ(records[0].direction, Direction::kUnknown);
  EXPECT_EQ(records[0].src_country, (std::array<char, 2>{'X', 'X'}));
  EXPECT_EQ(records[0].src_as, 7u);
  EXPECT_EQ(records[0].src_intel, 0);
  EXPECT_EQ(records[0].src_reputation, 0);
  EXPECT_EQ(counts.no_networks, 1u);
  EXPECT_EQ(counts.geo_misses, 0u);
}

TEST(Enricher, SwappedSnapshotsApplyToTheNextCall) {
  Enricher enricher;
  enricher.set_intel(intel());
  EXPECT_TRUE(enricher.intel());
  std::vector<flow::FlowRecord> records{record(1, "198.51.100.7", "10.1.0.1")};
  enricher.enrich(records);
  EXPECT_NE(records[0].src_intel, 0);
  enricher.set_intel(nullptr);
  enricher.enrich(records);
  EXPECT_EQ(records[0].src_intel, 0);
  EXPECT_EQ(records[0].intel_flags & flags::kSrcListed, 0u);
}

TEST(EnrichCounts, AddsUp) {
  EnrichCounts a{1, 2, 3, 4, 5, 6};
  const EnrichCounts b{10, 20, 30, 40, 50, 60};
  a += b;
  EXPECT_EQ(a.records, 11u);
  EXPECT_EQ(a.geo_misses, 22u);
  EXPECT_EQ(a.asn_misses, 33u);
  EXPECT_EQ(a.intel_src, 44u);
  EXPECT_EQ(a.intel_dst, 55u);
  EXPECT_EQ(a.no_networks, 66u);
}

}  // namespace
}  // namespace fathom::transform
