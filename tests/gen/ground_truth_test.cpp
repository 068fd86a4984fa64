// The ground truth must describe what was really sent: recomputed here from the flows the
// generator produced, and end to end from the decoded export of an unsampled device.

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <utility>

#include "decode/decoder.h"
#include "gen/gen_test_util.h"

namespace fathom::gen {
namespace {

using testing::capture;
using testing::one_tenant;

AttackConfig make_attack(const std::string& id, AttackType type, int64_t start_s,
                         int64_t duration_s, double rate = 0) {
  AttackConfig a;
  a.id = id;
  a.type = type;
  a.start_ns = start_s * 1'000'000'000;
  a.duration_ns = duration_s * 1'000'000'000;
  a.rate = rate;
  return a;
}

Scenario every_attack_scenario() {
  Scenario s = one_tenant(ExportProtocol::kIpfix, 1, SamplingMode::kRandom, 300, 40);
  s.intel = {*flow::IpAddress::parse("198.51.100.7"), *flow::IpAddress::parse("203.0.113.9")};
  s.attacks = {
      make_attack("syn", AttackType::kSynFlood, 2, 5, 2000),
      make_attack("udp", AttackType::kUdpFlood, 3, 5, 1500),
      make_attack("dns", AttackType::kDnsAmplification, 4, 5, 1000),
      make_attack("ntp", AttackType::kNtpAmplification, 5, 5, 1000),
      make_attack("memcached", AttackType::kMemcachedAmplification, 6, 5, 1000),
      make_attack("hscan", AttackType::kHorizontalScan, 1, 20, 30),
      make_attack("vscan", AttackType::kVerticalScan, 1, 20, 50),
      make_attack("ssh", AttackType::kSshBruteForce, 1, 20),
      make_attack("rdp", AttackType::kRdpBruteForce, 1, 20),
      make_attack("exfil", AttackType::kExfiltration, 0, 30, 1e6),
      make_attack("c2", AttackType::kC2Beacon, 0, 30, 5),
      make_attack("intel", AttackType::kIntelContact, 0, 30, 1),
  };
  return s;
}

TEST(GroundTruthTest, TotalsMatchTheFlowsSent) {
  Generator generator(every_attack_scenario());
  std::map<Label, std::pair<uint64_t, uint64_t>> sent;  // label -> packets, bytes
  std::map<Label, std::set<std::pair<flow::IpAddress, uint16_t>>> probes;
  generator.set_flow_observer([&](std::span<const FlowSpec> flows) {
    for (const auto& f : flows) {
      if (f.label == 0) continue;
      sent[f.label].first += f.packets;
      sent[f.label].second += f.total_bytes();
      if (f.flags_first == kTcpSyn) probes[f.label].emplace(f.dst, f.dst_port);
    }
  });
  capture(generator);
  ASSERT_EQ(generator.attacks().size(), 12u);
  for (size_t i = 0; i < generator.attacks().size(); ++i) {
    const Attack& a = generator.attacks()[i];
    SCOPED_TRACE(a.config().id);
    EXPECT_GT(a.truth().packets, 0u);
    EXPECT_EQ(a.truth().packets, sent[Label(i + 1)].first);
    EXPECT_EQ(a.truth().bytes, sent[Label(i + 1)].second);
  }
  const Attack& hscan = generator.attacks()[5];
  const Attack& vscan = generator.attacks()[6];
  EXPECT_EQ(hscan.truth().distinct_targets, probes[6].size());
  EXPECT_EQ(vscan.truth().distinct_targets, probes[7].size());
  // 20 s at 30 probes/s over 300 hosts: every host probed once the scan wrapped around.
  EXPECT_EQ(hscan.truth().distinct_targets, 300u);
  // SYN flood: one SYN per spoofed source, all at the victim.
  const Attack& syn = generator.attacks()[0];
  EXPECT_EQ(syn.truth().packets, syn.truth().flows);
  EXPECT_EQ(syn.truth().attacker_count, syn.truth().packets);
  EXPECT_NEAR(static_cast<double>(syn.truth().packets), 2000.0 * 5, 5 * 2000.0 * 0.05);
  // Exfiltration moves rate x duration bytes of payload upstream.
  EXPECT_GT(generator.attacks()[9].truth().bytes, 30'000'000u);
}

TEST(GroundTruthTest, CsvHasOneLinePerAttack) {
  const auto run = capture(every_attack_scenario());
  size_t lines = 0;
  for (char ch : run.ground_truth) lines += ch == '\n';
  EXPECT_EQ(lines, 13u);  // header + 12 attacks
  EXPECT_NE(run.ground_truth.find(",syn_flood,"), std::string::npos);
  EXPECT_NE(run.ground_truth.find("198.51.100.7"), std::string::npos);
}

// End to end through an unsampled exporter and Fathom's decoder: a scan alone on the network
// shows exactly its distinct targets, and a flood exactly its packet count.
TEST(GroundTruthTest, DecodedUnsampledExportMatchesTruth) {
  Scenario s = one_tenant(ExportProtocol::kNetflowV9, 1, SamplingMode::kRandom, 200, 20);
  s.tenants[0].background.sessions_per_host_per_s = 0;
  s.tenants[0].heavy_servers = 0;
  s.attacks = {make_attack("vscan", AttackType::kVerticalScan, 1, 10, 80),
               make_attack("syn", AttackType::kSynFlood, 2, 5, 3000)};
  s.attacks[0].targets = 500;
  Generator generator(s);
  const auto run = capture(generator);
  // Mail background cannot be switched off per rate; tell attacks apart by their shape.
  const auto vscan_attacker = generator.attacks()[0].truth().attackers.at(0);
  const auto victim = generator.attacks()[1].truth().victims.at(0);
  decode::Decoder decoder;
  flow::FlowBatch batch(1 << 16);
  std::set<uint16_t> ports;
  uint64_t syn_packets = 0;
  for (const auto& d : run.datagrams) {
    batch.clear();
    ASSERT_EQ(
        decoder.decode(d.payload, {d.info.exporter, d.info.exporter_port, d.info.time_ns}, batch),
        decode::DecodeStatus::kOk);
    for (const auto& r : batch.records()) {
      if (r.src == vscan_attacker) ports.insert(r.dst_port);
      if (r.dst == victim && r.tcp_flags == kTcpSyn && r.dst_port == 443) syn_packets += r.packets;
    }
  }
  EXPECT_EQ(ports.size(), generator.attacks()[0].truth().distinct_targets);
  EXPECT_EQ(ports.size(), 500u);
  EXPECT_EQ(syn_packets, generator.attacks()[1].truth().packets);
}

}  // namespace
}  // namespace fathom::gen
