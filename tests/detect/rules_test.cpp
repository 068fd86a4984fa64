#include "detect/rules.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace fathom::detect {
namespace {

constexpr int64_t kS = 1'000'000'000;
const flow::IpAddress kVictim = flow::IpAddress::from_v4(0x0a000005);    // 10.0.0.5
const flow::IpAddress kAttacker = flow::IpAddress::from_v4(0xcb007101);  // 203.0.113.1

flow::IpAddress internal(uint32_t i) {
  return flow::IpAddress::from_v4(0x0a000000 + i);
}
flow::IpAddress external(uint32_t i) {
  return flow::IpAddress::from_v4(0xc6336400 + i);
}

/// A record as an exporter sampling 1 in `rate` packets would send it.
flow::FlowRecord record(int64_t t, const flow::IpAddress& src, const flow::IpAddress& dst,
                        uint8_t proto, uint16_t sport, uint16_t dport, uint16_t flags,
                        uint64_t packets, uint64_t bytes, double rate) {
  flow::FlowRecord r;
  r.arrival_ns = t;
  r.tenant_id = 7;
  r.src = src;
  r.dst = dst;
  r.ip_protocol = proto;
  r.src_port = sport;
  r.dst_port = dport;
  r.tcp_flags = flags;
  r.packets = packets;
  r.bytes = bytes;
  r.sampling_rate = rate;
  r.device_sampling_rate = static_cast<uint32_t>(rate);
  const bool si = src.v4() >> 24 == 10;
  const bool di = dst.v4() >> 24 == 10;
  r.intel_flags =
      (si ? flow::intel_flags::kSrcInternal : 0) | (di ? flow::intel_flags::kDstInternal : 0);
  r.direction = si && di ? flow::Direction::kInternal
                         : (si ? flow::Direction::kOutbound : flow::Direction::kInbound);
  return r;
}

/// Feeds generated traffic through windows and rules; collects the detections.
analyze::AnalyzeConfig one_level(int64_t window_s = 10) {
  analyze::AnalyzeConfig c;
  c.levels = {{2 * kS, window_s * kS}};
  return c;
}

struct Harness {
  explicit Harness(analyze::AnalyzeConfig config = one_level(), RulesConfig rules = {})
      : engine(config, [this](const analyze::TenantWindow& w) { this->rules.evaluate(w, found); }),
        rules(std::move(rules)) {}

  /// Records may be added in any order: `run` feeds them by arrival time, as a collector
  /// would receive them (a record older than the open slide would count as late).
  void add(const flow::FlowRecord& r) { pending.push_back(r); }
  std::vector<Detection>& run() {
    std::stable_sort(pending.begin(), pending.end(),
                     [](const auto& a, const auto& b) { return a.arrival_ns < b.arrival_ns; });
    for (const flow::FlowRecord& r : pending) {
      batch.add() = r;
      if (batch.full()) {
        engine.add(batch);
        batch.clear();
      }
    }
    engine.add(batch);
    batch.clear();
    pending.clear();
    engine.flush();
    return found;
  }
  size_t count(DetectionType type, const flow::IpAddress& subject) const {
    size_t n = 0;
    for (const Detection& d : found) n += d.type == type && d.subject == subject ? 1 : 0;
    return n;
  }
  size_t count(DetectionType type) const {
    size_t n = 0;
    for (const Detection& d : found) n += d.type == type ? 1 : 0;
    return n;
  }

