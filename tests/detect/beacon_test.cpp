// Tests of the beaconing detector: seeded simulations of fathom-gen's c2_beacon (tools/gen/
// attacks.cpp: next beacon = now + period * (1 + jitter * U(-1, 1)), a short HTTPS connection
// of a few records) seen through sampling, against random (Poisson) contacts and page-load
// bursts; then the bookkeeping (merging, LRU eviction, idle expiry, tenants, determinism).
// Seeds are fixed and printed on failure.

#include "detect/beacon.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace fathom::detect {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kStart = 1'700'000'000 * kSecond;

const flow::IpAddress kHost = flow::IpAddress::from_v4(0x0a000005);  // 10.0.0.5
const flow::IpAddress kPeer = flow::IpAddress::from_v4(0xc6336407);  // 198.51.100.7

/// Uniform doubles from mt19937_64 (fully specified, unlike std's distributions).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double exponential(double mean) { return -mean * std::log1p(-uniform()); }

 private:
  std::mt19937_64 engine_;
};

/// Record times of fathom-gen's c2_beacon over `duration_s`, each beacon connection seen with
/// probability `q` (1 to 3 records within its first 900 ms when seen).
std::vector<int64_t> beacon_times(uint64_t seed, double period_s, double jitter, double duration_s,
                                  double q) {
  Rng rng(seed);
  std::vector<int64_t> out;
  double t = rng.uniform() * period_s;
  while (t < duration_s) {
    if (rng.uniform() < q) {
      const int records = 1 + static_cast<int>(rng.uniform() * 3);
      for (int idx = 0; idx < records; ++idx) {
        out.push_back(kStart + static_cast<int64_t>((t + 0.9 * rng.uniform()) * 1e9));
      }
    }
    t += period_s * (1.0 + jitter * (2.0 * rng.uniform() - 1.0));
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Contacts at random (Poisson) times, `mean_gap_s` apart on average.
std::vector<int64_t> poisson_times(uint64_t seed, double mean_gap_s, double duration_s) {
  Rng rng(seed);
  std::vector<int64_t> out;
  for (double t = rng.exponential(mean_gap_s); t < duration_s; t += rng.exponential(mean_gap_s)) {
    out.push_back(kStart + static_cast<int64_t>(t * 1e9));
  }
  return out;
}

/// Page loads at random times (`mean_gap_s` apart), each a burst of 5-30 records within 3 s.
std::vector<int64_t> page_load_times(uint64_t seed, double mean_gap_s, double duration_s) {
  Rng rng(seed);
  std::vector<int64_t> out;
  for (double t = rng.exponential(mean_gap_s); t < duration_s; t += rng.exponential(mean_gap_s)) {
    const int records = 5 + static_cast<int>(rng.uniform() * 26);
    for (int idx = 0; idx < records; ++idx) {
      out.push_back(kStart + static_cast<int64_t>((t + 3.0 * rng.uniform()) * 1e9));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Feeds `times` as one pair and evaluates once after the last; the finding, if any.
std::vector<BeaconFinding> run_pair(const std::vector<int64_t>& times,
                                    const BeaconConfig& config = {}) {
  BeaconDetector detector(config);
  for (int64_t t : times) detector.observe(1, kHost, kPeer, 443, t);
  return detector.evaluate(times.empty() ? kStart : times.back());
}

/// Detection rate and period accuracy of one simulated case over `seeds` seeds.
struct Detection {
  int seeds = 0;
  int detected = 0;      ///< within 10% of the true period
  int wrong_period = 0;  ///< flagged with another period
  double mean_observations = 0.0;
  double worst_log10_p = -1000.0;  ///< the largest p-value among detections
  uint64_t first_miss_seed = 0;
};

Detection detection_rate(uint64_t first_seed, int seeds, double period_s, double duration_s,
                         double q, const BeaconConfig& config = {}) {
  Detection d;
  d.seeds = seeds;
  double observations = 0.0;
  bool missed = false;
  for (int idx = 0; idx < seeds; ++idx) {
    const uint64_t seed = first_seed + static_cast<uint64_t>(idx);
    const auto found = run_pair(beacon_times(seed, period_s, 0.2, duration_s, q), config);
    if (found.size() == 1 &&
        std::fabs(static_cast<double>(found[0].period_ns) / 1e9 - period_s) <= 0.1 * period_s) {
      ++d.detected;
      observations += found[0].observations;
      d.worst_log10_p = std::max(d.worst_log10_p, std::log10(found[0].p_value));
      continue;
    }
    if (!found.empty()) ++d.wrong_period;
    if (!missed) d.first_miss_seed = seed;
    missed = true;
  }
  d.mean_observations = d.detected > 0 ? observations / d.detected : 0.0;
  return d;
}

void print(const char* name, const Detection& d) {
  std::printf("%-34s detected %3d/%d (wrong period %d), mean observations %.1f, worst p 1e%.1f\n",
              name, d.detected, d.seeds, d.wrong_period, d.mean_observations, d.worst_log10_p);
}

/// Flagged pairs (at the default max_p_value) among `seeds` Poisson pairs.
struct FalsePositives {
  int pairs = 0;  ///< pairs with enough observations to be tested
  int flagged = 0;
  double best_log10_p = 0.0;
  uint64_t first_flagged_seed = 0;
};

FalsePositives false_positives(int seeds, double mean_gap_s, double duration_s,
                               const BeaconConfig& config = {}) {
  FalsePositives f;
  BeaconConfig report_all = config;
  report_all.max_p_value = 1.0;  // to see the best p-value
  for (uint64_t seed = 1; seed <= static_cast<uint64_t>(seeds); ++seed) {
    const auto times = poisson_times(seed, mean_gap_s, duration_s);
    if (times.size() >= config.min_observations) ++f.pairs;
    const auto found = run_pair(times, report_all);
    if (found.empty()) continue;
    f.best_log10_p = std::min(f.best_log10_p, std::log10(found[0].p_value));
    if (found[0].p_value <= config.max_p_value && f.flagged++ == 0) f.first_flagged_seed = seed;
  }
  return f;
}

// ---- Detection of fathom-gen's beacon (period 60 s, jitter 0.2) through sampling ----

TEST(BeaconDetector, FindsBeaconUnsampledInOneHour) {
  const Detection d = detection_rate(1000, 50, 60.0, 3600.0, 1.0);
  print("60 s, 1 h, q = 1", d);
  EXPECT_EQ(d.detected, d.seeds) << "first missed seed " << d.first_miss_seed;
}

TEST(BeaconDetector, FindsBeaconHalfObserved) {
  const Detection hour = detection_rate(2000, 40, 60.0, 3600.0, 0.5);
  const Detection two_hours = detection_rate(2100, 40, 60.0, 2 * 3600.0, 0.5);
  print("60 s, 1 h, q = 0.5", hour);
  print("60 s, 2 h, q = 0.5", two_hours);
  EXPECT_GE(hour.detected, 12) << "first missed seed " << hour.first_miss_seed;  // ~30 contacts
  EXPECT_EQ(hour.wrong_period, 0);
  EXPECT_EQ(two_hours.detected, two_hours.seeds)
      << "first missed seed " << two_hours.first_miss_seed;
}

TEST(BeaconDetector, FindsBeaconThirdObservedInFourHours) {
  const Detection d = detection_rate(3000, 40, 60.0, 4 * 3600.0, 0.3);
  print("60 s, 4 h, q = 0.3", d);
  EXPECT_GE(d.detected, 38) << "first missed seed " << d.first_miss_seed;
  EXPECT_EQ(d.wrong_period, 0);
}

// One beacon in ten observed (1/100 packet sampling of a 10-packet connection): a gap then
// spans ten periods on average, and only the few gaps of one to three periods carry phase
// (±20% jitter accumulated over more periods covers the whole lattice). The default history
// (64 contacts) holds too few such gaps; 256 finds it within a day.
TEST(BeaconDetector, FindsBeaconTenthObservedWithLongerHistory) {
  BeaconConfig config;
  config.history = 256;
  const Detection d = detection_rate(4000, 20, 60.0, 30 * 3600.0, 0.1, config);
  print("60 s, 30 h, q = 0.1, history 256", d);
  EXPECT_GE(d.detected, 19) << "first missed seed " << d.first_miss_seed;
}

// The limit, stated as a test: in 1 h at q = 0.1 about 6 contacts are seen, and no test can
// tell their gaps (about 10 periods, each ±20%) from random ones at p <= 1e-4.
TEST(BeaconDetector, TenthObservedBeaconIsNotFoundInOneHour) {
  const Detection d = detection_rate(5000, 40, 60.0, 3600.0, 0.1);
  const Detection third = detection_rate(5100, 40, 60.0, 3600.0, 0.3);
  print("60 s, 1 h, q = 0.1 (limit)", d);
  print("60 s, 1 h, q = 0.3 (limit)", third);
  EXPECT_EQ(d.detected + d.wrong_period, 0);
  EXPECT_EQ(third.wrong_period, 0);
}

TEST(BeaconDetector, FindsSlowBeacon) {
  const Detection unsampled = detection_rate(6000, 40, 900.0, 6 * 3600.0, 1.0);
  const Detection half = detection_rate(6100, 20, 900.0, 24 * 3600.0, 0.5);
  print("900 s, 6 h, q = 1", unsampled);
  print("900 s, 24 h, q = 0.5", half);
  EXPECT_EQ(unsampled.detected, unsampled.seeds)
      << "first missed seed " << unsampled.first_miss_seed;
  EXPECT_GE(half.detected, 19) << "first missed seed " << half.first_miss_seed;
}

TEST(BeaconDetector, ReportsPeriodJitterAndObservedFraction) {
  const auto found = run_pair(beacon_times(7, 60.0, 0.2, 4 * 3600.0, 0.5));
  ASSERT_EQ(found.size(), 1u) << "seed 7";
  const BeaconFinding& f = found[0];
  EXPECT_EQ(f.tenant_id, 1u);
  EXPECT_EQ(f.host, kHost);
  EXPECT_EQ(f.peer, kPeer);
  EXPECT_EQ(f.port, 443);
  EXPECT_NEAR(static_cast<double>(f.period_ns) / 1e9, 60.0, 3.0);
  EXPECT_GT(f.jitter, 0.05);
  EXPECT_LT(f.jitter, 0.3);
  EXPECT_EQ(f.observations, 64u);  // the history
  EXPECT_NEAR(f.observed_fraction, 0.5, 0.15);
  EXPECT_LE(f.p_value, 1e-4);
  EXPECT_LT(f.first_ns, f.last_ns);
}

TEST(BeaconDetector, ExactPeriodIsFound) {
  std::vector<int64_t> times;
  for (int idx = 0; idx < 30; ++idx) times.push_back(kStart + idx * 300 * kSecond);
  const auto found = run_pair(times);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].period_ns, 300 * kSecond);
  EXPECT_EQ(found[0].jitter, 0.0);
  EXPECT_DOUBLE_EQ(found[0].observed_fraction, 1.0);
}

// ---- Traffic that is not a beacon ----

// Random contacts at the mean rate of each beacon case above: 2,400 pairs, none flagged.
TEST(BeaconDetector, PoissonContactsAreNotFlagged) {
  struct Case {
    double mean_gap_s;
    double hours;
  };
  int total_flagged = 0;
  for (const Case c : {Case{60, 1}, Case{120, 1}, Case{120, 2}, Case{200, 4}, Case{600, 1},
                       Case{900, 6}, Case{1800, 24}, Case{60, 24}, Case{30, 6}, Case{10, 1}}) {
    const FalsePositives f = false_positives(200, c.mean_gap_s, c.hours * 3600.0);
    std::printf("Poisson, mean gap %4.0f s, %2.0f h: %3d tested, %d flagged, best p 1e%.1f\n",
                c.mean_gap_s, c.hours, f.pairs, f.flagged, f.best_log10_p);
    EXPECT_EQ(f.flagged, 0) << "mean gap " << c.mean_gap_s << " s, first flagged seed "
                            << f.first_flagged_seed;
    total_flagged += f.flagged;
  }
  BeaconConfig long_history;
  long_history.history = 256;
  const FalsePositives f = false_positives(200, 600.0, 48 * 3600.0, long_history);
  std::printf("Poisson, mean gap  600 s, 48 h, history 256: %d flagged, best p 1e%.1f\n", f.flagged,
              f.best_log10_p);
  EXPECT_EQ(f.flagged, 0) << "first flagged seed " << f.first_flagged_seed;
  EXPECT_EQ(total_flagged, 0);
}

/// Contacts whose gaps are drawn by `gap(rng)` (a renewal process).
template <typename Gap>
std::vector<int64_t> renewal_times(uint64_t seed, int contacts, Gap gap) {
  Rng rng(seed);
  std::vector<int64_t> out;
  double t = 0.0;
  for (int idx = 0; idx < contacts; ++idx) {
    t += gap(rng);
    out.push_back(kStart + static_cast<int64_t>(t * 1e9));
  }
  return out;
}

// Traffic more regular than Poisson but not periodic: gaps uniform in [1, 601] s (a poller
// with a random delay), and human think times (lognormal, median 60 s). Their gap densities
// are smooth at the scale of a period, so the lattice explains them no better than chance.
TEST(BeaconDetector, SmoothGapDistributionsAreNotFlagged) {
  BeaconConfig long_history;
  long_history.history = 256;
  int flagged = 0;
  uint64_t first_flagged = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    const auto uniform =
        renewal_times(seed, 256, [](Rng& rng) { return 1.0 + 600.0 * rng.uniform(); });
    const double sigma = seed % 3 == 0 ? 0.5 : (seed % 3 == 1 ? 1.0 : 1.5);
    const auto think = renewal_times(seed, 256, [sigma](Rng& rng) {
      // Box-Muller from two uniforms.
      const double z = std::sqrt(-2.0 * std::log1p(-rng.uniform())) *
                       std::cos(2.0 * 3.141592653589793 * rng.uniform());
      return 2.5 + 60.0 * std::exp(sigma * z);
    });
    for (const auto* times : {&uniform, &think}) {
      const bool hit = !run_pair(*times).empty() || !run_pair(*times, long_history).empty();
      if (hit && flagged++ == 0) first_flagged = seed;
    }
  }
  EXPECT_EQ(flagged, 0) << "first flagged seed " << first_flagged;
}

// A beacon pair that also carries unrelated contacts (one every 10 minutes at random) is still
// found: each stray contact costs a gap or two off the lattice.
TEST(BeaconDetector, FindsBeaconAmongStrayContacts) {
  int detected = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    auto times = beacon_times(seed, 60.0, 0.2, 2 * 3600.0, 1.0);
    const auto stray = poisson_times(seed + 1000, 600.0, 2 * 3600.0);
    times.insert(times.end(), stray.begin(), stray.end());
    std::sort(times.begin(), times.end());
    const auto found = run_pair(times);
    detected += found.size() == 1 && std::llabs(found[0].period_ns - 60 * kSecond) < 6 * kSecond;
  }
  EXPECT_GE(detected, 19);
}

// A web page load is many records within a few seconds; page loads at random times fold into
// one contact each and are not periodic.
TEST(BeaconDetector, PageLoadBurstsAreNotFlagged) {
  int flagged = 0;
  uint64_t first_flagged = 0;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    const auto times = page_load_times(seed, seed % 2 == 0 ? 30.0 : 300.0, 6 * 3600.0);
    BeaconDetector detector;
    for (int64_t t : times) detector.observe(1, kHost, kPeer, 443, t);
    const auto found = detector.evaluate(times.back());
    EXPECT_GT(detector.stats().contacts_merged, detector.stats().contacts / 2) << "seed " << seed;
    if (!found.empty() && flagged++ == 0) first_flagged = seed;
  }
  EXPECT_EQ(flagged, 0) << "first flagged seed " << first_flagged;
}

