#include "estimate/intervals.h"

#include <cmath>
#include <limits>
#include <numbers>

#include <gtest/gtest.h>

namespace fathom::estimate {
namespace {

// Reference values to 12+ digits from mpmath (30-digit arithmetic) and the usual tables.

TEST(LogGamma, KnownValues) {
  EXPECT_NEAR(log_gamma(1.0), 0.0, 1e-15);
  EXPECT_NEAR(log_gamma(2.0), 0.0, 1e-15);
  EXPECT_NEAR(log_gamma(0.5), 0.5 * std::log(std::numbers::pi), 1e-14);
  EXPECT_NEAR(log_gamma(10.0), std::log(362880.0), 1e-13);
  EXPECT_NEAR(log_gamma(100.0), 359.134205369575398776, 1e-11);
  EXPECT_NEAR(log_gamma(0.1), 2.25271265173420595200, 1e-13);
  EXPECT_TRUE(std::isinf(log_gamma(0.0)));
  EXPECT_TRUE(std::isinf(log_gamma(-1.0)));
}

TEST(IncompleteGamma, ClosedForms) {
  for (double x : {1e-8, 0.01, 0.5, 1.0, 2.0, 7.5, 30.0, 200.0}) {
    // P(1, x) = 1 − e^{−x}; P(1/2, x) = erf(√x); P(2, x) = 1 − e^{−x}(1 + x).
    EXPECT_NEAR(regularized_gamma_p(1.0, x), -std::expm1(-x), 1e-14) << x;
    EXPECT_NEAR(regularized_gamma_p(0.5, x), std::erf(std::sqrt(x)), 1e-14) << x;
    EXPECT_NEAR(regularized_gamma_q(2.0, x), std::exp(-x) * (1.0 + x), 1e-14) << x;
    for (double a : {0.01, 0.3, 1.0, 4.5, 50.0, 1000.0}) {
      EXPECT_NEAR(regularized_gamma_p(a, x) + regularized_gamma_q(a, x), 1.0, 1e-13)
          << a << " " << x;
    }
  }
  EXPECT_NEAR(regularized_gamma_p(3.5, 2.0), 0.220222591524284079071761600081, 1e-14);
  // Upper tail far from the mean, where 1 − P would lose the digits.
  EXPECT_NEAR(regularized_gamma_q(50.0, 80.0) / 1.30783976591410336559377031787e-4, 1.0, 1e-12);
}

TEST(IncompleteGamma, BadInput) {
  EXPECT_TRUE(std::isnan(regularized_gamma_p(0.0, 1.0)));
  EXPECT_TRUE(std::isnan(regularized_gamma_p(-1.0, 1.0)));
  EXPECT_TRUE(std::isnan(regularized_gamma_q(std::nan(""), 1.0)));
  EXPECT_EQ(regularized_gamma_p(2.0, -1.0), 0.0);
  EXPECT_EQ(regularized_gamma_q(2.0, 0.0), 1.0);
  EXPECT_EQ(regularized_gamma_p(2.0, std::numeric_limits<double>::infinity()), 1.0);
}

TEST(Quantiles, ChiSquareTables) {
  // The values the issue names, to their printed digits and to mpmath's.
  EXPECT_NEAR(chi2_quantile(0.975, 1), 5.0239, 5e-5);
  EXPECT_NEAR(chi2_quantile(0.025, 10), 3.2470, 5e-5);
  EXPECT_NEAR(chi2_quantile(0.975, 100), 129.561, 5e-4);
  EXPECT_NEAR(chi2_quantile(0.975, 1), 5.02388618731488741811, 1e-11);
  EXPECT_NEAR(chi2_quantile(0.025, 10), 3.24697278023684112478, 1e-11);
  EXPECT_NEAR(chi2_quantile(0.975, 100), 129.561197185836586328, 1e-9);
  // Closed forms: 2 dof is exponential, 1 dof the square of a normal.
  for (double p : {1e-9, 0.01, 0.3, 0.5, 0.9, 0.999999}) {
    EXPECT_NEAR(chi2_quantile(p, 2) / (-2.0 * std::log1p(-p)), 1.0, 1e-12) << p;
    if (p < 1e-3) continue;  // 0.5 + p/2 itself would lose the digits of the reference
    const double z = normal_quantile(0.5 + 0.5 * p);
    EXPECT_NEAR(chi2_quantile(p, 1) / (z * z), 1.0, 1e-10) << p;
  }
}

TEST(Quantiles, RoundTripOverShapes) {
  // The quantile inverts P to ~1e-11 over the shapes the intervals use (below ~100) and
  // beyond; for larger shapes the e^{a ln x − x − ln Γ(a)} prefactor loses digits to
  // cancellation (1e-9 at 5e4, 1e-8 at 2e6).
  for (double a : {0.002, 0.05, 0.5, 1.0, 3.3, 17.0, 51.5, 400.0, 5e4, 2e6}) {
    for (double p : {1e-6, 0.025, 0.2, 0.5, 0.8, 0.975, 1 - 1e-6}) {
      const double x = gamma_quantile(p, a);
      ASSERT_TRUE(std::isfinite(x)) << a << " " << p;
      if (x == 0.0) {
        // Only when the quantile is below the smallest double (tiny shape, small p).
        EXPECT_LT(a, 0.01) << p;
        continue;
      }
      const double back = p < 0.5 ? regularized_gamma_p(a, x) : regularized_gamma_q(a, x);
      const double want = p < 0.5 ? p : 1.0 - p;
      EXPECT_NEAR(back / want, 1.0, a > 1e5 ? 1e-8 : (a > 1e3 ? 1e-9 : 1e-11))
          << "shape " << a << " p " << p;
    }
  }
}

TEST(Quantiles, EdgeCases) {
  EXPECT_EQ(gamma_quantile(0.0, 2.0), 0.0);
  EXPECT_TRUE(std::isinf(gamma_quantile(1.0, 2.0)));
  EXPECT_TRUE(std::isnan(gamma_quantile(0.5, 0.0)));
  EXPECT_TRUE(std::isnan(gamma_quantile(std::nan(""), 2.0)));
}

TEST(Quantiles, Normal) {
  EXPECT_NEAR(normal_quantile(0.975), 1.959963984540054, 1e-14);
  EXPECT_NEAR(normal_quantile(0.5), 0.0, 1e-15);
  EXPECT_NEAR(normal_quantile(1e-10), -6.361340902404056, 1e-12);
  EXPECT_NEAR(normal_quantile(0.3), -normal_quantile(0.7), 1e-15);
  EXPECT_TRUE(std::isinf(normal_quantile(0.0)));
  EXPECT_TRUE(std::isinf(normal_quantile(1.0)));
}

TEST(Garwood, ZeroAndOneObservations) {
  const Interval zero = garwood_interval(0);
  EXPECT_EQ(zero.low, 0.0);
  EXPECT_NEAR(zero.high, 3.689, 5e-4);
  EXPECT_NEAR(zero.high, 3.68887945411393541467, 1e-12);  // −ln 0.025
  const Interval one = garwood_interval(1);
  EXPECT_NEAR(one.low, 0.0253, 5e-5);
  EXPECT_NEAR(one.high, 5.572, 5e-4);
  EXPECT_NEAR(one.low, 0.0253178079842898768271, 1e-13);
  EXPECT_NEAR(one.high, 5.57164339093889754964, 1e-11);
  const Interval ten = garwood_interval(10);
  EXPECT_NEAR(ten.low, 4.79538869613243368111, 1e-11);
  EXPECT_NEAR(ten.high, 18.3903560420177769538, 1e-10);
  // Another level: 90% for 0 observations is −ln 0.05.
  EXPECT_NEAR(garwood_interval(0, 0.90).high, -std::log(0.05), 1e-12);
}

TEST(FayFeuer, EqualWeightsIsGarwoodScaled) {
  for (uint64_t k : {0u, 1u, 2u, 7u, 40u}) {
    const double w = 100.0;
    const Interval g = garwood_interval(k);
    const Interval ff = fay_feuer_interval(w * k, w * w * k, w);
    EXPECT_NEAR(ff.low, w * g.low, 1e-9 * w * (k + 1)) << k;
    EXPECT_NEAR(ff.high, w * g.high, 1e-9 * w * (k + 1)) << k;
  }
}

TEST(FayFeuer, ZeroObservationIsNotDegenerate) {
  const Interval iv = fay_feuer_interval(0.0, 0.0, 1000.0);
  EXPECT_EQ(iv.low, 0.0);
  EXPECT_NEAR(iv.high, 3688.87945411393541, 1e-8);
}

TEST(FayFeuer, UnequalWeightsWidenWithTheLargestWeight) {
  // Ten units of weight 10 and one of weight 1000: the larger w_max, the higher the limit.
  const double y = 10 * 10 + 1000;
  const double v = 10 * 100 + 1e6;
  const Interval small = fay_feuer_interval(y, v, 10.0);
  const Interval large = fay_feuer_interval(y, v, 1000.0);
  EXPECT_LT(small.low, y);
  EXPECT_GT(small.high, y);
  EXPECT_GT(large.high, small.high);
  EXPECT_EQ(large.low, small.low);  // w_max only moves the upper limit
  // v = 0 with y > 0: nothing sampled, so the lower limit is the value.
  EXPECT_EQ(fay_feuer_interval(5.0, 0.0, 1.0).low, 5.0);
  // Garbage in: treated as zeros, never NaN.
  const Interval junk = fay_feuer_interval(std::nan(""), -1.0, std::nan(""));
  EXPECT_EQ(junk.low, 0.0);
  EXPECT_EQ(junk.high, 0.0);
}

}  // namespace
}  // namespace fathom::estimate
