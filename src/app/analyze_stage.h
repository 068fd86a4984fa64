#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "analyze/autoscaler.h"
#include "analyze/load_shedder.h"
#include "analyze/tenant_summary.h"
#include "analyze/window_engine.h"
#include "bus/bus.h"
#include "detect/anomaly_config.h"
#include "detect/beacon.h"
#include "detect/incident.h"
#include "detect/rules.h"
#include "transform/sampler.h"

namespace fathom::app {

/// Counters of an AnalyzeStage (any thread).
struct AnalyzeStageStats {
  analyze::EngineStats engine;  ///< summed over the workers
  detect::RuleStats rules;      ///< summed over the workers
  detect::AnomalyStats ai;      ///< summed over the workers (zero without a model)
  detect::IncidentStats incidents;
  detect::BeaconStats beacons;
  uint64_t incident_events_written = 0;
  uint64_t write_errors = 0;      ///< failed writes of incident events (each loses one line)
  uint64_t slides = 0;            ///< micro-batches (closed slides) analysed
  double last_utilisation = 0.0;  ///< running time of the latest slide / slide interval
  double mean_utilisation_10m = 0.0;
  uint32_t workers = 1;           ///< analysis threads running
  uint32_t desired_workers = 1;   ///< what the autoscaling policy asks for
  uint64_t rebalances = 0;        ///< worker-count changes carried out (tenants moved)
  uint64_t handoff_timeouts = 0;  ///< tenants started afresh: their old worker never handed over
  uint64_t overruns = 0;          ///< slides whose analysis took longer than the slide
  double load_factor = 1.0;       ///< what the load shedder multiplies sampling by (1 = none)
  uint64_t shed_slides = 0;       ///< slides after which it tightened sampling
  /// Live: wall clock at the end of the latest slide's analysis minus the slide's end.
  double lag_seconds = 0.0;
  /// Every worker has closed and analysed its slides up to here, and the incident events of
  /// those slides have been handed to `on_incident_events` (0: none yet). A record that
  /// arrived at `t` has left every first-level window once this passes `t + window`.
  int64_t analysed_through_ns = 0;
};

/// The analysis stage of the embedded pipeline (DESIGN.md "analyze"): worker threads, each a
/// bus consumer with its own sliding windows and rules over the tenants it owns (tenants are
/// partitioned by rendezvous hashing, so changing the worker count moves few of them), and a
/// control thread that merges every worker's detections into incidents, writes the incident
/// stream (open, update, close) as JSON lines, runs the beaconing detector, and feeds each
/// micro-batch's running time to the autoscaling policy and the load shedder.
///
/// When the policy changes the worker count, the control thread picks a cut two slides ahead;
/// every worker, on reaching it, hands the tenants it no longer owns (windows, baselines,
/// recent findings) to their new worker and takes over its new ones, so no window state is
/// lost. Open incidents live in the control thread and do not move.
class AnalyzeStage {
 public:
  struct Options {
    analyze::AnalyzeConfig windows;
    detect::RulesConfig rules;
    detect::BeaconConfig beacon;
    detect::IncidentConfig incidents;
    /// `min_workers` is the number of workers at start.
    analyze::AutoscalerConfig autoscale;
    /// Live: slides close on the wall clock too. Replay: on record time and at the end.
    bool live = true;
    /// Record time only (`live` false): once no batch has arrived for this long on the wall
    /// clock, a worker's time runs on with the wall clock from its latest batch, so that a
    /// source gone silent (a cluster partition whose tenants stopped sending) still closes its
    /// windows and incidents, and its offsets get committed. Records arriving later than the
    /// time so reached are analysed in the open slide and counted late. 0: never (a replay
    /// of files, whose record time is not the wall clock's).
    int64_t idle_advance_ns = 0;
    /// JSON lines of incident events: a path (appended to), "-" for stdout, or "".
    std::string output;
    /// Tightened by the load shedder when micro-batches overrun (may be null: no shedding).
    std::shared_ptr<transform::AdaptiveSampler> sampler;
    /// Called on the control thread with every incident event, in order (the store and the
    /// alert dispatcher): must not block (hand over to a queue).
    std::function<void(std::span<const detect::IncidentEvent>)> on_incident_events;
    /// Called on the control thread with per-minute tenant rollups: the windows of the level
    /// whose window is 60 s, those ending on a whole minute. Must not block.
    std::function<void(std::span<const analyze::TenantSummary>)> on_rollups;
    /// Called on the control thread with the first level's windows that tile the time line
    /// (those ending on a multiple of the window length: every 10 s by default), for the
    /// API's live traffic. Must not block.
    std::function<void(std::span<const analyze::TenantSummary>)> on_live_windows;
    /// Raw sampled flows of incidents: after a window's detection (rules or autoencoder) the
    /// worker keeps the subject's next `incident_flow_records` sampled records (as source or
    /// destination) arriving within `incident_flow_ns` of the window's end
    /// (AnalysisEngine::capture); 0 records: none. They reach this hook on the control thread
    /// (must not block): the store keeps them by tenant, subject and time.
    uint32_t incident_flow_records = 100;
    int64_t incident_flow_ns = 60'000'000'000;
    std::function<void(std::span<const analyze::CapturedFlow>)> on_incident_flows;