// Records of one connection fold into one contact, dated by its first record: a pair polling
// every 5 minutes with a 12 s chain of records each time is periodic.
TEST(BeaconDetector, MergeGapFoldsConnectionRecords) {
  BeaconDetector detector;
  int records = 0;
  for (int contact = 0; contact < 20; ++contact) {
    const int64_t start = kStart + contact * 300 * kSecond;
    // A chain of records 1.5 s apart, 12 s in all: one contact.
    for (int idx = 0; idx < 9; ++idx) {
      detector.observe(1, kHost, kPeer, 443, start + int64_t{idx} * 1'500'000'000);
      ++records;
    }
  }
  EXPECT_EQ(detector.stats().contacts, static_cast<uint64_t>(records));
  EXPECT_EQ(detector.stats().contacts_merged, static_cast<uint64_t>(records - 20));
  const auto found = detector.evaluate(kStart + 6000 * kSecond);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].observations, 20u);
  EXPECT_EQ(found[0].period_ns, 300 * kSecond);
  EXPECT_EQ(found[0].first_ns, kStart);  // a contact is dated by its first record
}

TEST(BeaconDetector, TooFewObservationsAreNotTested) {
  BeaconDetector detector;
  for (int idx = 0; idx < 4; ++idx)
    detector.observe(1, kHost, kPeer, 443, kStart + idx * 60 * kSecond);
  EXPECT_TRUE(detector.evaluate(kStart + 240 * kSecond).empty());
  EXPECT_EQ(detector.stats().evaluations, 0u);
  // Five exact contacts are tested, but four gaps cannot reach p <= 1e-4.
  detector.observe(1, kHost, kPeer, 443, kStart + 240 * kSecond);
  EXPECT_TRUE(detector.evaluate(kStart + 300 * kSecond).empty());
  EXPECT_EQ(detector.stats().evaluations, 1u);
}