  std::vector<flow::FlowRecord> pending;
  flow::FlowBatch batch;
  std::vector<Detection> found;
  analyze::AnalysisEngine engine;
  RuleEngine rules;
};

/// Packet-sampled (sFlow-like) traffic: each of `pps` packets per second for `seconds` is
/// sampled with probability 1/rate; every sampled packet becomes a record of weight `rate`.
template <typename Make>
void packets(Harness& h, std::mt19937_64& rng, double pps, int seconds, double rate, Make make) {
  std::poisson_distribution<int> sampled(pps / rate / 10.0);
  for (int tick = 0; tick < seconds * 10; ++tick) {
    const int n = sampled(rng);
    for (int i = 0; i < n; ++i) h.add(make(1000 * kS + tick * kS / 10 + i, rng));
  }
}

/// Background: 40 internal clients make web connections to many external servers.
void background(Harness& h, std::mt19937_64& rng, int seconds, double rate) {
  std::uniform_int_distribution<uint32_t> client(1, 40);
  std::uniform_int_distribution<uint32_t> server(1, 5000);
  packets(h, rng, 3000, seconds, rate, [&](int64_t t, std::mt19937_64& g) {
    const bool up = g() % 2 == 0;
    const flow::IpAddress c = internal(client(g));
    const flow::IpAddress s = external(server(g));
    return up ? record(t, c, s, 6, 40000 + g() % 20000, 443, 0x10, 1, 400, rate)
              : record(t, s, c, 6, 443, 40000 + g() % 20000, 0x10, 1, 1400, rate);
  });
}

class RulesAtRate : public ::testing::TestWithParam<double> {};

TEST_P(RulesAtRate, SynFloodFiresAboveAndNotBelowTheThreshold) {
  const double rate = GetParam();
  for (double pps : {20000.0, 500.0}) {
    std::mt19937_64 rng(42);
    Harness h;
    background(h, rng, 60, rate);
    packets(h, rng, pps, 60, rate, [&](int64_t t, std::mt19937_64& g) {
      return record(t, external(100000 + g() % 1000000), kVictim, 6, 1024 + g() % 60000, 443, 0x02,
                    1, 44, rate);
    });
    h.run();
    if (pps > 2000) {
      EXPECT_GT(h.count(DetectionType::kSynFlood, kVictim), 0u) << "rate " << rate;
    } else {
      EXPECT_EQ(h.count(DetectionType::kSynFlood), 0u)
          << "rate " << rate << ": " << (h.found.empty() ? "" : h.found.front().summary);
    }
    EXPECT_EQ(h.count(DetectionType::kUdpFlood), 0u);
    EXPECT_EQ(h.count(DetectionType::kHorizontalScan), 0u) << "spoofed sources are not scanners";
  }
}

TEST_P(RulesAtRate, AmplificationNamesTheService) {
  const double rate = GetParam();
  std::mt19937_64 rng(7);
  Harness h;
  background(h, rng, 30, rate);
  packets(h, rng, 12000, 30, rate, [&](int64_t t, std::mt19937_64& g) {
    return record(t, external(2000 + g() % 400), kVictim, 17, 53, 1024 + g() % 60000, 0, 1, 1400,
                  rate);
  });
  h.run();
  ASSERT_GT(h.count(DetectionType::kAmplification, kVictim), 0u);
  for (const Detection& d : h.found) {
    if (d.type == DetectionType::kAmplification) {
      EXPECT_EQ(d.detail, "dns");
    }
  }
  EXPECT_EQ(h.count(DetectionType::kUdpFlood), 0u);
}

TEST_P(RulesAtRate, HorizontalScanOnTheLongerWindowAtHeavySampling) {
  const double rate = GetParam();
  std::mt19937_64 rng(3);
  // 200 probes/s to port 445 of successive hosts; each probe is a one-packet flow that the
  // exporter samples with probability 1/rate.
  Harness h(one_level(rate >= 1000 ? 300 : 10));
  background(h, rng, 120, rate);
  std::bernoulli_distribution keep(1.0 / rate);
  for (int i = 0; i < 200 * 120; ++i) {
    if (!keep(rng)) continue;
    h.add(record(1000 * kS + i * (kS / 200), kAttacker, internal(i % 4000 + 100), 6, 50000, 445,
                 0x02, 1, 44, rate));
  }
  h.run();
  EXPECT_GT(h.count(DetectionType::kHorizontalScan, kAttacker), 0u) << "rate " << rate;
  EXPECT_EQ(h.count(DetectionType::kVerticalScan), 0u);
}

INSTANTIATE_TEST_SUITE_P(Sampling, RulesAtRate, ::testing::Values(1.0, 100.0, 1000.0));

TEST(RulesTest, BackgroundAloneRaisesNothing) {
  for (double rate : {1.0, 100.0, 1000.0}) {
    std::mt19937_64 rng(11);
    Harness h;
    background(h, rng, 120, rate);
    h.run();
    EXPECT_TRUE(h.found.empty()) << "rate " << rate << ": " << h.found.front().summary;
  }
}

TEST(RulesTest, VerticalScan) {
  Harness h;
  for (int i = 0; i < 3000; ++i) {
    h.add(record(1000 * kS + i * (kS / 300), kAttacker, kVictim, 6, 50000, 1 + i % 1000, 0x02, 1,
                 44, 1.0));
  }
  h.run();
  EXPECT_GT(h.count(DetectionType::kVerticalScan, kAttacker), 0u);
  EXPECT_EQ(h.count(DetectionType::kHorizontalScan), 0u);
}

TEST(RulesTest, SshBruteForceUnsampledAndAt1In100) {
  for (double rate : {1.0, 100.0}) {
    std::mt19937_64 rng(5);
    // At 1/100 the five-minute level sees enough SYNs; at 1/1 the 10-s window does.
    Harness h(one_level(rate > 1 ? 300 : 10));
    std::bernoulli_distribution syn_seen(1.0 / rate);
    for (int i = 0; i < 8 * 120; ++i) {  // 8 attempts/s for two minutes
      if (!syn_seen(rng)) continue;
      h.add(record(1000 * kS + i * (kS / 8), kAttacker, kVictim, 6, 40000 + i % 20000, 22, 0x1b, 12,
                   2500, rate));
    }
    h.run();
    ASSERT_GT(h.count(DetectionType::kBruteForce, kVictim), 0u) << "rate " << rate;
    for (const Detection& d : h.found) {
      if (d.type == DetectionType::kBruteForce) {
        EXPECT_EQ(d.detail, "ssh");
      }
    }
  }
}

TEST(RulesTest, ExfiltrationNeedsVolumeAndAFewPeers) {
  for (bool one_peer : {true, false}) {
    std::mt19937_64 rng(9);
    Harness h;
    background(h, rng, 60, 100);
    // 4 MB/s upload sampled 1 in 100: 1400-byte packets.
    packets(h, rng, 4e6 / 1400, 60, 100, [&](int64_t t, std::mt19937_64& g) {
      const flow::IpAddress peer = one_peer ? kAttacker : external(100 + g() % 2000);
      return record(t, kVictim, peer, 6, 50000, 443, 0x10, 1, 1400, 100);
    });
    h.run();
    if (one_peer) {
      EXPECT_GT(h.count(DetectionType::kExfiltration, kVictim), 0u);
    } else {
      EXPECT_EQ(h.count(DetectionType::kExfiltration), 0u) << "a busy server is not exfiltrating";
    }
  }
}

TEST(RulesTest, IntelContactReportsTheMissProbability) {
  Harness h;
  flow::FlowRecord r = record(1000 * kS, kVictim, kAttacker, 6, 50000, 443, 0x1b, 3, 500, 100);
  r.intel_flags |= flow::intel_flags::kDstListed;
  r.dst_intel = 1u << 1;  // c2
  h.add(r);
  // An inbound bare SYN from a listed scanner is not a contact the host made.
  flow::FlowRecord probe =
      record(1000 * kS, kAttacker, internal(9), 6, 50000, 22, 0x02, 1, 44, 100);
  probe.intel_flags |= flow::intel_flags::kSrcListed;
  h.add(probe);
  h.run();
  ASSERT_GT(h.count(DetectionType::kIntelContact, kVictim), 0u);
  EXPECT_EQ(h.count(DetectionType::kIntelContact, internal(9)), 0u);
  const Detection& d = h.found.front();
  EXPECT_GE(d.severity, 60.0);
  bool miss = false;
  for (const Evidence& e : d.evidence) {
    if (e.name == "miss_probability_per_contact") {
      miss = true;
      EXPECT_NEAR(e.value, std::pow(0.99, 10), 1e-9);
    }
  }
  EXPECT_TRUE(miss);
}

TEST(RulesTest, EstimateDecisionIsMoreSensitiveThanLowerBound) {
  // 2100 pps of SYNs sampled 1 in 1000: ~21 records per 10 s. The estimate exceeds 2000 pps
  // in about half the windows; the interval's lower bound needs ~31 records, which happens
  // only by chance (P ≈ 2% per window, more over 64 overlapping windows).
  size_t fired[2] = {0, 0};
  size_t windows = 0;
  for (Decision decision : {Decision::kLowerBound, Decision::kEstimate}) {
    RulesConfig rc;
    rc.decision = decision;
    std::mt19937_64 rng(1);
    Harness h(one_level(), rc);
    packets(h, rng, 2100, 120, 1000, [&](int64_t t, std::mt19937_64& g) {
      return record(t, external(g() % 100000), kVictim, 6, 1024, 443, 0x02, 1, 44, 1000);
    });
    h.run();
    fired[static_cast<size_t>(decision)] = h.count(DetectionType::kSynFlood);
    windows = h.rules.stats().windows;
  }
  EXPECT_GT(fired[1], windows / 4)
      << "estimate decision fired in " << fired[1] << " of " << windows;
  EXPECT_LT(fired[0], windows / 5)
      << "lower-bound decision fired in " << fired[0] << " of " << windows;
  EXPECT_LT(fired[0] * 3, fired[1]);
}

TEST(RulesTest, ThresholdsByName) {
  RuleThresholds t;
  EXPECT_TRUE(set_threshold(t, "syn_flood_pps", 10));
  EXPECT_EQ(t.syn_flood_pps, 10);
  EXPECT_FALSE(set_threshold(t, "nope", 1));
  EXPECT_FALSE(set_threshold(t, "syn_flood_pps", -1));
  EXPECT_FALSE(set_threshold(t, "syn_flood_pps", std::nan("")));
  EXPECT_EQ(threshold_names().size(), 13u);
  EXPECT_DOUBLE_EQ(severity_from_ratio(10, 50), 80);
  EXPECT_DOUBLE_EQ(severity_from_ratio(0.5, 50), 50);
  EXPECT_DOUBLE_EQ(severity_from_ratio(1e9, 50), 100);
}

TEST(RulesTest, PerTenantThresholdsOverrideDefaults) {
  RulesConfig rc;
  rc.per_tenant[7].syn_flood_pps = 1e9;
  std::mt19937_64 rng(2);
  Harness h(one_level(), rc);
  packets(h, rng, 20000, 20, 1, [&](int64_t t, std::mt19937_64& g) {
    return record(t, external(g() % 100000), kVictim, 6, 1024, 443, 0x02, 1, 44, 1);
  });
  h.run();
  EXPECT_EQ(h.count(DetectionType::kSynFlood), 0u);
}

TEST(RulesTest, LongerLevelsReportOnlyWhatShorterOnesMissed) {
  // A 20-s scan of 200 probes/s on a two-level config (10-s and 60-s windows): the 10-s level
  // finds it; the 60-s windows that contain it for a minute more must not report it again.
  analyze::AnalyzeConfig c;
  c.levels = {{2 * kS, 10 * kS}, {10 * kS, 60 * kS}};
  Harness h(c);
  for (int i = 0; i < 200 * 20; ++i) {
    h.add(record(1000 * kS + i * (kS / 200), kAttacker, internal(i % 4000 + 100), 6, 50000, 445,
                 0x02, 1, 44, 1.0));
  }
  h.run();
  ASSERT_GT(h.count(DetectionType::kHorizontalScan, kAttacker), 0u);
  for (const Detection& d : h.found) {
    EXPECT_EQ(d.window_end_ns - d.window_start_ns, 10 * kS) << "a 60-s window repeated it";
    EXPECT_EQ(d.repeat_ns, 2 * kS);
  }
  EXPECT_GT(h.rules.stats().suppressed, 0u);
}

TEST(RulesTest, ASlowScanOnlyTheLongLevelSeesIsReported) {
  // 2 probes/s for 60 s, unsampled: with a rate threshold of 1/s and at least 40 targets,
  // only a 60-s window (up to 120 probes) qualifies; a 10-s window holds 20.
  analyze::AnalyzeConfig c;
  c.levels = {{2 * kS, 10 * kS}, {10 * kS, 60 * kS}};
  RulesConfig rc;
  rc.defaults.scan_probes_per_s = 1;
  rc.defaults.scan_min_targets = 40;
  Harness h(c, rc);
  for (int i = 0; i < 120; ++i) {
    h.add(record(1000 * kS + i * (kS / 2), kAttacker, internal(100 + i), 6, 50000, 445, 0x02, 1, 44,
                 1.0));
  }
  h.run();
  ASSERT_GT(h.count(DetectionType::kHorizontalScan, kAttacker), 0u);
  for (const Detection& d : h.found) {
    EXPECT_EQ(d.window_end_ns - d.window_start_ns, 60 * kS);
    EXPECT_EQ(d.repeat_ns, 10 * kS);
  }
}

}  // namespace
}  // namespace fathom::detect
