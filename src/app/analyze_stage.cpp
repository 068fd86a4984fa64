#include "app/analyze_stage.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include "app/clock.h"
#include "app/logging.h"
#include "detect/anomaly_detector.h"
#include "detect/host_samples.h"
#include "detect/incident_json.h"

namespace fathom::app {
namespace {

constexpr size_t kRecentEvents = 10'000;
constexpr int64_t kMinuteNs = 60'000'000'000;

void accumulate_ai(detect::AnomalyStats& into, const detect::AnomalyStats& from) {
  into.windows += from.windows;
  into.hosts_learning += from.hosts_learning;
  into.hosts_scored += from.hosts_scored;
  into.detections += from.detections;
  into.detections_dropped += from.detections_dropped;
  into.trainings += from.trainings;
  into.refreshes += from.refreshes;
  into.baseline_full += from.baseline_full;
}

}  // namespace

/// One analysis worker: a bus consumer with its own windows and rules.
struct AnalyzeStage::Worker {
  uint32_t index = 0;
  std::shared_ptr<bus::Subscription> sub;
  std::unique_ptr<analyze::AnalysisEngine> engine;
  std::unique_ptr<detect::RuleEngine> rules;
  std::unique_ptr<detect::AnomalyDetector> ai;  ///< null without a base model
  std::set<uint32_t> ai_seen;                   ///< tenants whose saved state was looked up
  std::vector<detect::HostSample> samples;      ///< scratch
  std::vector<flow::IpAddress> suspects;        ///< scratch
  uint64_t slides_since_checkpoint = 0;
  std::vector<detect::Detection> detections;  ///< of the slides since the last report
  /// Detections' subjects to capture flows of, armed at the next slide hook.
  struct PendingCapture {
    uint32_t tenant_id = 0;
    flow::IpAddress subject;
    int64_t window_end_ns = 0;
  };
  std::vector<PendingCapture> captures;
  std::vector<analyze::Contact> contacts;
  std::vector<analyze::TenantSummary> rollups;  ///< of the slides since the last report
  std::vector<analyze::TenantSummary> live;     ///< first-level windows for the API
  uint64_t generation = 0;                      ///< the plan applied (0: the start)
  uint32_t workers = 1;  ///< worker count of that plan: decides what this worker owns
  bool retired = false;  ///< the plan has no place for it: stop after handing over
  int64_t busy_ns = 0;   ///< running time since the last report
  int64_t iteration_start_ns = 0;
  bool opened = false;               ///< the first slide hook has run
  int64_t first_slide_start_ns = 0;  ///< start of the first slide this worker saw
  /// Windows ending after this hold only part of their span (set to the last slide's end when
  /// the final flush begins: the stream stopped inside them).
  int64_t complete_until_ns = INT64_MAX;
  std::thread thread;
};

std::unique_ptr<AnalyzeStage> AnalyzeStage::start(bus::Bus& bus, size_t queue_batches,
                                                  Options options, std::string& error) {
  if (std::string why = analyze::validate(options.windows); !why.empty()) {
    error = why;
    return nullptr;
  }
  if (std::string_view why = analyze::Autoscaler::validate(options.autoscale); !why.empty()) {
    error = "analyze.autoscale: " + std::string(why);
    return nullptr;
  }
  std::FILE* file = nullptr;
  if (options.output == "-") {
    file = stdout;
  } else if (!options.output.empty()) {
    file = std::fopen(options.output.c_str(), "a");
    if (file == nullptr) {
      error = "cannot open incidents output " + options.output + ": " + std::strerror(errno);
      return nullptr;
    }
  }
  return std::unique_ptr<AnalyzeStage>(
      new AnalyzeStage(std::move(options), file, bus, queue_batches));
}

AnalyzeStage::AnalyzeStage(Options options, std::FILE* file, bus::Bus& bus, size_t queue_batches)
    : options_(std::move(options)),
      file_(file),
      owns_file_(file != nullptr && file != stdout),
      bus_(bus),
      queue_batches_(queue_batches),
      beacons_(options_.beacon),
      incidents_(options_.incidents),
      autoscaler_(options_.autoscale, options_.autoscale.min_workers),
      beacon_rules_(options_.rules) {
  // Per-minute rollups come from the level whose window is a minute (none: no rollups).
  for (size_t level = 0; level < options_.windows.levels.size(); ++level) {
    const analyze::WindowLevel& lc = options_.windows.levels[level];
    if (lc.window_ns == kMinuteNs && kMinuteNs % lc.slide_ns == 0) {
      rollup_level_ = level;
      break;
    }
  }
  if (options_.on_rollups && rollup_level_ == SIZE_MAX) {
    logger("analyze")->warn(
        "no analysis level has a 60 s window: no per-minute rollups are stored");
  }
  ai_level_ = std::min(options_.ai_level, options_.windows.levels.size() - 1);
  for (const detect::Incident& inc : options_.restored_incidents) {
    if (incidents_.restore(inc)) ++restored_;
  }
  if (restored_ != 0) {
    std::lock_guard lock(mutex_);
    open_ = incidents_.open_incidents();
    stats_.incidents = incidents_.stats();
  }
  desired_ = autoscaler_.workers();
  plan_.workers = desired_;
  {
    std::lock_guard lock(mutex_);
    stats_.workers = desired_;
    stats_.desired_workers = desired_;
  }
  for (uint32_t i = 0; i < desired_; ++i) spawn_worker(i, desired_);
  control_ = std::thread([this] { control_loop(); });
}

AnalyzeStage::~AnalyzeStage() {
  join();
  if (owns_file_) std::fclose(file_);
}

uint32_t AnalyzeStage::owner_of(uint32_t tenant_id, uint32_t workers) noexcept {
  // Rendezvous (highest random weight) hashing: going from n to n + 1 workers moves only the
  // tenants the new worker wins, about 1 / (n + 1) of them.
  uint32_t best = 0;
  uint64_t best_score = 0;
  for (uint32_t w = 0; w < workers; ++w) {
    uint64_t h = (uint64_t{tenant_id} << 32 | w) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    if (w == 0 || h > best_score) {
      best = w;
      best_score = h;
    }
  }
  return best;
}

void AnalyzeStage::spawn_worker(uint32_t index, uint32_t workers) {
  auto w = std::make_unique<Worker>();
  Worker& ref = *w;
  ref.index = index;
  ref.workers = workers;
  {
    std::lock_guard lock(plan_mutex_);
    ref.generation = plan_.generation;
  }
  ref.sub = bus_.subscribe("analyze-" + std::to_string(index), queue_batches_);
  ref.rules = std::make_unique<detect::RuleEngine>(options_.rules);
  if (options_.ai_base) {
    std::string error;
    ref.ai = detect::AnomalyDetector::create(options_.ai, *options_.ai_base, error);
    if (!ref.ai) logger("detect")->error("worker {}: no AI detection: {}", index, error);
  }
  ref.engine = std::make_unique<analyze::AnalysisEngine>(
      options_.windows,
      [this, &ref](const analyze::TenantWindow& win) {
        const size_t before = ref.detections.size();
        ref.rules->evaluate(win, ref.detections);
        if (win.level == ai_level_ && (ref.ai || options_.on_host_samples)) {
          score_window(ref, win, before);
        }
        if (options_.on_incident_flows && options_.incident_flow_records > 0) {
          // Armed between slides (on_slide): the engine is closing this one.
          for (size_t idx = before; idx < ref.detections.size(); ++idx) {
            const detect::Detection& d = ref.detections[idx];
            ref.captures.push_back({d.tenant_id, d.subject, d.window_end_ns});
          }
        }
        // A window that began before this worker's first slide misses the records before it;
        // one that the final flush closes before its end misses the rest of its span (a
        // rollup of half a minute would read as a minute of half the traffic).
        const bool whole =
            (options_.partial_first_windows ||
             win.start_ns >= ref.first_slide_start_ns + options_.windows.levels[0].slide_ns) &&
            win.end_ns <= ref.complete_until_ns;
        if (win.level == rollup_level_ && win.end_ns % kMinuteNs == 0 && options_.on_rollups &&
            whole) {
          ref.rollups.push_back(analyze::summarise(win));
        }
        if (win.level == 0 && options_.on_live_windows && whole &&
            win.end_ns % (win.end_ns - win.start_ns) == 0) {
          ref.live.push_back(analyze::summarise(win));
        }
      },
      [&ref](std::span<const analyze::Contact> c, int64_t) {
        ref.contacts.insert(ref.contacts.end(), c.begin(), c.end());
      });
  ref.engine->set_owner_filter([this, &ref](uint32_t tenant) {
    std::lock_guard lock(plan_mutex_);
    known_tenants_.insert(tenant);
    return owner_of(tenant, ref.workers) == ref.index;
  });
  ref.engine->set_slide_hook([this, &ref](int64_t open_index) { on_slide(ref, open_index); });
  ref.thread = std::thread([this, &ref] { worker_loop(ref); });
  std::lock_guard lock(workers_mutex_);
  workers_.push_back(std::move(w));
}

void AnalyzeStage::worker_loop(Worker& w) {
  const int64_t slide_ns = options_.windows.levels[0].slide_ns;
  // Record time at the latest batch (its open slide's end) and when on the wall clock that
  // batch came, for `idle_advance_ns`.
  int64_t batch_record_ns = 0;
  int64_t batch_mono_ns = monotonic_ns();
  while (!w.retired && !w.sub->finished()) {
    const bus::BatchRef batch = w.sub->pop(std::chrono::milliseconds(100));
    w.iteration_start_ns = monotonic_ns();
    if (batch) {
      w.engine->add(*batch);
      batch_record_ns = w.engine->open_slide_end_ns();
      batch_mono_ns = w.iteration_start_ns;
    }
    if (options_.live && !w.retired) {
      w.engine->advance(wall_clock_ns() - slide_ns / 4);
    } else if (!batch && options_.idle_advance_ns > 0 && !w.retired && w.engine->started()) {
      const int64_t silent_ns = w.iteration_start_ns - batch_mono_ns;
      if (silent_ns >= options_.idle_advance_ns) {
        w.engine->advance(batch_record_ns + silent_ns - slide_ns);
      }
    }
    w.busy_ns += monotonic_ns() - w.iteration_start_ns;
    w.iteration_start_ns = 0;
  }
  Report last;
  if (!w.retired) {
    // The stream ended: hand over what a pending plan moves (nobody would wait in vain),
    // then emit what is left of this worker's windows.
    {
      std::unique_lock lock(plan_mutex_);
      if (plan_.generation > w.generation) {
        const Plan plan = plan_;
        lock.unlock();
        apply_plan(w, plan);
        lock.lock();
      }
      // Only now: whoever waits for this worker's tenants finds them in the mailbox.
      ++stopped_workers_;
      stopped_.insert(w.index);
    }
    handoff_ready_.notify_all();
    if (options_.final_flush) {
      if (w.engine->started()) w.complete_until_ns = w.engine->open_slide_end_ns();
      w.engine->flush();
      last.slide_end_ns = w.engine->started() ? w.engine->open_slide_end_ns() : 0;
    }
  }
  last.worker = w.index;
  last.final = true;
  last.busy_ns = w.busy_ns;
  last.detections = std::move(w.detections);
  last.flows = w.engine->take_captured();
  last.contacts = std::move(w.contacts);
  last.rollups = std::move(w.rollups);
  last.live = std::move(w.live);
  last.engine = w.engine->stats();
  last.rules = w.rules->stats();
  if (w.ai) {
    last.ai = w.ai->stats();
    if (options_.on_ai_state) checkpoint_ai(w, last);
  }
  w.sub.reset();  // a retired worker stops receiving batches at once
  push_report(std::move(last));
}

void AnalyzeStage::score_window(Worker& w, const analyze::TenantWindow& win, size_t rules_from) {
  detect::host_samples(win, w.samples, options_.ai_min_records);
  if (w.samples.empty()) return;
  if (options_.on_host_samples) options_.on_host_samples(win.tenant_id, w.samples);
  if (!w.ai) return;
  if (w.ai_seen.insert(win.tenant_id).second && options_.ai_state) {
    // First window of this tenant here: continue from its saved state, if any.
    const auto it = options_.ai_state->find(win.tenant_id);
    if (it != options_.ai_state->end()) {
      std::string why;
      if (!w.ai->import_tenant(win.tenant_id, it->second, why)) {
        logger("detect")->warn("tenant {}: saved AI state not used: {}", win.tenant_id, why);
      }
    }
  }
  // Hosts a rule flagged in this window are scored but not learnt from.
  w.suspects.clear();
  for (size_t idx = rules_from; idx < w.detections.size(); ++idx) {
    w.suspects.push_back(w.detections[idx].subject);
  }
  std::vector<detect::Detection> found = w.ai->score(win.tenant_id, w.samples, w.suspects);
  for (detect::Detection& d : found) w.detections.push_back(std::move(d));
}

void AnalyzeStage::checkpoint_ai(Worker& w, Report& r) {
  w.slides_since_checkpoint = 0;
  for (const uint32_t t : w.ai_seen) {
    if (!w.engine->owns(t)) continue;
    std::vector<std::byte> state = w.ai->export_tenant(t);
    if (!state.empty()) r.ai_states.emplace_back(t, std::move(state));
  }
}

void AnalyzeStage::on_slide(Worker& w, int64_t open_index) {
  const int64_t slide_ns = options_.windows.levels[0].slide_ns;
  {
    Report r;
    r.worker = w.index;
    // The first call opens the first slide: no slide closed yet, but the control thread
    // learns where this worker's stream starts (a new worker's cut must lie beyond it).
    r.opening = w.engine->stats().slides_closed == 0 && !w.opened;
    if (r.opening) w.first_slide_start_ns = open_index * slide_ns;
    w.opened = true;
    r.slide_end_ns = r.opening ? 0 : open_index * slide_ns;
    r.open_index = open_index;
    const int64_t now = monotonic_ns();
    r.busy_ns = w.busy_ns + (w.iteration_start_ns != 0 ? now - w.iteration_start_ns : 0);
    w.busy_ns = 0;
    if (w.iteration_start_ns != 0) w.iteration_start_ns = now;
    r.detections = std::move(w.detections);
    w.detections.clear();
    for (const Worker::PendingCapture& c : w.captures) {
      w.engine->capture(c.tenant_id, c.subject, options_.incident_flow_records,
                        c.window_end_ns + options_.incident_flow_ns);
    }
    w.captures.clear();
    r.flows = w.engine->take_captured();
    r.contacts = std::move(w.contacts);
    w.contacts.clear();
    r.rollups = std::move(w.rollups);
    w.rollups.clear();
    r.live = std::move(w.live);
    w.live.clear();
    r.engine = w.engine->stats();
    r.rules = w.rules->stats();
    if (w.ai) {
      r.ai = w.ai->stats();
      if (options_.on_ai_state && ++w.slides_since_checkpoint >= options_.ai_checkpoint_slides) {
        checkpoint_ai(w, r);
      }
    }
    push_report(std::move(r));
  }
  Plan plan;
  {
    std::lock_guard lock(plan_mutex_);
    if (plan_.generation <= w.generation || open_index < plan_.cut_index) return;
    plan = plan_;
  }
  apply_plan(w, plan);
}

void AnalyzeStage::apply_plan(Worker& w, const Plan& plan) {
  const uint32_t old_workers = w.workers;
  // Hand over first, then take over: every worker exports before it waits, so two workers
  // swapping tenants never wait for each other.
  std::vector<uint32_t> mine;
  {
    std::lock_guard lock(plan_mutex_);
    for (uint32_t t : known_tenants_) {
      const bool had = w.index < old_workers && owner_of(t, old_workers) == w.index;
      const bool has = w.index < plan.workers && owner_of(t, plan.workers) == w.index;
      if (had && !has && w.engine->owns(t)) {
        Handoff h;
        h.windows = w.engine->export_tenant(t);
        h.rules = w.rules->export_tenant(t);
        if (w.ai) {
          h.ai = w.ai->export_tenant(t);
          w.ai->forget_tenant(t);
        }
        mailbox_[t] = std::move(h);
      } else if (has && !had) {
        mine.push_back(t);
      }
    }
    w.generation = plan.generation;
    w.workers = plan.workers;
    w.retired = w.index >= plan.workers;
  }
  handoff_ready_.notify_all();
  uint64_t timeouts = 0;
  for (uint32_t t : mine) {
    std::unique_lock lock(plan_mutex_);
    // The old owner hands over when it reaches the cut, or at the end of its stream; wait for
    // it, but not for one that stopped without having it, nor for a stuck one.
    const uint32_t old_owner = owner_of(t, old_workers);
    const bool ready = handoff_ready_.wait_for(lock, std::chrono::seconds(30), [&] {
      return mailbox_.count(t) != 0 || stopped_.count(old_owner) != 0;
    });
    auto it = mailbox_.find(t);
    if (it != mailbox_.end()) {
      w.engine->import_tenant(std::move(it->second.windows));
      w.rules->import_tenant(std::move(it->second.rules));
      if (w.ai && !it->second.ai.empty()) {
        std::string why;
        if (!w.ai->import_tenant(t, it->second.ai, why)) {
          logger("detect")->warn("tenant {}: AI state not handed over: {}", t, why);
        }
        w.ai_seen.insert(t);
      }
      mailbox_.erase(it);
    } else {
      // Never handed over (its worker stopped first, or never saw it): start afresh.
      w.engine->adopt_tenant(t);
      if (!ready) ++timeouts;
    }
  }
  if (timeouts != 0) {
    logger("analyze")->warn(
        "worker {}: {} tenant(s) were not handed over in 30 s; their "
        "windows start afresh",
        w.index, timeouts);
    std::lock_guard lock(mutex_);
    stats_.handoff_timeouts += timeouts;
  }
}

void AnalyzeStage::push_report(Report report) {
  {
    std::lock_guard lock(reports_mutex_);
    reports_.push_back(std::move(report));
  }
  reports_ready_.notify_one();
}

void AnalyzeStage::request_workers(uint32_t workers) {
  requested_.store(std::max<uint32_t>(1, workers), std::memory_order_relaxed);
  reports_ready_.notify_one();
}

void AnalyzeStage::control_loop() {
  for (;;) {
    std::deque<Report> batch;
    {
      std::unique_lock lock(reports_mutex_);
      reports_ready_.wait_for(lock, std::chrono::milliseconds(200),
                              [&] { return !reports_.empty(); });
      batch.swap(reports_);
    }
    for (Report& r : batch) take_report(std::move(r));
    maybe_rescale(monotonic_ns());
    // Join workers that have stopped; the stage ends when none is left.
    std::vector<std::unique_ptr<Worker>> done;
    bool any_left = false;
    {
      std::lock_guard lock(workers_mutex_);
      for (auto it = workers_.begin(); it != workers_.end();) {
        if (finished_.count((*it)->index) != 0) {
          finished_.erase((*it)->index);
          done.push_back(std::move(*it));
          it = workers_.erase(it);
        } else {
          ++it;
        }
      }
      any_left = !workers_.empty();
    }
    for (auto& w : done) {
      if (w->thread.joinable()) w->thread.join();
    }
    if (!any_left) break;
  }
  // Every worker has stopped: what remains closes.
  std::vector<detect::IncidentEvent> events = incidents_.observe(pending_);
  pending_.clear();
  if (options_.final_flush) {
    std::vector<detect::IncidentEvent> closed = incidents_.flush();
    events.insert(events.end(), std::make_move_iterator(closed.begin()),
                  std::make_move_iterator(closed.end()));
  }
  emit(std::move(events));
  std::lock_guard lock(mutex_);
  stats_.incidents = incidents_.stats();
  stats_.beacons = beacons_.stats();
  stats_.workers = 0;
}

void AnalyzeStage::take_report(Report r) {
  for (const analyze::Contact& c : r.contacts) {
    beacons_.observe(c.tenant_id, c.host, c.peer, c.port, c.time_ns, c.client_port);
  }
  for (detect::Detection& d : r.detections) pending_.push_back(std::move(d));
  if (!r.rollups.empty() && options_.on_rollups) options_.on_rollups(r.rollups);
  if (!r.live.empty() && options_.on_live_windows) options_.on_live_windows(r.live);
  if (!r.flows.empty() && options_.on_incident_flows) options_.on_incident_flows(r.flows);
  if (options_.on_ai_state) {
    for (const auto& [tenant, state] : r.ai_states) options_.on_ai_state(tenant, state);
  }
  if (r.final) {
    // Its counters stay counted after the worker is gone.
    analyze::accumulate(retired_engine_, r.engine);
    detect::accumulate(retired_rules_, r.rules);
    accumulate_ai(retired_ai_, r.ai);
    engine_stats_.erase(r.worker);
    rule_stats_.erase(r.worker);
    ai_stats_.erase(r.worker);
    finished_.insert(r.worker);
    worker_end_.erase(r.worker);
    worker_open_.erase(r.worker);
  } else if (r.opening) {
    worker_open_[r.worker] = r.open_index;
  } else {
    engine_stats_[r.worker] = r.engine;
    rule_stats_[r.worker] = r.rules;
    ai_stats_[r.worker] = r.ai;
    int64_t& end = worker_end_[r.worker];
    end = std::max(end, r.slide_end_ns);
    worker_open_[r.worker] = r.open_index;
    int64_t& busy = slide_busy_[r.slide_end_ns];
    busy = std::max(busy, r.busy_ns);
  }
  {
    analyze::EngineStats engine = retired_engine_;
    detect::RuleStats rules = retired_rules_;
    for (const auto& [w, s] : engine_stats_) analyze::accumulate(engine, s);
    for (const auto& [w, s] : rule_stats_) detect::accumulate(rules, s);
    detect::AnomalyStats ai = retired_ai_;
    for (const auto& [w, s] : ai_stats_) accumulate_ai(ai, s);
    std::lock_guard lock(mutex_);
    stats_.engine = engine;
    stats_.rules = rules;
    stats_.ai = ai;
  }
  if (worker_end_.empty()) return;
  int64_t min_end = INT64_MAX;
  for (const auto& [w, end] : worker_end_) min_end = std::min(min_end, end);
  if (min_end > processed_end_) after_slides(min_end);
}

void AnalyzeStage::after_slides(int64_t min_end_ns) {
  // Every worker has closed its slides up to min_end: close quiet incidents first, so that a
  // detection a whole quiet period after the last one opens a new incident.
  std::vector<detect::IncidentEvent> events = incidents_.advance(min_end_ns);
  // Beacons are tested once per level-1 slide (their periods are tens of seconds and more).
  const int64_t every = options_.windows.levels.size() > 1 ? options_.windows.levels[1].slide_ns
                                                           : options_.windows.levels[0].slide_ns;
  if (processed_end_ == 0 || min_end_ns / every != processed_end_ / every) {
    const std::vector<detect::BeaconFinding> found = beacons_.evaluate(min_end_ns);
    beacon_rules_.beacons(found, pending_);
  }
  std::vector<detect::IncidentEvent> opened = incidents_.observe(pending_);
  pending_.clear();
  events.insert(events.end(), std::make_move_iterator(opened.begin()),
                std::make_move_iterator(opened.end()));
  emit(std::move(events));
  processed_end_ = min_end_ns;

  // Each finished micro-batch's running time (the slowest worker's) feeds the policies.
  const double slide_ns = static_cast<double>(options_.windows.levels[0].slide_ns);
  const int64_t now = monotonic_ns();
  double utilisation = 0.0;
  uint64_t slides = 0;
  for (auto it = slide_busy_.begin(); it != slide_busy_.end() && it->first <= min_end_ns;) {
    utilisation = static_cast<double>(it->second) / slide_ns;
    autoscaler_.record(now, utilisation);
    shedder_.observe(utilisation);
    ++slides;
    it = slide_busy_.erase(it);
  }
  // Overload: tighten every tenant's sampling rather than fall behind or skip data.
  if (options_.sampler) options_.sampler->set_load_factor(shedder_.factor());
  std::lock_guard lock(mutex_);
  stats_.slides += slides;
  if (slides != 0) stats_.last_utilisation = utilisation;
  stats_.overruns = shedder_.overruns();
  stats_.load_factor = shedder_.factor();
  stats_.shed_slides = shedder_.tightened();
  stats_.mean_utilisation_10m =
      autoscaler_.mean_utilisation(now, options_.autoscale.scale_out_window_ns);
  // How late the slide's results are (live only: a replay runs on record time).
  if (options_.live) stats_.lag_seconds = static_cast<double>(wall_clock_ns() - min_end_ns) * 1e-9;
  stats_.incidents = incidents_.stats();
  stats_.beacons = beacons_.stats();
  stats_.analysed_through_ns = min_end_ns;
}

void AnalyzeStage::maybe_rescale(int64_t now_ns) {
  const analyze::ScaleDecision decision = autoscaler_.evaluate(now_ns);
  if (decision != analyze::ScaleDecision::kHold) {
    desired_ = autoscaler_.workers();
    logger("analyze")->info(
        "autoscale: {} to {} workers (10-minute utilisation {:.2f})", analyze::to_string(decision),
        desired_, autoscaler_.mean_utilisation(now_ns, options_.autoscale.scale_out_window_ns));
  }
  if (const uint32_t asked = requested_.exchange(0, std::memory_order_relaxed); asked != 0) {
    desired_ = std::clamp(asked, options_.autoscale.min_workers, options_.autoscale.max_workers);
  }
  {
    std::lock_guard lock(mutex_);
    stats_.desired_workers = desired_;
  }
  uint32_t old_workers = 0;
  int64_t cut = 0;
  {
    std::lock_guard workers_lock(workers_mutex_);
    std::lock_guard plan_lock(plan_mutex_);
    if (desired_ == plan_.workers || stopped_workers_ > 0) return;
    // One change at a time: wait until every worker carried out the last plan, and until
    // retired workers with the indexes to reuse are gone.
    for (const auto& w : workers_) {
      if (finished_.count(w->index) == 0 && w->generation < plan_.generation) return;
      const bool leftover = w->index >= plan_.workers && pending_new_.count(w->index) == 0;
      if (leftover && w->index < desired_) return;  // a retired worker still stopping
    }
    if (worker_open_.empty()) return;  // no worker has started its windows yet
    old_workers = plan_.workers;
    // New workers start under the old plan (they own nothing yet). A new worker only sees
    // batches published after it subscribed, while the others may still hold older ones in
    // their queues: the cut must lie past the first slide the new worker saw.
    bool waiting = false;
    for (uint32_t i = old_workers; i < desired_; ++i) {
      const bool exists = std::any_of(workers_.begin(), workers_.end(),
                                      [&](const auto& w) { return w->index == i; });
      if (!exists) {
        spawning_.push_back(i);
        pending_new_.insert(i);
        waiting = true;
      } else if (worker_open_.count(i) == 0) {
        waiting = true;
      }
    }
    if (!waiting) {
      for (const auto& [w, open] : worker_open_) cut = std::max(cut, open);
    }
  }
  if (!spawning_.empty()) {
    for (uint32_t i : spawning_) spawn_worker(i, old_workers);
    spawning_.clear();
    return;  // planned once they have seen their first records
  }
  if (cut == 0) return;
  {
    std::lock_guard plan_lock(plan_mutex_);
    plan_.generation += 1;
    plan_.workers = desired_;
    // Batches of several receive threads interleave: one slide more of margin.
    plan_.cut_index = cut + 3;
    pending_new_.clear();
  }
  logger("analyze")->info("rebalancing tenants over {} workers from slide {} (was {})", desired_,
                          cut + 3, old_workers);
  std::lock_guard lock(mutex_);
  ++stats_.rebalances;
  stats_.workers = desired_;
}

void AnalyzeStage::emit(std::vector<detect::IncidentEvent> events) {
  if (events.empty()) return;
  if (options_.on_incident_events) options_.on_incident_events(events);
  uint64_t written = 0;
  uint64_t errors = 0;
  if (file_ != nullptr) {
    line_.clear();
    for (const detect::IncidentEvent& e : events) {
      detect::append_incident_json(e, line_);
      line_ += '\n';
    }
    if (std::fwrite(line_.data(), 1, line_.size(), file_) == line_.size() &&
        std::fflush(file_) == 0) {
      written = events.size();
    } else {
      std::clearerr(file_);
      errors = events.size();
      logger("output")->error("cannot write incidents to {}: {}",
                              options_.output == "-" ? "stdout" : options_.output,
                              std::strerror(errno));
    }
  }
  for (const detect::IncidentEvent& e : events) {
    if (e.kind == detect::IncidentEventKind::kOpen) {
      logger("detect")->info("incident {} opened: tenant={} {} subject={} severity={:.0f}: {}",
                             e.incident.id, e.incident.tenant_id,
                             detect::to_string(e.incident.type), e.incident.subject.to_string(),
                             e.incident.severity, e.incident.latest.summary);
    }
  }
  std::lock_guard lock(mutex_);
  stats_.incident_events_written += written;
  stats_.write_errors += errors;
  for (detect::IncidentEvent& e : events) events_.push_back(std::move(e));
  if (events_.size() > kRecentEvents) {
    events_.erase(events_.begin(), events_.begin() + (events_.size() - kRecentEvents));
  }
  open_ = incidents_.open_incidents();
}

void AnalyzeStage::join() {
  if (control_.joinable()) control_.join();
}

AnalyzeStageStats AnalyzeStage::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::vector<detect::Incident> AnalyzeStage::open_incidents() const {
  std::lock_guard lock(mutex_);
  return open_;
}

std::vector<detect::IncidentEvent> AnalyzeStage::recent_events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

}  // namespace fathom::app