// ---- Evaluation cadence ----

// Evaluated every minute, a beacon is reported at each evaluation after a new fitting contact,
// and not at evaluations with nothing new.
TEST(BeaconDetector, StaysReportableWithNewFittingContacts) {
  BeaconDetector detector;
  int reports = 0;
  int first_report = -1;
  for (int minute = 0; minute < 120; ++minute) {
    const int64_t t = kStart + minute * 60 * kSecond;
    detector.observe(1, kHost, kPeer, 443, t);
    const auto found = detector.evaluate(t + kSecond);
    if (!found.empty()) {
      ++reports;
      if (first_report < 0) first_report = minute;
    }
    EXPECT_TRUE(detector.evaluate(t + 2 * kSecond).empty()) << "minute " << minute;
  }
  ASSERT_GE(first_report, 0);
  EXPECT_LT(first_report, 20);
  EXPECT_EQ(reports, 120 - first_report);
  // A contact that does not fit (20 s after the last) is news but not a fitting one.
  detector.observe(1, kHost, kPeer, 443, kStart + (119 * 60 + 20) * kSecond);
  EXPECT_TRUE(detector.evaluate(kStart + 120 * 60 * kSecond).empty());
}

// ---- Bookkeeping ----

TEST(BeaconDetector, EvictsLeastRecentlySeenPair) {
  BeaconConfig config;
  config.max_pairs_per_tenant = 2;
  BeaconDetector detector(config);
  const flow::IpAddress peer_b = flow::IpAddress::from_v4(0xc6336408);
  const flow::IpAddress peer_c = flow::IpAddress::from_v4(0xc6336409);
  for (int idx = 0; idx < 30; ++idx) {
    const int64_t t = kStart + idx * 60 * kSecond;
    detector.observe(1, kHost, peer_b, 443, t);
    detector.observe(1, kHost, kPeer, 443, t + kSecond / 2);  // kPeer is the most recent
  }
  EXPECT_EQ(detector.stats().pairs_now, 2u);
  detector.observe(1, kHost, peer_c, 443, kStart + 1800 * kSecond);  // evicts peer_b
  EXPECT_EQ(detector.stats().pairs_evicted, 1u);
  EXPECT_EQ(detector.stats().pairs_now, 2u);
  const auto found = detector.evaluate(kStart + 1801 * kSecond);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].peer, kPeer);
  // Other tenants have their own bound.
  detector.observe(2, kHost, peer_b, 443, kStart + 1802 * kSecond);
  EXPECT_EQ(detector.stats().pairs_evicted, 1u);
  EXPECT_EQ(detector.stats().pairs_now, 3u);
}

