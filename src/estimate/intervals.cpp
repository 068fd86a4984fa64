#include "estimate/intervals.h"

#include <cmath>
#include <limits>
#include <numbers>

namespace fathom::estimate {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = 1e-16;
constexpr double kTiny = 1e-300;  // Lentz's guard against a zero denominator

// e^{a ln x − x − ln Γ(a)}: the common prefactor of the series and the continued fraction.
double gamma_prefactor(double a, double x) noexcept {
  return std::exp(a * std::log(x) - x - log_gamma(a));
}

// P(a, x) by its power series, for x < a + 1 (Numerical Recipes §6.2, gser). The terms
// shrink like x / (a + n), so about sqrt(a) · 40 terms suffice even for large a.
double gamma_series(double a, double x) noexcept {
  double ap = a;
  double term = 1.0 / a;
  double sum = term;
  for (int n = 0; n < 1'000'000; ++n) {
    ap += 1.0;
    term *= x / ap;
    sum += term;
    if (std::fabs(term) < std::fabs(sum) * kEps) break;
  }
  return sum * gamma_prefactor(a, x);
}

// Q(a, x) by its continued fraction, for x >= a + 1 (modified Lentz; NR §6.2, gcf).
double gamma_continued_fraction(double a, double x) noexcept {
  double b = x + 1.0 - a;
  double c = 1.0 / kTiny;
  double d = 1.0 / b;
  double h = d;
  for (int i = 1; i < 1'000'000; ++i) {
    const double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1.0) < kEps) break;
  }
  return gamma_prefactor(a, x) * h;
}

}  // namespace

double log_gamma(double x) noexcept {
  if (!(x > 0.0)) return kInf;
  if (x < 0.5) {
    // Reflection: Γ(x) Γ(1 − x) = π / sin(πx); keeps the Lanczos sum in its accurate range.
    return std::log(std::numbers::pi / std::sin(std::numbers::pi * x)) - log_gamma(1.0 - x);
  }
  // Lanczos approximation, g = 7, n = 9 (relative error below 1e-15 for x >= 0.5).
  static constexpr double kCoef[9] = {
      0.99999999999980993,  676.5203681218851,     -1259.1392167224028,
      771.32342877765313,   -176.61502916214059,   12.507343278686905,
      -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  };
  const double z = x - 1.0;
  double sum = kCoef[0];
  for (int coef_idx = 1; coef_idx < 9; ++coef_idx) sum += kCoef[coef_idx] / (z + coef_idx);
  const double t = z + 7.5;
  return 0.5 * std::log(2.0 * std::numbers::pi) + (z + 0.5) * std::log(t) - t + std::log(sum);
}

double regularized_gamma_p(double a, double x) noexcept {
  if (std::isnan(a) || std::isnan(x) || a <= 0.0) return kNaN;
  if (x <= 0.0) return 0.0;
  if (x == kInf) return 1.0;
  if (x < a + 1.0) return gamma_series(a, x);
  return 1.0 - gamma_continued_fraction(a, x);
}

double regularized_gamma_q(double a, double x) noexcept {
  if (std::isnan(a) || std::isnan(x) || a <= 0.0) return kNaN;
  if (x <= 0.0) return 1.0;
  if (x == kInf) return 0.0;
  if (x < a + 1.0) return 1.0 - gamma_series(a, x);
  return gamma_continued_fraction(a, x);
}

