#include "analyze/autoscaler.h"

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

namespace fathom::analyze {
namespace {

// Simulated clock: every test passes times by hand, nothing sleeps or reads a real clock.
constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kSlide = 2 * kSecond;  // one batch every 2 s

// Feeds one batch of `utilisation` every slide in [from, to] and evaluates after each;
// returns the times at which the policy changed something.
struct Change {
  int64_t time_ns;
  ScaleDecision decision;
  uint32_t workers;
};
std::vector<Change> run(Autoscaler& scaler, int64_t from_ns, int64_t to_ns, double utilisation) {
  std::vector<Change> changes;
  for (int64_t t = from_ns; t <= to_ns; t += kSlide) {
    scaler.record(t, utilisation);
    const ScaleDecision d = scaler.evaluate(t);
    if (d != ScaleDecision::kHold) changes.push_back({t, d, scaler.workers()});
  }
  return changes;
}

// Windows shorter than the cooldowns, so the cooldowns are what decides.
AutoscalerConfig short_windows() {
  AutoscalerConfig config;
  config.scale_out_window_ns = kMinute;
  config.scale_in_window_ns = kMinute;
  config.scale_out_cooldown_ns = 5 * kMinute;
  config.scale_in_cooldown_ns = 10 * kMinute;
  return config;
}

TEST(Autoscaler, ScalesOutAfterExactlyTenMinutesAbove95Percent) {
  Autoscaler scaler(AutoscalerConfig{}, 2);
  for (int64_t t = 0; t < 10 * kMinute; t += kSlide) {
    scaler.record(t, 0.99);
    ASSERT_EQ(scaler.evaluate(t), ScaleDecision::kHold) << "t=" << t / kSecond << "s";
  }
  EXPECT_EQ(scaler.evaluate(10 * kMinute - kSecond), ScaleDecision::kHold);  // 9m59s covered
  scaler.record(10 * kMinute, 0.99);
  EXPECT_EQ(scaler.evaluate(10 * kMinute), ScaleDecision::kScaleOut);
  EXPECT_EQ(scaler.workers(), 3u);
  EXPECT_EQ(scaler.scale_outs(), 1u);
  EXPECT_EQ(scaler.scale_ins(), 0u);
}

TEST(Autoscaler, NineMinutesFiftyNineSecondsOfEvidenceHolds) {
  Autoscaler scaler(AutoscalerConfig{}, 2);
  // Batches from t = 1 s: at t = 10 min the oldest sample is 9m59s old.
  for (int64_t t = kSecond; t <= 10 * kMinute; t += kSlide) scaler.record(t, 0.99);
  EXPECT_EQ(scaler.evaluate(10 * kMinute), ScaleDecision::kHold);
  EXPECT_EQ(scaler.workers(), 2u);
  EXPECT_EQ(scaler.evaluate(10 * kMinute + kSecond), ScaleDecision::kScaleOut);
  EXPECT_EQ(scaler.workers(), 3u);
}

TEST(Autoscaler, MeanExactlyAtThresholdHolds) {
  Autoscaler flat(AutoscalerConfig{}, 2);
  EXPECT_TRUE(run(flat, 0, 40 * kMinute, 0.95).empty());
  EXPECT_EQ(flat.mean_utilisation(40 * kMinute, 10 * kMinute), 0.95);

  // 0.90 and 1.00 alternating: also a mean of exactly 0.95.
  Autoscaler alternating(AutoscalerConfig{}, 2);
  for (int64_t t = 0; t <= 40 * kMinute; t += kSlide) {
    alternating.record(t, (t / kSlide) % 2 == 0 ? 0.90 : 1.00);
    ASSERT_EQ(alternating.evaluate(t), ScaleDecision::kHold) << "t=" << t / kSecond << "s";
  }
}

TEST(Autoscaler, MeanJustAboveThresholdScalesOut) {
  Autoscaler scaler(AutoscalerConfig{}, 2);
  const auto changes = run(scaler, 0, 10 * kMinute, 0.951);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].time_ns, 10 * kMinute);
  EXPECT_EQ(changes[0].decision, ScaleDecision::kScaleOut);
}

TEST(Autoscaler, ScalesInAfterThirtyMinutesUnderLowWater) {
  Autoscaler scaler(AutoscalerConfig{}, 4);
  const auto changes = run(scaler, 0, 30 * kMinute, 0.2);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].time_ns, 30 * kMinute);
  EXPECT_EQ(changes[0].decision, ScaleDecision::kScaleIn);
  EXPECT_EQ(scaler.workers(), 3u);
  EXPECT_EQ(scaler.scale_ins(), 1u);

  // At the low-water mark exactly, and just above it: no scale-in.
  Autoscaler at_mark(AutoscalerConfig{}, 4);
  EXPECT_TRUE(run(at_mark, 0, 40 * kMinute, 0.30).empty());
  Autoscaler middle(AutoscalerConfig{}, 4);
  EXPECT_TRUE(run(middle, 0, 40 * kMinute, 0.6).empty());
}