TEST(BeaconDetector, ExpiresIdlePairs) {
  BeaconDetector detector;
  const flow::IpAddress peer_b = flow::IpAddress::from_v4(0xc6336408);
  detector.observe(1, kHost, kPeer, 443, kStart);
  detector.observe(3, kHost, peer_b, 443, kStart + 3600 * kSecond);
  detector.evaluate(kStart + 7200 * kSecond);  // kPeer idle exactly 2 h: kept
  EXPECT_EQ(detector.stats().pairs_expired, 0u);
  detector.evaluate(kStart + 7200 * kSecond + 1);
  EXPECT_EQ(detector.stats().pairs_expired, 1u);
  EXPECT_EQ(detector.stats().pairs_now, 1u);
  detector.evaluate(kStart + 20'000 * kSecond);
  EXPECT_EQ(detector.stats().pairs_expired, 2u);
  EXPECT_EQ(detector.stats().pairs_now, 0u);
  // A pair seen again after expiry starts afresh.
  detector.observe(1, kHost, kPeer, 443, kStart + 20'000 * kSecond);
  EXPECT_EQ(detector.stats().pairs_now, 1u);
}

TEST(BeaconDetector, KeepsTheNewestHistoryContacts) {
  BeaconConfig config;
  config.history = 24;
  BeaconDetector detector(config);
  for (int idx = 0; idx < 100; ++idx)
    detector.observe(1, kHost, kPeer, 8443, kStart + idx * 30 * kSecond);
  const auto found = detector.evaluate(kStart + 3000 * kSecond);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].observations, 24u);
  EXPECT_EQ(found[0].first_ns, kStart + 76 * 30 * kSecond);
  EXPECT_EQ(found[0].last_ns, kStart + 99 * 30 * kSecond);
  EXPECT_EQ(found[0].port, 8443);
  // Older than every kept contact: ignored, counted.
  detector.observe(1, kHost, kPeer, 8443, kStart);
  EXPECT_EQ(detector.stats().contacts_stale, 1u);
}

