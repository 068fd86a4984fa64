#include "app/cluster_analyzer.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "app/clock.h"
#include "app/logging.h"
#include "app/pipeline.h"
#include "bus/tenant_partition.h"

namespace fathom::app {
namespace {

constexpr std::string_view kAiStateKey = "ai";
/// Batches a partition's analysis queue holds: the consumer waits (Kafka keeps the rest).
constexpr size_t kPartitionQueueBatches = 16;
/// Idle batches each partition's bus keeps for reuse.
constexpr size_t kPartitionPoolBatches = 4;
/// How long a revoked partition waits for the store before it gives up committing.
constexpr std::chrono::seconds kRevokeFlush{10};

void accumulate_ai(detect::AnomalyStats& into, const detect::AnomalyStats& from) {
  into.windows += from.windows;
  into.hosts_learning += from.hosts_learning;
  into.hosts_scored += from.hosts_scored;
  into.detections += from.detections;
  into.detections_dropped += from.detections_dropped;
  into.unconfirmed += from.unconfirmed;
  into.host_usual += from.host_usual;
  into.trainings += from.trainings;
  into.refreshes += from.refreshes;
  into.baseline_full += from.baseline_full;
}

}  // namespace

bus::KafkaConsumerOptions consumer_options(const Config::Kafka& kafka) {
  bus::KafkaConsumerOptions o;
  o.brokers = kafka.brokers;
  o.topic = kafka.topic;
  o.group_id = kafka.group_id;
  o.client_id = kafka.client_id.empty() ? "fathom-analyze" : kafka.client_id;
  o.session_timeout_ms = kafka.session_timeout_ms;
  o.heartbeat_interval_ms = std::max(100, kafka.session_timeout_ms / 10);
  o.properties = kafka.properties;
  return o;
}

void accumulate(AnalyzeStageStats& into, const AnalyzeStageStats& from) {
  analyze::accumulate(into.engine, from.engine);
  detect::accumulate(into.rules, from.rules);
  accumulate_ai(into.ai, from.ai);
  into.incidents.detections += from.incidents.detections;
  into.incidents.opened += from.incidents.opened;
  into.incidents.updated += from.incidents.updated;
  into.incidents.closed += from.incidents.closed;
  into.incidents.dropped_over_capacity += from.incidents.dropped_over_capacity;
  into.incidents.open_now += from.incidents.open_now;
  into.beacons = from.beacons;  // per stage; the last one's (not summed: mixed gauges)
  into.incident_events_written += from.incident_events_written;
  into.write_errors += from.write_errors;
  into.slides += from.slides;
  into.last_utilisation = std::max(into.last_utilisation, from.last_utilisation);
  into.mean_utilisation_10m = std::max(into.mean_utilisation_10m, from.mean_utilisation_10m);
  into.workers += from.workers;
  into.desired_workers += from.desired_workers;
  into.rebalances += from.rebalances;
  into.handoff_timeouts += from.handoff_timeouts;
  into.overruns += from.overruns;
  into.shed_slides += from.shed_slides;
  into.lag_seconds = std::max(into.lag_seconds, from.lag_seconds);
  into.analysed_through_ns = std::max(into.analysed_through_ns, from.analysed_through_ns);
}

bool incident_from_record(const store::IncidentRecord& r, int64_t repeat_ns,
                          detect::Incident& out) {
  detect::DetectionType type;
  if (!detect::parse_detection_type(r.detection, type)) return false;
  const auto subject = flow::IpAddress::parse(r.subject);
  if (!subject) return false;
  out = {};
  out.id = r.id;
  out.version = r.version;
  out.state = r.state == "closed" ? detect::IncidentState::kClosed : detect::IncidentState::kOpen;
  out.tenant_id = r.tenant_id;
  out.type = type;
  out.subject = *subject;
  out.detail = r.detail;
  out.start_ns = r.start_ns;
  out.last_seen_ns = r.last_seen_ns;
  out.end_ns = r.end_ns;
  out.severity = r.severity;
  out.peak_severity = r.peak_severity;
  out.detections = r.detections;
  out.detected_ns = r.detected_ns;
  // Not stored: the longest detector interval keeps a restored incident open at least as
  // long as its own detector would have (a slow detector must not see it close and reopen).
  out.repeat_ns = repeat_ns;
  detect::Detection latest;
  latest.tenant_id = r.tenant_id;
  latest.type = type;
  latest.subject = *subject;
  latest.detail = r.detail;
  latest.window_start_ns = r.start_ns;
  latest.window_end_ns = r.last_seen_ns;
  latest.severity = r.severity;
  latest.summary = r.summary;
  out.latest = latest;
  out.peak = latest;
  out.peak.severity = r.peak_severity;
  return true;
}

/// One owned partition: its analysis stage (own clock, windows, incidents) on its own bus,
/// and the offsets on their way to a commit.
struct ClusterAnalyzer::PartitionStage {
  explicit PartitionStage(int32_t p) : partition(p), bus(kPartitionPoolBatches) {}
  struct Pending {
    int64_t offset = 0;
    int64_t max_arrival_ns = 0;  ///< latest record arrival up to this message (0: none yet)
  };
  const int32_t partition;
  bus::Bus bus;  ///< declared before the stage, which reads from it
  std::unique_ptr<AnalyzeStage> stage;
  int64_t last_arrival_ns = 0;
  std::deque<Pending> unsettled;  ///< handed to the stage, windows not all closed yet
  /// (offset, store mark): windows closed, results handed to the store, not yet durable.
  std::deque<std::pair<int64_t, uint64_t>> proposals;
  std::atomic<int64_t> committed{-1};  ///< last offset committed by this member
  std::atomic<int64_t> position{-1};   ///< last offset handed over (read by positions())
};

std::unique_ptr<ClusterAnalyzer> ClusterAnalyzer::open(const Config& config, std::string& error) {
  if (config.kafka.brokers.empty()) {
    error = "kafka.brokers is not set (in the config or --kafka-brokers)";
    return nullptr;
  }
  std::unique_ptr<ClusterAnalyzer> a(new ClusterAnalyzer(config));
  if (!analyze_options(config, a->base_options_, error)) return nullptr;
  if (std::string why = analyze::validate(a->base_options_.windows); !why.empty()) {
    error = why;
    return nullptr;
  }
  // Parallelism comes from partitions (one stage each), not from workers inside a stage.
  a->base_options_.autoscale.min_workers = 1;
  a->base_options_.autoscale.max_workers = 1;
  a->first_window_ns_ = config.analyze.windows.levels[0].window_ns;
  a->replica_policy_ = analyze::ReplicaPolicy(config.analyze.autoscale);
  a->persistence_ = Persistence::open(config, {}, error);
  if (!a->persistence_) return nullptr;
  bus::KafkaConsumerCallbacks callbacks;
  ClusterAnalyzer* self = a.get();
  callbacks.on_assign = [self](std::span<const int32_t> p) { self->on_assign(p); };
  callbacks.on_revoke = [self](std::span<const int32_t> p, bool lost) { self->on_revoke(p, lost); };
  std::string why;
  a->consumer_ = bus::KafkaConsumer::create(consumer_options(config.kafka), callbacks, why);
  if (!a->consumer_) {
    error = "kafka: " + why;
    return nullptr;
  }
  return a;
}

ClusterAnalyzer::ClusterAnalyzer(const Config& config)
    : config_(config), start_time_ns_(wall_clock_ns()) {}

ClusterAnalyzer::~ClusterAnalyzer() {
  stop();
}

void ClusterAnalyzer::start() {
  if (thread_.joinable() || stopped_) return;
  thread_ = std::thread([this] { poll_loop(); });
}

void ClusterAnalyzer::stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true);
  if (thread_.joinable()) {
    thread_.join();
  } else if (consumer_) {
    consumer_->close();  // never started: nothing owned, but leave cleanly
  }
  if (persistence_) persistence_->stop();
}

