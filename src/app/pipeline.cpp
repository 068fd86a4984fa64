#include "app/pipeline.h"

#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

#include "app/base_model.h"
#include "app/clock.h"
#include "app/logging.h"
#include "collect/input_stream.h"
#include "collect/pcap_reader.h"
#include "decode/vpc_flow_log.h"
#include "detect/autoencoder.h"

namespace fathom::app {
namespace {

/// The rules' settings: `analyze`'s, with each tenant's `thresholds` over the defaults.
detect::RulesConfig rules_config(const Config& config) {
  detect::RulesConfig rules = config.analyze.rules;
  for (const transform::Tenant& t : config.transform.tenants) {
    if (t.thresholds.empty()) continue;
    detect::RuleThresholds& th = rules.per_tenant[t.id];
    th = rules.defaults;
    for (const auto& [name, value] : t.thresholds) detect::set_threshold(th, name, value);
  }
  return rules;
}

std::shared_ptr<const transform::IngestTables> tenant_map(const Config& config) {
  return transform::IngestTables::from_config(config.transform);
}

bool same_endpoints(const std::vector<collect::ListenEndpoint>& a,
                    const std::vector<collect::ListenEndpoint>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.host == y.host && x.port == y.port;
  });
}

}  // namespace

Pipeline::Pipeline(const Config& config)
    : config_(config),
      start_time_ns_(wall_clock_ns()),
      sampler_(std::make_shared<transform::AdaptiveSampler>(config.transform)),
      tenant_names_(tenant_names(config)) {}

transform::IngestWorker::Options Pipeline::worker_options() const {
  transform::IngestWorker::Options o;
  o.decode = config_.decode;
  o.flush_interval_ns = int64_t{config_.collect.flush_interval_ms} * 1'000'000;
  o.sampler = sampler_;
  o.enricher = &enricher_;
  return o;
}

bool Pipeline::load_enrichment(std::string& error) {
  enrichment_ = std::make_unique<transform::EnrichmentLoader>(config_.transform, enricher_);
  if (!enrichment_->load_all(error)) return false;
  enrichment_->start();
  return true;
}

bool Pipeline::open_estimates(const std::string& output, bool live, std::string& error) {
  EstimateStage::Options options;
  options.window = config_.estimate.window;
  options.summary.top_n = config_.estimate.top_n;
  options.live = live;
  options.output = output;
  estimates_ =
      EstimateStage::start(bus_, config_.collect.queue_capacity_batches, std::move(options), error);
  return estimates_ != nullptr;
}

bool load_base_model(const std::string& which, std::shared_ptr<const detect::Model>& out,
                     std::string& error) {
  out.reset();
  if (which == "off") return true;
  std::vector<std::byte> file;
  std::span<const std::byte> bytes;
  if (which == "builtin") {
    bytes = builtin_base_model();
  } else {
    std::ifstream f(which, std::ios::binary);
    if (!f) {
      error = "analyze.ai.model: cannot read " + which;
      return false;
    }
    const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    file.resize(text.size());
    std::memcpy(file.data(), text.data(), text.size());
    bytes = file;
  }
  auto model = std::make_shared<detect::Model>();
  if (!detect::load_model(bytes, *model, error)) {
    error = "analyze.ai.model " + which + ": " + error;
    return false;
  }
  out = std::move(model);
  return true;
}

