#include "transform/sampler.h"

#include <algorithm>
#include <cmath>

namespace fathom::transform {
namespace {

/// A probability goes up at most this much per regular update: after a flood ends, the
/// smoothed rate needs a few intervals to come down, and a cautious climb keeps p from
/// overshooting into the next burst (it falls at once, by the surge rule, if it does).
constexpr double kMaxIncrease = 2.0;
/// A window needs at least this many arrivals to be a surge: a packet or two of a slow tenant
/// arriving together is a burst, not a flood.
constexpr uint64_t kMinSurgeArrivals = 100;
/// The surge rule measures the flood's rate over at least this long, so a window of a few
/// packets with the same timestamp cannot claim an infinite rate.
constexpr int64_t kMinRateWindowNs = 10'000'000;
constexpr double kInfinity = std::numeric_limits<double>::infinity();

double clamp_or(double value, double lo, double hi, double fallback) {
  if (!std::isfinite(value)) return fallback;
  return std::clamp(value, lo, hi);
}

}  // namespace

SamplerSlot* SamplerTable::find(uint32_t tenant_id) const noexcept {
  const auto it = std::lower_bound(ids_.begin(), ids_.end(), tenant_id);
  if (it == ids_.end() || *it != tenant_id) return nullptr;
  return slots_[static_cast<size_t>(it - ids_.begin())].get();
}

AdaptiveSampler::AdaptiveSampler() {
  controller_table_ = std::make_shared<const SamplerTable>();
  table_.store(controller_table_);
}

AdaptiveSampler::AdaptiveSampler(const Config& config) : AdaptiveSampler() {
  set_tenants(config);
}

AdaptiveSampler::~AdaptiveSampler() = default;

void AdaptiveSampler::set_tenants(const Config& config) {
  std::lock_guard lock(mutex_);
  const Sampling& s = config.sampling;
  const double interval_s = clamp_or(s.update_interval_seconds, 1e-3, 1e6, 2.0);
  interval_ns_ = static_cast<int64_t>(interval_s * 1e9);
  smoothing_ = clamp_or(s.smoothing, 1e-6, 1.0, 0.5);
  min_probability_ = clamp_or(s.min_probability, 1e-12, 1.0, 1e-4);
  surge_factor_ = clamp_or(s.surge_factor, 1.01, 1e12, 4.0);
  seed_.store(s.seed, std::memory_order_relaxed);
  surge_floor_ns_.store(interval_ns_ / 4, std::memory_order_relaxed);

  auto next = std::make_shared<SamplerTable>();
  std::vector<const Tenant*> tenants;
  tenants.reserve(config.tenants.size());
  for (const Tenant& t : config.tenants) tenants.push_back(&t);
  // By id; on a duplicate id (the loader rejects them) the first listed wins.
  std::stable_sort(tenants.begin(), tenants.end(),
                   [](const Tenant* a, const Tenant* b) { return a->id < b->id; });
  for (const Tenant* t : tenants) {
    if (!next->ids_.empty() && next->ids_.back() == t->id) continue;
    SamplerSlot* old = controller_table_->find(t->id);
    std::shared_ptr<SamplerSlot> slot;
    if (old != nullptr) {
      const auto idx = static_cast<size_t>(
          std::lower_bound(controller_table_->ids_.begin(), controller_table_->ids_.end(), t->id) -
          controller_table_->ids_.begin());
      slot = controller_table_->slots_[idx];
    } else {
      slot = std::make_shared<SamplerSlot>(t->id);
      work_pending_.store(true, std::memory_order_relaxed);  // start its window soon
    }
    slot->target_ = clamp_or(t->target_ingest_rate, 0.0, 1e18, 0.0);
    const double p =
        slot->target_ > 0.0
            ? std::clamp(slot->probability_.load(std::memory_order_relaxed), min_probability_, 1.0)
            : 1.0;
    set_probability(*slot, p);
    next->ids_.push_back(t->id);
    next->slots_.push_back(std::move(slot));
  }
  controller_table_ = next;
  table_.store(std::move(next));
  generation_.fetch_add(1, std::memory_order_release);
}

void AdaptiveSampler::set_probability(SamplerSlot& slot, double p) noexcept {
  slot.probability_.store(p, std::memory_order_relaxed);
  // At min_probability a surge cannot lower p further: no threshold, so a flood past target /
  // min_probability does not make every packet knock on the controller.
  const bool can_fall = slot.target_ > 0.0 && p > min_probability_;
  slot.surge_per_ns_.store(can_fall ? surge_factor_ * slot.target_ / p * 1e-9 : kInfinity,
                           std::memory_order_relaxed);
}

void AdaptiveSampler::start_window(SamplerSlot& slot, int64_t now_ns) noexcept {
  slot.window_arrivals_.store(slot.arrivals_.load(std::memory_order_relaxed),
                              std::memory_order_relaxed);
  slot.window_kept_ = slot.kept_.load(std::memory_order_relaxed);
  slot.window_start_ns_.store(now_ns, std::memory_order_relaxed);
}

double AdaptiveSampler::goal(const SamplerSlot& slot, double rate) const noexcept {
  const double load = load_factor_.load(std::memory_order_relaxed);
  const double p = slot.target_ <= 0.0 || !(rate > slot.target_) ? 1.0 : slot.target_ / rate;
  return std::clamp(p * load, min_probability_, 1.0);
}

void AdaptiveSampler::set_load_factor(double factor) noexcept {
  const double f = std::isfinite(factor) ? std::clamp(factor, 0.0, 1.0) : 1.0;
  if (load_factor_.exchange(f, std::memory_order_relaxed) == f) return;
  // Take effect at the next update instead of waiting for the interval.
  next_update_ns_.store(std::numeric_limits<int64_t>::min(), std::memory_order_relaxed);
}

void AdaptiveSampler::update(int64_t now_ns) noexcept {
  if (!work_pending_.load(std::memory_order_relaxed) &&
      now_ns < next_update_ns_.load(std::memory_order_relaxed)) {
    return;
  }
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // another thread is running the controller
  update_locked(now_ns);
}

void AdaptiveSampler::update_locked(int64_t now_ns) noexcept {
  // Cleared before the scan: a worker flagging a surge meanwhile leaves it set for next time.
  work_pending_.store(false, std::memory_order_relaxed);
  const bool due = now_ns >= next_update_ns_.load(std::memory_order_relaxed);
  for (const std::shared_ptr<SamplerSlot>& slot : controller_table_->slots_) {
    const int64_t start = slot->window_start_ns_.load(std::memory_order_relaxed);
    if (start == SamplerSlot::kNotStarted || now_ns < start) {
      start_window(*slot, now_ns);  // new tenant, or the clock stepped back
      continue;
    }
    // A window restarted by a surge shortly before is left to grow to a useful length.
    if (due && now_ns - start >= interval_ns_ / 2) {
      measure(*slot, now_ns);
    } else {
      surge(*slot, now_ns);
    }
  }
  if (due) {
    next_update_ns_.store(now_ns + interval_ns_, std::memory_order_relaxed);
    ++updates_;
  }
}

void AdaptiveSampler::measure(SamplerSlot& slot, int64_t now_ns) noexcept {
  const int64_t start = slot.window_start_ns_.load(std::memory_order_relaxed);
  const double seconds = static_cast<double>(now_ns - start) * 1e-9;
  const uint64_t arrivals = slot.arrivals_.load(std::memory_order_relaxed) -
                            slot.window_arrivals_.load(std::memory_order_relaxed);
  const uint64_t kept = slot.kept_.load(std::memory_order_relaxed) - slot.window_kept_;
  const double rate = static_cast<double>(arrivals) / seconds;
  slot.kept_rate_ = static_cast<double>(kept) / seconds;
  // The first measurement is taken as it is: there is no history to smooth against.
  slot.smoothed_rate_ =
      slot.has_rate_ ? smoothing_ * rate + (1.0 - smoothing_) * slot.smoothed_rate_ : rate;
  slot.has_rate_ = true;
  const double old_p = slot.probability_.load(std::memory_order_relaxed);
  double p = goal(slot, slot.smoothed_rate_);
  if (p > old_p) p = std::min(p, old_p * kMaxIncrease);
  set_probability(slot, p);
  start_window(slot, now_ns);
}

bool AdaptiveSampler::surge(SamplerSlot& slot, int64_t now_ns) noexcept {
  const double per_ns = slot.surge_per_ns_.load(std::memory_order_relaxed);
  if (!(per_ns < kInfinity)) return false;
  const int64_t elapsed = now_ns - slot.window_start_ns_.load(std::memory_order_relaxed);
  const uint64_t arrivals = slot.arrivals_.load(std::memory_order_relaxed) -
                            slot.window_arrivals_.load(std::memory_order_relaxed);
  const int64_t judged = std::max(elapsed, surge_floor_ns_.load(std::memory_order_relaxed));
  if (arrivals < kMinSurgeArrivals ||
      static_cast<double>(arrivals) <= per_ns * static_cast<double>(judged)) {
    return false;
  }
  // The flood's own rate, over the window as it really is: p falls to target / rate in one
  // step rather than by surge_factor per step.
  const double seconds = static_cast<double>(std::max(elapsed, kMinRateWindowNs)) * 1e-9;
  const double rate = static_cast<double>(arrivals) / seconds;
  const double old_p = slot.probability_.load(std::memory_order_relaxed);
  const double p = goal(slot, rate);
  if (p >= old_p) return false;
  const uint64_t kept = slot.kept_.load(std::memory_order_relaxed) - slot.window_kept_;
  slot.kept_rate_ = static_cast<double>(kept) / seconds;
  // A flood is believed at once, not averaged in: the next regular update starts from it.
  slot.smoothed_rate_ = std::max(slot.smoothed_rate_, rate);
  slot.has_rate_ = true;
  ++slot.surges_;
  set_probability(slot, p);
  start_window(slot, now_ns);
  return true;
}

void AdaptiveSampler::record(SamplerSlot& slot, uint64_t arrivals, uint64_t kept,
                             int64_t now_ns) noexcept {
  if (arrivals == 0) return;
  const uint64_t total = slot.arrivals_.fetch_add(arrivals, std::memory_order_relaxed) + arrivals;
  if (kept != 0) slot.kept_.fetch_add(kept, std::memory_order_relaxed);
  const double per_ns = slot.surge_per_ns_.load(std::memory_order_relaxed);
  if (!(per_ns < kInfinity)) return;  // no target, or p already at its floor
  const int64_t start = slot.window_start_ns_.load(std::memory_order_relaxed);
  if (start == SamplerSlot::kNotStarted) return;
  // The controller may be restarting the window right now; a torn read here only makes a
  // spurious call below, and the controller checks again under its lock.
  const uint64_t base = slot.window_arrivals_.load(std::memory_order_relaxed);
  if (total <= base) return;
  const uint64_t in_window = total - base;
  const int64_t judged = std::max(now_ns - start, surge_floor_ns_.load(std::memory_order_relaxed));
  if (in_window < kMinSurgeArrivals ||
      static_cast<double>(in_window) <= per_ns * static_cast<double>(judged)) {
    return;
  }
  work_pending_.store(true, std::memory_order_relaxed);
  update(now_ns);
}

SamplerSnapshot AdaptiveSampler::snapshot() const {
  std::lock_guard lock(mutex_);
  SamplerSnapshot s;
  s.updates_total = updates_;
  s.tenants.reserve(controller_table_->slots_.size());
  for (const std::shared_ptr<SamplerSlot>& slot : controller_table_->slots_) {
    SamplerTenantStats t;
    t.tenant_id = slot->tenant_id();
    t.target = slot->target_;
    t.probability = slot->probability();
    t.arrival_rate = slot->smoothed_rate_;
    t.kept_rate = slot->kept_rate_;
    t.arrivals_total = slot->arrivals_.load(std::memory_order_relaxed);
    t.kept_total = slot->kept_.load(std::memory_order_relaxed);
    t.surges_total = slot->surges_;
    s.tenants.push_back(t);
  }
  return s;
}

std::vector<SamplerTenantState> AdaptiveSampler::export_state() const {
  std::lock_guard lock(mutex_);
  std::vector<SamplerTenantState> out;
  for (const std::shared_ptr<SamplerSlot>& slot : controller_table_->slots_) {
    if (slot->target_ <= 0.0 || !slot->has_rate_) continue;
    SamplerTenantState st;
    st.tenant_id = slot->tenant_id();
    st.probability = slot->probability();
    st.smoothed_rate = slot->smoothed_rate_;
    st.kept_rate = slot->kept_rate_;
    st.target = slot->target_;
    out.push_back(st);
  }
  return out;
}

bool AdaptiveSampler::restore_state(const SamplerTenantState& state) noexcept {
  const bool valid = std::isfinite(state.probability) && state.probability > 0.0 &&
                     state.probability <= 1.0 && std::isfinite(state.smoothed_rate) &&
                     state.smoothed_rate >= 0.0 && std::isfinite(state.kept_rate) &&
                     state.kept_rate >= 0.0;
  if (!valid) return false;
  std::lock_guard lock(mutex_);
  SamplerSlot* slot = controller_table_->find(state.tenant_id);
  if (slot == nullptr || slot->target_ <= 0.0) return false;
  slot->smoothed_rate_ = state.smoothed_rate;
  slot->has_rate_ = true;
  slot->kept_rate_ = state.kept_rate;
  set_probability(*slot, std::clamp(state.probability, min_probability_, 1.0));
  return true;
}

SamplerView::SamplerView(std::shared_ptr<AdaptiveSampler> sampler) : sampler_(std::move(sampler)) {}

SamplerSlot* SamplerView::find(uint32_t tenant_id) noexcept {
  if (!sampler_) return nullptr;
  const uint64_t generation = sampler_->generation();
  if (!table_ || generation != generation_) {
    table_ = sampler_->table();
    generation_ = generation;
  }
  return table_->find(tenant_id);
}

}  // namespace fathom::transform