void ClusterAnalyzer::abandon() {
  if (stopped_) return;
  abandon_.store(true);
  stop();
}

void ClusterAnalyzer::poll_loop() {
  std::vector<bus::ConsumedBatch> got;
  const auto interval = std::chrono::milliseconds(config_.kafka.commit_interval_ms);
  auto next_commit = std::chrono::steady_clock::now() + interval;
  while (!stopping_.load(std::memory_order_relaxed)) {
    got.clear();
    consumer_->poll(std::chrono::milliseconds(100), got, 64);
    for (bus::ConsumedBatch& b : got) handle(b);
    if (std::chrono::steady_clock::now() >= next_commit) {
      double utilisation = 0.0;
      for (auto& [partition, p] : stages_) {
        commit_ready(*p);
        utilisation = std::max(utilisation, p->stage->stats().last_utilisation);
      }
      if (partition_count_ > 0) {
        replica_policy_.observe(monotonic_ns(), utilisation, static_cast<uint32_t>(stages_.size()),
                                static_cast<uint32_t>(partition_count_));
        desired_replicas_.store(replica_policy_.desired(), std::memory_order_relaxed);
      }
      next_commit = std::chrono::steady_clock::now() + interval;
    }
  }
  abandoning_ = abandon_.load();
  consumer_->close();  // revokes every partition (on_revoke), then leaves the group
}

