#include "estimate/accumulator.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "estimate/intervals.h"

namespace fathom::estimate {
namespace {

Contribution packets(double c, double w, double n, double p) {
  // The packet terms of record_model.h, written out: w(N−1)c + (1−p)(wc)².
  return Contribution{c, static_cast<uint64_t>(c), w * c, w * (n - 1) * c + (1 - p) * w * c * w * c,
                      w};
}

TEST(Accumulator, AddsByHand) {
  Accumulator acc;
  EXPECT_TRUE(acc.empty());
  acc.add(packets(3, 100, 100, 1));  // 3 sampled packets at 1/100
  EXPECT_EQ(acc.records, 1u);
  EXPECT_EQ(acc.units, 3u);
  EXPECT_EQ(acc.raw, 3.0);
  EXPECT_EQ(acc.sum, 300.0);
  EXPECT_EQ(acc.sum_sq, 90000.0);
  EXPECT_EQ(acc.variance, 100.0 * 99.0 * 3.0);
  // N = 10, p = 0.5 (w = 20), 2 packets: 20·9·2 + 0.5·40² = 360 + 800.
  acc.add(packets(2, 20, 10, 0.5));
  EXPECT_EQ(acc.records, 2u);
  EXPECT_EQ(acc.units, 5u);
  EXPECT_EQ(acc.sum, 340.0);
  EXPECT_EQ(acc.sum_sq, 90000.0 + 1600.0);
  EXPECT_EQ(acc.variance, 29700.0 + 1160.0);
  EXPECT_EQ(acc.min_unit_weight, 20.0);
  EXPECT_EQ(acc.max_unit_weight, 100.0);
}

TEST(Accumulator, MergeIsAddingInAnyGrouping) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> c_dist(1, 50);
  std::uniform_real_distribution<double> w_dist(1, 5000);
  std::vector<Contribution> parts;
  for (int part_idx = 0; part_idx < 90; ++part_idx) {
    const double w = w_dist(rng);
    parts.push_back(packets(std::floor(c_dist(rng)), w, w * 0.5 + 0.5, 0.5 + 0.5 / w));
  }
  Accumulator a, b, c, all;
  for (size_t part_idx = 0; part_idx < parts.size(); ++part_idx) {
    all.add(parts[part_idx]);
    (part_idx < 30 ? a : part_idx < 60 ? b : c).add(parts[part_idx]);
  }
  Accumulator left = a;  // (a + b) + c
  left.merge(b);
  left.merge(c);
  Accumulator right = b;  // a + (b + c), built the other way round
  right.merge(c);
  Accumulator right_full = a;
  right_full.merge(right);
  Accumulator swapped = c;  // c + b + a
  swapped.merge(b);
  swapped.merge(a);
  for (const Accumulator* m : {&left, &right_full, &swapped}) {
    EXPECT_EQ(m->records, all.records);
    EXPECT_EQ(m->units, all.units);
    EXPECT_EQ(m->min_unit_weight, all.min_unit_weight);
    EXPECT_EQ(m->max_unit_weight, all.max_unit_weight);
    EXPECT_NEAR(m->sum / all.sum, 1.0, 1e-13);
    EXPECT_NEAR(m->sum_sq / all.sum_sq, 1.0, 1e-13);
    EXPECT_NEAR(m->variance / all.variance, 1.0, 1e-13);
    EXPECT_NEAR(m->raw / all.raw, 1.0, 1e-13);
  }
  // Empty on either side is the identity.
  Accumulator e;
  e.merge(a);
  EXPECT_EQ(e, a);
  Accumulator a2 = a;
  a2.merge(Accumulator{});
  EXPECT_EQ(a2, a);
}

TEST(MakeEstimate, NothingSeenStillHasAnUpperLimit) {
  const Estimate e = make_estimate(Accumulator{}, 1000.0);
  EXPECT_EQ(e.value, 0.0);
  EXPECT_EQ(e.ci_low, 0.0);
  EXPECT_NEAR(e.ci_high, 3688.879, 1e-3);  // Garwood's 3.689 sampled packets × 1000
  EXPECT_EQ(e.method, IntervalMethod::kPoisson);
  EXPECT_EQ(e.samples, 0u);
  EXPECT_EQ(to_string(e.method), "poisson");
}

TEST(MakeEstimate, UnsampledIsExact) {
  Accumulator acc;
  acc.add(packets(42, 1, 1, 1));
  const Estimate e = make_estimate(acc, 1.0);
  EXPECT_EQ(e.method, IntervalMethod::kExact);
  EXPECT_EQ(e.value, 42.0);
  EXPECT_EQ(e.ci_low, 42.0);
  EXPECT_EQ(e.ci_high, 42.0);
  EXPECT_EQ(e.std_error, 0.0);
}

TEST(MakeEstimate, FewEqualWeightUnitsUseGarwood) {
  Accumulator acc;
  acc.add(packets(1, 1000, 1000, 1));
  const Estimate one = make_estimate(acc, 1000.0);
  EXPECT_EQ(one.method, IntervalMethod::kPoisson);
  EXPECT_EQ(one.value, 1000.0);
  // Garwood for 1 observation is [0.0253, 5.572]; the lower limit never goes below the one
  // packet that was actually seen.
  EXPECT_NEAR(one.ci_low, 25.3178, 1e-3);
  EXPECT_NEAR(one.ci_high, 5571.643, 1e-3);
  acc.add(packets(4, 1000, 1000, 1));
  const Estimate five = make_estimate(acc, 1000.0);
  const Interval g = garwood_interval(5);
  EXPECT_EQ(five.samples, 5u);
  EXPECT_NEAR(five.ci_low, 1000 * g.low, 1e-9);
  EXPECT_NEAR(five.ci_high, 1000 * g.high, 1e-9);
}

TEST(MakeEstimate, UnequalOrClusteredWeightsUseGamma) {
  Accumulator acc;
  acc.add(packets(3, 100, 100, 1));
  acc.add(packets(2, 1000, 1000, 1));
  const Estimate e = make_estimate(acc, 1000.0);
  EXPECT_EQ(e.method, IntervalMethod::kGamma);
  const Interval ff = fay_feuer_interval(e.value, e.variance, 1000.0);
  EXPECT_EQ(e.ci_high, ff.high);
  EXPECT_EQ(e.ci_low, std::max(ff.low, 5.0));
  // One record of 8 packets kept with p = 0.1: all-or-nothing, more variable than Poisson.
  Accumulator clustered;
  clustered.add(packets(8, 1000, 100, 0.1));
  EXPECT_EQ(make_estimate(clustered, 1000.0).method, IntervalMethod::kGamma);
}

TEST(MakeEstimate, ManySamplesUseTheNormalInterval) {
  Accumulator acc;
  for (int rec_idx = 0; rec_idx < 40; ++rec_idx) acc.add(packets(5, 100, 100, 1));
  const Estimate e = make_estimate(acc, 100.0);
  EXPECT_EQ(e.method, IntervalMethod::kNormal);
  EXPECT_EQ(e.value, 20000.0);
  EXPECT_EQ(e.variance, 100.0 * 99.0 * 200.0);
  EXPECT_NEAR(e.std_error, std::sqrt(1980000.0), 1e-9);
  EXPECT_NEAR(e.ci_low, 20000.0 - 1.959963984540054 * e.std_error, 1e-6);
  EXPECT_NEAR(e.ci_high, 20000.0 + 1.959963984540054 * e.std_error, 1e-6);
  EXPECT_EQ(e.samples, 200u);
  EXPECT_EQ(e.records, 40u);
  // A different level.
  IntervalOptions ninety;
  ninety.level = 0.90;
  EXPECT_NEAR(make_estimate(acc, 100.0, ninety).ci_high, 20000.0 + 1.6448536269514722 * e.std_error,
              1e-6);
}

TEST(MakeEstimate, LowerLimitNeverBelowWhatWasSeen) {
  // A wide normal interval would reach below zero; the sampled packets themselves are real.
  Accumulator acc;
  acc.add(packets(60, 1, 1, 1));
  acc.add(packets(1, 5000, 5000, 1));
  IntervalOptions opts;
  opts.min_normal_samples = 0;  // force the normal interval
  const Estimate e = make_estimate(acc, 5000.0, opts);
  EXPECT_EQ(e.method, IntervalMethod::kNormal);
  EXPECT_EQ(e.ci_low, 61.0);
}

}  // namespace
}  // namespace fathom::estimate
