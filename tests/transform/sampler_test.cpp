#include "transform/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <thread>
#include <vector>

namespace fathom::transform {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000'000;  // simulated clock origin (ns)
constexpr int64_t kSecond = 1'000'000'000;
constexpr uint32_t kDeviceRate = 100;

Config config_with(const std::vector<std::pair<uint32_t, double>>& targets, Sampling s = {}) {
  Config c;
  for (const auto& [id, target] : targets) {
    Tenant t;
    t.id = id;
    t.name = "t" + std::to_string(id);
    t.target_ingest_rate = target;
    c.tenants.push_back(t);
  }
  c.sampling = s;
  return c;
}

/// A random flow record of `tenant`: random IPv4 endpoints and ports, a heavy-ish tailed
/// packet count, device-sampled 1 in kDeviceRate.
flow::FlowRecord random_record(std::mt19937_64& rng, uint32_t tenant) {
  flow::FlowRecord r;
  r.tenant_id = tenant;
  r.src = flow::IpAddress::from_v4(static_cast<uint32_t>(rng()));
  r.dst = flow::IpAddress::from_v4(static_cast<uint32_t>(rng()));
  const uint64_t bits = rng();
  r.src_port = static_cast<uint16_t>(bits);
  r.dst_port = static_cast<uint16_t>(bits >> 16);
  r.ip_protocol = (bits >> 32) % 4 == 0 ? 17 : 6;
  r.packets = 1 + (bits >> 40) % 64;
  if ((bits >> 56) % 64 == 0) r.packets *= 40;  // an occasional elephant
  r.bytes = r.packets * 700;
  r.device_sampling_rate = kDeviceRate;
  r.sampling_rate = kDeviceRate;
  return r;
}

/// What a tenant's records did during a run.
struct Tally {
  uint64_t arrivals = 0;
  uint64_t kept = 0;
  double true_packets = 0;       ///< sum of packets x device rate over every arrival
  double estimated_packets = 0;  ///< sum of packets x sampling_rate over kept records
  uint64_t flagged_kept = 0;     ///< kept records with kSecondarySampled
};

/// One tenant's offered load: records/s as a function of simulated seconds, from its own RNG
/// (so a tenant's arrivals do not depend on any other tenant's).
struct Load {
  uint32_t tenant = 0;
  std::function<double(double)> rate;
  std::mt19937_64 rng;
};

/// Drives a sampler the way ingest workers do: packets of up to 30 records, the slot and p read
/// once per packet, counts recorded once per packet, the controller ticked every step.
class Simulation {
 public:
  explicit Simulation(std::shared_ptr<AdaptiveSampler> sampler)
      : sampler_(sampler), view_(sampler) {}

  /// Runs [from_s, to_s) in steps of `step_s`; `after_step(now_ns)` after each step's tick.
  void run(std::vector<Load>& loads, double from_s, double to_s, double step_s = 0.01,
           const std::function<void(int64_t)>& after_step = {}) {
    const int steps = static_cast<int>(std::lround((to_s - from_s) / step_s));
    for (int step_idx = 0; step_idx < steps; ++step_idx) {
      const double t = from_s + step_idx * step_s;
      const int64_t now = kT0 + static_cast<int64_t>(std::llround(t * 1e9));
      for (Load& load : loads) {
        std::poisson_distribution<uint64_t> arrivals(load.rate(t) * step_s);
        uint64_t n = arrivals(load.rng);
        while (n > 0) {
          const uint64_t in_packet = std::min<uint64_t>(n, 30);
          n -= in_packet;
          packet(load, in_packet, now);
        }
      }
      sampler_->update(now);
      if (after_step) after_step(now);
    }
  }

  std::map<uint32_t, Tally>& tallies() { return tallies_; }