void ClusterAnalyzer::handle(bus::ConsumedBatch& b) {
  const auto it = stages_.find(b.partition);
  if (it == stages_.end()) {
    // Fetched before a revocation took effect: the partition's owner reads it again.
    unowned_.fetch_add(1, std::memory_order_relaxed);
    if (b.batch) consumer_->recycle(std::move(b.batch));
    return;
  }
  PartitionStage& p = *it->second;
  if (b.batch) {
    int64_t latest = p.last_arrival_ns;
    for (const flow::FlowRecord& r : b.batch->records()) latest = std::max(latest, r.arrival_ns);
    for (const flow::InterfaceCounters& c : b.batch->counters()) {
      latest = std::max(latest, c.arrival_ns);
    }
    p.last_arrival_ns = latest;
    batches_.fetch_add(1, std::memory_order_relaxed);
    records_.fetch_add(b.batch->size(), std::memory_order_relaxed);
    // Kafka holds what the analysis cannot take yet: wait rather than drop. A stage that
    // makes no progress for a minute is stuck; the bus then drops and counts the batch.
    if (!p.bus.wait_for_room(std::chrono::milliseconds(0))) {
      queue_waits_.fetch_add(1, std::memory_order_relaxed);
      if (!p.bus.wait_for_room(std::chrono::seconds(60))) {
        logger("analyze")->error(
            "partition {}: analysis made no progress for 60 s; a batch is dropped (counted in "
            "fathom_bus_dropped_batches_total)",
            p.partition);
      }
    }
    p.bus.publish(std::move(b.batch));
  }
  // A message that did not decode is counted by the consumer and committed past like any.
  p.unsettled.push_back({b.offset, p.last_arrival_ns});
  p.position.store(b.offset, std::memory_order_relaxed);
}

void ClusterAnalyzer::commit_ready(PartitionStage& p) {
  // Read the stage's progress first, then the store's mark: the incident events of every
  // slide up to `through` were handed to the store before `through` was published.
  const int64_t through = p.stage->stats().analysed_through_ns;
  const uint64_t mark = persistence_->store_mark();
  int64_t candidate = -1;
  while (!p.unsettled.empty()) {
    const PartitionStage::Pending& next = p.unsettled.front();
    // Every first-level window holding one of its records has closed and been analysed.
    if (next.max_arrival_ns != 0 && next.max_arrival_ns > through - first_window_ns_) break;
    candidate = next.offset;
    p.unsettled.pop_front();
  }
  if (candidate >= 0) p.proposals.emplace_back(candidate, mark);
  int64_t commit = -1;
  while (!p.proposals.empty() && persistence_->store_durable(p.proposals.front().second)) {
    commit = p.proposals.front().first;
    p.proposals.pop_front();
  }
  if (commit <= p.committed.load()) return;
  if (consumer_->commit(p.partition, commit)) {
    p.committed.store(commit);
    commits_.fetch_add(1, std::memory_order_relaxed);
  } else {
    commit_refused_.fetch_add(1, std::memory_order_relaxed);
  }
}

store::Database* ClusterAnalyzer::database() {
  if (!config_.store.enabled) return nullptr;
  if (db_) return db_.get();
  store::StoreOptions o = config_.store.options;
  o.url = store_url(config_);
  std::string error;
  db_ = store::open_database(o, error);
  if (!db_) logger("store")->warn("store: cannot read tenant state to restore: {}", error);
  return db_.get();
}

std::vector<uint32_t> ClusterAnalyzer::tenants_of(int32_t partition) {
  std::set<uint32_t> tenants;
  for (const transform::Tenant& t : config_.transform.tenants) tenants.insert(t.id);
  if (config_.transform.unknown_exporters == transform::UnknownExporters::kDefault) {
    tenants.insert(config_.transform.default_tenant_id);
  }
  if (store::Database* db = database()) {
    if (auto [status, rows] = db->tenants(); status.ok) {
      for (const store::TenantRecord& t : rows) tenants.insert(t.tenant_id);
    } else {
      restore_failures_.fetch_add(1, std::memory_order_relaxed);
      logger("store")->warn("store: reading tenants: {}", status.error);
      if (!status.retryable) db_.reset();
    }
  }
  std::vector<uint32_t> out;
  for (uint32_t t : tenants) {
    if (bus::tenant_partition(t, partition_count_) == partition) out.push_back(t);
  }
  return out;
}