    /// The autoencoder's base model (docs/ai-detection.md); null = no AI detection. Each
    /// worker's detector starts its tenants from it (transfer) and scores `ai_level` windows.
    std::shared_ptr<const detect::Model> ai_base;
    detect::AnomalyConfig ai;
    /// The window level the autoencoder scores (SIZE_MAX: the last level), and the sampled
    /// records a host needs in that window to be scored.
    size_t ai_level = SIZE_MAX;
    uint32_t ai_min_records = 8;
    /// Tenants' saved detector state (from the store), imported when a worker first analyses
    /// the tenant, so a restart does not start the learning period again.
    std::shared_ptr<const std::map<uint32_t, std::vector<std::byte>>> ai_state;
    /// Each worker's tenants' detector state every `ai_checkpoint_slides` slides and at the
    /// end: called on the control thread (for the store). Must not block.
    std::function<void(uint32_t tenant_id, std::span<const std::byte> state)> on_ai_state;
    uint32_t ai_checkpoint_slides = 150;
    /// Open incidents another analyzer emitted for these tenants (cluster mode: read back
    /// from the store when their partition moved here): later detections merge into them.
    std::vector<detect::Incident> restored_incidents;
    /// At the end of the stream, flush every window and close every open incident (embedded
    /// mode). False (cluster mode, a partition moving away): stop where the data stops;
    /// windows still open are dropped and open incidents stay open, for the next owner.
    bool final_flush = true;
    /// Also hand on rollups and live windows that began before the first slide this stage
    /// saw (they miss the records before it). False in cluster mode, where a stage may start
    /// mid-stream: a partial minute must not replace the complete one its old owner stored.
    bool partial_first_windows = true;
    /// Called on the worker threads with every `ai_level` window's internal host vectors
    /// (`fathom train` collects them). Must be thread-safe.
    std::function<void(uint32_t tenant_id, std::span<const detect::HostSample> hosts)>
        on_host_samples;
  };

  /// Subscribes the workers to `bus` and starts the threads; nullptr and `error` when the
  /// output cannot be opened or the options are invalid.
  static std::unique_ptr<AnalyzeStage> start(bus::Bus& bus, size_t queue_batches, Options options,
                                             std::string& error);
  ~AnalyzeStage();
  AnalyzeStage(const AnalyzeStage&) = delete;
  AnalyzeStage& operator=(const AnalyzeStage&) = delete;

  /// Returns once the bus is closed and everything is analysed, windows flushed and open
  /// incidents closed.
  void join();
  AnalyzeStageStats stats() const;
  /// Open incidents now (a copy), for the API and the exit summary.
  std::vector<detect::Incident> open_incidents() const;
  /// The latest incident events (at most 10000), oldest first.
  std::vector<detect::IncidentEvent> recent_events() const;
  /// Asks for `workers` analysis workers (clamped to the autoscaler's bounds), as a scaling
  /// decision would: the change takes effect at a cut two slides ahead. For operators and
  /// tests; the autoscaler calls the same path.
  void request_workers(uint32_t workers);

  /// Incidents restored from `Options::restored_incidents` (the others were refused: closed,
  /// duplicates, or over `max_open`).
  size_t restored_incidents() const noexcept { return restored_; }

  /// The worker that owns `tenant_id` among `workers` (rendezvous hashing).
  static uint32_t owner_of(uint32_t tenant_id, uint32_t workers) noexcept;

 private:
  struct Worker;
  /// What a worker tells the control thread after each slide (and at its end).
  struct Report {
    uint32_t worker = 0;
    int64_t slide_end_ns = 0;  ///< end of the slide just closed (0: none, e.g. final only)
    int64_t open_index = 0;    ///< the worker's open slide after it
    int64_t busy_ns = 0;       ///< running time of the slide's micro-batch
    bool final = false;        ///< the worker has stopped (stream ended, or retired)
    bool opening = false;      ///< the worker's first slide opened (nothing closed)
    std::vector<detect::Detection> detections;
    std::vector<analyze::Contact> contacts;
    std::vector<analyze::TenantSummary> rollups;
    std::vector<analyze::TenantSummary> live;
    std::vector<std::pair<uint32_t, std::vector<std::byte>>> ai_states;
    std::vector<analyze::CapturedFlow> flows;
    analyze::EngineStats engine;
    detect::RuleStats rules;
    detect::AnomalyStats ai;
  };
  /// A plan to change the worker count at a slide.
  struct Plan {
    uint64_t generation = 0;
    uint32_t workers = 1;
    int64_t cut_index = 0;  ///< slide index at which it takes effect
  };
  /// What moves with a tenant between workers.
  struct Handoff {
    std::unique_ptr<analyze::AnalysisEngine::TenantHandoff> windows;
    detect::RuleEngine::TenantRules rules;
    std::vector<std::byte> ai;  ///< the tenant's detector state (empty: none)
  };

