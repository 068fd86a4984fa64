#include "estimate/distinct.h"

#include <cmath>

namespace fathom::estimate {

double inclusion_probability(const ItemWeight& item) noexcept {
  const double w = item.max_weight;
  if (!(w > 1.0) || !(item.packets > 0.0)) return 1.0;
  // 1 − (1 − 1/w)^k = −expm1(k · log1p(−1/w)), accurate for large w and small k/w.
  const double pi = -std::expm1(item.packets * std::log1p(-1.0 / w));
  return pi > 0.0 ? pi : 1.0;
}

void DistinctCounter::add(const ItemWeight& item) noexcept {
  ++observed_;
  estimate_ += 1.0 / inclusion_probability(item);
  // One sampled packet carries weight w; allow for rounding in the sum.
  if (item.packets <= item.max_weight * (1.0 + 1e-9)) ++singletons_;
}

DistinctEstimate DistinctCounter::result(bool capped) const noexcept {
  DistinctEstimate out;
  out.observed = observed_;
  out.estimate = estimate_;
  out.singletons = singletons_;
  out.capped = capped;
  return out;
}

}  // namespace fathom::estimate