std::unique_ptr<ClusterAnalyzer::PartitionStage> ClusterAnalyzer::start_stage(int32_t partition) {
  auto log = logger("analyze");
  auto p = std::make_unique<PartitionStage>(partition);
  AnalyzeStage::Options o = base_options_;
  o.live = false;  // record time: a partition read again after a move lands in its windows
  o.idle_advance_ns = int64_t{config_.kafka.idle_partition_seconds} * 1'000'000'000;
  o.final_flush = false;
  o.partial_first_windows = false;
  Persistence* persistence = persistence_.get();
  o.on_incident_events = [persistence](std::span<const detect::IncidentEvent> events) {
    persistence->on_incident_events(events);
  };
  o.on_rollups = [persistence](std::span<const analyze::TenantSummary> rollups) {
    persistence->on_rollups(rollups);
  };
  o.on_ai_state = [persistence](uint32_t tenant, std::span<const std::byte> state) {
    persistence->on_ai_state(tenant, state);
  };
  auto states = std::make_shared<std::map<uint32_t, std::vector<std::byte>>>();
  int64_t repeat_ns = 0;
  for (const analyze::WindowLevel& level : config_.analyze.windows.levels) {
    repeat_ns = std::max(repeat_ns, level.slide_ns);
  }
  if (partition_count_ > 0) {
    for (const uint32_t tenant : tenants_of(partition)) {
      store::Database* db = database();
      if (db == nullptr) break;
      auto [status, blob] = db->get_state(tenant, kAiStateKey);
      if (!status.ok) {
        restore_failures_.fetch_add(1, std::memory_order_relaxed);
        log->warn("partition {}: tenant {}'s detector state not restored: {}", partition, tenant,
                  status.error);
      } else if (blob) {
        const auto* bytes = reinterpret_cast<const std::byte*>(blob->data());
        (*states)[tenant] = std::vector<std::byte>(bytes, bytes + blob->size());
        tenants_restored_.fetch_add(1, std::memory_order_relaxed);
      }
      store::IncidentQuery q;
      q.tenant_id = tenant;
      q.state = detect::IncidentState::kOpen;
      q.limit =
          static_cast<uint32_t>(std::min<size_t>(config_.analyze.incidents.max_open, UINT32_MAX));
      auto [istatus, rows] = db->incidents(q);
      if (!istatus.ok) {
        restore_failures_.fetch_add(1, std::memory_order_relaxed);
        log->warn("partition {}: tenant {}'s open incidents not restored: {}", partition, tenant,
                  istatus.error);
        continue;
      }
      for (const store::IncidentRecord& r : rows) {
        detect::Incident inc;
        if (incident_from_record(r, repeat_ns, inc)) o.restored_incidents.push_back(std::move(inc));
      }
    }
  } else {
    restore_failures_.fetch_add(1, std::memory_order_relaxed);
    log->warn("partition {}: the topic's partition count is unknown: no state restored", partition);
  }
  o.ai_state = std::move(states);
  std::string error;
  p->stage = AnalyzeStage::start(p->bus, kPartitionQueueBatches, std::move(o), error);
  if (!p->stage) {
    log->critical("partition {}: analysis cannot start: {}", partition, error);
    return nullptr;
  }
  incidents_restored_.fetch_add(p->stage->restored_incidents(), std::memory_order_relaxed);
  stages_started_.fetch_add(1, std::memory_order_relaxed);
  log->info("partition {}: analysing; {} open incident(s) and {} detector state(s) taken over",
            partition, p->stage->restored_incidents(), o.ai_state ? o.ai_state->size() : 0);
  return p;
}

void ClusterAnalyzer::on_assign(std::span<const int32_t> partitions) {
  if (partition_count_ <= 0) {
    partition_count_ = consumer_->partition_count(std::chrono::seconds(10));
  }
  for (const int32_t partition : partitions) {
    if (stages_.count(partition) != 0) continue;
    std::unique_ptr<PartitionStage> p = start_stage(partition);
    if (!p) continue;
    std::lock_guard lock(stages_mutex_);
    stages_.emplace(partition, std::move(p));
  }
}

void ClusterAnalyzer::stop_stage(PartitionStage& p, bool commit) {
  p.bus.close();
  p.stage->join();  // drains its queue; final detector checkpoints go to the store
  if (!commit) return;
  if (!persistence_->flush_store(kRevokeFlush)) {
    logger("analyze")->warn(
        "partition {}: the store did not confirm its results within {} s; the partition is "
        "committed only as far as they are stored (its next owner reads again from there)",
        p.partition, kRevokeFlush.count());
  }
  commit_ready(p);
}