TEST(Autoscaler, CooldownAfterScaleOut) {
  Autoscaler scaler(short_windows(), 1);
  const auto changes = run(scaler, 0, 12 * kMinute, 0.99);
  // Evidence covers 1 min at t = 1 min; the next change waits for the 5 min cooldown.
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].time_ns, 1 * kMinute);
  EXPECT_EQ(changes[1].time_ns, 6 * kMinute);
  EXPECT_EQ(changes[2].time_ns, 11 * kMinute);
  EXPECT_EQ(changes[2].workers, 4u);
}

TEST(Autoscaler, CooldownAfterScaleInAppliesToBothDirections) {
  Autoscaler scaler(short_windows(), 8);
  auto changes = run(scaler, 0, 12 * kMinute, 0.1);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].time_ns, 1 * kMinute);
  EXPECT_EQ(changes[1].time_ns, 11 * kMinute);  // the 10 min scale-in cooldown
  EXPECT_EQ(scaler.workers(), 6u);

  // High load right after the scale-in at 11 min: held until 21 min although 1 min of
  // evidence is there from 12 min on.
  changes = run(scaler, 11 * kMinute + kSlide, 25 * kMinute, 0.99);
  ASSERT_FALSE(changes.empty());
  EXPECT_EQ(changes[0].time_ns, 21 * kMinute);
  EXPECT_EQ(changes[0].decision, ScaleDecision::kScaleOut);
}

TEST(Autoscaler, ClampsToMaxWorkers) {
  AutoscalerConfig config;
  config.max_workers = 3;
  config.step = 2;
  Autoscaler scaler(config, 2);
  const auto changes = run(scaler, 0, 60 * kMinute, 2.0);
  ASSERT_EQ(changes.size(), 1u);  // 2 + 2 clamped to 3, then nowhere to go
  EXPECT_EQ(changes[0].workers, 3u);
  EXPECT_EQ(scaler.workers(), 3u);
}

TEST(Autoscaler, ClampsToMinWorkers) {
  AutoscalerConfig config;
  config.min_workers = 2;
  config.step = 5;
  Autoscaler scaler(config, 6);
  const auto changes = run(scaler, 0, 120 * kMinute, 0.0);
  ASSERT_EQ(changes.size(), 1u);  // 6 − 5 clamped to 2
  EXPECT_EQ(changes[0].workers, 2u);
  EXPECT_EQ(scaler.workers(), 2u);
}

TEST(Autoscaler, ClampsInitialWorkers) {
  AutoscalerConfig config;
  config.min_workers = 2;
  config.max_workers = 4;
  EXPECT_EQ(Autoscaler(config, 10).workers(), 4u);
  EXPECT_EQ(Autoscaler(config, 0).workers(), 2u);
  EXPECT_EQ(Autoscaler(config, 3).workers(), 3u);
}

TEST(Autoscaler, EvidenceRestartsAfterAChange) {
  Autoscaler scaler(AutoscalerConfig{}, 1);
  auto changes = run(scaler, 0, 10 * kMinute, 0.99);
  ASSERT_EQ(changes.size(), 1u);
  // Still overloaded: the 5 min cooldown ends at 15 min, but the samples before the change
  // do not count, so the next scale-out needs 10 more minutes of its own.
  changes = run(scaler, 10 * kMinute + kSlide, 20 * kMinute - kSlide, 0.99);
  EXPECT_TRUE(changes.empty());
  changes = run(scaler, 20 * kMinute, 20 * kMinute, 0.99);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(scaler.workers(), 3u);

  // Then idle: 30 min under the low-water mark counted from the scale-out at 20 min.
  changes = run(scaler, 20 * kMinute + kSlide, 50 * kMinute - kSlide, 0.1);
  EXPECT_TRUE(changes.empty());
  changes = run(scaler, 50 * kMinute, 50 * kMinute, 0.1);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].decision, ScaleDecision::kScaleIn);
  EXPECT_EQ(scaler.workers(), 2u);
}