bool Pipeline::open_persistence(std::string& error, PersistenceRole role) {
  // Both roles store the exporters as seen: in a cluster the collectors are the only ones
  // that hear them, and `fathom api` lists them from there.
  std::function<std::vector<store::ExporterRecord>()> exporters;
  {
    exporters = [this] {
      std::vector<store::ExporterRecord> rows;
      for (const auto& w : workers_) {
        for (const transform::ExporterIngest& e : w->snapshot().exporters) {
          store::ExporterRecord r;
          r.address = e.address.to_string();
          r.tenant_id = e.tenant_id;
          r.protocol = std::string(api::protocol_name(e.decode.last_version));
          r.first_seen_ns = e.decode.last_seen_ns;  // the store keeps the earliest
          r.last_seen_ns = e.decode.last_seen_ns;
          r.packets = e.decode.packets;
          r.records = e.decode.records;
          r.malformed = e.decode.packets - std::min(e.decode.packets, e.decode.packets_ok);
          rows.push_back(std::move(r));
        }
      }
      return rows;
    };
  }
  const std::string node =
      role == PersistenceRole::kCollector ? collector_node_id(config_.collect.node_id) : "";
  persistence_ = Persistence::open(config_, std::move(exporters), error, role, node);
  if (!persistence_) return false;
  if (persistence_->writer() != nullptr) {
    // Tenants keep their keep probability across the restart (docs/adaptive-sampling.md).
    SamplerStateCounters& counters = persistence_->sampler_counters();
    if (const auto rows = persistence_->sampler_states()) {
      apply_sampler_states(*rows, *sampler_, wall_clock_ns(), kSamplerStateMaxAgeNs, counters);
    }
    persistence_->add_periodic_save(
        [sampler = sampler_, &counters,
         key = persistence_->sampler_key()](store::StoreWriter& writer) {
          save_sampler_state(*sampler, writer, wall_clock_ns(), key, counters);
        });
    if (role == PersistenceRole::kCollector) {
      logger("store")->info("store: decoder and sampler state kept in {} (sampler rows under {})",
                            persistence_->stats().backend, persistence_->sampler_key());
    }
  }
  return true;
}

bool analyze_options(const Config& config, AnalyzeStage::Options& options, std::string& error) {
  options.windows = config.analyze.windows;
  options.rules = rules_config(config);
  options.beacon = config.analyze.beacon;
  options.incidents = config.analyze.incidents;
  options.incident_flow_records = config.analyze.incident_flows;
  options.incident_flow_ns = config.analyze.incident_flow_ns;
  options.autoscale = config.analyze.autoscale;
  if (!load_base_model(config.analyze.ai.model, options.ai_base, error)) return false;
  options.ai = config.analyze.ai.detector;
  options.ai_level = config.analyze.ai.level;
  options.ai_min_records = config.analyze.ai.min_records;
  options.ai_checkpoint_slides = static_cast<uint32_t>(std::max<int64_t>(
      1, config.analyze.ai.checkpoint_interval_ns / config.analyze.windows.levels[0].slide_ns));
  return true;
}

bool Pipeline::open_analysis(const std::string& output, bool live, std::string& error,
                             AnalysisHooks hooks) {
  AnalyzeStage::Options options;
  if (!analyze_options(config_, options, error)) return false;
  options.live = live;
  options.output = output;
  options.sampler = sampler_;
  options.on_incident_events = std::move(hooks.on_incident_events);
  options.on_rollups = std::move(hooks.on_rollups);
  options.on_live_windows = std::move(hooks.on_live_windows);
  if (Persistence* p = persistence_.get()) {
    options.on_incident_events = [p, next = std::move(options.on_incident_events)](
                                     std::span<const detect::IncidentEvent> events) {
      p->on_incident_events(events);
      if (next) next(events);
    };
    options.on_rollups =
        [p, next = std::move(options.on_rollups)](std::span<const analyze::TenantSummary> rollups) {
          p->on_rollups(rollups);
          if (next) next(rollups);
        };
    options.on_ai_state = [p](uint32_t tenant, std::span<const std::byte> state) {
      p->on_ai_state(tenant, state);
    };
    options.on_incident_flows = [p](std::span<const analyze::CapturedFlow> flows) {
      p->on_incident_flows(flows);
    };
    options.ai_state = p->ai_states();
  }
  options.on_host_samples = std::move(hooks.on_host_samples);
  analysis_ =
      AnalyzeStage::start(bus_, config_.collect.queue_capacity_batches, std::move(options), error);
  analysis_output_ = !output.empty();
  return analysis_ != nullptr;
}

std::vector<TenantRunEstimate> Pipeline::estimate_totals() const {
  return estimates_ ? estimates_->run_totals() : std::vector<TenantRunEstimate>{};
}

Pipeline::~Pipeline() {
  stop();
  for (int fd : wake_fds_) ::close(fd);
}

std::vector<api::TenantName> Pipeline::tenant_names(const Config& config) {
  std::vector<api::TenantName> names;
  for (const transform::Tenant& t : config.transform.tenants) names.push_back({t.id, t.name});
  if (config.transform.unknown_exporters == transform::UnknownExporters::kDefault) {
    names.push_back({config.transform.default_tenant_id, config.transform.default_tenant_name});
  }
  return names;
}

