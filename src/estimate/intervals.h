#pragma once

#include <cstdint>

namespace fathom::estimate {

/// Special functions and Poisson-type confidence intervals used by the estimators
/// (docs/estimation.md "Intervals"). Written here rather than taken from a library so the
/// estimate part depends on nothing but `flow`, and so every function is thread-safe
/// (`std::lgamma` writes the global `signgam` in glibc).
///
/// Accuracy (tests/estimate/intervals_test.cpp): `regularized_gamma_p/q` to about 1e-14
/// absolute; quantiles invert P to about 1e-11 relative for shapes from 1e-3 to 1e3, 1e-9 at
/// 5e4 and 1e-8 at 2e6 (the prefactor e^{a ln x − x − ln Γ(a)} cancels large terms). The
/// intervals use shapes below ~100.

/// ln Γ(x) for x > 0 (Lanczos, g = 7). Returns +inf for x <= 0 or NaN.
double log_gamma(double x) noexcept;

/// Regularized lower incomplete gamma P(a, x) = γ(a, x) / Γ(a), for a > 0, x >= 0.
/// Returns 0 for x <= 0 and NaN for a <= 0 or NaN arguments.
double regularized_gamma_p(double a, double x) noexcept;

/// Regularized upper incomplete gamma Q(a, x) = 1 − P(a, x), computed directly (no
/// cancellation in the upper tail). Same domain as `regularized_gamma_p`.
double regularized_gamma_q(double a, double x) noexcept;

/// The x with P(shape, x) = p: the p-quantile of a Gamma(shape, scale 1) distribution.
/// Returns 0 for p <= 0, +inf for p >= 1, NaN for shape <= 0 or NaN arguments.
double gamma_quantile(double p, double shape) noexcept;

/// The p-quantile of a chi-square distribution with `dof` (> 0, need not be an integer)
/// degrees of freedom: 2 · gamma_quantile(p, dof / 2).
double chi2_quantile(double p, double dof) noexcept;

/// The p-quantile of the standard normal distribution (Acklam's rational approximation and
/// one Halley step on erfc). Returns ∓inf for p <= 0 / p >= 1, NaN for NaN.
double normal_quantile(double p) noexcept;

/// A two-sided interval [low, high].
struct Interval {
  double low = 0.0;
  double high = 0.0;
};

/// Garwood's exact interval for the mean of a Poisson variable observed as `count`, at
/// confidence `level` (0.95): [χ²_{α/2}(2k)/2, χ²_{1−α/2}(2k+2)/2], low = 0 for k = 0.
/// Coverage is at least `level` for every mean. 0 → [0, 3.689], 1 → [0.0253, 5.572] at 95%.
Interval garwood_interval(uint64_t count, double level = 0.95) noexcept;

/// Fay and Feuer's (1997) gamma interval for a weighted sum of independent Poisson variables
/// Y = Σ w_i X_i, given the estimate `y`, its variance estimate `v` (Σ w_i² X_i for a pure
/// Poisson sum) and the largest weight `w_max` of a unit. At level 0.95:
///   low  = v / (2y) · χ²_{α/2}(2y²/v)
///   high = (v + w²) / (2(y + w)) · χ²_{1−α/2}(2(y + w)² / (v + w²)),  w = w_max.
/// Equals Garwood's interval scaled by w when all weights are w. y = 0 gives
/// [0, w · χ²_{1−α/2}(2)/2]; v = 0 with y > 0 gives low = y. Negative or NaN inputs are
/// treated as 0.
Interval fay_feuer_interval(double y, double v, double w_max, double level = 0.95) noexcept;

}  // namespace fathom::estimate
