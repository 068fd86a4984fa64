#include "detect/beacon.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <unordered_map>
#include <utility>

namespace fathom::detect {

// The periodicity test (docs/detections.md "C2 beaconing").
//
// Input: the observed contact times t_0 < ... < t_n of one (host, peer) pair, after merging
// (n + 1 >= min_observations), and their gaps g_i = t_i - t_{i-1}. Sampling hides most beacons,
// so a gap spans a whole number k_i >= 1 of periods, and the jitter of one period accumulates
// over those k_i periods (the implant schedules the next beacon from the last one).
//
// 1. Fit. For a period P, k_i = round(g_i / P); gap i fits when 1 <= k_i <= 64 and
//      |g_i - k_i P| <= w(k_i) P,   w(k) = min(J sqrt(k), 1/2),   J = jitter_tolerance.
//    J bounds one period's deviation (read as z = 2 standard deviations of J / 2); k periods
//    have k times the variance of one. From the first multiple k_full whose window fills its
//    cell [(k - 1/2) P, (k + 1/2) P) (J sqrt(k) >= 1/2; k_full = 4 at J = 0.25) on, every gap
//    fits whatever the contacts are, so those gaps carry no evidence.
// 2. Trials. The gaps in the informative cells 1 <= k_i < k_full. Gaps under P / 2 are no
//    trials (they are no evidence against random contacts) but count in step 4's fraction.
// 3. Null: contacts at random times, gaps independent with a density that is smooth at the
//    scale of one period (Poisson contacts, and also human think times or a poller's random
//    delays). Given its cell, a gap then lands in the window with probability 2 w(k), the
//    window's share of the cell (exact for a density linear across the cell, an overestimate
//    for a convex one such as Poisson's exponential, so the test errs towards "random").
//    p-value of P: binomial tail P(X >= fits | trials, p_0), p_0 the mean of 2 w(k_i) over the
//    trials (an upper bound of the exact Poisson-binomial tail: Hoeffding 1956), in log space.
// 4. Effect size: a period is considered only when at least min_fit_fraction of its trials and
//    short gaps fit (a beacon's almost all do; traffic whose gaps merely prefer some length can
//    beat the null with enough contacts, yet leaves a third or more off the lattice).
// 5. Candidates: P = g_i / k for every gap and k = 1..16 within [min_period, max_period]
//    (within 1% of each other they are one), each scored by its p-value; the best 8 are refined
//    by weighted least squares over their fitting gaps (minimising sum (g_i - k_i P)^2 / k_i
//    gives P = sum g_i / sum k_i), re-fitted and re-solved up to 4 times, and scored again.
// 6. Choice. The smallest p-value wins (ties: the longer period, so a half period never beats
//    the period). Being the best of many periods tried, it is corrected (Sidak,
//    1 - (1 - p)^M) for the M periods the test tells apart in [min_period, max_period]:
//    M = ln(max_period / min_period) * k_full / (2 J), as periods closer than about J / k_full
//    (relative) fit the same gaps (M = 47 by default). The pair is periodic when the corrected
//    p-value <= max_p_value; it is reported when, moreover, a gap ending at a contact newer than
//    its previous test fits.
// 7. Reported. period: least squares over the winner's fitting gaps (the winning candidate
//    itself tends to sit at an edge of the periods that fit the same gaps); jitter = 2 * median
//    over fitting trials of |g_i - k_i P| / (P sqrt(k_i)) (exact for uniform +-J single-period
//    gaps, reads low when most gaps span several periods); observed_fraction = observations /
//    (span / period + 1).
//
// Calibration (tests/detect/beacon_test.cpp): over Poisson, uniform-gap and lognormal contacts
// the corrected p-value errs high (none <= 1e-4 in 2,400 Poisson pairs, smallest about 1e-2.7).
// Power: each fitting single-period gap halves the p-value (J = 0.25), so an unsampled beacon
// needs about 20 contacts; seen one time in two, about 60 (two hours at 60 s); one in three,
// about 60 (four hours); one in ten needs history = 256 and about 150 contacts (a day at 60 s).
//
// Cost: up to history * 16 candidates, one pass over the gaps each, plus 8 refinements: about
// 0.1 ms per pair tested at history 64, 0.5 ms at 256.

namespace {

constexpr int kMaxCandidateMultiple = 16;  ///< K: candidates g_i / k for k = 1..K
constexpr int kMaxFitMultiple = 64;        ///< a gap of more periods never fits
constexpr size_t kRefined = 8;             ///< candidates refined by least squares
constexpr int kRefineRounds = 4;
constexpr double kDedupRelative = 1e-2;  ///< candidates closer than this are one
constexpr uint32_t kNoSlot = std::numeric_limits<uint32_t>::max();
constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kMaxOffsetMs = std::numeric_limits<uint32_t>::max();

/// Result of fitting one candidate period to the gaps.
struct Fit {
  double period = 0.0;  ///< seconds
  double log_p = 0.0;   ///< log of the uncorrected p-value
  uint32_t fits = 0;    ///< fitting trial gaps
  uint32_t trials = 0;  ///< gaps shorter than x_o
};

/// log(exp(a) + exp(b)) without overflow.
double log_add(double a, double b) {
  if (a == -INFINITY) return b;
  if (b == -INFINITY) return a;
  const double hi = std::max(a, b);
  return hi + std::log1p(std::exp(std::min(a, b) - hi));
}

/// log P(X >= m) for X ~ Binomial(n, p), 0 < p < 1, summed term by term in log space (each
/// term from the previous one; past the mode, stops once the terms no longer matter).
double log_binomial_tail(uint32_t m, uint32_t n, double p) {
  if (m == 0) return 0.0;
  if (m > n) return -INFINITY;
  const double log_odds = std::log(p) - std::log1p(-p);
  double term = std::lgamma(n + 1.0) - std::lgamma(m + 1.0) - std::lgamma(n - m + 1.0) +
                m * std::log(p) + (n - m) * std::log1p(-p);
  double sum = term;
  for (uint32_t j = m; j < n; ++j) {
    term += std::log(static_cast<double>(n - j) / (j + 1.0)) + log_odds;
    sum = log_add(sum, term);
    if (j > n * p && term < sum - 40.0) break;  // e^-40: below double precision of the sum
  }
  return std::min(sum, 0.0);
}

/// The periodicity test over one pair's gaps (seconds). Holds what does not depend on P.
class PeriodTest {
 public:
  PeriodTest(std::span<const double> gaps, const BeaconConfig& config)
      : gaps_(gaps),
        c_(std::max(config.jitter_tolerance, 1e-6)),
        min_fit_fraction_(config.min_fit_fraction) {
    // First multiple whose window fills its cell: c sqrt(k) >= 1/2.
    k_full_ = std::min(kMaxFitMultiple + 1,
                       std::max(1, static_cast<int>(std::ceil(1.0 / (4.0 * c_ * c_) - 1e-9))));
    for (int k = 0; k <= kMaxFitMultiple; ++k) {
      half_width_[static_cast<size_t>(k)] = std::min(c_ * std::sqrt(static_cast<double>(k)), 0.5);
    }
  }

