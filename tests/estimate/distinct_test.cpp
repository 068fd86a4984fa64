#include "estimate/distinct.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

namespace fathom::estimate {
namespace {

TEST(Distinct, InclusionProbability) {
  // 200 packets at 1/100: seen with probability 1 − 0.99^200.
  EXPECT_NEAR(inclusion_probability(ItemWeight{200, 100}), 1 - std::pow(0.99, 200), 1e-12);
  // One sampled packet at 1/1000 (k̂ = 1000): 1 − (1 − 1/1000)^1000 ≈ 1 − 1/e.
  EXPECT_NEAR(inclusion_probability(ItemWeight{1000, 1000}), 0.63230457, 1e-8);
  // Unsampled data: everything present was seen.
  EXPECT_EQ(inclusion_probability(ItemWeight{3, 1}), 1.0);
  EXPECT_EQ(inclusion_probability(ItemWeight{0, 0}), 1.0);
}

TEST(Distinct, ObservedIsALowerBoundAndTheEstimateIsMarked) {
  DistinctCounter counter;
  counter.add(ItemWeight{100, 100});    // one sampled packet
  counter.add(ItemWeight{100, 100});    // one sampled packet
  counter.add(ItemWeight{50000, 100});  // 500 sampled packets: surely seen
  const DistinctEstimate d = counter.result(false);
  EXPECT_EQ(d.observed, 3u);
  EXPECT_EQ(d.singletons, 2u);
  EXPECT_FALSE(d.capped);
  EXPECT_EQ(d.model, kDistinctModel);
  EXPECT_GE(d.estimate, static_cast<double>(d.observed));
  EXPECT_NEAR(d.estimate, 2.0 / (1 - std::pow(0.99, 100)) + 1.0, 1e-9);
  EXPECT_TRUE(counter.result(true).capped);
  const DistinctEstimate empty = DistinctCounter{}.result(false);
  EXPECT_EQ(empty.observed, 0u);
  EXPECT_EQ(empty.estimate, 0.0);
}

// Where the model's assumption holds (independent packet sampling, items large enough that
// k̂ is close to k), Σ 1/π̂ is close to unbiased; for one-packet items it undercounts badly,
// as documented: it cannot see items that were never sampled.
TEST(Distinct, ModelUnderItsAssumptionsAndBeyond) {
  const double n = 100;
  auto run = [&](uint64_t packets_per_item, int items, uint64_t seed) {
    std::mt19937_64 rng(seed);
    double total_estimate = 0;
    double total_observed = 0;
    const int trials = 200;
    for (int trial = 0; trial < trials; ++trial) {
      DistinctCounter counter;
      std::binomial_distribution<uint64_t> thin(packets_per_item, 1 / n);
      for (int item = 0; item < items; ++item) {
        const uint64_t c = thin(rng);
        if (c > 0) counter.add(ItemWeight{n * static_cast<double>(c), n});
      }
      const DistinctEstimate d = counter.result(false);
      total_estimate += d.estimate;
      total_observed += static_cast<double>(d.observed);
    }
    return std::pair{total_observed / trials / items, total_estimate / trials / items};
  };
  // 500-packet items: almost all seen, the estimate within a few percent of the truth (a
  // little above it: the rare item seen in one packet gets k̂ = 100 and 1/π̂ = 1.58).
  const auto [seen_big, est_big] = run(500, 100, 1);
  EXPECT_GT(seen_big, 0.98);
  EXPECT_NEAR(est_big, 1.0, 0.06);
  // 150-packet items: ~78% seen; the estimate recovers most of the rest.
  const auto [seen_mid, est_mid] = run(150, 200, 2);
  EXPECT_NEAR(seen_mid, 1 - std::pow(0.99, 150), 0.02);
  EXPECT_GT(est_mid, seen_mid + 0.1);
  EXPECT_NEAR(est_mid, 1.0, 0.1);
  // One-packet items (a scan): 1% seen and the estimate only 1.6× that.
  const auto [seen_one, est_one] = run(1, 2000, 3);
  EXPECT_LT(seen_one, 0.02);
  EXPECT_LT(est_one, 0.05);
}

}  // namespace
}  // namespace fathom::estimate