bool Pipeline::open_flow_output(const std::string& path, std::string& error) {
  if (path.empty()) return true;
  flow_sink_ = FlowSink::open(path, bus_, config_.collect.queue_capacity_batches, error);
  return flow_sink_ != nullptr;
}

bool Pipeline::open_kafka(const bus::KafkaProducerOptions& options, bool replay,
                          std::string& error) {
  kafka_sink_ =
      KafkaSink::open(options, bus_, config_.collect.queue_capacity_batches, replay, error);
  return kafka_sink_ != nullptr;
}

bool Pipeline::open_kafka_json(const bus::KafkaProducerOptions& options, bool replay,
                               std::string& error) {
  kafka_json_sink_ = KafkaSink::open(options, bus_, config_.collect.queue_capacity_batches, replay,
                                     error, KafkaSinkFormat::kJson);
  return kafka_json_sink_ != nullptr;
}

bool Pipeline::open_live(const std::vector<collect::ListenEndpoint>& endpoints,
                         std::string& error) {
  const collect::ListenOptions options = collect::listen_options(config_.collect);
  uint32_t threads = config_.collect.receive_threads;
  group_ = collect::UdpListenerGroup::open(endpoints, threads, options, error);
  if (!group_) return false;
  if (!group_->steering()) {
    logger("collect")->warn(
        "exporter steering is unavailable ({}); using one receive thread so that every "
        "exporter's packets reach the same decoder",
        group_->steering_error());
    group_.reset();
    threads = 1;
    group_ = collect::UdpListenerGroup::open(endpoints, threads, options, error);
    if (!group_) return false;
  }
  const auto tenants = tenant_map(config_);
  for (size_t i = 0; i < group_->size(); ++i) {
    workers_.push_back(std::make_unique<transform::IngestWorker>("receive-" + std::to_string(i),
                                                                 worker_options(), bus_, tenants));
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
      error = "cannot create an eventfd for receive thread " + std::to_string(i);
      return false;
    }
    wake_fds_.push_back(fd);
  }
  return true;
}

void Pipeline::open_replay() {
  workers_.push_back(std::make_unique<transform::IngestWorker>("replay", worker_options(), bus_,
                                                               tenant_map(config_)));
}

bool Pipeline::load_state(const std::string& path, std::string& error) {
  const uint32_t shards = static_cast<uint32_t>(workers_.size());
  for (size_t i = 0; i < workers_.size(); ++i) {
    auto keep = [&](const flow::IpAddress& addr) {
      return collect::UdpListenerGroup::shard_of(addr, shards) == i;
    };
    if (!workers_[i]->decoder().load_state(path, error, keep)) return false;
  }
  return true;
}

void Pipeline::restore_decoder_state() {
  if (decoder_state_restored_) return;
  decoder_state_restored_ = true;
  if (!persistence_ || persistence_->writer() == nullptr) return;
  DecoderStateCounters& counters = persistence_->decoder_counters();
  const auto rows = persistence_->decoder_states();
  const uint32_t shards = static_cast<uint32_t>(workers_.size());
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (rows) {
      auto keep = [&](const flow::IpAddress& addr) {
        return collect::UdpListenerGroup::shard_of(addr, shards) == i;
      };
      apply_decoder_states(*rows, workers_[i]->decoder(), keep, counters);
    }
    state_savers_.push_back(std::make_unique<DecoderStateSaver>(*persistence_->writer(), counters));
  }
}

void Pipeline::tick_decoder_state(size_t idx) {
  if (idx < state_savers_.size())
    state_savers_[idx]->tick(workers_[idx]->decoder(), monotonic_ns());
}

void Pipeline::start_live() {
  restore_decoder_state();
  for (size_t i = 0; i < workers_.size(); ++i) {
    threads_running_.fetch_add(1);
    threads_.emplace_back([this, i] {
      receive_loop(i);
      threads_running_.fetch_sub(1);
    });
  }
}