  /// Half-width of the window of multiple k (1..kMaxFitMultiple), relative to P.
  double half_width(int k) const { return half_width_[static_cast<size_t>(k)]; }

  /// True when gap g fits period p (with multiple k).
  bool fits(double g, double p, int& k) const {
    const double ratio = g / p;
    if (!(ratio >= 0.5 && ratio < kMaxFitMultiple + 0.5)) return false;
    k = static_cast<int>(ratio + 0.5);
    return std::fabs(g - k * p) <= half_width(k) * p;
  }

  /// Scores period p.
  Fit score(double p) const {
    Fit fit;
    fit.period = p;
    double pi_sum = 0.0;
    uint32_t short_gaps = 0;  // under P / 2: no trial, but off the lattice
    for (double g : gaps_) {
      const double ratio = g / p;
      if (ratio < 0.5) ++short_gaps;
      if (!(ratio >= 0.5 && ratio < k_full_ - 0.5)) continue;  // not a trial
      const int k = static_cast<int>(ratio + 0.5);
      ++fit.trials;
      pi_sum += 2.0 * half_width(k);  // the window's share of the cell
      if (std::fabs(g - k * p) <= half_width(k) * p) ++fit.fits;
    }
    // No evidence (log_p stays 0) without trials, or when too many of them miss the lattice.
    if (fit.trials == 0 || fit.fits < min_fit_fraction_ * (fit.trials + short_gaps)) return fit;
    const double p0 = std::clamp(pi_sum / fit.trials, 1e-12, 1.0 - 1e-12);
    fit.log_p = log_binomial_tail(fit.fits, fit.trials, p0);
    return fit;
  }