// Flow records arrive out of order (exported at flow end): the same contacts in another order
// give the same finding.
TEST(BeaconDetector, LateContactsAreInsertedInPlace) {
  std::vector<int64_t> times = beacon_times(11, 60.0, 0.2, 2 * 3600.0, 0.7);
  const auto in_order = run_pair(times);
  ASSERT_EQ(in_order.size(), 1u) << "seed 11";
  // Swap neighbours pairwise: each late by one contact.
  for (size_t idx = 0; idx + 1 < times.size(); idx += 2) std::swap(times[idx], times[idx + 1]);
  BeaconDetector detector;
  for (int64_t t : times) detector.observe(1, kHost, kPeer, 443, t);
  const auto shuffled = detector.evaluate(kStart + 3 * 3600 * kSecond);
  ASSERT_EQ(shuffled.size(), 1u);
  EXPECT_EQ(shuffled[0].period_ns, in_order[0].period_ns);
  EXPECT_EQ(shuffled[0].observations, in_order[0].observations);
  EXPECT_EQ(shuffled[0].first_ns, in_order[0].first_ns);
  EXPECT_EQ(shuffled[0].p_value, in_order[0].p_value);
}

TEST(BeaconDetector, SameInputSameOutput) {
  auto run = [] {
    BeaconDetector detector;
    std::vector<BeaconFinding> all;
    for (uint32_t pair = 0; pair < 20; ++pair) {
      const flow::IpAddress host = flow::IpAddress::from_v4(0x0a000100 + pair);
      const auto times = pair % 2 == 0 ? beacon_times(100 + pair, 60.0, 0.2, 3 * 3600.0, 0.6)
                                       : poisson_times(100 + pair, 90.0, 3 * 3600.0);
      for (int64_t t : times) detector.observe(pair % 3, host, kPeer, 443, t);
    }
    return detector.evaluate(kStart + 3 * 3600 * kSecond);
  };
  const auto first = run();
  const auto second = run();
  ASSERT_EQ(first.size(), second.size());
  EXPECT_GE(first.size(), 9u);
  for (size_t idx = 0; idx < first.size(); ++idx) {
    EXPECT_EQ(first[idx].tenant_id, second[idx].tenant_id);
    EXPECT_EQ(first[idx].host, second[idx].host);
    EXPECT_EQ(first[idx].period_ns, second[idx].period_ns);
    EXPECT_EQ(first[idx].p_value, second[idx].p_value);
    EXPECT_EQ(first[idx].jitter, second[idx].jitter);
    if (idx > 0) {  // sorted by (tenant, host, peer)
      const auto& a = first[idx - 1];
      const auto& b = first[idx];
      EXPECT_TRUE(a.tenant_id < b.tenant_id || (a.tenant_id == b.tenant_id && a.host < b.host));
    }
  }
}

