#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "flow/ip_address.h"

namespace fathom::detect {

/// Settings of the beaconing detector (docs/detections.md "C2 beaconing").
struct BeaconConfig {
  int64_t min_period_ns = 10'000'000'000;     ///< shortest beacon period considered (10 s)
  int64_t max_period_ns = 3'600'000'000'000;  ///< longest (1 h)
  /// Relative jitter of one period that still counts as periodic (0.25: ±25%); a gap of k
  /// periods is allowed k times the variance of one (jitter accumulates, as real implants
  /// schedule the next beacon from the last): it fits within ±jitter_tolerance·√k·period.
  /// Read as two standard deviations; fathom-gen's ±20% uniform jitter stays well inside 0.25.
  double jitter_tolerance = 0.25;
  /// Observed contacts a pair needs before it is tested (sampling hides most beacons: at
  /// 1/100 a 10-packet beacon is seen about once in ten).
  uint32_t min_observations = 5;
  /// The periodic explanation must beat the "random contacts" (Poisson) null at this p-value.
  double max_p_value = 1e-4;
  /// Share of the informative gaps (those shorter than the multiple of the period from which
  /// the tolerance windows cover the line: 3.5 periods at jitter_tolerance 0.25) that must fit
  /// the period. Traffic whose gaps merely prefer some length (a renewal process with a broad
  /// bump) can beat the null with many contacts but leaves a third or more of its gaps off the
  /// lattice; a beacon leaves almost none (only the odd unrelated contact of the same pair).
  double min_fit_fraction = 0.8;
  /// Contact times kept per pair (newest); older ones are forgotten. The test needs about 20
  /// observed contacts unsampled and about 60 when most beacons are missed (observed fraction
  /// 0.3-0.5), so a beacon seen one time in ten needs a longer history (256) to be found.
  /// 4 bytes per kept contact, allocated as contacts arrive (clamped to 3..4096).
  uint32_t history = 64;
  /// (host, peer) pairs tracked per tenant; the least recently seen pair is evicted (counted).
  uint32_t max_pairs_per_tenant = 65'536;
  /// A pair with no contact for this long is forgotten (in `evaluate`). Under sampling the
  /// observed gaps are several periods: keep this well above period / observed fraction.
  int64_t idle_ns = 7'200'000'000'000;  ///< 2 h
  /// Contacts of one pair closer than this are one contact (the records of one connection).
  /// Records chain: each one closer than this to the latest record folded into the newest
  /// contact joins it, so a burst (a page load) is one contact however long it lasts.
  int64_t merge_gap_ns = 2'000'000'000;
};

/// A (host, peer) pair whose observed contacts fit a period.
struct BeaconFinding {
  uint32_t tenant_id = 0;
  flow::IpAddress host;   ///< internal host (the implant)
  flow::IpAddress peer;   ///< external peer (the C2 server)
  uint16_t port = 0;      ///< peer's port of the latest contact
  int64_t period_ns = 0;  ///< estimated period (least squares over the fitting gaps)
  /// Estimated relative jitter of one period, on jitter_tolerance's scale (±): twice the median
  /// relative residual per √k of the informative fitting gaps.
  double jitter = 0.0;
  uint32_t observations = 0;  ///< contacts observed (after merging)
  int64_t first_ns = 0;       ///< first observed contact kept
  int64_t last_ns = 0;        ///< latest observed contact
  /// Chance of so good a fit from random contacts (gaps with a density smooth at the scale of
  /// one period, as Poisson contacts have), corrected for the number of periods tried
  /// (beacon.cpp, "The periodicity test").
  double p_value = 1.0;
  /// Fraction of the expected beacons (span / period) that were observed: under sampling most
  /// are missed; this says how many.
  double observed_fraction = 0.0;
};

/// Counters of a BeaconDetector.
struct BeaconStats {
  uint64_t contacts = 0;         ///< `observe` calls
  uint64_t contacts_merged = 0;  ///< folded into the previous contact (within merge_gap_ns)
  /// Ignored: older than every kept contact of a pair whose history is full, or too far
  /// (49 days) before its newest one.
  uint64_t contacts_stale = 0;
  /// Same host-side port as the pair's newest contact: the same connection, re-exported.
  uint64_t contacts_continued = 0;
  uint64_t pairs_evicted = 0;  ///< over max_pairs_per_tenant
  uint64_t pairs_expired = 0;  ///< idle longer than idle_ns
  uint64_t pairs_now = 0;
  uint64_t evaluations = 0;  ///< pairs tested
};

/// Finds command-and-control beaconing: an internal host contacting one external peer at a
/// regular period, with jitter, seen through sampling (most contacts missed, so observed gaps
/// are whole multiples of the period). Fed one contact per sampled record (or per pair and
/// slide) by the analysis stage; `evaluate` runs the periodicity test on every pair with new
/// contacts since its last test. Memory bounded (pairs per tenant × history): about 160 bytes
/// per pair plus 4 per kept contact (≈ 420 bytes at history 64). Time is the
/// caller's (record or window time), so replays are deterministic. Not thread-safe; no I/O.
class BeaconDetector {
 public:
  explicit BeaconDetector(const BeaconConfig& config = {});
  ~BeaconDetector();
  BeaconDetector(BeaconDetector&&) noexcept;
  BeaconDetector& operator=(BeaconDetector&&) noexcept;

  /// One observed contact from `host` (internal) to `peer` (external) on `port` at `time_ns`.
  /// Times are kept at 1 ms resolution; late (out of order) contacts are inserted in place.
  /// `client_port` is the host-side port when known: a record with the same one as the
  /// pair's newest contact continues that connection (a flow re-exported at the exporter's
  /// active timeout) and adds no contact (`contacts_continued`).
  void observe(uint32_t tenant_id, const flow::IpAddress& host, const flow::IpAddress& peer,
               uint16_t port, int64_t time_ns, uint16_t client_port = 0);
  /// Tests pairs with contacts new since their last test, expires idle pairs (relative to
  /// `now_ns`), and returns the pairs that are periodic now, sorted by (tenant, host, peer).
  /// A periodic pair is returned again at each evaluation after which it got a new contact
  /// that fits its period; not when its only news are contacts that do not fit.
  std::vector<BeaconFinding> evaluate(int64_t now_ns);
  /// Forgets a tenant's pairs (tenant removed).
  void forget_tenant(uint32_t tenant_id);
  const BeaconStats& stats() const noexcept { return stats_; }
  const BeaconConfig& config() const noexcept { return config_; }

 private:
  struct Impl;
  BeaconConfig config_;
  BeaconStats stats_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fathom::detect
