// Statistical property tests of the estimators (STYLE.md "Property tests for estimators"):
// over many seeded simulated windows, the Horvitz–Thompson totals are unbiased and their 95%
// intervals cover the truth 93–97% of the time. The numbers printed here are the coverage
// table of docs/estimation.md.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "estimate/accumulator.h"
#include "estimate/record_model.h"
#include "estimate/window_estimator.h"
#include "simulation.h"

namespace fathom::estimate {
namespace {

using testing::PopulationOptions;
using testing::SamplingOptions;
using testing::Truth;

/// How one quantity fared over all windows of a case.
struct Tally {
  int windows = 0;
  int covered = 0;
  int below = 0;  ///< truth below the interval
  int above = 0;  ///< truth above the interval
  double rel_sum = 0;
  double rel_sq = 0;
  int normal = 0;  ///< windows whose interval was the normal one
  uint64_t first_miss_seed = 0;

  void add(const Estimate& e, double truth, uint64_t seed) {
    ++windows;
    const double rel = (e.value - truth) / truth;
    rel_sum += rel;
    rel_sq += rel * rel;
    if (e.method == IntervalMethod::kNormal) ++normal;
    if (truth < e.ci_low) {
      ++below;
    } else if (truth > e.ci_high) {
      ++above;
    } else {
      ++covered;
      return;
    }
    if (below + above == 1) first_miss_seed = seed;
  }
  double coverage() const { return static_cast<double>(covered) / windows; }
  double mean_rel() const { return rel_sum / windows; }
  /// Standard error of the mean relative error.
  double se_rel() const {
    const double m = mean_rel();
    const double var = (rel_sq / windows - m * m) * windows / (windows - 1);
    return std::sqrt(var / windows);
  }
};

struct CaseResult {
  Tally packets;
  Tally bytes;            ///< the default byte variance model (size bounds)
  Tally bytes_mean_size;  ///< the same windows under the mean-size model
  Tally flows;
};

// Prints a row of the coverage table of docs/estimation.md and records it in the test XML.
void report(const std::string& name, const char* what, const Tally& t) {
  std::printf("| %-40s | %-15s | %5d | %.3f | %3d / %3d | %+.4f ± %.4f | %3.0f%% |\n", name.c_str(),
              what, t.windows, t.coverage(), t.below, t.above, t.mean_rel(), t.se_rel(),
              100.0 * t.normal / t.windows);
  char buf[160];
  std::snprintf(buf, sizeof buf, "coverage=%.4f mean_rel_err=%+.5f se=%.5f first_miss_seed=%llu",
                t.coverage(), t.mean_rel(), t.se_rel(),
                static_cast<unsigned long long>(t.first_miss_seed));
  ::testing::Test::RecordProperty(name + " " + what, buf);
}

// Unbiased: the mean relative error over the windows is within 3 standard errors of 0. The
// issue's bar is "within its standard error"; 3 SE keeps a correct estimator from failing by
// chance at the 1-in-3 rate a 1-SE bar would (the seeds are fixed, so the test is
// deterministic either way, but a bar a correct estimator fails a third of the time would
// make every change of seed or case a coin toss).
void expect_unbiased(const Tally& t, const std::string& what) {
  EXPECT_LE(std::abs(t.mean_rel()), 3 * t.se_rel())
      << what << ": mean relative error " << t.mean_rel() << " ± " << t.se_rel()
      << " (first seed that missed: " << t.first_miss_seed << ")";
}

// The 95% interval covers the truth in [lo, hi] of the windows.
void expect_coverage(const Tally& t, double lo, double hi, const std::string& what) {
  EXPECT_GE(t.coverage(), lo) << what << " (first seed that missed: " << t.first_miss_seed << ")";
  EXPECT_LE(t.coverage(), hi) << what;
}

constexpr int kWindows = 1000;

CaseResult run_case(const std::string& name, uint64_t base_seed, const PopulationOptions& pop,
                    const SamplingOptions& sampling, int windows = kWindows) {
  ModelOptions mean_size;
  mean_size.byte_variance = ByteVarianceModel::kMeanSize;
  const ModelOptions bounds;
  CaseResult out;
  std::vector<flow::FlowRecord> records;
  for (int window_idx = 0; window_idx < windows; ++window_idx) {
    const uint64_t seed = base_seed + static_cast<uint64_t>(window_idx);
    std::mt19937_64 rng(seed);
    records.clear();
    const Truth truth = testing::simulate_window(rng, pop, sampling, records);
    Accumulator packets, bytes, bytes_ms, flows;
    for (const flow::FlowRecord& r : records) {
      const RecordTerms t = record_terms(r, bounds);
      packets.add(t.packets);
      bytes.add(t.bytes);
      bytes_ms.add(record_terms(r, mean_size).bytes);
      if (t.tcp_flow_arrival) flows.add(t.flows);
    }
    const double w = sampling.device_rate / sampling.keep_probability;
    out.packets.add(make_estimate(packets, w), truth.packets, seed);
    out.bytes.add(make_estimate(bytes, w * bounds.max_packet_bytes), truth.bytes, seed);
    out.bytes_mean_size.add(make_estimate(bytes_ms, w * bounds.max_packet_bytes), truth.bytes,
                            seed);
    out.flows.add(make_estimate(flows, w), truth.flows, seed);
  }
  report(name, "packets", out.packets);
  report(name, "bytes", out.bytes);
  report(name, "bytes mean-size", out.bytes_mean_size);
  report(name, "tcp flows", out.flows);
  return out;
}

SamplingOptions at(uint32_t n, bool sflow = false, double keep = 1.0) {
  SamplingOptions s;
  s.device_rate = n;
  s.sflow = sflow;
  s.keep_probability = keep;
  return s;
}

// NetFlow/IPFIX-style flow records, packets sampled 1 in 100 and 1 in 1000.
TEST(Coverage, FlowRecords) {
  const PopulationOptions pop;
  const CaseResult r100 = run_case("flow records 1/100", 1'000'000, pop, at(100));
  expect_unbiased(r100.packets, "packets 1/100");
  expect_unbiased(r100.bytes, "bytes 1/100");
  expect_coverage(r100.packets, 0.93, 0.97, "packets 1/100");
  expect_coverage(r100.bytes, 0.93, 0.97, "bytes 1/100");
  // Why the size-bounds model is the default: the mean-size model misses the variance of
  // flows that mix large and small packets, and its intervals fall short.
  EXPECT_LT(r100.bytes_mean_size.coverage(), r100.bytes.coverage() - 0.02);
  // A window has ~1.5 sampled SYNs: Garwood's interval, conservative at such counts.
  expect_coverage(r100.flows, 0.93, 1.0, "tcp flows 1/100");

  const CaseResult r1000 = run_case("flow records 1/1000", 2'000'000, pop, at(1000));
  expect_unbiased(r1000.packets, "packets 1/1000");
  expect_unbiased(r1000.bytes, "bytes 1/1000");
  expect_coverage(r1000.packets, 0.93, 0.97, "packets 1/1000");
  // Reported, and held to the lower bar only: at 1/1000 most windows have fewer than 50
  // effective samples of bytes and use the (conservative) gamma interval.
  expect_coverage(r1000.bytes, 0.93, 0.98, "bytes 1/1000");
  expect_coverage(r1000.flows, 0.93, 1.0, "tcp flows 1/1000");
}

// sFlow-style packet samples: one record per sampled packet, sizes exact.
TEST(Coverage, SflowPacketSamples) {
  const PopulationOptions pop;
  const CaseResult r100 = run_case("sflow samples 1/100", 3'000'000, pop, at(100, true));
  expect_unbiased(r100.packets, "packets 1/100");
  expect_unbiased(r100.bytes, "bytes 1/100");
  expect_coverage(r100.packets, 0.93, 0.97, "packets 1/100");
  expect_coverage(r100.bytes, 0.93, 0.97, "bytes 1/100");
  const CaseResult r1000 = run_case("sflow samples 1/1000", 4'000'000, pop, at(1000, true));
  expect_unbiased(r1000.packets, "packets 1/1000");
  expect_unbiased(r1000.bytes, "bytes 1/1000");
  expect_coverage(r1000.packets, 0.93, 0.97, "packets 1/1000");
  expect_coverage(r1000.bytes, 0.93, 0.98, "bytes 1/1000");
}

// Fathom's secondary flow-level sampling, p = 0.2 on top of 1/100. Unbiased whatever the
// population; the intervals hold when no single flow dominates the window (tail index 2.5).
TEST(Coverage, SecondarySampling) {
  PopulationOptions light;
  light.pareto_alpha = 2.5;
  light.pareto_min = 300;
  const CaseResult r =
      run_case("flow 1/100, p=0.2, light tail", 5'000'000, light, at(100, false, 0.2));
  expect_unbiased(r.packets, "packets");
  expect_unbiased(r.bytes, "bytes");
  expect_coverage(r.packets, 0.93, 0.97, "packets");
  expect_coverage(r.bytes, 0.93, 0.97, "bytes");
}

// The documented limitation: uniform flow-level sampling of a heavy-tailed population (tail
// index 1.3: the largest flow is often a third of the window). A dropped elephant leaves no
// trace, so no interval built from what was kept can cover it: the estimate stays unbiased,
// the coverage falls short (docs/estimation.md "Limitations"). The floor only guards against
// it getting worse.
TEST(Coverage, SecondarySamplingHeavyTailLimitation) {
  const PopulationOptions pop;
  const CaseResult r =
      run_case("flow 1/100, p=0.2, heavy tail", 6'000'000, pop, at(100, false, 0.2));
  expect_unbiased(r.packets, "packets");
  expect_unbiased(r.bytes, "bytes");
  EXPECT_GT(r.packets.coverage(), 0.80);
  EXPECT_GT(r.bytes.coverage(), 0.80);
}

// Conversations: every flow has a reverse flow (its ACKs, half its packets), and the sampler
// keeps or drops the two together, as Fathom's conversation-consistent hash does. Taken as
// independent records, the variance misses the covariance of the two and the intervals fall
// short; the WindowEstimator adds it per conversation (docs/estimation.md "Conversations").
TEST(Coverage, SecondarySamplingConversations) {
  PopulationOptions light;
  light.pareto_alpha = 2.5;
  light.pareto_min = 300;
  const SamplingOptions device = at(100);
  const double p = 0.2;
  constexpr int64_t kMinute = 60'000'000'000;
  WindowEstimator est;
  Tally clustered, independent;
  std::vector<flow::FlowRecord> records, pair;
  for (int window_idx = 0; window_idx < kWindows; ++window_idx) {
    const uint64_t seed = 10'000'000 + static_cast<uint64_t>(window_idx);
    std::mt19937_64 rng(seed);
    records.clear();
    Truth truth;
    for (int flow_idx = 0; flow_idx < light.flows; ++flow_idx) {
      flow::FlowRecord fwd = testing::base_record(device);
      fwd.tenant_id = 1;
      fwd.arrival_ns = window_idx * kMinute + kMinute / 2;
      fwd.src = flow::IpAddress::from_v4(0x0a000000 + static_cast<uint32_t>(flow_idx));
      fwd.dst = flow::IpAddress::from_v4(0x08080808);
      fwd.src_port = 40000;
      fwd.dst_port = 443;
      fwd.direction = flow::Direction::kOutbound;
      flow::FlowRecord rev = fwd;
      std::swap(rev.src, rev.dst);
      std::swap(rev.src_port, rev.dst_port);
      rev.direction = flow::Direction::kInbound;
      const uint64_t packets = testing::draw_flow_packets(rng, light);
      pair.clear();
      testing::simulate_flow(rng, packets, testing::kFlowClasses[0].mix, device, fwd, pair, truth);
      testing::simulate_flow(rng, std::max<uint64_t>(1, packets / 2), testing::kFlowClasses[1].mix,
                             device, rev, pair, truth);
      if (!std::bernoulli_distribution(p)(rng)) continue;  // the conversation, dropped whole
      for (flow::FlowRecord& r : pair) {
        r.sampling_rate = device.device_rate / p;
        r.flags |= flow::record_flags::kSecondarySampled;
        records.push_back(r);
      }
    }
    Accumulator naive;
    for (const flow::FlowRecord& r : records) naive.add(record_terms(r, {}).packets);
    est.add(records);
    const std::vector<WindowResult> closed = est.advance((window_idx + 1) * kMinute + kMinute / 2);
    ASSERT_EQ(closed.size(), 1u);
    const double w = device.device_rate / p;
    clustered.add(make_estimate(closed[0].total.packets, w), truth.packets, seed);
    independent.add(make_estimate(naive, w), truth.packets, seed);
  }
  report("conversations 1/100, p=0.2 (estimator)", "packets", clustered);
  report("conversations 1/100, p=0.2 (records independent)", "packets", independent);
  expect_unbiased(clustered, "conversations");
  expect_coverage(clustered, 0.93, 0.97, "conversations");
  EXPECT_LT(independent.coverage(), clustered.coverage());
}

// What fixes it: size-aware secondary sampling (threshold sampling, p = min(1, N·c/z)), which
// keeps every large record. Same heavy-tailed population, about the same records kept.
TEST(Coverage, ThresholdSecondarySampling) {
  const PopulationOptions pop;
  SamplingOptions s = at(100);
  s.threshold_packets = 3000;
  const CaseResult r = run_case("flow 1/100, threshold z=3000", 7'000'000, pop, s);
  expect_unbiased(r.packets, "packets");
  expect_unbiased(r.bytes, "bytes");
  expect_coverage(r.packets, 0.93, 0.98, "packets");
  expect_coverage(r.bytes, 0.93, 0.98, "bytes");
}

// TCP flow arrivals with enough connections for the normal interval: 5,000–20,000 TCP flows
// a window. Only the records showing a SYN matter to this estimator, so each flow's SYN is
// thinned directly; sFlow also samples the reverse SYN-ACK, which must not count.
TEST(Coverage, TcpFlowArrivals) {
  struct Case {
    const char* name;
    uint32_t n;
    double keep;
    bool sflow;
  };
  for (const Case& c : {Case{"tcp flows, flow records 1/100", 100, 1.0, false},
                        Case{"tcp flows, flow records 1/1000", 1000, 1.0, false},
                        Case{"tcp flows, 1/100, p=0.2", 100, 0.2, false},
                        Case{"tcp flows, sflow 1/1000", 1000, 1.0, true}}) {
    const SamplingOptions sampling = at(c.n, c.sflow, c.keep);
    Tally flows;
    for (int window_idx = 0; window_idx < kWindows; ++window_idx) {
      const uint64_t seed = 8'000'000 + static_cast<uint64_t>(window_idx);
      std::mt19937_64 rng(seed);
      const auto truth = std::uniform_int_distribution<uint64_t>(5000, 20000)(rng);
      const double q = 1.0 / c.n;
      Accumulator acc;
      flow::FlowRecord r = testing::base_record(sampling);
      r.ip_protocol = 6;
      auto add = [&](uint64_t count, uint16_t tcp_flags) {
        for (uint64_t rec_idx = 0; rec_idx < count; ++rec_idx) {
          r.tcp_flags = tcp_flags;
          r.packets = c.sflow ? 1 : 1 + rng() % 5;
          const RecordTerms t = record_terms(r, {});
          if (t.tcp_flow_arrival) acc.add(t.flows);
        }
      };
      // SYNs seen and kept; for flow records the OR of flags also has ACK.
      add(std::binomial_distribution<uint64_t>(truth, q * c.keep)(rng),
          c.sflow ? tcp_flag::kSyn : tcp_flag::kSyn | tcp_flag::kAck);
      if (c.sflow) {  // the servers' SYN-ACKs, sampled too
        add(std::binomial_distribution<uint64_t>(truth, q)(rng), tcp_flag::kSyn | tcp_flag::kAck);
      }
      flows.add(make_estimate(acc, sampling.device_rate / sampling.keep_probability),
                static_cast<double>(truth), seed);
    }
    report(c.name, "tcp flows", flows);
    expect_unbiased(flows, c.name);
    expect_coverage(flows, 0.93, c.n == 100 && c.keep == 1.0 ? 0.97 : 0.985, c.name);
  }
}

// Per-host totals on small hosts, through the WindowEstimator: 60 hosts a window, each a few
// flows of 30–2000 packets, at 1/100: 0–60 sampled packets a host, so most intervals are
// Garwood's or the gamma one. Hosts that nothing was sampled from have no row; their
// estimate is 0 with the zero-observation interval, and they count as trials too.
TEST(Coverage, SmallHosts) {
  const int kHosts = 60;
  const int kHostWindows = 400;
  PopulationOptions pop;
  pop.pareto_alpha = 1.5;
  pop.pareto_min = 30;
  pop.max_packets = 2000;
  const SamplingOptions sampling = at(100);
  WindowEstimator est;
  Tally packets, bytes;
  std::vector<flow::FlowRecord> records;
  std::vector<Truth> truth(kHosts);
  constexpr int64_t kMinute = 60'000'000'000;
  for (int window_idx = 0; window_idx < kHostWindows; ++window_idx) {
    const uint64_t seed = 9'000'000 + static_cast<uint64_t>(window_idx);
    std::mt19937_64 rng(seed);
    records.clear();
    for (int host_idx = 0; host_idx < kHosts; ++host_idx) {
      truth[host_idx] = Truth{};
      flow::FlowRecord proto = testing::base_record(sampling);
      proto.tenant_id = 1;
      proto.direction = flow::Direction::kOutbound;
      proto.src = flow::IpAddress::from_v4(0x0a000000 + static_cast<uint32_t>(host_idx));
      proto.dst = flow::IpAddress::from_v4(0x08080808);
      proto.arrival_ns = window_idx * kMinute + kMinute / 2;
      const int flows = 1 + static_cast<int>(std::poisson_distribution<int>(1.5)(rng));
      for (int flow_idx = 0; flow_idx < flows; ++flow_idx) {
        testing::simulate_flow(rng, testing::draw_flow_packets(rng, pop), testing::draw_mix(rng),
                               sampling, proto, records, truth[host_idx]);
      }
    }
    est.add(records);
    const std::vector<WindowResult> closed = est.advance((window_idx + 1) * kMinute + kMinute / 2);
    ASSERT_EQ(closed.size(), 1u);
    const WindowResult& res = closed[0];
    for (int host_idx = 0; host_idx < kHosts; ++host_idx) {
      HostTotals host;
      host.address = flow::IpAddress::from_v4(0x0a000000 + static_cast<uint32_t>(host_idx));
      for (const HostTotals& h : res.hosts) {
        if (h.address == host.address) host = h;
      }
      const HostEstimate e = estimate_host(host, res.max_sampling_rate);
      packets.add(e.sent_packets, truth[host_idx].packets, seed);
      bytes.add(e.sent_bytes, truth[host_idx].bytes, seed);
    }
  }
  report("small hosts 1/100 (per host)", "packets", packets);
  report("small hosts 1/100 (per host)", "bytes", bytes);
  expect_unbiased(packets, "host packets");
  expect_unbiased(bytes, "host bytes");
  EXPECT_GE(packets.coverage(), 0.93);
  EXPECT_GE(bytes.coverage(), 0.93);
  EXPECT_LT(packets.normal, packets.windows / 2);  // mostly exact Poisson / gamma intervals
}

}  // namespace
}  // namespace fathom::estimate