TEST(BeaconDetector, ForgetsTenant) {
  BeaconDetector detector;
  for (int idx = 0; idx < 30; ++idx) {
    const int64_t t = kStart + idx * 60 * kSecond;
    detector.observe(1, kHost, kPeer, 443, t);
    detector.observe(2, kHost, kPeer, 443, t);
  }
  EXPECT_EQ(detector.stats().pairs_now, 2u);
  detector.forget_tenant(1);
  detector.forget_tenant(99);  // unknown: nothing
  EXPECT_EQ(detector.stats().pairs_now, 1u);
  const auto found = detector.evaluate(kStart + 1800 * kSecond);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].tenant_id, 2u);
}

TEST(BeaconDetector, ALongSessionReExportedAtTheActiveTimeoutIsNotABeacon) {
  // One connection (host port 51000) re-exported every 60 s for two hours: periodic records,
  // but one contact. The same times from a new client port each time are a beacon.
  for (bool new_port : {false, true}) {
    BeaconDetector detector;
    std::vector<BeaconFinding> found;
    for (int i = 0; i < 120; ++i) {
      const int64_t t = kStart + int64_t{i} * 60 * kSecond + (i % 7) * kSecond;
      const uint16_t client = new_port ? static_cast<uint16_t>(40000 + i) : 51000;
      detector.observe(1, kHost, kPeer, 443, t, client);
      if (i % 10 == 9) {
        for (const BeaconFinding& f : detector.evaluate(t)) found.push_back(f);
      }
    }
    if (new_port) {
      EXPECT_FALSE(found.empty());
    } else {
      EXPECT_TRUE(found.empty());
      EXPECT_EQ(detector.stats().contacts_continued, 119u);
    }
  }
}

}  // namespace
}  // namespace fathom::detect