  AnalyzeStage(Options options, std::FILE* file, bus::Bus& bus, size_t queue_batches);
  void spawn_worker(uint32_t index, uint32_t workers);
  /// Worker thread: the autoencoder over one level-0 window (rule detections of it start at
  /// `rules_from` in the worker's list: their subjects are suspects).
  void score_window(Worker& w, const analyze::TenantWindow& win, size_t rules_from);
  /// Worker thread: puts its tenants' detector state into the report.
  void checkpoint_ai(Worker& w, Report& r);
  void worker_loop(Worker& w);
  /// The worker's slide hook: reports the closed slide, then applies a due plan.
  void on_slide(Worker& w, int64_t open_index);
  void apply_plan(Worker& w, const Plan& plan);
  void push_report(Report report);
  void control_loop();
  /// Control thread: folds a report in; incidents advance to the slowest worker's slide.
  void take_report(Report report);
  void after_slides(int64_t min_end_ns);
  void maybe_rescale(int64_t now_ns);
  void emit(std::vector<detect::IncidentEvent> events);

  const Options options_;
  std::FILE* file_;
  const bool owns_file_;
  bus::Bus& bus_;
  const size_t queue_batches_;

  // Workers: created and joined by the control thread (and the constructor); the vector is
  // guarded by workers_mutex_, each Worker's engine is its own thread's.
  mutable std::mutex workers_mutex_;
  std::vector<std::unique_ptr<Worker>> workers_;

  // The rebalancing plan and hand-off mailbox, guarded by plan_mutex_.
  std::mutex plan_mutex_;
  std::condition_variable handoff_ready_;
  Plan plan_;
  std::map<uint32_t, Handoff> mailbox_;
  std::set<uint32_t> known_tenants_;
  uint32_t stopped_workers_ = 0;  ///< workers whose stream ended (they hand over nothing more)
  std::set<uint32_t> stopped_;    ///< their indexes

  // Reports from workers to the control thread, guarded by reports_mutex_.
  std::mutex reports_mutex_;
  std::condition_variable reports_ready_;
  std::deque<Report> reports_;

  // Owned by the control thread:
  detect::BeaconDetector beacons_;
  detect::IncidentTracker incidents_;
  analyze::Autoscaler autoscaler_;
  analyze::LoadShedder shedder_;
  std::vector<detect::Detection> pending_;
  std::map<uint32_t, int64_t> worker_end_;   ///< latest slide end reported, per active worker
  std::map<uint32_t, int64_t> worker_open_;  ///< open slide index, per active worker
  std::map<int64_t, int64_t> slide_busy_;    ///< slide end → longest running time of it
  std::map<uint32_t, analyze::EngineStats> engine_stats_;  ///< per running worker
  std::map<uint32_t, detect::RuleStats> rule_stats_;
  std::map<uint32_t, detect::AnomalyStats> ai_stats_;
  detect::AnomalyStats retired_ai_;
  analyze::EngineStats retired_engine_;  ///< summed over workers that have stopped
  detect::RuleStats retired_rules_;
  std::set<uint32_t> finished_;      ///< workers whose final report is in, not joined yet
  std::vector<uint32_t> spawning_;   ///< new workers to start for the next plan
  std::set<uint32_t> pending_new_;   ///< started for the next plan, not yet planned
  detect::RuleEngine beacon_rules_;  ///< turns beacon findings into detections
  int64_t processed_end_ = 0;
  size_t rollup_level_ = SIZE_MAX;      ///< the level rollups come from (SIZE_MAX: none)
  size_t ai_level_ = 0;                 ///< the level the autoencoder scores
  uint32_t desired_ = 1;                ///< workers asked for (requests and the autoscaler)
  std::atomic<uint32_t> requested_{0};  ///< request_workers (0: none pending)
  std::string line_;
  size_t restored_ = 0;
  std::thread control_;

  mutable std::mutex mutex_;  // guards the fields below
  AnalyzeStageStats stats_;
  std::vector<detect::Incident> open_;
  std::vector<detect::IncidentEvent> events_;
};

}  // namespace fathom::app