  /// Weighted least squares over the gaps fitting p, their multiples held: sum g_i / sum k_i
  /// (p itself when none fits).
  double least_squares(double p) const {
    double sum_g = 0.0;
    double sum_k = 0.0;
    for (double g : gaps_) {
      int k = 0;
      if (!fits(g, p, k)) continue;
      sum_g += g;
      sum_k += k;
    }
    return sum_k > 0.0 ? sum_g / sum_k : p;
  }

  /// least_squares, re-fitting the gaps to each new period, up to kRefineRounds times.
  double refine(double p) const {
    for (int round = 0; round < kRefineRounds; ++round) {
      const double next = least_squares(p);
      if (std::fabs(next - p) <= 1e-9 * p) break;
      p = next;
    }
    return p;
  }

  /// The log of the number of periods the test tells apart between min and max (Sidak's M).
  double log_trials(double min_period, double max_period) const {
    const double m = std::log(max_period / min_period) * k_full_ / (2.0 * c_);
    return std::log(std::max(m, 1.0));
  }

  /// 2 * median of |g - kP| / (P sqrt k) over the fitting trial gaps.
  double jitter(double p, std::vector<double>& scratch) const {
    scratch.clear();
    for (double g : gaps_) {
      int k = 0;
      if (!fits(g, p, k) || k >= k_full_) continue;
      scratch.push_back(std::fabs(g - k * p) / (p * std::sqrt(static_cast<double>(k))));
    }
    if (scratch.empty()) return 0.0;
    const auto mid = scratch.begin() + static_cast<std::ptrdiff_t>(scratch.size() / 2);
    std::nth_element(scratch.begin(), mid, scratch.end());
    double median = *mid;
    if (scratch.size() % 2 == 0) median = (median + *std::max_element(scratch.begin(), mid)) / 2;
    return 2.0 * median;
  }

 private:
  std::span<const double> gaps_;
  double c_;
  double min_fit_fraction_;
  int k_full_ = 1;
  std::array<double, kMaxFitMultiple + 1> half_width_{};
};

/// True when a is the better fit: smaller p-value, then the longer period.
bool better(const Fit& a, const Fit& b) {
  if (a.log_p != b.log_p) return a.log_p < b.log_p;
  return a.period > b.period;
}

/// Sidak correction of log p for e^log_m tests, as a p-value.
double corrected_p(double log_p, double log_m) {
  const double p = std::exp(log_p);
  const double m = std::exp(log_m);
  if (p * m < 1e-8) return p * m;  // 1 - (1 - p)^m ~ m p, exact to 1e-8 relative
  return std::min(1.0, -std::expm1(m * std::log1p(-std::min(p, 1.0 - 1e-16))));
}

/// (host, peer) of one tenant; the tenant is the outer map.
struct PairKey {
  flow::IpAddress host;
  flow::IpAddress peer;
  friend bool operator==(const PairKey&, const PairKey&) = default;
};

struct PairKeyHash {
  size_t operator()(const PairKey& key) const noexcept {
    const flow::IpAddressHash h;
    return h(key.host) * 0x9E3779B97F4A7C15ULL ^ h(key.peer);
  }
};

/// One tracked pair: ~100 bytes here plus 4 per kept contact (see Impl).
struct Pair {
  PairKey key;
  int64_t base_ns = 0;  ///< contact times are ms offsets from here
  int64_t tested_ns = std::numeric_limits<int64_t>::min();  ///< newest contact at last test
  std::vector<uint32_t> times_ms;  ///< kept contacts (first record of each), sorted
  uint32_t end_ms = 0;             ///< latest record folded into the newest contact
  uint32_t prev = kNoSlot;         ///< LRU neighbour towards the most recent
  uint32_t next = kNoSlot;         ///< LRU neighbour towards the least recent
  uint16_t port = 0;
  uint16_t client_port = 0;  ///< host-side port of the newest contact (0: unknown)
  bool fresh = false;        ///< a contact was added since the last test
  bool in_use = false;

  int64_t newest_ns() const { return base_ns + int64_t{times_ms.back()} * kNsPerMs; }
  int64_t end_ns() const { return base_ns + int64_t{end_ms} * kNsPerMs; }
};

/// One tenant's pairs: slots, an index, and an intrusive LRU list through the slots.
struct Tenant {
  std::unordered_map<PairKey, uint32_t, PairKeyHash> index;
  std::vector<Pair> slots;
  std::vector<uint32_t> free_slots;
  uint32_t head = kNoSlot;  ///< most recently seen
  uint32_t tail = kNoSlot;  ///< least recently seen

