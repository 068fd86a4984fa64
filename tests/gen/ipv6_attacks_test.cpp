// IPv6 variants of attacks (`ipv6: true`): every flow of the attack is IPv6 on both sides, the
// internal side inside the tenant's IPv6 prefix, and the decoded export still matches the
// ground truth.

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "decode/decoder.h"
#include "gen/gen_test_util.h"

namespace fathom::gen {
namespace {

using testing::capture;
using testing::one_tenant;

AttackConfig v6_attack(const std::string& id, AttackType type, double rate) {
  AttackConfig a;
  a.id = id;
  a.type = type;
  a.start_ns = 1'000'000'000;
  a.duration_ns = 8'000'000'000;
  a.rate = rate;
  a.ipv6 = true;
  return a;
}

bool in_tenant_v6(const flow::IpAddress& a) {
  return a.bytes[0] == 0x20 && a.bytes[1] == 0x01 && a.bytes[2] == 0x0d && a.bytes[3] == 0xb8 &&
         a.bytes[4] == 0x00 && a.bytes[5] == 0x09;  // 2001:db8:9::/48
}

Scenario v6_scenario() {
  Scenario s = one_tenant(ExportProtocol::kIpfix, 1, SamplingMode::kRandom, 200, 15);
  s.tenants[0].background.sessions_per_host_per_s = 0.02;
  s.intel = {*flow::IpAddress::parse("198.51.100.7"), *flow::IpAddress::parse("2001:db8:bad::1")};
  s.attacks = {v6_attack("syn6", AttackType::kSynFlood, 800),
               v6_attack("hscan6", AttackType::kHorizontalScan, 40),
               v6_attack("dns6", AttackType::kDnsAmplification, 600),
               v6_attack("exfil6", AttackType::kExfiltration, 200'000),
               v6_attack("c2v6", AttackType::kC2Beacon, 2),
               v6_attack("intel6", AttackType::kIntelContact, 2)};
  s.attacks[1].targets = 150;
  return s;
}

TEST(Ipv6AttacksTest, EveryFlowIsIpv6WithTheInternalSideInTheTenantPrefix) {
  Generator generator(v6_scenario());
  std::map<Label, uint64_t> flows;
  generator.set_flow_observer([&](std::span<const FlowSpec> specs) {
    for (const FlowSpec& f : specs) {
      if (f.label == 0) continue;
      ++flows[f.label];
      ASSERT_FALSE(f.src.is_v4()) << "attack " << f.label;
      ASSERT_FALSE(f.dst.is_v4()) << "attack " << f.label;
      // Exactly one side is internal (spoofed and external peers are outside the prefix).
      ASSERT_NE(in_tenant_v6(f.src), in_tenant_v6(f.dst)) << "attack " << f.label;
    }
  });
  const auto run = capture(generator);
  for (size_t i = 0; i < generator.attacks().size(); ++i) {
    const Attack& a = generator.attacks()[i];
    SCOPED_TRACE(a.config().id);
    EXPECT_GT(flows[Label(i + 1)], 0u);
    EXPECT_EQ(flows[Label(i + 1)], a.truth().flows);
    for (const auto& addr : a.truth().victims) EXPECT_FALSE(addr.is_v4());
    for (const auto& addr : a.truth().attackers) EXPECT_FALSE(addr.is_v4());
  }
  // The intel contact used only the IPv6 intel address.
  EXPECT_EQ(generator.attacks()[5].truth().victims.at(0),
            *flow::IpAddress::parse("2001:db8:bad::1"));
  EXPECT_NE(run.ground_truth.find("2001:db8:bad::1"), std::string::npos);
}

TEST(Ipv6AttacksTest, DecodedExportMatchesTheTruth) {
  Generator generator(v6_scenario());
  const auto run = capture(generator);
  const Attack& syn = generator.attacks()[0];
  const Attack& scan = generator.attacks()[1];
  const flow::IpAddress victim = syn.truth().victims.at(0);
  const flow::IpAddress scanner = scan.truth().attackers.at(0);
  decode::Decoder decoder;
  flow::FlowBatch batch(1 << 16);
  uint64_t syn_packets = 0;
  std::set<flow::IpAddress> scanned;
  for (const auto& d : run.datagrams) {
    batch.clear();
    ASSERT_EQ(
        decoder.decode(d.payload, {d.info.exporter, d.info.exporter_port, d.info.time_ns}, batch),
        decode::DecodeStatus::kOk);
    for (const auto& r : batch.records()) {
      if (r.dst == victim && r.tcp_flags == kTcpSyn && r.dst_port == 443) syn_packets += r.packets;
      if (r.src == scanner) scanned.insert(r.dst);
    }
  }
  EXPECT_GT(syn_packets, 0u);
  EXPECT_EQ(syn_packets, syn.truth().packets);
  EXPECT_EQ(scanned.size(), scan.truth().distinct_targets);
  EXPECT_EQ(scanned.size(), 150u);
}

TEST(Ipv6AttacksTest, NeedsAnIpv6CapableTenantAndMatchingAddresses) {
  Scenario no_prefix = one_tenant(ExportProtocol::kIpfix, 1);
  no_prefix.tenants[0].prefixes.resize(1);  // IPv4 only
  no_prefix.attacks = {v6_attack("syn6", AttackType::kSynFlood, 10)};
  EXPECT_THROW(Generator{no_prefix}, std::invalid_argument);

  Scenario v5_only = one_tenant(ExportProtocol::kNetflowV5, 1);
  v5_only.attacks = {v6_attack("syn6", AttackType::kSynFlood, 10)};
  EXPECT_THROW(Generator{v5_only}, std::invalid_argument);

  Scenario v4_victim = one_tenant(ExportProtocol::kIpfix, 1);
  v4_victim.attacks = {v6_attack("syn6", AttackType::kSynFlood, 10)};
  v4_victim.attacks[0].victim = *flow::IpAddress::parse("10.9.0.5");
  EXPECT_THROW(Generator{v4_victim}, std::invalid_argument);

  Scenario no_v6_intel = one_tenant(ExportProtocol::kIpfix, 1);
  no_v6_intel.intel = {*flow::IpAddress::parse("198.51.100.7")};
  no_v6_intel.attacks = {v6_attack("intel6", AttackType::kIntelContact, 1)};
  EXPECT_THROW(Generator{no_v6_intel}, std::invalid_argument);
}

}  // namespace
}  // namespace fathom::gen
