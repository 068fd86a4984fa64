#include "estimate/accumulator.h"

#include <algorithm>
#include <cmath>

#include "estimate/intervals.h"

namespace fathom::estimate {

std::string_view to_string(IntervalMethod method) noexcept {
  switch (method) {
    case IntervalMethod::kExact: return "exact";
    case IntervalMethod::kNormal: return "normal";
    case IntervalMethod::kPoisson: return "poisson";
    case IntervalMethod::kGamma: return "gamma";
  }
  return "unknown";
}

Estimate make_estimate(const Accumulator& acc, double zero_unit_weight,
                       const IntervalOptions& options) noexcept {
  const double level = options.level > 0.0 && options.level < 1.0 ? options.level : 0.95;
  const double alpha = 1.0 - level;
  Estimate out;
  out.samples = acc.units;
  out.records = acc.records;

  if (acc.units == 0 || !(acc.sum > 0.0)) {
    // Nothing sampled. Garwood's upper limit for a count of 0, in units of the weight one
    // sampled unit would have carried.
    const double weight = std::max({zero_unit_weight, acc.max_unit_weight, 0.0});
    out.value = std::max(acc.sum, 0.0);
    out.variance = std::max(acc.variance, 0.0);
    out.std_error = std::sqrt(out.variance);
    out.method = IntervalMethod::kPoisson;
    out.ci_low = 0.0;
    out.ci_high = out.value + weight * -std::log(0.5 * alpha);
    return out;
  }

  out.value = acc.sum;
  out.variance = std::max(acc.variance, 0.0);
  out.std_error = std::sqrt(out.variance);
  // The sampled units themselves were seen: the truth is at least the raw sum.
  const double floor = std::max(acc.raw, 0.0);

  if (out.variance == 0.0) {  // every record unsampled (weight 1): no sampling error
    out.method = IntervalMethod::kExact;
    out.ci_low = out.value;
    out.ci_high = out.value;
    return out;
  }

  const double effective = out.value * out.value / out.variance;
  if (effective >= options.min_normal_samples) {
    const double z = normal_quantile(1.0 - 0.5 * alpha);
    out.method = IntervalMethod::kNormal;
    out.ci_low = std::max(out.value - z * out.std_error, floor);
    out.ci_high = out.value + z * out.std_error;
    return out;
  }

  // Few samples. Equal unit weights whose total is w × units and whose variance is not above
  // the Poisson variance w² × units: the units are (thinned) Poisson events of weight w, and
  // Garwood's interval on their count is exact. Otherwise (unequal weights, byte sizes, or
  // records kept or dropped as a whole) the Fay–Feuer gamma interval.
  const double w = acc.max_unit_weight;
  const auto units = static_cast<double>(acc.units);
  const bool equal_weights = acc.min_unit_weight == acc.max_unit_weight &&
                             std::fabs(acc.sum - w * units) <= 1e-9 * acc.sum &&
                             out.variance <= w * w * units * (1.0 + 1e-9);
  if (equal_weights) {
    const Interval counts = garwood_interval(acc.units, level);
    out.method = IntervalMethod::kPoisson;
    out.ci_low = std::max(w * counts.low, floor);
    out.ci_high = w * counts.high;
    return out;
  }
  const Interval gamma = fay_feuer_interval(out.value, out.variance, w, level);
  out.method = IntervalMethod::kGamma;
  out.ci_low = std::max(gamma.low, floor);
  out.ci_high = gamma.high;
  return out;
}

}  // namespace fathom::estimate
