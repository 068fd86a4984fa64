#include "app/persistence.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <utility>

#include "app/clock.h"
#include "app/logging.h"
#include "app/record_format.h"

namespace fathom::app {
namespace {

constexpr std::string_view kAiStateKey = "ai";
constexpr int64_t kExporterIntervalNs = 60'000'000'000;
/// How often `add_periodic_save` callbacks run (the adaptive sampler's state).
constexpr int64_t kPeriodicSaveIntervalNs = 30'000'000'000;
/// The first retention pass runs this long after start (a restart loop must not prune on
/// every start, and start-up is busy enough).
constexpr int64_t kFirstPruneNs = 60'000'000'000;

store::Estimate stored(const estimate::Estimate& e) {
  return {e.value, e.ci_low, e.ci_high};
}

bool is_postgres(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

}  // namespace

std::string store_url(const Config& config) {
  if (!config.store.url.empty()) return config.store.url;
  return "sqlite:" + (std::filesystem::path(config.data_dir) / "fathom.db").string();
}

store::Rollup to_rollup(const analyze::TenantSummary& summary) {
  store::Rollup r;
  r.tenant_id = summary.tenant_id;
  r.minute_ns = summary.start_ns;
  r.packets = stored(summary.total.packets);
  r.bytes = stored(summary.total.bytes);
  r.flows = stored(summary.total.flows);
  r.detail_json = analyze::tenant_summary_json(summary);
  return r;
}

std::unique_ptr<Persistence> Persistence::open(
    const Config& config, std::function<std::vector<store::ExporterRecord>()> exporters,
    std::string& error, PersistenceRole role, std::string_view node) {
  auto log = logger("store");
  std::unique_ptr<Persistence> p(new Persistence());
  p->role_ = role;
  const bool collector = role == PersistenceRole::kCollector;
  if (collector) p->sampler_key_ = sampler_state_key(node);
  for (const transform::Tenant& t : config.transform.tenants) p->tenant_names_[t.id] = t.name;
  if (config.transform.unknown_exporters == transform::UnknownExporters::kDefault) {
    p->tenant_names_[config.transform.default_tenant_id] = config.transform.default_tenant_name;
  }
  auto states = std::make_shared<std::map<uint32_t, std::vector<std::byte>>>();
  if (config.store.enabled) {
    p->store_options_ = config.store.options;
    p->store_options_.url = store_url(config);
    p->prune_interval_ns_ = config.store.prune_interval_ns;
    std::error_code ec;
    std::filesystem::create_directories(config.data_dir, ec);
    if (ec) {
      error = "store: cannot create data_dir " + config.data_dir + ": " + ec.message();
      return nullptr;
    }
    // Opened here so that a bad URL or an unwritable file fails the start, and to read the
    // tenants' saved detector state before analysis starts.
    std::string open_error;
    std::unique_ptr<store::Database> db = store::open_database(p->store_options_, open_error);
    if (!db) {
      if (!is_postgres(p->store_options_.url)) {
        error = "store: " + open_error;
        return nullptr;
      }
      log->warn(
          "store: {}; writes wait in the spool until the server answers ({} state is not "
          "restored this time)",
          open_error, collector ? "decoder and sampler" : "detector, decoder and sampler");
    } else {
      p->backend_ = std::string(db->backend());
      std::map<uint32_t, bool> tenants;
      for (const auto& [id, name] : p->tenant_names_) tenants[id] = true;
      // A collector samples only the configured tenants; the analysis side also restores
      // detector state of tenants the store knows but the config no longer lists.
      if (!collector) {
        if (auto [status, rows] = db->tenants(); status.ok) {
          for (const store::TenantRecord& t : rows) tenants[t.tenant_id] = true;
        } else {
          log->warn("store: reading tenants: {}", status.error);
        }
      }
      std::vector<uint32_t> tenant_ids;
      for (const auto& [id, unused] : tenants) tenant_ids.push_back(id);
      p->sampler_states_ = std::make_shared<const std::vector<store::StateEntry>>(
          read_sampler_states(*db, tenant_ids, p->sampler_key_));
      for (const auto& [id, unused] : tenants) {
        if (collector) break;  // a collector runs no detectors
        auto [status, blob] = db->get_state(id, kAiStateKey);
        if (!status.ok) {
          log->warn("store: reading tenant {}'s detector state: {}", id, status.error);
        } else if (blob) {
          const auto* bytes = reinterpret_cast<const std::byte*>(blob->data());
          (*states)[id] = std::vector<std::byte>(bytes, bytes + blob->size());
        }
      }
      if (!states->empty()) {
        log->info("store: detector state of {} tenant(s) restored", states->size());
      }
      if (auto [status, rows] = read_decoder_states(*db); status.ok) {
        p->decoder_states_ =
            std::make_shared<const std::vector<store::StateEntry>>(std::move(rows));
      } else {
        log->warn("store: reading decoder state: {}", status.error);
      }
    }
    store::StoreWriterOptions wo;
    wo.spool_directory = (std::filesystem::path(config.data_dir) / "store-spool").string();
    wo.spool_max_bytes = config.store.spool_max_bytes;
    p->writer_ = store::StoreWriter::start(p->store_options_, wo, error);
    if (!p->writer_) {
      error = "store: " + error;
      return nullptr;
    }
    if (p->backend_.empty())
      p->backend_ = is_postgres(p->store_options_.url) ? "postgresql" : "sqlite";
  }
  p->ai_states_ = std::move(states);
  if (!config.alert.sinks.empty() && !collector) {
    alert::AlertConfig ac = config.alert;
    if (ac.spool_directory.empty()) {
      ac.spool_directory = (std::filesystem::path(config.data_dir) / "alert-spool").string();
    }
    p->alerts_ = alert::AlertDispatcher::create(ac, error);
    if (!p->alerts_) {
      error = "alert: " + error;
      if (p->writer_) p->writer_->stop();
      return nullptr;
    }
  }
  p->exporters_ = std::move(exporters);
  if (p->writer_) p->upkeep_ = std::thread([raw = p.get()] { raw->upkeep(); });
  return p;
}

Persistence::~Persistence() {
  stop();
}

void Persistence::on_incident_events(std::span<const detect::IncidentEvent> events) {
  if (events.empty()) return;
  if (writer_) writer_->submit_incidents(events);
  if (alerts_) alerts_->submit(events);
}

void Persistence::on_rollups(std::span<const analyze::TenantSummary> rollups) {
  if (!writer_ || rollups.empty()) return;
  std::vector<store::Rollup> rows;
  std::vector<store::TenantRecord> tenants;
  rows.reserve(rollups.size());
  for (const analyze::TenantSummary& s : rollups) {
    rows.push_back(to_rollup(s));
    store::TenantRecord t;
    t.tenant_id = s.tenant_id;
    if (auto it = tenant_names_.find(s.tenant_id); it != tenant_names_.end()) t.name = it->second;
    t.first_seen_ns = s.start_ns;
    t.last_seen_ns = s.end_ns;
    tenants.push_back(std::move(t));
  }
  writer_->submit_rollups(rows);
  writer_->submit_tenants(tenants);
}

void Persistence::on_ai_state(uint32_t tenant_id, std::span<const std::byte> state) {
  if (!writer_) return;
  store::StateEntry e;
  e.tenant_id = tenant_id;
  e.key = std::string(kAiStateKey);
  e.value.assign(reinterpret_cast<const char*>(state.data()), state.size());
  e.updated_ns = wall_clock_ns();
  if (writer_->submit_state(std::move(e))) {
    ai_saved_.fetch_add(1, std::memory_order_relaxed);
  } else {
    ai_refused_.fetch_add(1, std::memory_order_relaxed);
  }
}

void Persistence::on_incident_flows(std::span<const analyze::CapturedFlow> flows) {
  if (!writer_ || flows.empty()) return;
  std::vector<store::SampledFlow> rows;
  rows.reserve(flows.size());
  for (const analyze::CapturedFlow& f : flows) {
    store::SampledFlow row;
    row.tenant_id = f.record.tenant_id;
    row.subject = f.subject.to_string();
    row.time_ns = f.record.arrival_ns;
    append_json(f.record, 0, row.json);
    rows.push_back(std::move(row));
  }
  const size_t n = rows.size();
  if (writer_->submit_flows(std::move(rows))) {
    flows_saved_.fetch_add(n, std::memory_order_relaxed);
  } else {
    flows_refused_.fetch_add(n, std::memory_order_relaxed);
  }
}

void Persistence::write_exporters() {
  if (!exporters_ || !writer_) return;
  const std::vector<store::ExporterRecord> rows = exporters_();
  if (!rows.empty()) writer_->submit_exporters(rows);
}

void Persistence::add_periodic_save(std::function<void(store::StoreWriter&)> save) {
  if (!writer_ || !save) return;
  std::lock_guard lock(mu_);
  periodic_saves_.push_back(std::move(save));
}

void Persistence::run_periodic_saves() {
  std::vector<std::function<void(store::StoreWriter&)>> saves;
  {
    std::lock_guard lock(mu_);
    saves = periodic_saves_;
  }
  for (const auto& save : saves) save(*writer_);
}

void Persistence::upkeep() {
  auto log = logger("store");
  std::unique_ptr<store::Database> db;
  const int64_t start = monotonic_ns();
  // Retention is the analysis side's job: a collector never prunes the shared database.
  int64_t next_prune = role_ == PersistenceRole::kCollector
                           ? INT64_MAX
                           : start + std::min(kFirstPruneNs, prune_interval_ns_);
  int64_t next_exporters = start + kExporterIntervalNs;
  int64_t next_saves = start + kPeriodicSaveIntervalNs;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const int64_t now = monotonic_ns();
    const int64_t next = std::min({next_prune, next_exporters, next_saves});
    if (now < next) {
      wake_.wait_for(lock, std::chrono::nanoseconds(next - now));
      continue;
    }
    lock.unlock();
    if (now >= next_exporters) {
      write_exporters();
      next_exporters = now + kExporterIntervalNs;
    }
    if (now >= next_saves) {
      run_periodic_saves();
      next_saves = now + kPeriodicSaveIntervalNs;
    }
    if (now >= next_prune) {
      next_prune = now + prune_interval_ns_;
      std::string error;
      if (!db) db = store::open_database(store_options_, error);
      if (!db) {
        prune_failures_.fetch_add(1, std::memory_order_relaxed);
        log->warn("store: retention pass skipped: {}", error);
      } else if (auto [status, pruned] = db->prune(wall_clock_ns()); !status.ok) {
        prune_failures_.fetch_add(1, std::memory_order_relaxed);
        log->warn("store: retention pass failed: {}", status.error);
        if (!status.retryable) db.reset();
      } else {
        prunes_.fetch_add(1, std::memory_order_relaxed);
        pruned_rollups_.fetch_add(pruned.rollups, std::memory_order_relaxed);
        pruned_incidents_.fetch_add(pruned.incidents, std::memory_order_relaxed);
        pruned_flows_.fetch_add(pruned.flows, std::memory_order_relaxed);
        if (pruned.rollups + pruned.incidents > 0) {
          log->info("store: retention removed {} rollup(s) and {} incident(s)", pruned.rollups,
                    pruned.incidents);
        }
      }
    }
    lock.lock();
  }
}

void Persistence::stop(std::chrono::milliseconds timeout) {
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (upkeep_.joinable()) upkeep_.join();
  if (writer_) {
    write_exporters();
    run_periodic_saves();
    if (!writer_->flush(timeout)) {
      const store::StoreWriterStats s = writer_->stats();
      logger("store")->warn(
          "store: not everything was written before stopping ({} queued, {} spooled record(s) "
          "wait for the next start){}{}",
          s.queue_depth, s.spool_pending, s.last_error.empty() ? "" : ": ", s.last_error);
    }
    writer_->stop();
  }
  if (alerts_) alerts_->stop();
}

PersistenceStats Persistence::stats() const {
  PersistenceStats s;
  if (writer_) {
    s.has_store = true;
    s.writer = writer_->stats();
    s.backend = backend_;
  }
  s.prunes = prunes_.load(std::memory_order_relaxed);
  s.prune_failures = prune_failures_.load(std::memory_order_relaxed);
  s.pruned_rollups = pruned_rollups_.load(std::memory_order_relaxed);
  s.pruned_incidents = pruned_incidents_.load(std::memory_order_relaxed);
  s.ai_states_loaded = ai_states_ ? ai_states_->size() : 0;
  s.ai_states_saved = ai_saved_.load(std::memory_order_relaxed);
  s.ai_states_refused = ai_refused_.load(std::memory_order_relaxed);
  s.flows_saved = flows_saved_.load(std::memory_order_relaxed);
  s.flows_refused = flows_refused_.load(std::memory_order_relaxed);
  s.pruned_flows = pruned_flows_.load(std::memory_order_relaxed);
  s.decoder_state = snapshot(decoder_counters_);
  s.sampler_state = snapshot(sampler_counters_);
  if (alerts_) {
    s.has_alerts = true;
    s.alerts = alerts_->stats();
  }
  return s;
}

}  // namespace fathom::app