void ClusterAnalyzer::on_revoke(std::span<const int32_t> partitions, bool lost) {
  for (const int32_t partition : partitions) {
    const auto it = stages_.find(partition);
    if (it == stages_.end()) continue;
    // A lost partition may have a new owner already: its commits would be refused.
    stop_stage(*it->second, !lost && !abandoning_);
    std::lock_guard lock(stages_mutex_);
    accumulate(retired_, it->second->stage->stats());
    stages_.erase(it);
    stages_stopped_.fetch_add(1, std::memory_order_relaxed);
  }
}

std::vector<int32_t> ClusterAnalyzer::partitions() const {
  std::lock_guard lock(stages_mutex_);
  std::vector<int32_t> out;
  for (const auto& [partition, p] : stages_) out.push_back(partition);
  return out;
}

std::map<int32_t, int64_t> ClusterAnalyzer::positions() const {
  std::lock_guard lock(stages_mutex_);
  std::map<int32_t, int64_t> out;
  for (const auto& [partition, p] : stages_) out[partition] = p->position.load();
  return out;
}

std::map<int32_t, int64_t> ClusterAnalyzer::committed() const {
  std::lock_guard lock(stages_mutex_);
  std::map<int32_t, int64_t> out;
  for (const auto& [partition, p] : stages_) out[partition] = p->committed.load();
  return out;
}

ClusterAnalyzerStats ClusterAnalyzer::stats() const {
  ClusterAnalyzerStats s;
  s.batches = batches_.load(std::memory_order_relaxed);
  s.records = records_.load(std::memory_order_relaxed);
  s.unowned = unowned_.load(std::memory_order_relaxed);
  s.stages_started = stages_started_.load(std::memory_order_relaxed);
  s.stages_stopped = stages_stopped_.load(std::memory_order_relaxed);
  s.tenants_restored = tenants_restored_.load(std::memory_order_relaxed);
  s.incidents_restored = incidents_restored_.load(std::memory_order_relaxed);
  s.restore_failures = restore_failures_.load(std::memory_order_relaxed);
  s.commits = commits_.load(std::memory_order_relaxed);
  s.commit_refused = commit_refused_.load(std::memory_order_relaxed);
  s.queue_waits = queue_waits_.load(std::memory_order_relaxed);
  return s;
}

bus::KafkaConsumerStats ClusterAnalyzer::consumer_stats() const {
  return consumer_->stats();
}

api::CollectorSnapshot ClusterAnalyzer::snapshot() const {
  api::CollectorSnapshot s;
  s.start_time_ns = start_time_ns_;
  for (const transform::Tenant& t : config_.transform.tenants) s.tenants.push_back({t.id, t.name});
  AnalyzeStageStats sum;
  std::vector<detect::Incident> open;
  {
    std::lock_guard lock(stages_mutex_);
    sum = retired_;
    for (const auto& [partition, p] : stages_) {
      accumulate(sum, p->stage->stats());
      std::vector<detect::Incident> more = p->stage->open_incidents();
      open.insert(open.end(), std::make_move_iterator(more.begin()),
                  std::make_move_iterator(more.end()));
      const bus::BusStats b = p->bus.stats();
      s.bus.published_batches += b.published_batches;
      s.bus.published_records += b.published_records;
      for (bus::SubscriberStats sub : b.subscribers) {
        sub.name = "partition-" + std::to_string(partition);
        s.bus.subscribers.push_back(std::move(sub));
      }
    }
    s.kafka_partitions_owned = static_cast<uint32_t>(stages_.size());
  }
  s.has_analysis = true;
  fill_analysis_snapshot(sum, open, config_.analyze.ai.model != "off", s.analysis);
  s.analysis.desired_replicas = desired_replicas_.load(std::memory_order_relaxed);
  if (persistence_) fill_persistence_snapshot(persistence_->stats(), s);
  s.has_kafka_consumer = true;
  s.kafka_consumer = consumer_->stats();
  return s;
}

std::string ClusterAnalyzer::metrics() const {
  api::MetricsText text;
  api::append_collector_metrics(snapshot(), text);
  return text.str();
}

api::Health ClusterAnalyzer::health() const {
  api::Health h;
  if (stopping_.load()) {
    h.ok = false;
    h.text = "stopping";
    return h;
  }
  h.ok = true;
  h.text = "partitions owned " + std::to_string(partitions().size());
  return h;
}

}  // namespace fathom::app
