#pragma once

#include <cstdint>

namespace fathom::analyze {

/// Settings of the load shedder.
struct LoadShedConfig {
  /// A slide whose analysis took longer than this fraction of the slide overran.
  double overrun_utilisation = 1.0;
  /// Below this the factor is relaxed again.
  double relax_utilisation = 0.6;
  double relax_step = 1.25;  ///< factor × this per relaxed slide (back up to 1)
  double min_factor = 0.01;  ///< never shed more than this leaves
  /// Utilisation the shedder aims at when it tightens: factor × target / utilisation.
  double target_utilisation = 0.8;
};

/// What the analysis stage does when a micro-batch overruns its slide (DESIGN.md: never skip
/// data silently): it tightens every tenant's adaptive sampling by a load factor, so fewer
/// records reach analysis, each weighted up so estimates stay unbiased, and relaxes it again
/// once the batches fit. A pure function of the utilisation sequence: testable without
/// threads or clocks. The stage applies `factor()` to the sampler after each slide.
class LoadShedder {
 public:
  explicit LoadShedder(const LoadShedConfig& config = {}) : config_(config) {}

  /// One slide's utilisation (running time / slide). Returns the new factor in
  /// [min_factor, 1]: cut to factor × target / utilisation on an overrun, × relax_step when
  /// under the relax mark, unchanged in between. NaN or negative utilisations change nothing.
  double observe(double utilisation) noexcept {
    if (!(utilisation >= 0.0)) return factor_;
    if (utilisation > config_.overrun_utilisation) {
      ++overruns_;
      double next = factor_ * config_.target_utilisation / utilisation;
      if (next < config_.min_factor) next = config_.min_factor;
      if (next < factor_) {
        factor_ = next;
        ++tightened_;
      }
    } else if (utilisation < config_.relax_utilisation && factor_ < 1.0) {
      factor_ *= config_.relax_step;
      if (factor_ > 1.0) factor_ = 1.0;
    }
    return factor_;
  }

  double factor() const noexcept { return factor_; }
  uint64_t overruns() const noexcept { return overruns_; }
  /// Slides after which the factor was lowered.
  uint64_t tightened() const noexcept { return tightened_; }

 private:
  LoadShedConfig config_;
  double factor_ = 1.0;
  uint64_t overruns_ = 0;
  uint64_t tightened_ = 0;
};

}  // namespace fathom::analyze