TEST(Autoscaler, BriefBurstDoesNotScaleOut) {
  Autoscaler scaler(AutoscalerConfig{}, 2);
  ASSERT_TRUE(run(scaler, 0, 15 * kMinute, 0.5).empty());
  // 30 s of batches overrunning five-fold: the last minute is far above 95%, the last ten
  // minutes are not ((15 · 5 + 285 · 0.5) / 300 = 0.725).
  ASSERT_TRUE(run(scaler, 15 * kMinute + kSlide, 15 * kMinute + 30 * kSecond, 5.0).empty());
  EXPECT_GT(scaler.mean_utilisation(15 * kMinute + 30 * kSecond, kMinute), 0.95);
  EXPECT_NEAR(scaler.mean_utilisation(15 * kMinute + 30 * kSecond, 10 * kMinute), 0.725, 1e-12);
  EXPECT_TRUE(run(scaler, 15 * kMinute + 32 * kSecond, 40 * kMinute, 0.5).empty());
  EXPECT_EQ(scaler.workers(), 2u);
}

TEST(Autoscaler, IgnoresNanNegativeAndInfiniteSamples) {
  Autoscaler scaler(AutoscalerConfig{}, 2);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<Change> changes;
  for (int64_t t = 0; t <= 10 * kMinute; t += kSlide) {
    scaler.record(t, 0.99);
    scaler.record(t, nan);
    scaler.record(t, -1.0);
    scaler.record(t, inf);
    if (scaler.evaluate(t) != ScaleDecision::kHold) changes.push_back({t, {}, scaler.workers()});
  }
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].time_ns, 10 * kMinute);
  EXPECT_EQ(scaler.mean_utilisation(10 * kMinute, 10 * kMinute), 0.99);
  EXPECT_EQ(scaler.ignored_samples(), 3u * 301u);
}

TEST(Autoscaler, NoSamplesIsNoEvidence) {
  // Only broken samples: the mean would read 0, under the low-water mark, but nothing was
  // measured, so nothing is decided.
  Autoscaler broken(AutoscalerConfig{}, 4);
  EXPECT_TRUE(run(broken, 0, 60 * kMinute, std::nan("")).empty());
  EXPECT_EQ(broken.mean_utilisation(60 * kMinute, 30 * kMinute), 0.0);

  // Batches stopped: old samples age out instead of standing in for the silence.
  Autoscaler stopped(AutoscalerConfig{}, 4);
  ASSERT_TRUE(run(stopped, 0, kMinute, 0.1).empty());
  EXPECT_EQ(stopped.evaluate(45 * kMinute), ScaleDecision::kHold);
  EXPECT_EQ(stopped.workers(), 4u);
}

TEST(Autoscaler, MeanIsOverHalfOpenWindow) {
  Autoscaler scaler(AutoscalerConfig{}, 2);
  scaler.record(0, 1.0);
  scaler.record(20 * kSecond, 3.0);
  scaler.record(10 * kSecond, 2.0);  // late: still placed in time order
  // (20 s − 20 s, 20 s] excludes the sample at 0.
  EXPECT_EQ(scaler.mean_utilisation(20 * kSecond, 20 * kSecond), 2.5);
  EXPECT_EQ(scaler.mean_utilisation(20 * kSecond, 21 * kSecond), 2.0);
  EXPECT_EQ(scaler.mean_utilisation(15 * kSecond, 20 * kSecond), 1.5);  // later ones unseen
  EXPECT_EQ(scaler.mean_utilisation(5 * kMinute, kMinute), 0.0);
}

TEST(Autoscaler, DiscardsSamplesOlderThanTheLongerWindow) {
  Autoscaler scaler(AutoscalerConfig{}, 2);
  scaler.record(0, 5.0);
  scaler.record(30 * kMinute, 1.0);  // the sample at 0 is exactly 30 min old: kept
  EXPECT_EQ(scaler.mean_utilisation(30 * kMinute, 31 * kMinute), 3.0);
  scaler.record(30 * kMinute + 1, 1.0);  // now it is older than 30 min
  EXPECT_EQ(scaler.mean_utilisation(30 * kMinute + 1, 31 * kMinute), 1.0);
}

