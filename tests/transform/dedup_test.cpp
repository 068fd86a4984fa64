#include "transform/dedup.h"

#include <gtest/gtest.h>

#include <vector>

#include "testing/addresses.h"

namespace fathom::transform {
namespace {

using Count = DedupRule::Count;

using test_support::prefix;

flow::IpAddress addr(const char* text) {
  return *flow::IpAddress::parse(text);
}

DedupRule rule(const char* exporter, Count count, std::vector<uint32_t> interfaces = {}) {
  DedupRule r;
  r.exporter = prefix(exporter);
  r.count = count;
  r.input_interfaces = std::move(interfaces);
  return r;
}

Tenant tenant(uint32_t id, std::vector<DedupRule> rules) {
  Tenant t;
  t.id = id;
  t.name = "t" + std::to_string(id);
  t.dedup = std::move(rules);
  return t;
}

flow::FlowRecord record(uint8_t direction, uint32_t input_if = 0) {
  flow::FlowRecord r;
  r.exporter_direction = direction;
  r.input_if = input_if;
  return r;
}

TEST(DedupTest, NoRulesCountsEverything) {
  const DedupTable empty;
  EXPECT_TRUE(empty.empty());
  const DedupFilter f = empty.lookup(1, addr("10.0.0.1"));
  EXPECT_TRUE(f.counts_all());
  std::vector<flow::FlowRecord> records = {record(0), record(1), record(0xff)};
  EXPECT_EQ(f.apply(records), 0u);
  for (const flow::FlowRecord& r : records) EXPECT_EQ(r.flags, 0u);
}

TEST(DedupTest, EachCountModeFlagsWhatItExcludes) {
  const std::vector<Tenant> tenants = {
      tenant(1, {rule("10.0.0.1", Count::kNone), rule("10.0.0.2", Count::kIngress),
                 rule("10.0.0.3", Count::kEgress), rule("10.0.0.4", Count::kInterfaces, {7, 3, 7}),
                 rule("10.0.0.5", Count::kAll)})};
  const DedupTable table(tenants);
  EXPECT_EQ(table.rule_count(), 5u);

  // exporter_direction: 0 ingress, 1 egress, 0xff unknown; input_if 3, 5, 7.
  auto flags_of = [&](const char* exporter) {
    std::vector<flow::FlowRecord> records = {record(0, 3), record(1, 5), record(0xff, 7)};
    const DedupFilter f = table.lookup(1, addr(exporter));
    const size_t flagged = f.apply(records);
    std::vector<bool> not_counted;
    size_t seen = 0;
    for (const flow::FlowRecord& r : records) {
      const bool flag = r.flags & flow::record_flags::kNotCounted;
      EXPECT_EQ(flag, !f.counts(r));
      not_counted.push_back(flag);
      seen += flag;
    }
    EXPECT_EQ(flagged, seen);
    return not_counted;
  };
  EXPECT_EQ(flags_of("10.0.0.1"), (std::vector<bool>{true, true, true}));     // none
  EXPECT_EQ(flags_of("10.0.0.2"), (std::vector<bool>{false, true, false}));   // ingress/unknown
  EXPECT_EQ(flags_of("10.0.0.3"), (std::vector<bool>{true, false, true}));    // egress
  EXPECT_EQ(flags_of("10.0.0.4"), (std::vector<bool>{false, true, false}));   // ifs 3, 7
  EXPECT_EQ(flags_of("10.0.0.5"), (std::vector<bool>{false, false, false}));  // all
  EXPECT_EQ(flags_of("10.0.0.6"), (std::vector<bool>{false, false, false}));  // no rule

  EXPECT_EQ(table.lookup(1, addr("10.0.0.4")).count(), Count::kInterfaces);
  EXPECT_EQ(table.lookup(1, addr("10.0.0.9")).count(), Count::kAll);
}

TEST(DedupTest, FlagIsNeverCleared) {
  const std::vector<Tenant> tenants = {tenant(1, {rule("10.0.0.0/8", Count::kEgress)})};
  const DedupTable table(tenants);
  std::vector<flow::FlowRecord> records = {record(1)};
  records[0].flags = flow::record_flags::kNotCounted;
  EXPECT_EQ(table.lookup(1, addr("10.1.2.3")).apply(records), 0u);
  EXPECT_TRUE(records[0].flags & flow::record_flags::kNotCounted);
}

TEST(DedupTest, MostSpecificExporterBlockWins) {
  // The whole core counts nothing (its traffic is counted at the edge), except one router
  // that sees traffic nobody else does, and one edge block counted on ingress only.
  const std::vector<Tenant> tenants = {
      tenant(1, {rule("10.0.0.0/8", Count::kNone), rule("10.1.2.3/32", Count::kAll),
                 rule("10.1.0.0/16", Count::kIngress), rule("2001:db8::/32", Count::kEgress),
                 rule("2001:db8:1::/48", Count::kNone)})};
  const DedupTable table(tenants);
  EXPECT_EQ(table.lookup(1, addr("10.9.9.9")).count(), Count::kNone);
  EXPECT_EQ(table.lookup(1, addr("10.1.9.9")).count(), Count::kIngress);
  EXPECT_EQ(table.lookup(1, addr("10.1.2.3")).count(), Count::kAll);
  EXPECT_EQ(table.lookup(1, addr("10.1.2.4")).count(), Count::kIngress);
  EXPECT_EQ(table.lookup(1, addr("11.0.0.1")).count(), Count::kAll);
  EXPECT_EQ(table.lookup(1, addr("2001:db8:2::1")).count(), Count::kEgress);
  EXPECT_EQ(table.lookup(1, addr("2001:db8:1::1")).count(), Count::kNone);
  EXPECT_EQ(table.lookup(1, addr("2001:db9::1")).count(), Count::kAll);
}

TEST(DedupTest, FirstListedWinsOnTheSameBlock) {
  const std::vector<Tenant> tenants = {
      tenant(1, {rule("10.0.0.0/24", Count::kEgress), rule("10.0.0.0/24", Count::kNone)})};
  EXPECT_EQ(DedupTable(tenants).lookup(1, addr("10.0.0.1")).count(), Count::kEgress);
}

TEST(DedupTest, RulesBelongToTheirTenant) {
  const std::vector<Tenant> tenants = {tenant(2, {rule("10.0.0.0/8", Count::kNone)}),
                                       tenant(1, {rule("10.0.0.0/8", Count::kEgress)}),
                                       tenant(3, {})};
  const Config config = [&] {
    Config c;
    c.tenants = tenants;
    return c;
  }();
  const DedupTable table = DedupTable::from_config(config);
  EXPECT_EQ(table.lookup(1, addr("10.0.0.1")).count(), Count::kEgress);
  EXPECT_EQ(table.lookup(2, addr("10.0.0.1")).count(), Count::kNone);
  EXPECT_EQ(table.lookup(3, addr("10.0.0.1")).count(), Count::kAll);
  EXPECT_EQ(table.lookup(4, addr("10.0.0.1")).count(), Count::kAll);
  EXPECT_EQ(table.lookup(0, addr("10.0.0.1")).count(), Count::kAll);
}

TEST(DedupTest, InterfaceListsAreSortedAndKeptApartPerRule) {
  const std::vector<Tenant> tenants = {
      tenant(1, {rule("10.0.0.1", Count::kInterfaces, {30, 10, 20}),
                 rule("10.0.0.2", Count::kInterfaces, {40})})};
  const DedupTable table(tenants);
  const DedupFilter first = table.lookup(1, addr("10.0.0.1"));
  const DedupFilter second = table.lookup(1, addr("10.0.0.2"));
  for (uint32_t ifindex : {10u, 20u, 30u}) {
    EXPECT_TRUE(first.counts(record(0, ifindex))) << ifindex;
    EXPECT_FALSE(second.counts(record(0, ifindex))) << ifindex;
  }
  EXPECT_FALSE(first.counts(record(0, 40)));
  EXPECT_TRUE(second.counts(record(0, 40)));
  EXPECT_FALSE(first.counts(record(0, 0)));
}

}  // namespace
}  // namespace fathom::transform
