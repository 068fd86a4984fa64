#include "app/evaluation.h"

#include <gtest/gtest.h>

#include <sstream>

namespace fathom::app {
namespace {

constexpr int64_t kS = 1'000'000'000;
// 2024-01-15T00:00:00Z
constexpr int64_t kDay = 1'705'276'800 * kS;

const char* kTruth =
    "tenant,attack_id,type,slow,attackers,attacker_count,victims,start,end,intensity,"
    "intensity_unit,packets,bytes,flows,distinct_targets\n"
    "1,syn,syn_flood,0,198.51.100.1 198.51.100.2,2,10.1.0.5,2024-01-15T02:00:00.000Z,"
    "2024-01-15T02:05:00.000Z,1000,pps,1,2,3,1\n"
    "1,dns,dns_amplification,0,192.0.2.53,1,10.1.0.6,2024-01-15T03:00:00.500Z,"
    "2024-01-15T03:10:00.000Z,1,pps,1,2,3,1\n"
    "2,scan,horizontal_scan,1,10.2.0.9,1,,2024-01-15T04:00:00.000Z,2024-01-15T10:00:00.000Z,1,"
    "x,1,2,3,1\n";

EvaluatedIncident incident(uint32_t tenant, const char* detection, const char* subject,
                           int64_t start, int64_t detected, double severity) {
  EvaluatedIncident i;
  i.tenant_id = tenant;
  i.detection = detection;
  i.subject = subject;
  i.start_ns = start;
  i.last_seen_ns = start + 60 * kS;
  i.detected_ns = detected;
  i.peak_severity = severity;
  return i;
}

TEST(Evaluation, ReadsTheGeneratorsGroundTruth) {
  std::istringstream in(kTruth);
  std::vector<TruthAttack> attacks;
  std::string error;
  ASSERT_TRUE(read_truth_csv(in, attacks, error)) << error;
  ASSERT_EQ(attacks.size(), 3u);
  EXPECT_EQ(attacks[0].tenant_id, 1u);
  EXPECT_EQ(attacks[0].id, "syn");
  EXPECT_EQ(attacks[0].parties.size(), 3u);
  EXPECT_EQ(attacks[0].start_ns, kDay + 2 * 3600 * kS);
  EXPECT_EQ(attacks[1].start_ns, kDay + 3 * 3600 * kS + 500'000'000);
  EXPECT_TRUE(attacks[2].slow);
  EXPECT_EQ(expected_detection(attacks[1].type), "amplification");
  EXPECT_EQ(expected_detection("ssh_brute_force"), "brute_force");
  EXPECT_EQ(expected_detection("c2_beacon"), "beaconing");
}

TEST(Evaluation, RejectsBadTruthWithTheLine) {
  std::vector<TruthAttack> attacks;
  std::string error;
  std::istringstream no_column("tenant,attack_id\n1,x\n");
  EXPECT_FALSE(read_truth_csv(no_column, attacks, error));
  EXPECT_NE(error.find("'type'"), std::string::npos) << error;
  std::string bad_time = kTruth;
  bad_time.replace(bad_time.find("2024-01-15T02:00:00.000Z"), 4, "20x4");
  std::istringstream in(bad_time);
  EXPECT_FALSE(read_truth_csv(in, attacks, error));
  EXPECT_NE(error.find("line 2"), std::string::npos) << error;
}

TEST(Evaluation, MatchesByTenantSubjectClassAndTime) {
  std::istringstream in(kTruth);
  std::vector<TruthAttack> attacks;
  std::string error;
  ASSERT_TRUE(read_truth_csv(in, attacks, error));
  const int64_t syn = kDay + 2 * 3600 * kS;
  const int64_t dns = kDay + 3 * 3600 * kS;
  std::vector<EvaluatedIncident> incidents = {
      incident(1, "syn_flood", "10.1.0.5", syn + 10 * kS, syn + 12 * kS, 80),  // true
      incident(1, "syn_flood", "10.1.0.5", syn + 20 * 3600 * kS, syn, 30),     // too late: false
      incident(2, "syn_flood", "10.1.0.5", syn, syn, 50),                      // other tenant
      incident(1, "anomaly", "10.1.0.6", dns + 30 * kS, dns + 40 * kS, 60),    // AI finds dns
      incident(1, "udp_flood", "10.1.0.6", dns, dns + 20 * kS, 40),            // wrong class
  };
  const EvalReport r = evaluate(attacks, incidents, 2.0);
  EXPECT_EQ(r.attacks, 3u);
  EXPECT_EQ(r.detected, 2u);
  EXPECT_EQ(r.false_incidents, 3u);
  EXPECT_DOUBLE_EQ(r.false_per_tenant_day, 1.5);
  ASSERT_EQ(r.only_ai.size(), 1u);
  EXPECT_EQ(r.only_ai[0], "dns (dns_amplification)");
  ASSERT_EQ(r.missed.size(), 1u);
  EXPECT_EQ(r.missed[0], "scan (horizontal_scan, slow)");
  std::map<std::string, ClassResult> by;
  for (const ClassResult& c : r.classes) by[c.detection] = c;
  const ClassResult& s = by.at("syn_flood");
  EXPECT_EQ(s.attacks, 1u);
  EXPECT_EQ(s.detected, 1u);
  EXPECT_EQ(s.incidents, 3u);
  EXPECT_EQ(s.true_incidents, 1u);
  EXPECT_NEAR(s.precision, 1.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(s.recall, 1.0);
  EXPECT_DOUBLE_EQ(s.pr_auc, 1.0);  // the true incident ranks first (severity 80)
  EXPECT_DOUBLE_EQ(s.latency_median_s, 12.0);
  // The AI found the amplification, so the class counts it detected; the rule did not.
  EXPECT_EQ(by.at("amplification").detected, 1u);
  EXPECT_EQ(by.at("amplification").incidents, 0u);
  EXPECT_DOUBLE_EQ(by.at("amplification").precision, 1.0);
  EXPECT_EQ(by.at("horizontal_scan").detected, 0u);
  EXPECT_EQ(by.at("udp_flood").incidents, 1u);
  EXPECT_EQ(by.at("udp_flood").true_incidents, 0u);
  EXPECT_EQ(by.at("anomaly").true_incidents, 1u);
  const std::string text = format_report(r, "test");
  EXPECT_NE(text.find("| syn_flood | 1 | 1 | 1.00 | 3 | 0.33 |"), std::string::npos) << text;
  EXPECT_NE(text.find("false: tenant 2 syn_flood 10.1.0.5"), std::string::npos) << text;
}

TEST(Evaluation, PrAucPenalisesAFalseIncidentRankedFirst) {
  TruthAttack a;
  a.tenant_id = 1;
  a.id = "a";
  a.type = "syn_flood";
  a.parties = {"10.0.0.1"};
  a.start_ns = 1000 * kS;
  a.end_ns = 2000 * kS;
  TruthAttack b = a;
  b.id = "b";
  b.parties = {"10.0.0.2"};
  const std::vector<EvaluatedIncident> incidents = {
      incident(1, "syn_flood", "10.0.0.9", 1100 * kS, 1100 * kS, 90),  // false, ranked first
      incident(1, "syn_flood", "10.0.0.1", 1100 * kS, 1100 * kS, 80),
      incident(1, "syn_flood", "10.0.0.2", 1100 * kS, 1100 * kS, 70),
  };
  const EvalReport r = evaluate({a, b}, incidents, 1.0);
  ASSERT_FALSE(r.classes.empty());
  // Recall steps 0 → 0.5 at precision 1/2, 0.5 → 1 at precision 2/3.
  EXPECT_NEAR(r.classes[0].pr_auc, 0.5 * 0.5 + 0.5 * 2.0 / 3.0, 1e-12);
}

TEST(Evaluation, FoldsAnIncidentStreamToOneEntryPerIncident) {
  detect::IncidentEvent open;
  open.kind = detect::IncidentEventKind::kOpen;
  open.incident.id = "abc";
  open.incident.tenant_id = 4;
  open.incident.type = detect::DetectionType::kSynFlood;
  open.incident.subject = flow::IpAddress::from_v4(0x0a000001);
  open.incident.peak_severity = 40;
  open.incident.last_seen_ns = 5;
  detect::IncidentEvent close = open;
  close.kind = detect::IncidentEventKind::kClose;
  close.incident.peak_severity = 70;
  close.incident.last_seen_ns = 9;
  const std::vector<EvaluatedIncident> out = incidents_of({open, close});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].subject, "10.0.0.1");
  EXPECT_EQ(out[0].detection, "syn_flood");
  EXPECT_DOUBLE_EQ(out[0].peak_severity, 70);
  EXPECT_EQ(out[0].last_seen_ns, 9);
}

}  // namespace
}  // namespace fathom::app