TEST(Autoscaler, ValidateNamesTheBadField) {
  EXPECT_EQ(Autoscaler::validate(AutoscalerConfig{}), "");

  const auto bad = [](auto mutate) {
    AutoscalerConfig config;
    mutate(config);
    return std::string(Autoscaler::validate(config));
  };
  EXPECT_EQ(bad([](auto& c) { c.min_workers = 0; }), "min_workers must be at least 1");
  EXPECT_EQ(bad([](auto& c) { c.min_workers = 9; }), "min_workers must not exceed max_workers");
  EXPECT_EQ(bad([](auto& c) { c.step = 0; }), "step must be at least 1");
  EXPECT_EQ(bad([](auto& c) { c.scale_out_window_ns = 0; }),
            "scale_out_window_ns must be positive");
  EXPECT_EQ(bad([](auto& c) { c.scale_in_window_ns = -1; }), "scale_in_window_ns must be positive");
  EXPECT_EQ(bad([](auto& c) { c.scale_out_cooldown_ns = -1; }),
            "scale_out_cooldown_ns must not be negative");
  EXPECT_EQ(bad([](auto& c) { c.scale_in_cooldown_ns = -1; }),
            "scale_in_cooldown_ns must not be negative");
  EXPECT_EQ(bad([](auto& c) { c.scale_out_utilisation = 0.0; }),
            "scale_out_utilisation must be in (0, 10]");
  EXPECT_EQ(bad([](auto& c) { c.scale_out_utilisation = 10.5; }),
            "scale_out_utilisation must be in (0, 10]");
  EXPECT_EQ(bad([](auto& c) { c.scale_out_utilisation = std::nan(""); }),
            "scale_out_utilisation must be in (0, 10]");
  EXPECT_EQ(bad([](auto& c) { c.scale_in_utilisation = -0.1; }),
            "scale_in_utilisation must be in (0, 10]");
  EXPECT_EQ(bad([](auto& c) { c.scale_in_utilisation = std::numeric_limits<double>::infinity(); }),
            "scale_in_utilisation must be in (0, 10]");
  EXPECT_EQ(bad([](auto& c) { c.scale_in_utilisation = 0.95; }),
            "scale_in_utilisation must be below scale_out_utilisation");

  // The edges that are fine.
  EXPECT_EQ(bad([](auto& c) {
              c.scale_out_utilisation = 10.0;
              c.scale_out_cooldown_ns = 0;
              c.scale_in_cooldown_ns = 0;
              c.min_workers = c.max_workers;
            }),
            "");
}

TEST(Autoscaler, DecisionNames) {
  EXPECT_EQ(to_string(ScaleDecision::kHold), "hold");
  EXPECT_EQ(to_string(ScaleDecision::kScaleOut), "scale_out");
  EXPECT_EQ(to_string(ScaleDecision::kScaleIn), "scale_in");
}

// ReplicaPolicy: the same rules over a cluster member's view (default config: 10 min over 95%
// out, 30 min under 30% in).

// Feeds `policy` one observation per slide in [from, to].
void observe(ReplicaPolicy& policy, int64_t from_ns, int64_t to_ns, double utilisation,
             uint32_t owned, uint32_t total) {
  for (int64_t t = from_ns; t <= to_ns; t += kSlide) policy.observe(t, utilisation, owned, total);
}

TEST(ReplicaPolicy, AMemberOfTwoOverloadedForTenMinutesAsksForThree) {
  ReplicaPolicy policy{AutoscalerConfig{}};
  EXPECT_EQ(policy.desired(), 1u);  // nothing observed yet
  observe(policy, 0, 10 * kMinute - kSlide, 0.99, 6, 12);
  EXPECT_EQ(policy.members(), 2u);
  EXPECT_EQ(policy.desired(), 2u);  // 9:58 of evidence: hold
  observe(policy, 10 * kMinute, 10 * kMinute, 0.99, 6, 12);
  EXPECT_EQ(policy.desired(), 3u);
}

TEST(ReplicaPolicy, AQuietGroupAsksForOneFewerAfterThirtyMinutes) {
  ReplicaPolicy policy{AutoscalerConfig{}};
  observe(policy, 0, 30 * kMinute - kSlide, 0.1, 4, 12);  // 3 members
  EXPECT_EQ(policy.desired(), 3u);
  observe(policy, 30 * kMinute, 30 * kMinute, 0.1, 4, 12);
  EXPECT_EQ(policy.desired(), 2u);
}

TEST(ReplicaPolicy, ANewGroupSizeStartsThePolicyAgainAndItNeverExceedsThePartitions) {
  ReplicaPolicy policy{AutoscalerConfig{}};
  observe(policy, 0, 10 * kMinute, 0.99, 6, 12);
  ASSERT_EQ(policy.desired(), 3u);
  // The third member joined: this one now owns 4 of 12. Its evidence starts again.
  observe(policy, 10 * kMinute + kSlide, 15 * kMinute, 0.99, 4, 12);
  EXPECT_EQ(policy.members(), 3u);
  EXPECT_EQ(policy.desired(), 3u);
  // One partition per member already: more members would idle.
  ReplicaPolicy full{AutoscalerConfig{}};
  observe(full, 0, 20 * kMinute, 0.99, 1, 2);
  EXPECT_EQ(full.desired(), 2u);
  // Owning nothing (mid-rebalance) is no evidence.
  ReplicaPolicy idle{AutoscalerConfig{}};
  observe(idle, 0, 20 * kMinute, 0.99, 0, 12);
  EXPECT_EQ(idle.members(), 0u);
  EXPECT_EQ(idle.desired(), 1u);
}

}  // namespace
}  // namespace fathom::analyze