double gamma_quantile(double p, double shape) noexcept {
  if (std::isnan(p) || std::isnan(shape) || shape <= 0.0) return kNaN;
  if (p <= 0.0) return 0.0;
  if (p >= 1.0) return kInf;
  const double a = shape;
  const double gln = log_gamma(a);

  // Starting point (NR §6.2.1, invgammp): Wilson–Hilferty for a > 1, otherwise the small-x
  // power law P ≈ x^a / Γ(a + 1) below t and an exponential tail above it.
  double x = 0.0;
  if (a > 1.0) {
    const double z = normal_quantile(p);
    const double t = 1.0 / (9.0 * a);
    const double cube = 1.0 - t + z * std::sqrt(t);
    x = a * cube * cube * cube;
    if (x <= 0.0) x = std::exp((std::log(p) + log_gamma(a + 1.0)) / a);
  } else {
    const double t = 1.0 - a * (0.253 + a * 0.12);
    x = p < t ? std::pow(p / t, 1.0 / a) : 1.0 - std::log(1.0 - (p - t) / (1.0 - t));
  }
  if (!(x > 0.0)) return 0.0;  // below the smallest double: the quantile underflows

  // Halley iteration on f(x) = P(a, x) − p, kept inside a bracket [lo, hi] that every
  // evaluation tightens, with bisection (or doubling while hi is unknown) whenever a step
  // would leave it. f is evaluated through Q in the upper half so 1 − p keeps its precision.
  double lo = 0.0;
  double hi = kInf;
  const bool upper = p > 0.5;
  for (int iter = 0; iter < 200; ++iter) {
    const double f = upper ? (1.0 - p) - regularized_gamma_q(a, x) : regularized_gamma_p(a, x) - p;
    if (f == 0.0) return x;
    if (f < 0.0) {
      lo = x;
    } else {
      hi = x;
    }
    const double density = std::exp((a - 1.0) * std::log(x) - x - gln);
    double next = kNaN;
    if (density > 0.0 && std::isfinite(density)) {
      const double newton = f / density;
      const double curvature = (a - 1.0) / x - 1.0;  // f''/f'
      const double denom = 1.0 - 0.5 * newton * curvature;
      next = x - (denom > 0.1 ? newton / denom : newton);
    }
    if (!(next > lo && next < hi)) {
      next = std::isfinite(hi) ? 0.5 * (lo + hi) : 2.0 * x;
    }
    if (std::fabs(next - x) <= 1e-15 * next) return next;
    x = next;
  }
  return x;
}

double chi2_quantile(double p, double dof) noexcept {
  return 2.0 * gamma_quantile(p, 0.5 * dof);
}

double normal_quantile(double p) noexcept {
  if (std::isnan(p)) return kNaN;
  if (p <= 0.0) return -kInf;
  if (p >= 1.0) return kInf;
  // P. J. Acklam's rational approximation (relative error 1.15e-9) ...
  static constexpr double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                  -2.759285104469687e+02, 1.383577518672690e+02,
                                  -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                  -1.556989798598866e+02, 6.680131188771972e+01,
                                  -1.328068155288572e+01};
  static constexpr double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                  -2.400758277161838e+00, -2.549732539343734e+00,
                                  4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[4] = {7.784695709041462e-03, 3.224671290700398e-01,
                                  2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double kLow = 0.02425;
  double x = 0.0;
  if (p < kLow) {
    const double q = std::sqrt(-2.0 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  } else if (p <= 1.0 - kLow) {
    const double q = p - 0.5;
    const double r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
  } else {
    const double q = std::sqrt(-2.0 * std::log1p(-p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  }
  // ... refined by one Halley step on the exact CDF, which brings it to full double precision.
  const double e = 0.5 * std::erfc(-x / std::numbers::sqrt2) - p;
  const double u = e * std::sqrt(2.0 * std::numbers::pi) * std::exp(0.5 * x * x);
  return x - u / (1.0 + 0.5 * x * u);
}

Interval garwood_interval(uint64_t count, double level) noexcept {
  const double alpha = 1.0 - level;
  const auto k = static_cast<double>(count);
  Interval out;
  out.low = count == 0 ? 0.0 : gamma_quantile(0.5 * alpha, k);
  out.high = gamma_quantile(1.0 - 0.5 * alpha, k + 1.0);
  return out;
}

Interval fay_feuer_interval(double y, double v, double w_max, double level) noexcept {
  const double alpha = 1.0 - level;
  y = y > 0.0 ? y : 0.0;  // also maps NaN to 0
  v = v > 0.0 ? v : 0.0;
  const double w = w_max > 0.0 ? w_max : 0.0;
  Interval out;
  // χ²_p(2s)/2 is the Gamma(s) quantile, so v/(2y) · χ²(2y²/v) = v/y · G_p(y²/v).
  if (y == 0.0) {
    out.low = 0.0;
  } else if (v == 0.0) {
    out.low = y;
  } else {
    out.low = v / y * gamma_quantile(0.5 * alpha, y * y / v);
  }
  const double v_up = v + w * w;
  const double y_up = y + w;
  if (v_up == 0.0) {
    out.high = y;
  } else {
    out.high = v_up / y_up * gamma_quantile(1.0 - 0.5 * alpha, y_up * y_up / v_up);
  }
  return out;
}

}  // namespace fathom::estimate
