#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "detect/detail/bytes.h"

namespace fathom::detect {

/// How the per-group z-scores become one score.
enum class ScoreCombine : uint8_t {
  kMax = 0,  ///< the largest group z: one clearly broken group is enough (the default)
  kRms = 1,  ///< root mean square of the positive z: several mildly odd groups add up
};

/// Settings of a LossNormaliser (docs/decisions/0009-loss-normalisation.md).
struct NormaliserConfig {
  /// Recent benign losses kept per group (a ring; the oldest is overwritten).
  uint32_t capacity = 2048;
  /// Losses a group needs before it scores; below that its z is 0.
  uint32_t min_values = 64;
  /// Floor of the MAD of log(loss + loss_epsilon): a group whose benign loss barely varies
  /// must still see the loss grow by a factor of exp(threshold · 1.4826 · mad_floor) (×6.4 at
  /// the defaults) before it reaches the threshold.
  double mad_floor = 0.25;
  /// Added to every loss before the log, in squared standardised units: losses below it are
  /// "reconstructed perfectly" and all alike.
  double loss_epsilon = 1e-3;
  ScoreCombine combine = ScoreCombine::kMax;
  friend bool operator==(const NormaliserConfig&, const NormaliserConfig&) = default;
};

/// Per tenant, per feature group: turns reconstruction losses into robust z-scores against
/// the tenant's own recent benign losses, z = (log(loss + ε) − median) / (1.4826 · MAD), so
/// the same z means "as unusual for this tenant" everywhere and one global threshold holds.
/// `add` records benign losses; the median and MAD are recomputed by `refresh` (once per
/// window, not per host); scoring is const and uses the last refresh.
class LossNormaliser {
 public:
  LossNormaliser() : LossNormaliser(1, NormaliserConfig{}) {}
  /// `groups` is clamped to 1..kMaxGroups.
  LossNormaliser(size_t groups, NormaliserConfig config);

  /// Records one benign sample's group losses (groups() values).
  void add(std::span<const float> group_losses);
  /// Recomputes each group's median and MAD from its ring.
  void refresh();
  /// Forgets every loss.
  void clear();
  /// z of each group into `z` (groups() values); 0 for a group with too few losses.
  void normalise(std::span<const float> group_losses, std::span<float> z) const;
  /// The combined score of `z` (from normalise) per config().combine.
  float combine(std::span<const float> z) const;
  /// normalise + combine.
  float score(std::span<const float> group_losses) const;
  /// True when every group has min_values losses.
  bool ready() const;

  size_t groups() const { return rings_.size(); }
  size_t values(size_t group) const { return rings_[group].values.size(); }
  double median(size_t group) const { return rings_[group].median; }
  double mad(size_t group) const { return rings_[group].mad; }
  const NormaliserConfig& config() const { return config_; }

  void write(detail::ByteWriter& out) const;
  /// Reads what write() wrote; false with `error` on a bad config, too many groups or values,
  /// a non-finite value or truncation (then *this is unchanged). Refreshes.
  bool read(detail::ByteReader& in, std::string& error);

  static constexpr uint32_t kMaxGroups = 64;
  static constexpr uint32_t kMaxCapacity = 1u << 20;

 private:
  struct Ring {
    std::vector<float> values;  // log(loss + ε)
    uint32_t next = 0;          // slot to overwrite once full
    double median = 0.0;
    double mad = 0.0;
    double inv_scale = 0.0;  // 1 / (1.4826 · max(MAD, floor)), 0 while too few values
  };
  NormaliserConfig config_;
  std::vector<Ring> rings_;
};

}  // namespace fathom::detect