  void unlink(uint32_t slot) {
    Pair& pair = slots[slot];
    if (pair.prev != kNoSlot)
      slots[pair.prev].next = pair.next;
    else
      head = pair.next;
    if (pair.next != kNoSlot)
      slots[pair.next].prev = pair.prev;
    else
      tail = pair.prev;
    pair.prev = pair.next = kNoSlot;
  }

  void push_front(uint32_t slot) {
    Pair& pair = slots[slot];
    pair.prev = kNoSlot;
    pair.next = head;
    if (head != kNoSlot) slots[head].prev = slot;
    head = slot;
    if (tail == kNoSlot) tail = slot;
  }

  /// Drops the pair in `slot` and frees its memory.
  void remove(uint32_t slot) {
    unlink(slot);
    Pair& pair = slots[slot];
    index.erase(pair.key);
    std::vector<uint32_t>().swap(pair.times_ms);
    pair.in_use = false;
    pair.fresh = false;
    free_slots.push_back(slot);
  }
};

}  // namespace

// Memory: per pair one index node (key 32 B, slot 4 B, hash and link: ~64 B with the bucket) and
// one slot (Pair: ~96 B), plus 4 bytes per kept contact (heap, grown as contacts arrive): about
// 160 B for a pair seen once, about 420 B at the default history of 64. Bounded by
// max_pairs_per_tenant per tenant.
struct BeaconDetector::Impl {
  std::unordered_map<uint32_t, Tenant> tenants;
  std::vector<double> gaps;     ///< scratch of the test
  std::vector<double> scratch;  ///< scratch of the jitter median
  std::vector<Fit> fits;        ///< scratch of the candidate scores
  std::vector<double> candidates;
};

BeaconDetector::BeaconDetector(const BeaconConfig& config)
    : config_(config), impl_(std::make_unique<Impl>()) {
  config_.history = std::clamp<uint32_t>(config_.history, 3, 4096);
  config_.max_pairs_per_tenant = std::max<uint32_t>(config_.max_pairs_per_tenant, 1);
  config_.min_observations = std::max<uint32_t>(config_.min_observations, 3);
  config_.min_period_ns = std::max<int64_t>(config_.min_period_ns, kNsPerMs);
  config_.max_period_ns = std::max(config_.max_period_ns, config_.min_period_ns);
}

BeaconDetector::~BeaconDetector() = default;
BeaconDetector::BeaconDetector(BeaconDetector&&) noexcept = default;
BeaconDetector& BeaconDetector::operator=(BeaconDetector&&) noexcept = default;

namespace {

/// Moves `pair`'s base so that `time_ns` gets an offset, dropping kept contacts too old to keep
/// one. Returns false when `time_ns` is too old for the kept contacts (it is then ignored).
bool rebase_for(Pair& pair, int64_t time_ns) {
  if (time_ns < pair.base_ns) {
    const int64_t shift = (pair.base_ns - time_ns + kNsPerMs - 1) / kNsPerMs;
    if (int64_t{pair.end_ms} + shift > kMaxOffsetMs) return false;
    for (uint32_t& t : pair.times_ms) t = static_cast<uint32_t>(t + shift);
    pair.end_ms = static_cast<uint32_t>(pair.end_ms + shift);
    pair.base_ns -= shift * kNsPerMs;
    return true;
  }
  if ((time_ns - pair.base_ns) / kNsPerMs <= kMaxOffsetMs) return true;
  // Far in the future (49 days on): keep only the contacts within range of it.
  const int64_t new_base = time_ns - kMaxOffsetMs / 2 * kNsPerMs;
  std::vector<uint32_t> kept;
  for (uint32_t t : pair.times_ms) {
    const int64_t abs = pair.base_ns + int64_t{t} * kNsPerMs;
    if (abs >= new_base) kept.push_back(static_cast<uint32_t>((abs - new_base) / kNsPerMs));
  }
  const int64_t end_abs = pair.end_ns();
  pair.end_ms = end_abs >= new_base ? static_cast<uint32_t>((end_abs - new_base) / kNsPerMs) : 0;
  pair.times_ms = std::move(kept);
  pair.base_ns = new_base;
  return true;
}

}  // namespace

void BeaconDetector::observe(uint32_t tenant_id, const flow::IpAddress& host,
                             const flow::IpAddress& peer, uint16_t port, int64_t time_ns,
                             uint16_t client_port) {
  ++stats_.contacts;
  // 1 ms resolution on a grid fixed in absolute time: the kept times do not depend on the order
  // in which records arrive.
  time_ns -= ((time_ns % kNsPerMs) + kNsPerMs) % kNsPerMs;
  Tenant& tenant = impl_->tenants[tenant_id];
  const PairKey key{host, peer};
  uint32_t slot = kNoSlot;
  if (auto it = tenant.index.find(key); it != tenant.index.end()) {
    slot = it->second;
    tenant.unlink(slot);
  } else {
    if (tenant.index.size() >= config_.max_pairs_per_tenant) {
      tenant.remove(tenant.tail);
      ++stats_.pairs_evicted;
      --stats_.pairs_now;
    }
    if (!tenant.free_slots.empty()) {
      slot = tenant.free_slots.back();
      tenant.free_slots.pop_back();
    } else {
      slot = static_cast<uint32_t>(tenant.slots.size());
      tenant.slots.emplace_back();
    }
    Pair& pair = tenant.slots[slot];
    pair = Pair{};
    pair.key = key;
    pair.base_ns = time_ns;
    pair.in_use = true;
    tenant.index.emplace(key, slot);
    ++stats_.pairs_now;
  }
  tenant.push_front(slot);
  Pair& pair = tenant.slots[slot];

  if (!pair.times_ms.empty() && !rebase_for(pair, time_ns)) {
    ++stats_.contacts_stale;
    return;
  }
  if (pair.times_ms.empty()) pair.base_ns = time_ns;
  const auto t = static_cast<uint32_t>((time_ns - pair.base_ns) / kNsPerMs);
  const int64_t merge_gap_ns = config_.merge_gap_ns;
  auto close = [merge_gap_ns](uint32_t a, uint32_t b) {
    return std::llabs(int64_t{a} - int64_t{b}) * kNsPerMs < merge_gap_ns;
  };
  std::vector<uint32_t>& times = pair.times_ms;

  if (times.empty()) {
    times.push_back(t);
    pair.end_ms = t;
    pair.port = port;
    pair.client_port = client_port;
    pair.fresh = true;
    return;
  }
  if (t >= times.back()) {
    pair.port = port;
    // The same host-side port as the newest contact: the same connection re-exported (an
    // active timeout), not a new contact; a long session must not look like a beacon at the
    // exporter's timeout.
    if (client_port != 0 && client_port == pair.client_port) {
      pair.end_ms = std::max(pair.end_ms, t);
      ++stats_.contacts_continued;
      return;
    }
    pair.client_port = client_port;
    // Records of one connection chain: each folds into the contact when it follows the latest
    // record folded so far by less than merge_gap.
    if (t <= pair.end_ms || close(t, pair.end_ms)) {
      pair.end_ms = std::max(pair.end_ms, t);
      ++stats_.contacts_merged;
      return;
    }
    if (times.size() >= config_.history) times.erase(times.begin());
    times.push_back(t);
    pair.end_ms = t;
    pair.fresh = true;
    return;
  }
  // Late record (out of order): fold into a neighbour or insert in place.
  auto pos = std::lower_bound(times.begin(), times.end(), t);
  if (pos != times.begin() && close(t, *(pos - 1))) {
    ++stats_.contacts_merged;
    return;
  }
  if (close(t, *pos)) {
    *pos = t;  // the contact starts at its first record
    ++stats_.contacts_merged;
    return;
  }
  if (times.size() >= config_.history) {
    if (pos == times.begin()) {
      ++stats_.contacts_stale;  // older than every kept contact: would be forgotten at once
      return;
    }
    times.erase(times.begin());
    pos = std::lower_bound(times.begin(), times.end(), t);
  }
  times.insert(pos, t);
  pair.fresh = true;
}

namespace {

/// Runs the periodicity test on `pair`; fills `out` and returns true when it is periodic now.
bool test_pair(const Pair& pair, const BeaconConfig& config, std::vector<double>& gaps,
               std::vector<double>& candidates, std::vector<Fit>& fits,
               std::vector<double>& scratch, BeaconFinding& out) {
  const std::vector<uint32_t>& times = pair.times_ms;
  gaps.clear();
  for (size_t idx = 1; idx < times.size(); ++idx) {
    gaps.push_back(static_cast<double>(times[idx] - times[idx - 1]) * 1e-3);
  }
  const double min_period = static_cast<double>(config.min_period_ns) * 1e-9;
  const double max_period = static_cast<double>(config.max_period_ns) * 1e-9;
  const PeriodTest test(gaps, config);

  candidates.clear();
  for (double g : gaps) {
    for (int k = 1; k <= kMaxCandidateMultiple; ++k) {
      const double p = g / k;
      if (p < min_period) break;
      if (p <= max_period) candidates.push_back(p);
    }
  }
  if (candidates.empty()) return false;
  std::sort(candidates.begin(), candidates.end());
  fits.clear();
  double last = -1.0;
  for (double p : candidates) {
    if (last > 0.0 && p - last <= kDedupRelative * last) continue;
    last = p;
    fits.push_back(test.score(p));
  }
  const size_t top = std::min(kRefined, fits.size());
  std::partial_sort(fits.begin(), fits.begin() + static_cast<std::ptrdiff_t>(top), fits.end(),
                    better);
  Fit best = fits.front();
  for (size_t idx = 0; idx < top; ++idx) {
    const double p = test.refine(fits[idx].period);
    if (p < min_period || p > max_period) continue;
    const Fit refined = test.score(p);
    if (better(refined, best)) best = refined;
  }
  const double p_value = corrected_p(best.log_p, test.log_trials(min_period, max_period));
  if (!(p_value <= config.max_p_value)) return false;

  // Reportable again only with a fitting gap that ends at a contact newer than the last test.
  bool new_fit = false;
  for (size_t idx = 1; idx < times.size() && !new_fit; ++idx) {
    const int64_t end_ns = pair.base_ns + int64_t{times[idx]} * kNsPerMs;
    int k = 0;
    new_fit = end_ns > pair.tested_ns && test.fits(gaps[idx - 1], best.period, k);
  }
  if (!new_fit) return false;

  const int64_t first_ns = pair.base_ns + int64_t{times.front()} * kNsPerMs;
  const int64_t last_ns = pair.newest_ns();
  // The p-value picked the fitting gaps; the period is their least-squares estimate (the
  // winning candidate itself sits where the null's window mass is least, at an edge of the
  // periods that fit the same gaps).
  const double period = test.least_squares(best.period);
  out.period_ns = std::llround(period * 1e9);
  out.jitter = test.jitter(period, scratch);
  out.observations = static_cast<uint32_t>(times.size());
  out.first_ns = first_ns;
  out.last_ns = last_ns;
  out.p_value = p_value;
  out.port = pair.port;
  out.observed_fraction =
      static_cast<double>(times.size()) /
      (static_cast<double>(last_ns - first_ns) / static_cast<double>(out.period_ns) + 1.0);
  return true;
}

}  // namespace

std::vector<BeaconFinding> BeaconDetector::evaluate(int64_t now_ns) {
  std::vector<BeaconFinding> findings;
  for (auto tenant_it = impl_->tenants.begin(); tenant_it != impl_->tenants.end();) {
    Tenant& tenant = tenant_it->second;
    for (uint32_t slot = 0; slot < tenant.slots.size(); ++slot) {
      Pair& pair = tenant.slots[slot];
      if (!pair.in_use) continue;
      if (pair.end_ns() < now_ns - config_.idle_ns) {
        tenant.remove(slot);
        ++stats_.pairs_expired;
        --stats_.pairs_now;
        continue;
      }
      if (!pair.fresh) continue;
      pair.fresh = false;
      if (pair.times_ms.size() < config_.min_observations) continue;
      ++stats_.evaluations;
      BeaconFinding finding;
      if (test_pair(pair, config_, impl_->gaps, impl_->candidates, impl_->fits, impl_->scratch,
                    finding)) {
        finding.tenant_id = tenant_it->first;
        finding.host = pair.key.host;
        finding.peer = pair.key.peer;
        findings.push_back(finding);
      }
      pair.tested_ns = pair.newest_ns();
    }
    if (tenant.index.empty()) {
      tenant_it = impl_->tenants.erase(tenant_it);
    } else {
      ++tenant_it;
    }
  }
  std::sort(findings.begin(), findings.end(), [](const BeaconFinding& a, const BeaconFinding& b) {
    if (a.tenant_id != b.tenant_id) return a.tenant_id < b.tenant_id;
    if (a.host != b.host) return a.host < b.host;
    return a.peer < b.peer;
  });
  return findings;
}

void BeaconDetector::forget_tenant(uint32_t tenant_id) {
  auto it = impl_->tenants.find(tenant_id);
  if (it == impl_->tenants.end()) return;
  stats_.pairs_now -= it->second.index.size();
  impl_->tenants.erase(it);
}

}  // namespace fathom::detect