void Pipeline::receive_loop(size_t idx) {
  collect::UdpListener& listener = group_->listener(idx);
  transform::IngestWorker& worker = *workers_[idx];
  std::vector<collect::ReceivedDatagram> datagrams;
  datagrams.reserve(listener.batch_size());
  // Poll at most this long so partial batches go out within the flush interval.
  const int timeout_ms =
      std::max(1, static_cast<int>(std::min<int64_t>(config_.collect.flush_interval_ms, 1000)));
  while (!stopping_.load(std::memory_order_relaxed)) {
    bool woken = false;
    if (!listener.receive(timeout_ms, datagrams, wake_fds_[idx], &woken)) {
      threads_failed_.fetch_add(1, std::memory_order_relaxed);
      logger("collect")->critical("receive thread {} stopped: poll failed", idx);
      break;
    }
    for (const collect::ReceivedDatagram& d : datagrams) {
      worker.handle(d.payload, {d.src, d.src_port, d.arrival_ns});
    }
    worker.tick(wall_clock_ns());
    tick_decoder_state(idx);
  }
  worker.flush(wall_clock_ns());
  if (idx < state_savers_.size()) state_savers_[idx]->save_all(worker.decoder());
}

void Pipeline::wait_for_consumers(const transform::IngestWorker& worker, uint64_t& published) {
  if (worker.batches_published() == published) return;
  published = worker.batches_published();
  // A file has no sender to keep up with: wait for slow consumers instead of dropping their
  // batches (the estimates of a replay would come out low). Give up after a minute of no
  // progress (a wedged consumer), and let the bus count the drops from then on.
  if (!bus_.wait_for_room(std::chrono::seconds(60))) {
    logger("app")->warn("replay: a consumer made no progress for 60 s; its batches are dropped");
  }
}

bool Pipeline::replay(const ReplayOptions& options, const std::atomic<bool>& stop,
                      ReplayStats& stats, std::string& error) {
  restore_decoder_state();
  transform::IngestWorker& worker = *workers_.front();
  uint64_t published = worker.batches_published();
  auto in = collect::InputStream::open(options.path, error);
  if (!in) return false;
  const std::span<const std::byte> head = in->peek(512);
  if (!in->error().empty()) {
    error = in->error();
    return false;
  }
  if (head.empty()) {
    error = in->name() + ": empty file";
    return false;
  }
  if (collect::is_capture_magic(head)) {
    std::unique_ptr<collect::PcapReader> reader;
    const std::string name = in->name();
    if (!in->is_stream() && !in->gzip()) {
      in.reset();
      reader = collect::PcapReader::open(options.path, error);
    } else {
      std::FILE* f = in->as_file();
      if (f == nullptr) {
        error = name + ": cannot create a stream";
        return false;
      }
      reader = collect::PcapReader::open_stream(f, name, error);
    }
    if (!reader) return false;
    collect::CapturedDatagram d;
    int64_t first_ts = 0;
    const int64_t started = monotonic_ns();
    while (!stop.load(std::memory_order_relaxed) && reader->next(d)) {
      if (options.speed > 0) {
        if (first_ts == 0) first_ts = d.timestamp_ns;
        const auto due =
            static_cast<int64_t>(static_cast<double>(d.timestamp_ns - first_ts) / options.speed);
        // Sleep in short steps so a stop request is noticed, and tick meanwhile.
        for (int64_t wait = due - (monotonic_ns() - started); wait > 0 && !stop.load();
             wait = due - (monotonic_ns() - started)) {
          std::this_thread::sleep_for(
              std::chrono::nanoseconds(std::min<int64_t>(wait, 50'000'000)));
          worker.tick(d.timestamp_ns);
        }
      }
      ++stats.datagrams;
      worker.handle(d.payload, {d.src, d.src_port, d.timestamp_ns});
      worker.tick(d.timestamp_ns);
      tick_decoder_state(0);
      wait_for_consumers(worker, published);
    }
    if (!reader->error().empty()) {
      error = name + ": " + reader->error();
      return false;
    }
    return true;
  }
  if (collect::looks_binary(head)) {
    error = in->name() + ": unknown format (not a pcap/pcapng capture or an AWS VPC flow log)";
    return false;
  }
  collect::LineReader lines(*in);
  decode::VpcFlowLogParser parser;
  flow::FlowBatch parsed;
  std::string_view line;
  bool first = true;
  while (!stop.load(std::memory_order_relaxed) && lines.next(line)) {
    if (first) {
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      first = false;
      if (!decode::VpcFlowLogParser::is_header(line) &&
          !decode::VpcFlowLogParser::is_default_record(line)) {
        error = in->name() +
                ": unknown format (the first line is neither a VPC flow log header "
                "nor a version 2 record)";
        return false;
      }
    }
    const int64_t now = wall_clock_ns();
    parsed.clear();
    parser.parse_line(line, parsed, now);
    stats.vpc_records += parsed.size();
    worker.handle_parsed(parsed.records(), {options.vpc_exporter, 0, now});
    worker.tick(now);
    wait_for_consumers(worker, published);
  }
  stats.vpc_lines = parser.counts().lines;
  stats.vpc_bad_lines = parser.counts().bad_lines;
  if (!in->error().empty()) {
    error = in->error();
    return false;
  }
  return true;
}

