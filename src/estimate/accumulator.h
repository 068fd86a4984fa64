#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>

namespace fathom::estimate {

/// What one record adds to an `Accumulator` (computed by `record_terms`, or by hand in tests).
struct Contribution {
  double raw = 0.0;       ///< the record's value as exported (sampled): packets, bytes, 1
  uint64_t units = 0;     ///< sampled units behind it (sampled packets; 1 for a flow arrival)
  double weighted = 0.0;  ///< Horvitz–Thompson value w · raw
  /// Unbiased estimate of this record's contribution to Var(Σ w·y) under the two-stage
  /// sampling model (docs/estimation.md "Variance").
  double variance = 0.0;
  /// Weight of one sampled unit (w for packets and flows, w × the largest plausible packet
  /// for bytes; w × the record's value when records are kept or dropped whole): the `w_max`
  /// of the Fay–Feuer interval.
  double unit_weight = 0.0;
};

/// A mergeable Horvitz–Thompson accumulator: a plain struct of sums, so windows, hosts or
/// shards combine by adding (`merge` is associative and commutative up to floating-point
/// rounding) and the analysis stage can keep one per anything. 64 bytes, trivially copyable.
struct Accumulator {
  uint64_t records = 0;   ///< records added
  uint64_t units = 0;     ///< sampled units behind them ("samples" of the Estimate)
  double raw = 0.0;       ///< Σ y as exported: a hard lower bound on the true total
  double sum = 0.0;       ///< Σ w·y: the Horvitz–Thompson total
  double sum_sq = 0.0;    ///< Σ (w·y)²: for the analysis stage (with-replacement variance)
  double variance = 0.0;  ///< Σ of the per-record unbiased variance terms
  double min_unit_weight = 0.0;  ///< smallest unit weight added (0 while empty)
  double max_unit_weight = 0.0;  ///< largest unit weight added (0 while empty)

  /// Adds one record's contribution.
  void add(const Contribution& c) noexcept {
    if (records == 0 || c.unit_weight < min_unit_weight) min_unit_weight = c.unit_weight;
    if (c.unit_weight > max_unit_weight) max_unit_weight = c.unit_weight;
    ++records;
    units += c.units;
    raw += c.raw;
    sum += c.weighted;
    sum_sq += c.weighted * c.weighted;
    variance += c.variance;
  }

  /// Adds everything `other` holds (another window, host or shard of the same quantity).
  void merge(const Accumulator& other) noexcept {
    if (other.records == 0) return;
    min_unit_weight =
        records == 0
            ? other.min_unit_weight
            : (other.min_unit_weight < min_unit_weight ? other.min_unit_weight : min_unit_weight);
    if (other.max_unit_weight > max_unit_weight) max_unit_weight = other.max_unit_weight;
    records += other.records;
    units += other.units;
    raw += other.raw;
    sum += other.sum;
    sum_sq += other.sum_sq;
    variance += other.variance;
  }

  bool empty() const noexcept { return records == 0; }
  friend bool operator==(const Accumulator&, const Accumulator&) = default;
};

static_assert(std::is_trivially_copyable_v<Accumulator>);
static_assert(sizeof(Accumulator) == 64);

/// How an Estimate's interval was computed.
enum class IntervalMethod : uint8_t {
  kExact = 0,    ///< no sampling error (unsampled records): the interval is the value itself
  kNormal = 1,   ///< value ± z·SE: many effective samples (>= `min_normal_samples`)
  kPoisson = 2,  ///< Garwood's exact Poisson interval on the sampled units, times their weight
  kGamma = 3,    ///< Fay–Feuer gamma interval for a weighted sum (unequal or clustered weights)
};

/// "exact", "normal", "poisson", "gamma".
std::string_view to_string(IntervalMethod method) noexcept;

/// An estimated total with its uncertainty. Every estimate Fathom reports carries one.
struct Estimate {
  double value = 0.0;      ///< unbiased (Horvitz–Thompson) estimate of the true total
  double variance = 0.0;   ///< unbiased estimate of Var(value)
  double std_error = 0.0;  ///< sqrt(variance)
  double ci_low = 0.0;     ///< lower confidence limit (never below the sampled value itself)
  double ci_high = 0.0;    ///< upper confidence limit
  uint64_t samples = 0;    ///< sampled units seen (packets; SYN records for flow arrivals)
  uint64_t records = 0;    ///< records seen
  IntervalMethod method = IntervalMethod::kExact;
};

/// Settings of `make_estimate`.
struct IntervalOptions {
  double level = 0.95;  ///< confidence level of the interval, in (0, 1)
  /// Below this many *effective* samples (value² / variance, which equals the number of
  /// sampled units when all units carry the same weight) the exact Poisson or gamma interval
  /// replaces the normal one (docs/estimation.md "Intervals").
  double min_normal_samples = 50.0;
};

/// The estimate, variance and interval of `acc`. `zero_unit_weight` is the weight one
/// sampled unit would have had, used only when nothing was seen (`acc.units == 0`): the
/// interval is then [0, −ln(α/2) · weight] (3.689 · weight at 95%), never [0, 0] — not
/// seeing anything under 1-in-N sampling does not mean nothing happened. Pass the sampling
/// rate of the stream (bytes: × a maximum packet size). Never throws.
Estimate make_estimate(const Accumulator& acc, double zero_unit_weight,
                       const IntervalOptions& options = {}) noexcept;

}  // namespace fathom::estimate
