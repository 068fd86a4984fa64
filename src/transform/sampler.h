#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "flow/flow_record.h"
#include "flow/hash_mix.h"
#include "transform/config.h"

namespace fathom::transform {

// --- flow-consistent selection ---------------------------------------------------------------

namespace detail {

__extension__ using SamplerU128 = unsigned __int128;

/// 64x64 -> 128-bit multiply folded to 64 bits (the wyhash "mum" step).
inline uint64_t mum(uint64_t a, uint64_t b) noexcept {
  const SamplerU128 r = static_cast<SamplerU128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t load64(const uint8_t* p) noexcept {
  uint64_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

}  // namespace detail

/// 64-bit hash of a record's flow key under `seed`: tenant, protocol and the two endpoints
/// (address, port). The endpoints are put in a canonical order first, so both directions of a
/// conversation (and an RFC 5103 biflow's reverse record) hash alike. Fields outside the key
/// (counters, times, exporter, flags) do not matter, so every record of one flow, seen by any
/// worker at any time, gets the same hash. A wyhash-style multiply-fold over the 16-byte
/// addresses, finished with a murmur3 fmix64; any seed works.
inline uint64_t flow_key_hash(uint64_t seed, const flow::FlowRecord& r) noexcept {
  uint64_t a_hi = detail::load64(r.src.bytes.data());
  uint64_t a_lo = detail::load64(r.src.bytes.data() + 8);
  uint64_t b_hi = detail::load64(r.dst.bytes.data());
  uint64_t b_lo = detail::load64(r.dst.bytes.data() + 8);
  uint16_t a_port = r.src_port;
  uint16_t b_port = r.dst_port;
  // Any total order works for canonicalising, so compare the words as loaded (not as
  // addresses): (hi, lo, port) of the src end against the dst end.
  const bool swap = a_hi != b_hi ? a_hi > b_hi : (a_lo != b_lo ? a_lo > b_lo : a_port > b_port);
  if (swap) {
    std::swap(a_hi, b_hi);
    std::swap(a_lo, b_lo);
    std::swap(a_port, b_port);
  }
  const uint64_t ports_tenant = (uint64_t{a_port} << 48) | (uint64_t{b_port} << 32) | r.tenant_id;
  constexpr uint64_t kP0 = 0xa0761d6478bd642full;  // wyhash's secrets
  constexpr uint64_t kP1 = 0xe7037ed1a0b428dbull;
  constexpr uint64_t kP2 = 0x8ebc6af09c88c6e3ull;
  constexpr uint64_t kP3 = 0x589965cc75374cc3ull;
  // Never zero, and the last multiplicand is odd: a zero multiplicand would erase the other
  // operand (for IPv4, a_hi is 0, so `s` alone is the first one).
  const uint64_t s = seed != kP0 ? seed ^ kP0 : kP3;
  uint64_t h = detail::mum(a_hi ^ s, a_lo ^ kP1);
  h = detail::mum(h ^ b_hi ^ kP2, b_lo ^ s);
  h = detail::mum(h ^ ports_tenant ^ kP3, (s ^ kP1 ^ (uint64_t{r.ip_protocol} * kP2)) | 1);
  // fmix64 (MurmurHash3): spreads the fold's result over every bit.
  return flow::fmix64(h);
}

/// True when the record's flow is kept at keep probability `p`: its hash, mapped to [0, 1),
/// is below `p`. Flow-consistent, and nested: a flow kept at `p` is kept at every p' > p.
/// `p >= 1` keeps everything; `p <= 0` (or NaN) keeps nothing.
inline bool keep_flow(uint64_t seed, const flow::FlowRecord& r, double p) noexcept {
  if (p >= 1.0) return true;
  return static_cast<double>(flow_key_hash(seed, r) >> 11) * 0x1.0p-53 < p;
}

/// Marks a record kept at probability `p` (0 < p <= 1), given `inv_p` = 1 / p: its effective
/// sampling rate (device rate, possibly already scaled) is multiplied by 1 / p, so that
/// Horvitz–Thompson sums stay unbiased, and `kSecondarySampled` is set when p < 1.
inline void mark_kept(flow::FlowRecord& r, double p, double inv_p) noexcept {
  if (p >= 1.0) return;
  r.sampling_rate *= inv_p;
  r.flags |= flow::record_flags::kSecondarySampled;
}

// --- the shared per-tenant state -------------------------------------------------------------

/// One tenant's shared state in the sampler. Workers read its keep probability once per packet
/// and add what they saw once per packet (`AdaptiveSampler::record`); the controller
/// (`AdaptiveSampler::update`) writes the probability. A slot outlives table swaps while the
/// tenant stays configured, so counts in flight are never lost.
class SamplerSlot {
 public:
  explicit SamplerSlot(uint32_t tenant_id) noexcept : tenant_id_(tenant_id) {}
  SamplerSlot(const SamplerSlot&) = delete;
  SamplerSlot& operator=(const SamplerSlot&) = delete;

  uint32_t tenant_id() const noexcept { return tenant_id_; }
  /// Current keep probability in (0, 1]; 1 for tenants without a target (any thread).
  double probability() const noexcept { return probability_.load(std::memory_order_relaxed); }

 private:
  friend class AdaptiveSampler;
  static constexpr int64_t kNotStarted = std::numeric_limits<int64_t>::min();

  const uint32_t tenant_id_;

  // Written by every worker of the tenant (per packet), on a cache line of their own.
  alignas(64) std::atomic<uint64_t> arrivals_{0};
  std::atomic<uint64_t> kept_{0};

  // Written by the controller, read by workers per packet.
  alignas(64) std::atomic<double> probability_{1.0};
  /// Start of the measurement window; kNotStarted until the controller first sees the slot.
  std::atomic<int64_t> window_start_ns_{kNotStarted};
  std::atomic<uint64_t> window_arrivals_{0};  ///< arrivals_ at window_start_ns_
  /// Arrivals per nanosecond beyond which the current window is a surge (surge_factor x
  /// target / p); +inf when the tenant has no target.
  std::atomic<double> surge_per_ns_{0.0};

  // Controller state, guarded by AdaptiveSampler::mutex_.
  double target_ = 0.0;
  double smoothed_rate_ = 0.0;  ///< records/s, EWMA
  bool has_rate_ = false;
  uint64_t window_kept_ = 0;  ///< kept_ at window_start_ns_
  double kept_rate_ = 0.0;    ///< records/s kept over the latest closed window
  uint64_t surges_ = 0;
};

/// An immutable tenant id -> slot table, replaced as a whole by `AdaptiveSampler::set_tenants`.
/// Slots are mutable through it (their atomics); the table itself never changes.
class SamplerTable {
 public:
  /// The tenant's slot, or nullptr when the sampler does not know the tenant (keep all).
  /// O(log tenants); call once per packet, not per record.
  SamplerSlot* find(uint32_t tenant_id) const noexcept;
  size_t size() const noexcept { return ids_.size(); }

 private:
  friend class AdaptiveSampler;
  std::vector<uint32_t> ids_;  ///< sorted
  std::vector<std::shared_ptr<SamplerSlot>> slots_;
};

/// One tenant's sampler figures for metrics.
struct SamplerTenantStats {
  uint32_t tenant_id = 0;
  double target = 0.0;        ///< records/s the sampler aims at; 0 = no limit
  double probability = 1.0;   ///< current keep probability
  double arrival_rate = 0.0;  ///< smoothed arrivals, records/s
  double kept_rate = 0.0;     ///< records/s kept over the latest closed window
  uint64_t arrivals_total = 0;
  uint64_t kept_total = 0;
  uint64_t surges_total = 0;  ///< times the surge rule lowered the probability early
};

/// What the controller knows about one tenant that a restart would otherwise lose: its keep
/// probability and the smoothed arrival rate it came from (docs/adaptive-sampling.md
/// "Across restarts"). Counters and windows are not part of it: those start afresh.
struct SamplerTenantState {
  uint32_t tenant_id = 0;
  double probability = 1.0;    ///< in (0, 1]
  double smoothed_rate = 0.0;  ///< records/s, >= 0
  double kept_rate = 0.0;      ///< records/s over the latest closed window, >= 0
  double target = 0.0;         ///< the target it was controlled for (records/s)
};

/// The sampler's figures for metrics.
struct SamplerSnapshot {
  std::vector<SamplerTenantStats> tenants;  ///< sorted by tenant id
  uint64_t updates_total = 0;               ///< regular controller runs
};

/// Adaptive per-tenant sampling (docs/adaptive-sampling.md). One instance is shared by every
/// ingest worker of the process, because one tenant's exporters may be spread over several
/// receive threads. Each tenant with a `target_ingest_rate` gets a keep probability
/// p = clamp(target / smoothed arrival rate, min_probability, 1), changed at most every
/// `update_interval_seconds` (up at most x2 per change), except that a surge (arrivals beyond
/// `surge_factor` x what p was set for) lowers it at once. Records are kept by flow
/// (`keep_flow`), and a kept record's sampling rate is divided by p, so sums stay unbiased.
///
/// Hot path (any worker thread, lock-free): per packet, `SamplerView::find` the tenant's slot,
/// read `probability()`, decide each record with `keep`/`mark_kept`, then `record` the
/// packet's arrivals and kept records. Control (any thread): `update` from every worker's tick
/// (one runs, the others return at once), `set_tenants` on reload, `snapshot` for metrics.
class AdaptiveSampler {
 public:
  /// A sampler without tenants (everything is kept) and default settings.
  AdaptiveSampler();
  /// `set_tenants(config)`.
  explicit AdaptiveSampler(const Config& config);
  ~AdaptiveSampler();
  AdaptiveSampler(const AdaptiveSampler&) = delete;
  AdaptiveSampler& operator=(const AdaptiveSampler&) = delete;

  /// Rebuilds the tenant table from `config.tenants` and takes `config.sampling` (any thread,
  /// e.g. on SIGHUP). Tenants that stay keep their slot: probability, rates and totals carry
  /// over (a changed target takes effect at the next update). New tenants start at p = 1 and
  /// are measured from the next `update`. Out-of-range settings are clamped (the config loader
  /// rejects them first): interval >= 1 ms, smoothing in (0, 1], min_probability in (0, 1],
  /// surge_factor > 1.
  void set_tenants(const Config& config);

  /// Controller step (any thread; cheap when nothing is due). Runs at most one thread at a time
  /// (try_lock: a busy controller makes the caller return at once). Every
  /// `update_interval_seconds` it measures each tenant's arrival rate over its window, smooths
  /// it and sets p; between updates it applies the surge rule a worker flagged. `now_ns` is the
  /// workers' clock (wall clock, or capture time in replays); a step backwards restarts the
  /// windows instead of measuring a negative interval.
  void update(int64_t now_ns) noexcept;

  /// Adds one packet's (or batch's) counts for `slot`'s tenant: `arrivals` records seen,
  /// `kept` of them kept (kept <= arrivals). When the window's arrivals pass the surge
  /// threshold it runs `update(now_ns)` to lower p at once. Lock-free unless it surges.
  void record(SamplerSlot& slot, uint64_t arrivals, uint64_t kept, int64_t now_ns) noexcept;

  /// `keep_flow` with this sampler's seed.
  bool keep(const flow::FlowRecord& r, double p) const noexcept { return keep_flow(seed(), r, p); }
  /// The flow-hash seed (`Sampling::seed`).
  uint64_t seed() const noexcept { return seed_.load(std::memory_order_relaxed); }

  /// The current slot table (any thread). Workers use `SamplerView`, which re-reads it only
  /// when `generation()` changes.
  std::shared_ptr<const SamplerTable> table() const { return table_.load(); }
  /// Bumped by every `set_tenants` (after the new table is in place).
  uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }

  /// Per-tenant figures (any thread; briefly takes the controller lock).
  SamplerSnapshot snapshot() const;

  /// The state of every tenant with a target that has been measured at least once (any
  /// thread; briefly takes the controller lock), sorted by tenant id.
  std::vector<SamplerTenantState> export_state() const;
  /// Carries a tenant's state over from before a restart (`export_state` of the previous
  /// process): its smoothed rate is the history the next measurement is smoothed against, and
  /// its probability (clamped to [min_probability, 1]) is in force until the next update
  /// moves it as usual (down at once, up at most x2). False, and nothing changes, when the
  /// tenant is not configured, has no target now, or `state` holds a non-finite or
  /// out-of-range value. Call before traffic (any thread).
  bool restore_state(const SamplerTenantState& state) noexcept;

  /// Load shedding (any thread): every tenant's keep probability is multiplied by `factor`
  /// (clamped to [min_probability, 1]) from the next controller update, tenants without a
  /// target included; 1 turns it off. The analysis stage lowers it when its micro-batches
  /// overrun (analyze::LoadShedder), so overload costs precision, never silently lost data.
  void set_load_factor(double factor) noexcept;
  double load_factor() const noexcept { return load_factor_.load(std::memory_order_relaxed); }

 private:
  void update_locked(int64_t now_ns) noexcept;
  /// The regular measurement of one slot's window: smooths the rate, sets p.
  void measure(SamplerSlot& slot, int64_t now_ns) noexcept;
  /// The surge rule for one slot: lowers p if its window is a surge. True if it did.
  bool surge(SamplerSlot& slot, int64_t now_ns) noexcept;
  void start_window(SamplerSlot& slot, int64_t now_ns) noexcept;
  /// p for `rate` records/s under the slot's target, before the increase limit.
  double goal(const SamplerSlot& slot, double rate) const noexcept;
  void set_probability(SamplerSlot& slot, double p) noexcept;

  mutable std::mutex mutex_;  ///< the controller lock: guards what follows and slots' state
  std::shared_ptr<const SamplerTable> controller_table_;  ///< guarded by mutex_
  int64_t interval_ns_ = 2'000'000'000;
  double smoothing_ = 0.5;
  double min_probability_ = 1e-4;
  double surge_factor_ = 4.0;
  uint64_t updates_ = 0;

  std::atomic<std::shared_ptr<const SamplerTable>> table_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> seed_{Sampling{}.seed};
  std::atomic<int64_t> next_update_ns_{std::numeric_limits<int64_t>::min()};
  std::atomic<bool> work_pending_{false};  ///< a surge flagged or new slots to start
  std::atomic<double> load_factor_{1.0};
  /// A window shorter than this is judged as if this long by the surge rule, so a burst of a
  /// few packets right after an update is not a surge (interval / 4).
  std::atomic<int64_t> surge_floor_ns_{500'000'000};
};

/// One worker's view of a shared sampler (owner thread only): keeps the slot table and
/// re-reads it only when `set_tenants` replaced it, so a lookup costs one relaxed load and a
/// binary search.
class SamplerView {
 public:
  explicit SamplerView(std::shared_ptr<AdaptiveSampler> sampler);

  /// The tenant's slot, or nullptr (no sampler, or a tenant it does not know: keep all).
  SamplerSlot* find(uint32_t tenant_id) noexcept;
  AdaptiveSampler* sampler() const noexcept { return sampler_.get(); }

 private:
  std::shared_ptr<AdaptiveSampler> sampler_;
  std::shared_ptr<const SamplerTable> table_;
  uint64_t generation_ = 0;
};

}  // namespace fathom::transform
