#pragma once

#include <cstdint>
#include <string_view>

namespace fathom::estimate {

/// What the estimator knows about one distinct item (an external peer, an internal host, a
/// service port) in a window: enough to guess how likely it was to be seen at all. Mergeable.
struct ItemWeight {
  double packets = 0.0;     ///< Horvitz–Thompson estimate of its true packets, Σ w·c
  double max_weight = 0.0;  ///< largest per-packet weight (sampling_rate) of its records

  void add(double weighted_packets, double weight) noexcept {
    packets += weighted_packets;
    if (weight > max_weight) max_weight = weight;
  }
  void merge(const ItemWeight& other) noexcept { add(other.packets, other.max_weight); }
};

/// Name of the model behind `DistinctEstimate::estimate`.
inline constexpr std::string_view kDistinctModel = "packet_sampling_inclusion";

/// A distinct count under sampling. Two numbers, clearly apart:
/// - `observed` is a fact: at least this many distinct items existed (a lower bound);
/// - `estimate` is MODEL-BASED (`model`): Σ over observed items of 1/π̂, where
///   π̂ = 1 − (1 − 1/w)^k̂ is the chance that an item with k̂ packets shows up at all under
///   independent 1-in-w packet sampling. It corrects for observed items being seen by luck
///   but cannot know of items never seen, so it still undercounts when many items are small
///   (scans, one-packet probes): read it together with `singletons`. docs/estimation.md
///   "Distinct counts".
struct DistinctEstimate {
  uint64_t observed = 0;
  double estimate = 0.0;
  /// Items seen in a single sampled packet. Many singletons mean many more items were likely
  /// never seen at all.
  uint64_t singletons = 0;
  /// The memory cap was reached: more items than `observed` were seen but not kept (still a
  /// lower bound; the estimate covers the kept items only).
  bool capped = false;
  std::string_view model = kDistinctModel;
};

/// π̂ for one item: 1 − (1 − 1/w)^k̂, w = `item.max_weight`; 1 when w <= 1 (unsampled).
double inclusion_probability(const ItemWeight& item) noexcept;

/// Builds a DistinctEstimate item by item.
class DistinctCounter {
 public:
  /// Adds one observed item.
  void add(const ItemWeight& item) noexcept;
  /// The estimate so far; `capped` as the caller knows it.
  DistinctEstimate result(bool capped) const noexcept;

 private:
  uint64_t observed_ = 0;
  uint64_t singletons_ = 0;
  double estimate_ = 0.0;
};

}  // namespace fathom::estimate