 private:
  void packet(Load& load, uint64_t records, int64_t now) {
    SamplerSlot* slot = view_.find(load.tenant);
    const double p = slot != nullptr ? slot->probability() : 1.0;
    const double inv_p = 1.0 / p;
    Tally& tally = tallies_[load.tenant];
    uint64_t kept = 0;
    for (uint64_t record_idx = 0; record_idx < records; ++record_idx) {
      flow::FlowRecord r = random_record(load.rng, load.tenant);
      tally.true_packets += static_cast<double>(r.packets) * r.device_sampling_rate;
      if (!sampler_->keep(r, p)) continue;
      mark_kept(r, p, inv_p);
      ++kept;
      tally.estimated_packets += static_cast<double>(r.packets) * r.sampling_rate;
      if (r.flags & flow::record_flags::kSecondarySampled) ++tally.flagged_kept;
    }
    tally.arrivals += records;
    tally.kept += kept;
    if (slot != nullptr) sampler_->record(*slot, records, kept, now);
  }

  std::shared_ptr<AdaptiveSampler> sampler_;
  SamplerView view_;
  std::map<uint32_t, Tally> tallies_;
};

Load steady(uint32_t tenant, double rate, uint64_t seed) {
  return {tenant, [rate](double) { return rate; }, std::mt19937_64(seed)};
}

SamplerTenantStats stats_of(const SamplerSnapshot& s, uint32_t tenant) {
  for (const SamplerTenantStats& t : s.tenants) {
    if (t.tenant_id == tenant) return t;
  }
  ADD_FAILURE() << "tenant " << tenant << " not in the snapshot";
  return {};
}

// --- (a) convergence -------------------------------------------------------------------------

TEST(AdaptiveSamplerTest, KeptRatesConvergeToTargetsFromAboveAndBelow) {
  auto sampler = std::make_shared<AdaptiveSampler>(config_with({{1, 1000}, {2, 1000}}));
  Simulation sim(sampler);
  std::vector<Load> loads = {steady(1, 10'000, 11), steady(2, 100, 12)};  // 10x and 0.1x
  sim.run(loads, 0, 10);
  sim.tallies().clear();
  sim.run(loads, 10, 60);

  const Tally& a = sim.tallies()[1];
  const double a_kept_rate = static_cast<double>(a.kept) / 50.0;
  EXPECT_NEAR(a_kept_rate, 1000.0, 100.0) << "arrivals " << a.arrivals;
  EXPECT_EQ(a.flagged_kept, a.kept);  // every kept record of A says it was sampled again

  const Tally& b = sim.tallies()[2];
  EXPECT_GT(b.arrivals, 4000u);
  EXPECT_EQ(b.kept, b.arrivals);  // below target: p = 1, everything kept
  EXPECT_EQ(b.flagged_kept, 0u);
  EXPECT_DOUBLE_EQ(b.estimated_packets, b.true_packets);

  const SamplerSnapshot snap = sampler->snapshot();
  const SamplerTenantStats sa = stats_of(snap, 1);
  EXPECT_NEAR(sa.probability, 0.1, 0.01);
  EXPECT_NEAR(sa.arrival_rate, 10'000.0, 500.0);
  EXPECT_NEAR(sa.kept_rate, 1000.0, 100.0);
  EXPECT_EQ(sa.target, 1000.0);
  const SamplerTenantStats sb = stats_of(snap, 2);
  EXPECT_EQ(sb.probability, 1.0);
  EXPECT_NEAR(sb.arrival_rate, 100.0, 30.0);
  EXPECT_EQ(sb.kept_total, sb.arrivals_total);
  EXPECT_EQ(sb.surges_total, 0u);
  EXPECT_GT(snap.updates_total, 25u);  // every 2 s over 60 s
}

// --- (b) unbiasedness ------------------------------------------------------------------------

TEST(AdaptiveSamplerTest, SampledSumsAreUnbiasedOverManySeeds) {
  constexpr int kSeeds = 200;
  std::vector<double> errors;
  for (int seed_idx = 0; seed_idx < kSeeds; ++seed_idx) {
    Sampling s;
    s.seed = 0x5eed0000ull + static_cast<uint64_t>(seed_idx) * 0x9e3779b97f4a7c15ull;
    auto sampler = std::make_shared<AdaptiveSampler>(config_with({{1, 200}}, s));
    Simulation sim(sampler);
    // 10x the target, with a step up half-way so p moves during the run.
    std::vector<Load> loads = {{1, [](double t) { return t < 3 ? 2000.0 : 4000.0; },
                                std::mt19937_64(1000 + static_cast<uint64_t>(seed_idx))}};
    sim.run(loads, 0, 5, 0.05);
    const Tally& t = sim.tallies()[1];
    ASSERT_GT(t.kept, 0u);
    ASSERT_LT(t.kept, t.arrivals / 4) << "seed " << seed_idx;  // it really sampled
    errors.push_back(t.estimated_packets / t.true_packets - 1.0);
  }
  double mean = 0;
  for (double e : errors) mean += e;
  mean /= kSeeds;
  double var = 0;
  for (double e : errors) var += (e - mean) * (e - mean);
  var /= kSeeds - 1;
  const double standard_error = std::sqrt(var / kSeeds);
  EXPECT_LT(std::abs(mean), 3 * standard_error) << "mean " << mean << " se " << standard_error;
  EXPECT_LT(std::abs(mean), 0.02);
  EXPECT_GT(standard_error, 0.0);
}

// --- (c) flood isolation ---------------------------------------------------------------------

struct FloodRun {
  Tally a_before;   ///< [10, 30)
  Tally a_react;    ///< [30, 32): the first update interval of the flood
  Tally a_settled;  ///< [30.5, 32): the same interval, after the surge rule acted
  Tally a_after;    ///< [32, 60)
  Tally b_flood;    ///< [30, 60)
  double b_min_p = 1.0;
  double a_p_at_32 = 1.0;
  uint64_t a_surges = 0;
};

FloodRun run_flood(double flood_rate, double surge_factor) {
  Sampling s;
  s.surge_factor = surge_factor;
  auto sampler = std::make_shared<AdaptiveSampler>(config_with({{1, 200}, {2, 200}}, s));
  Simulation sim(sampler);
  std::vector<Load> loads = {
      {1, [flood_rate](double t) { return t < 30 ? 200.0 : flood_rate; }, std::mt19937_64(21)},
      steady(2, 100, 22)};  // B at 0.5x its target
  FloodRun out;
  SamplerView view(sampler);
  auto watch_b = [&](int64_t) { out.b_min_p = std::min(out.b_min_p, view.find(2)->probability()); };
  sim.run(loads, 0, 10, 0.01, watch_b);
  sim.tallies().clear();
  sim.run(loads, 10, 30, 0.01, watch_b);
  out.a_before = sim.tallies()[1];
  sim.tallies().clear();
  sim.run(loads, 30, 30.5, 0.01, watch_b);
  const Tally first_half_second = sim.tallies()[1];
  sim.tallies()[1] = {};
  sim.run(loads, 30.5, 32, 0.01, watch_b);
  out.a_settled = sim.tallies()[1];
  out.a_react = out.a_settled;
  out.a_react.arrivals += first_half_second.arrivals;
  out.a_react.kept += first_half_second.kept;
  Tally b = sim.tallies()[2];
  out.a_p_at_32 = view.find(1)->probability();
  sim.tallies().clear();
  sim.run(loads, 32, 60, 0.01, watch_b);
  out.a_after = sim.tallies()[1];
  out.b_flood = sim.tallies()[2];
  out.b_flood.arrivals += b.arrivals;
  out.b_flood.kept += b.kept;
  out.a_surges = stats_of(sampler->snapshot(), 1).surges_total;
  return out;
}

TEST(AdaptiveSamplerTest, FloodInOneTenantLeavesAnotherUntouchedAndIsCutWithinAnInterval) {
  const FloodRun calm = run_flood(200, 4.0);      // no flood: the reference for B
  const FloodRun flood = run_flood(20'000, 4.0);  // A jumps from 1x to 100x at t = 30 s

  // B: p stays 1 and it keeps exactly what it kept without the flood.
  EXPECT_EQ(flood.b_min_p, 1.0);
  EXPECT_EQ(flood.b_flood.arrivals, calm.b_flood.arrivals);
  EXPECT_EQ(flood.b_flood.kept, calm.b_flood.kept);
  EXPECT_EQ(flood.b_flood.kept, flood.b_flood.arrivals);

  // A before the flood: at its target, kept nearly whole.
  EXPECT_NEAR(static_cast<double>(flood.a_before.kept) / 20.0, 200.0, 20.0);
  // The surge rule cut p within the first interval of the flood...
  EXPECT_GE(flood.a_surges, 1u);
  EXPECT_LT(flood.a_p_at_32, 0.02);
  // ... so that interval kept a bounded amount: at most surge_factor x target x interval.
  EXPECT_LT(flood.a_react.kept, 4u * 200u * 2u) << "arrivals " << flood.a_react.arrivals;
  // Half a second into the flood, before any regular update, A is already near its target.
  EXPECT_NEAR(static_cast<double>(flood.a_settled.kept) / 1.5, 200.0, 50.0);
  // and afterwards A is back at its target.
  EXPECT_NEAR(static_cast<double>(flood.a_after.kept) / 28.0, 200.0, 20.0);
  // Total kept over the flood: target x duration plus the bounded reaction.
  EXPECT_LT(flood.a_react.kept + flood.a_after.kept, 200u * 30u * 11u / 10u + 4u * 200u * 2u);
}

TEST(AdaptiveSamplerTest, WithoutTheSurgeRuleAFloodFillsAWholeInterval) {
  // The contrast that shows what the surge rule buys: with it off, the first interval of the
  // flood is kept at the old p.
  const FloodRun flood = run_flood(20'000, 1e12);
  EXPECT_EQ(flood.a_surges, 0u);
  EXPECT_GT(flood.a_react.kept, 10'000u);
}

// --- (d) flow consistency --------------------------------------------------------------------

TEST(AdaptiveSamplerTest, EveryRecordOfAFlowAndBothDirectionsShareTheDecision) {
  AdaptiveSampler worker_a(config_with({{1, 100}}));
  AdaptiveSampler worker_b(config_with({{1, 100}}));  // another process with the same seed
  std::mt19937_64 rng(31);
  uint64_t kept = 0;
  for (int flow_idx = 0; flow_idx < 2000; ++flow_idx) {
    const flow::FlowRecord r = random_record(rng, 1);
    const bool decision = worker_a.keep(r, 0.3);
    kept += decision;
    // A later record of the same flow: other counters, times, exporter and flags.
    flow::FlowRecord later = r;
    later.packets += 17;
    later.bytes *= 3;
    later.start_ns = kT0 + 5 * kSecond;
    later.arrival_ns = kT0 + 6 * kSecond;
    later.exporter = flow::IpAddress::from_v4(0x0a000001);
    later.sampling_rate = 7;
    later.flags = flow::record_flags::kDecodedLate;
    EXPECT_EQ(worker_a.keep(later, 0.3), decision);
    EXPECT_EQ(worker_b.keep(later, 0.3), decision);
    // The reverse direction of the conversation (an RFC 5103 reverse record).
    flow::FlowRecord reverse = r;
    std::swap(reverse.src, reverse.dst);
    std::swap(reverse.src_port, reverse.dst_port);
    reverse.flags |= flow::record_flags::kBiflowReverse;
    EXPECT_EQ(flow_key_hash(worker_a.seed(), reverse), flow_key_hash(worker_a.seed(), r));
    EXPECT_EQ(worker_a.keep(reverse, 0.3), decision);
    // Nested: kept at 0.3 means kept at any higher p.
    if (decision) {
      EXPECT_TRUE(worker_a.keep(r, 0.6));
    }
  }
  EXPECT_NEAR(static_cast<double>(kept) / 2000.0, 0.3, 0.05);
}

TEST(AdaptiveSamplerTest, TheKeyIsTenantProtocolAndBothEndpoints) {
  std::mt19937_64 rng(41);
  const uint64_t seed = 12345;
  int same_tenant = 0, same_proto = 0, same_port = 0, same_seed = 0;
  for (int flow_idx = 0; flow_idx < 1000; ++flow_idx) {
    const flow::FlowRecord r = random_record(rng, 1);
    const uint64_t h = flow_key_hash(seed, r);
    flow::FlowRecord other = r;
    other.tenant_id = 2;
    same_tenant += flow_key_hash(seed, other) == h;
    other = r;
    other.ip_protocol = r.ip_protocol == 6 ? 17 : 6;
    same_proto += flow_key_hash(seed, other) == h;
    other = r;
    other.src_port = static_cast<uint16_t>(r.src_port + 1);
    same_port += flow_key_hash(seed, other) == h;
    same_seed += flow_key_hash(seed + 1, r) == h;
  }
  EXPECT_EQ(same_tenant, 0);
  EXPECT_EQ(same_proto, 0);
  EXPECT_EQ(same_port, 0);
  EXPECT_EQ(same_seed, 0);

  // IPv6 endpoints that differ only in their upper half hash apart too.
  flow::FlowRecord v6;
  v6.src = *flow::IpAddress::parse("2001:db8::1");
  v6.dst = *flow::IpAddress::parse("2001:db8::2");
  flow::FlowRecord v6b = v6;
  v6b.src = *flow::IpAddress::parse("2001:db9::1");
  EXPECT_NE(flow_key_hash(seed, v6), flow_key_hash(seed, v6b));
}

// --- (e) uniformity --------------------------------------------------------------------------

TEST(AdaptiveSamplerTest, FractionKeptMatchesPEvenForSequentialKeys) {
  constexpr int kFlows = 100'000;
  for (const double p : {0.5, 0.1, 0.01}) {
    uint64_t kept_sequential = 0;
    uint64_t kept_random = 0;
    std::mt19937_64 rng(51);
    for (int flow_idx = 0; flow_idx < kFlows; ++flow_idx) {
      // The structured keys a weak hash gets wrong: consecutive sources, a fixed server,
      // consecutive ephemeral ports.
      flow::FlowRecord r;
      r.tenant_id = 1;
      r.src = flow::IpAddress::from_v4(0x0a000000u + static_cast<uint32_t>(flow_idx / 16));
      r.dst = flow::IpAddress::from_v4(0xc0000201u);
      r.src_port = static_cast<uint16_t>(32768 + flow_idx % 16);
      r.dst_port = 443;
      r.ip_protocol = 6;
      kept_sequential += keep_flow(7, r, p);
      kept_random += keep_flow(7, random_record(rng, 1), p);
    }
    const double sigma = std::sqrt(kFlows * p * (1 - p));
    EXPECT_NEAR(static_cast<double>(kept_sequential), kFlows * p, 5 * sigma) << "p " << p;
    EXPECT_NEAR(static_cast<double>(kept_random), kFlows * p, 5 * sigma) << "p " << p;
  }
  flow::FlowRecord r;
  EXPECT_TRUE(keep_flow(7, r, 1.0));
  EXPECT_FALSE(keep_flow(7, r, 0.0));
}

// --- (f) concurrency smoke test --------------------------------------------------------------

TEST(AdaptiveSamplerTest, TwoWorkersAndAReloadRunConcurrentlyAndTotalsAddUp) {
  auto sampler = std::make_shared<AdaptiveSampler>(config_with({{1, 5000}, {2, 0}}));
  constexpr int kPackets = 20'000;
  constexpr uint64_t kPerPacket = 10;
  auto worker = [&](uint64_t seed) {
    SamplerView view(sampler);
    std::mt19937_64 rng(seed);
    for (int packet_idx = 0; packet_idx < kPackets; ++packet_idx) {
      const int64_t now = kT0 + int64_t{packet_idx} * 1'000'000;  // 1000 packets/s each
      const uint32_t tenant = packet_idx % 2 == 0 ? 1 : 2;
      SamplerSlot* slot = view.find(tenant);
      ASSERT_NE(slot, nullptr);
      const double p = slot->probability();
      uint64_t kept = 0;
      for (uint64_t record_idx = 0; record_idx < kPerPacket; ++record_idx) {
        kept += sampler->keep(random_record(rng, tenant), p);
      }
      sampler->record(*slot, kPerPacket, kept, now);
      sampler->update(now);
    }
  };
  std::thread t1(worker, 61);
  std::thread t2(worker, 62);
  for (int reload_idx = 0; reload_idx < 20; ++reload_idx) {
    sampler->set_tenants(config_with({{1, reload_idx % 2 == 0 ? 4000.0 : 5000.0}, {2, 0}}));
    (void)sampler->snapshot();
  }
  t1.join();
  t2.join();
  const SamplerSnapshot snap = sampler->snapshot();
  ASSERT_EQ(snap.tenants.size(), 2u);
  // Each worker sent half its packets to each tenant; the reloads kept the slots.
  EXPECT_EQ(snap.tenants[0].arrivals_total, 2u * kPackets / 2 * kPerPacket);
  EXPECT_EQ(snap.tenants[1].arrivals_total, 2u * kPackets / 2 * kPerPacket);
  EXPECT_LE(snap.tenants[0].kept_total, snap.tenants[0].arrivals_total);
  EXPECT_EQ(snap.tenants[1].kept_total, snap.tenants[1].arrivals_total);  // no target
}

// --- the controller's other rules ------------------------------------------------------------

TEST(AdaptiveSamplerTest, TenantsWithoutTargetAreNeverSampled) {
  auto sampler = std::make_shared<AdaptiveSampler>(config_with({{1, 0}}));
  Simulation sim(sampler);
  std::vector<Load> loads = {steady(1, 50'000, 71)};
  sim.run(loads, 0, 5, 0.05);
  const Tally& t = sim.tallies()[1];
  EXPECT_EQ(t.kept, t.arrivals);
  EXPECT_EQ(t.flagged_kept, 0u);
  const SamplerTenantStats s = stats_of(sampler->snapshot(), 1);
  EXPECT_EQ(s.probability, 1.0);
  EXPECT_EQ(s.surges_total, 0u);
  EXPECT_NEAR(s.arrival_rate, 50'000.0, 2'500.0);  // still measured for metrics
  // A tenant the sampler does not know at all (e.g. the default tenant) has no slot.
  SamplerView view(sampler);
  EXPECT_EQ(view.find(65535), nullptr);
}

TEST(AdaptiveSamplerTest, ReloadKeepsSurvivorsProbabilityAndStartsNewTenantsAtOne) {
  auto sampler = std::make_shared<AdaptiveSampler>(config_with({{1, 100}, {2, 100}}));
  Simulation sim(sampler);
  std::vector<Load> loads = {steady(1, 1000, 81), steady(2, 1000, 82)};
  sim.run(loads, 0, 10);
  SamplerView view(sampler);
  const double p1 = view.find(1)->probability();
  ASSERT_NEAR(p1, 0.1, 0.02);
  SamplerSlot* before = view.find(1);
  const uint64_t arrivals = stats_of(sampler->snapshot(), 1).arrivals_total;

  sampler->set_tenants(config_with({{1, 100}, {3, 100}}));  // 2 removed, 3 added
  EXPECT_EQ(view.find(1), before);  // the same slot: counts in flight are not lost
  EXPECT_EQ(view.find(1)->probability(), p1);
  EXPECT_EQ(view.find(2), nullptr);
  ASSERT_NE(view.find(3), nullptr);
  EXPECT_EQ(view.find(3)->probability(), 1.0);
  const SamplerSnapshot snap = sampler->snapshot();
  ASSERT_EQ(snap.tenants.size(), 2u);
  EXPECT_EQ(snap.tenants[0].tenant_id, 1u);
  EXPECT_EQ(snap.tenants[0].arrivals_total, arrivals);
  EXPECT_EQ(snap.tenants[1].tenant_id, 3u);

  // A target of 0 lifts sampling at once.
  sampler->set_tenants(config_with({{1, 0}}));
  EXPECT_EQ(view.find(1)->probability(), 1.0);
}

TEST(AdaptiveSamplerTest, ProbabilityRisesAtMostTwofoldPerIntervalAfterAFlood) {
  auto sampler = std::make_shared<AdaptiveSampler>(config_with({{1, 100}}));
  Simulation sim(sampler);
  std::vector<Load> loads = {
      {1, [](double t) { return t < 10 ? 10'000.0 : 50.0; }, std::mt19937_64(91)}};
  SamplerView view(sampler);
  double last_p = 1.0;
  double max_ratio = 0.0;
  sim.run(loads, 0, 40, 0.01, [&](int64_t) {
    const double p = view.find(1)->probability();
    max_ratio = std::max(max_ratio, p / last_p);
    last_p = p;
  });
  EXPECT_LE(max_ratio, 2.0 + 1e-12);
  EXPECT_EQ(last_p, 1.0);  // back to keeping everything: log2(100) ~ 7 intervals
}

TEST(AdaptiveSamplerTest, ProbabilityNeverFallsBelowTheMinimum) {
  Sampling s;
  s.min_probability = 0.05;
  auto sampler = std::make_shared<AdaptiveSampler>(config_with({{1, 100}}, s));
  Simulation sim(sampler);
  std::vector<Load> loads = {steady(1, 20'000, 101)};  // would need p = 0.005
  sim.run(loads, 0, 10, 0.02);
  SamplerView view(sampler);
  EXPECT_EQ(view.find(1)->probability(), 0.05);
}

TEST(AdaptiveSamplerTest, ClockSteppingBackRestartsTheWindowInsteadOfMeasuring) {
  auto sampler = std::make_shared<AdaptiveSampler>(config_with({{1, 100}}));
  SamplerView view(sampler);
  sampler->update(kT0);
  sampler->record(*view.find(1), 50, 50, kT0 + kSecond);
  sampler->update(kT0 - 10 * kSecond);  // wall clock stepped back
  sampler->update(kT0 - 7 * kSecond);   // 3 s later on the new clock
  const SamplerTenantStats s = stats_of(sampler->snapshot(), 1);
  EXPECT_EQ(s.probability, 1.0);
  EXPECT_GE(s.arrival_rate, 0.0);
  EXPECT_TRUE(std::isfinite(s.arrival_rate));
}

TEST(AdaptiveSamplerTest, MarkKeptScalesTheSamplingRateByOneOverP) {
  flow::FlowRecord r;
  r.device_sampling_rate = 512;
  r.sampling_rate = 512;
  mark_kept(r, 0.25, 4.0);
  EXPECT_DOUBLE_EQ(r.sampling_rate, 2048.0);
  EXPECT_TRUE(r.flags & flow::record_flags::kSecondarySampled);
  flow::FlowRecord whole;
  whole.sampling_rate = 512;
  mark_kept(whole, 1.0, 1.0);
  EXPECT_DOUBLE_EQ(whole.sampling_rate, 512.0);
  EXPECT_EQ(whole.flags, 0u);
}

TEST(AdaptiveSamplerTest, TheLoadFactorTightensEveryTenantAndSumsStayUnbiased) {
  // Tenant 1 has no target, tenant 2 is at 10x its target. Shedding by 0.25 keeps a quarter
  // of tenant 1 and a quarter of tenant 2's share; every kept record is weighted up.
  auto sampler = std::make_shared<AdaptiveSampler>(config_with({{1, 0}, {2, 5'000}}));
  Simulation sim(sampler);
  std::vector<Load> loads = {steady(1, 20'000, 91), steady(2, 50'000, 92)};
  sampler->set_load_factor(0.25);
  EXPECT_EQ(sampler->load_factor(), 0.25);
  sim.run(loads, 0, 30, 0.05);
  const SamplerTenantStats s1 = stats_of(sampler->snapshot(), 1);
  const SamplerTenantStats s2 = stats_of(sampler->snapshot(), 2);
  EXPECT_NEAR(s1.probability, 0.25, 1e-9);
  EXPECT_NEAR(s2.probability, 0.025, 0.005);
  for (uint32_t id : {1u, 2u}) {
    const Tally& t = sim.tallies()[id];
    EXPECT_NEAR(t.estimated_packets / t.true_packets, 1.0, 0.05) << "tenant " << id;
  }
  // Back to 1: the probabilities recover (at most x2 per update).
  sampler->set_load_factor(1.0);
  sim.run(loads, 30, 60, 0.05);
  EXPECT_EQ(stats_of(sampler->snapshot(), 1).probability, 1.0);
  EXPECT_NEAR(stats_of(sampler->snapshot(), 2).probability, 0.1, 0.02);
}

}  // namespace
}  // namespace fathom::transform

namespace fathom::transform {
namespace {

// --- across restarts (AdaptiveSampler::export_state / restore_state) -------------------------

TEST(AdaptiveSamplerTest, ARestoredSamplerCarriesOnInsteadOfStartingAtOne) {
  const Config config = config_with({{1, 100}, {2, 0}});
  auto before = std::make_shared<AdaptiveSampler>(config);
  {
    Simulation sim(before);
    std::vector<Load> loads = {steady(1, 1000, 201), steady(2, 1000, 202)};
    sim.run(loads, 0, 10);
  }
  const std::vector<SamplerTenantState> saved = before->export_state();
  ASSERT_EQ(saved.size(), 1u) << "only tenants with a target are controlled";
  EXPECT_EQ(saved[0].tenant_id, 1u);
  EXPECT_NEAR(saved[0].probability, 0.1, 0.02);
  EXPECT_NEAR(saved[0].smoothed_rate, 1000, 100);
  EXPECT_EQ(saved[0].target, 100);

  // The same load on a restarted sampler, with and without the saved state.
  auto restored = std::make_shared<AdaptiveSampler>(config);
  ASSERT_TRUE(restored->restore_state(saved[0]));
  SamplerView view(restored);
  EXPECT_EQ(view.find(1)->probability(), saved[0].probability);
  EXPECT_EQ(stats_of(restored->snapshot(), 1).arrival_rate, saved[0].smoothed_rate);
  auto cold = std::make_shared<AdaptiveSampler>(config);
  Simulation warm_sim(restored);
  Simulation cold_sim(cold);
  std::vector<Load> warm_load = {steady(1, 1000, 203)};
  std::vector<Load> cold_load = {steady(1, 1000, 203)};
  double min_p = 1.0;
  double max_p = 0.0;
  warm_sim.run(warm_load, 0, 4, 0.01, [&](int64_t) {
    min_p = std::min(min_p, view.find(1)->probability());
    max_p = std::max(max_p, view.find(1)->probability());
  });
  cold_sim.run(cold_load, 0, 4);
  // Kept at about the target from the first packet on (4 s x 100/s), where the cold start
  // keeps everything until its surge rule cuts in.
  EXPECT_GT(warm_sim.tallies()[1].kept, 300u);
  EXPECT_LT(warm_sim.tallies()[1].kept, 500u);
  EXPECT_GT(cold_sim.tallies()[1].kept, warm_sim.tallies()[1].kept + 100);
  EXPECT_GT(min_p, 0.05);
  EXPECT_LT(max_p, 0.2);
}

TEST(AdaptiveSamplerTest, RestoreRefusesUnknownTenantsTenantsWithoutTargetAndBadValues) {
  auto sampler = std::make_shared<AdaptiveSampler>(config_with({{1, 100}, {2, 0}}));
  SamplerTenantState state;
  state.tenant_id = 1;
  state.probability = 0.25;
  state.smoothed_rate = 400;
  for (const double bad : {0.0, -0.1, 1.5, std::nan(""), std::numeric_limits<double>::infinity()}) {
    SamplerTenantState s = state;
    s.probability = bad;
    EXPECT_FALSE(sampler->restore_state(s)) << bad;
  }
  for (const double bad : {-1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    SamplerTenantState s = state;
    s.smoothed_rate = bad;
    EXPECT_FALSE(sampler->restore_state(s)) << bad;
    s = state;
    s.kept_rate = bad;
    EXPECT_FALSE(sampler->restore_state(s)) << bad;
  }
  SamplerTenantState unknown = state;
  unknown.tenant_id = 9;
  EXPECT_FALSE(sampler->restore_state(unknown));
  SamplerTenantState no_target = state;
  no_target.tenant_id = 2;
  EXPECT_FALSE(sampler->restore_state(no_target));
  SamplerView view(sampler);
  EXPECT_EQ(view.find(1)->probability(), 1.0);  // nothing above changed anything
  EXPECT_EQ(view.find(2)->probability(), 1.0);
  EXPECT_TRUE(sampler->export_state().empty());

  // A probability under today's minimum is raised to it.
  Sampling s;
  s.min_probability = 0.5;
  auto strict = std::make_shared<AdaptiveSampler>(config_with({{1, 100}}, s));
  ASSERT_TRUE(strict->restore_state(state));
  SamplerView strict_view(strict);
  EXPECT_EQ(strict_view.find(1)->probability(), 0.5);
}

}  // namespace
}  // namespace fathom::transform