void Pipeline::stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true);
  for (int fd : wake_fds_) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(fd, &one, sizeof(one));
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  if (!group_) {
    // Replay: the worker ran on the caller's thread; publish what it holds.
    for (auto& w : workers_) w->flush(wall_clock_ns());
    for (size_t i = 0; i < state_savers_.size(); ++i) {
      state_savers_[i]->save_all(workers_[i]->decoder());
    }
  }
  bus_.close();
  if (flow_sink_) flow_sink_->join();
  if (kafka_sink_) kafka_sink_->join();
  if (kafka_json_sink_) kafka_json_sink_->join();
  if (estimates_) estimates_->join();
  if (analysis_) analysis_->join();
  if (persistence_) persistence_->stop();
  if (enrichment_) enrichment_->stop();
}

bool Pipeline::save_state(const std::string& path, std::string& error) const {
  std::vector<const decode::Decoder*> decoders;
  for (const auto& w : workers_) decoders.push_back(&w->decoder());
  return decode::Decoder::save_state(path, decoders, error);
}

void Pipeline::reload(const Config& config, std::vector<std::string>& restart_needed) {
  if (!same_endpoints(config.collect.listeners, config_.collect.listeners)) {
    restart_needed.push_back("collect.listeners");
  }
  if (config.collect.receive_threads != config_.collect.receive_threads) {
    restart_needed.push_back("collect.receive_threads");
  }
  if (config.collect.socket_receive_buffer_bytes != config_.collect.socket_receive_buffer_bytes ||
      config.collect.recv_batch_size != config_.collect.recv_batch_size) {
    restart_needed.push_back("collect socket settings");
  }
  if (config.decode.max_exporters != config_.decode.max_exporters ||
      config.decode.max_templates_per_exporter != config_.decode.max_templates_per_exporter ||
      config.decode.max_pending_bytes_per_exporter !=
          config_.decode.max_pending_bytes_per_exporter ||
      config.decode.pending_timeout_ns != config_.decode.pending_timeout_ns ||
      config.decode.emit_biflow_reverse != config_.decode.emit_biflow_reverse) {
    restart_needed.push_back("decode");
  }
  if (config.metrics_listen.host != config_.metrics_listen.host ||
      config.metrics_listen.port != config_.metrics_listen.port) {
    restart_needed.push_back("metrics_listen");
  }
  // The analysis workers own their rules and windows; changing them live would need a
  // hand-off like a rebalance. Say so instead of ignoring the change.
  if (!(rules_config(config) == rules_config(config_))) {
    restart_needed.push_back("analyze thresholds (analyze.* or tenants[].thresholds)");
  }
  if (config.analyze.windows.levels != config_.analyze.windows.levels ||
      config.analyze.windows.max_internal_hosts != config_.analyze.windows.max_internal_hosts ||
      config.analyze.windows.max_external_hosts != config_.analyze.windows.max_external_hosts) {
    restart_needed.push_back("analyze windows");
  }
  const auto tenants = tenant_map(config);
  for (auto& w : workers_) w->set_tenants(tenants);
  sampler_->set_tenants(config.transform);
  if (enrichment_) enrichment_->apply_config(config.transform);
  set_log_level(config.log_level);
  {
    std::lock_guard lock(config_mutex_);
    tenant_names_ = tenant_names(config);
  }
  config_.transform = config.transform;
  config_.log_level = config.log_level;
  reloads_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint16_t> Pipeline::local_ports() const {
  if (!group_) return {};
  return group_->listener(0).local_ports();
}

std::string Pipeline::receive_buffer_warning() const {
  return group_ ? group_->receive_buffer_warning() : std::string();
}

void fill_analysis_snapshot(const AnalyzeStageStats& a, std::span<const detect::Incident> open,
                            bool has_ai, api::AnalysisSnapshot& o) {
  o.records_analysed = a.engine.records_analysed;
  o.records_late = a.engine.records_late;
  o.records_no_tenant = a.engine.records_no_tenant;
  o.records_bad_rate = a.engine.records_bad_rate;
  o.records_not_counted = a.engine.records_not_counted;
  o.records_tenant_overflow = a.engine.records_tenant_overflow;
  o.hosts_evicted = a.engine.hosts_evicted;
  o.hosts_rejected = a.engine.hosts_rejected;
  o.contacts_dropped = a.engine.contacts_dropped;
  o.slides = a.slides;
  o.windows = a.engine.windows_closed;
  o.overruns = a.overruns;
  o.load_factor = a.load_factor;
  o.shed_slides = a.shed_slides;
  o.lag_seconds = a.lag_seconds;
  o.memory_bytes = a.engine.memory_bytes;
  o.utilisation = a.last_utilisation;
  o.mean_utilisation_10m = a.mean_utilisation_10m;
  o.workers = a.workers;
  o.desired_workers = a.desired_workers;
  for (size_t t = 0; t < detect::kDetectionTypeCount; ++t) {
    o.detections.emplace_back(std::string(detect::to_string(static_cast<detect::DetectionType>(t))),
                              a.rules.by_type[t]);
  }
  o.incidents_opened = a.incidents.opened;
  o.incidents_updated = a.incidents.updated;
  o.incidents_closed = a.incidents.closed;
  o.incidents_dropped = a.incidents.dropped_over_capacity;
  std::map<std::pair<uint32_t, std::string>, uint64_t> by_severity;
  for (const detect::Incident& inc : open) {
    ++by_severity[{inc.tenant_id,
                   std::string(detect::to_string(detect::severity_level(inc.severity)))}];
  }
  for (const auto& [key, count] : by_severity)
    o.open_by_severity.emplace_back(key.first, key.second, count);
  o.has_ai = has_ai;
  o.ai_windows = a.ai.windows;
  o.ai_hosts_learning = a.ai.hosts_learning;
  o.ai_hosts_scored = a.ai.hosts_scored;
  o.ai_detections = a.ai.detections;
  o.ai_detections_dropped = a.ai.detections_dropped;
  o.ai_unconfirmed = a.ai.unconfirmed;
  o.ai_trainings = a.ai.trainings;
  o.ai_refreshes = a.ai.refreshes;
  o.ai_baseline_full = a.ai.baseline_full;
}

void fill_persistence_snapshot(const PersistenceStats& p, api::CollectorSnapshot& s) {
  if (p.has_store) {
    s.has_store = true;
    api::StoreSnapshot& o = s.store;
    const store::StoreWriterStats& w = p.writer;
    o.backend = p.backend;
    o.database_up = w.database_up;
    o.queued = w.queued;
    o.written = w.written;
    o.spooled = w.spooled;
    o.replayed = w.replayed;
    o.dropped_queue_full = w.dropped_queue_full;
    o.dropped_spool_full = w.dropped_spool_full;
    o.dropped_failed = w.dropped_failed;
    o.dropped_corrupt = w.dropped_corrupt;
    o.retries = w.retries;
    o.queue_depth = w.queue_depth;
    o.spool_pending = w.spool_pending;
    o.prunes = p.prunes;
    o.prune_failures = p.prune_failures;
    o.pruned_rollups = p.pruned_rollups;
    o.pruned_incidents = p.pruned_incidents;
    o.state_restored = p.ai_states_loaded;
    o.state_saved = p.ai_states_saved;
    o.state_refused = p.ai_states_refused;
    o.flows_saved = p.flows_saved;
    o.flows_refused = p.flows_refused;
    o.pruned_flows = p.pruned_flows;
    o.decoder_restored = p.decoder_state.restored;
    o.decoder_older = p.decoder_state.older;
    o.decoder_corrupt = p.decoder_state.corrupt;
    o.decoder_no_room = p.decoder_state.no_room;
    o.decoder_saved = p.decoder_state.saved;
    o.decoder_refused = p.decoder_state.refused;
    o.sampler_restored = p.sampler_state.restored;
    o.sampler_stale = p.sampler_state.stale;
    o.sampler_corrupt = p.sampler_state.corrupt;
    o.sampler_skipped = p.sampler_state.skipped;
    o.sampler_saved = p.sampler_state.saved;
    o.sampler_refused = p.sampler_state.refused;
  }
  if (p.has_alerts) {
    s.has_alerts = true;
    api::AlertSnapshot& o = s.alerts;
    const alert::DispatcherStats& d = p.alerts;
    o.events_submitted = d.events_submitted;
    o.events_dropped_full = d.events_dropped_full;
    o.opens = d.policy.opens;
    o.escalations = d.policy.escalations;
    o.closes = d.policy.closes;
    o.summaries = d.policy.summaries;
    o.deduplicated = d.policy.deduplicated;
    o.rate_limited = d.policy.rate_limited;
    o.unrouted = d.policy.unrouted;
    o.tracked_evicted = d.policy.tracked_evicted;
    o.journal_errors = d.policy.journal_errors;
    for (const alert::SinkStats& k : d.sinks) {
      o.sinks.push_back({k.name, k.submitted, k.delivered, k.retried, k.failed_permanent, k.spooled,
                         k.replayed, k.dropped_spool_full, k.dropped_no_spool, k.rate_limited,
                         k.deduplicated, k.corrupt_spooled, k.queued, k.spool_pending,
                         k.client_errors});
    }
  }
}

api::CollectorSnapshot Pipeline::snapshot() const {
  api::CollectorSnapshot s;
  s.start_time_ns = start_time_ns_;
  s.receive_threads = static_cast<uint32_t>(group_ ? group_->size() : 0);
  s.exporter_steering = !group_ || group_->steering();
  if (group_) s.sockets = group_->socket_stats();
  for (const auto& w : workers_) s.workers.push_back(w->snapshot());
  s.bus = bus_.stats();
  {
    std::lock_guard lock(config_mutex_);
    s.tenants = tenant_names_;
  }
  if (flow_sink_) {
    const FlowSinkStats f = flow_sink_->stats();
    s.outputs.push_back({"flows_jsonl", f.records, f.write_errors, f.records_lost});
  }
  s.sampler = sampler_->snapshot();
  if (enrichment_) {
    s.has_enrichment = true;
    s.enrichment = enrichment_->stats();
  }
  if (estimates_) {
    s.has_estimates = true;
    const EstimateStageStats e = estimates_->stats();
    s.estimator = e.estimator;
    s.estimates = estimates_->latest();
    if (estimates_->has_output()) {
      s.outputs.push_back({"estimates_jsonl", e.windows_written, e.write_errors, e.write_errors});
    }
  }
  if (analysis_) {
    s.has_analysis = true;
    const AnalyzeStageStats a = analysis_->stats();
    fill_analysis_snapshot(a, analysis_->open_incidents(), config_.analyze.ai.model != "off",
                           s.analysis);
    if (analysis_output_) {
      s.outputs.push_back(
          {"incidents_jsonl", a.incident_events_written, a.write_errors, a.write_errors});
    }
  }
  if (persistence_) fill_persistence_snapshot(persistence_->stats(), s);
  if (kafka_sink_) {
    s.has_kafka_producer = true;
    s.kafka_producer = kafka_sink_->stats();
  }
  if (kafka_json_sink_) {
    s.has_kafka_json_producer = true;
    s.kafka_json_producer = kafka_json_sink_->stats();
  }
  s.config_reloads = reloads_.load(std::memory_order_relaxed);
  s.config_reload_failures = reload_failures_.load(std::memory_order_relaxed);
  return s;
}

std::string Pipeline::metrics() const {
  api::MetricsText text;
  api::append_collector_metrics(snapshot(), text);
  return text.str();
}

api::Health Pipeline::health() const {
  api::Health h;
  const uint32_t failed = threads_failed_.load(std::memory_order_relaxed);
  if (failed != 0) {
    h.ok = false;
    h.text = std::to_string(failed) + " receive thread(s) stopped";
    return h;
  }
  h.ok = true;
  h.text = "receive threads running " + std::to_string(threads_running_.load());
  return h;
}

}  // namespace fathom::app
