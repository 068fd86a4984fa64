#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "alert/dispatcher.h"
#include "analyze/tenant_summary.h"
#include "app/config.h"
#include "app/decoder_state.h"
#include "app/sampler_state.h"
#include "detect/incident.h"
#include "store/store.h"
#include "store/writer.h"

namespace fathom::app {

/// Counters of the store's upkeep and the analysis stage's state hand-over.
struct PersistenceStats {
  bool has_store = false;
  store::StoreWriterStats writer;
  std::string backend;  ///< "sqlite", "postgresql"
  uint64_t prunes = 0;  ///< retention passes that succeeded
  uint64_t prune_failures = 0;
  uint64_t pruned_rollups = 0;
  uint64_t pruned_incidents = 0;
  uint64_t ai_states_loaded = 0;   ///< tenants whose detector state was read at start
  uint64_t ai_states_saved = 0;    ///< checkpoints handed to the writer
  uint64_t ai_states_refused = 0;  ///< checkpoints the writer's queue refused (retried later)
  uint64_t flows_saved = 0;        ///< incidents' sampled flows handed to the writer
  uint64_t flows_refused = 0;      ///< those its queue refused (lost, counted)
  uint64_t pruned_flows = 0;
  DecoderStateStats decoder_state;  ///< decoder state rows restored and saved (decoder_state.h)
  SamplerStateStats sampler_state;  ///< adaptive-sampler rows restored and saved (sampler_state.h)
  bool has_alerts = false;
  alert::DispatcherStats alerts;
};

/// What a Persistence is opened for.
enum class PersistenceRole : uint8_t {
  /// `fathom run`, `fathom analyze`: incidents, rollups, detector, decoder and sampler state,
  /// retention, alert sinks.
  kFull,
  /// `fathom collect`: only what a collector knows: the exporters as seen, the decoder state
  /// rows (tenant 0) and the adaptive sampler's rows under `sampler_state_key(node)`. No
  /// detector state is read,
  /// no alert sink is opened and no retention pass runs (the analyzers own the rest).
  kCollector,
};

/// The store writer, its upkeep and the alert dispatcher, fed by the analysis stage (docs/
/// storage.md, docs/alerting.md). Every `on_*` call only copies into a bounded queue (the
/// writer's, the dispatcher's intake): a slow or dead database or receiver never blocks
/// analysis, and what cannot be queued is counted there.
///
/// An upkeep thread applies the retention and size limits every `store.prune_interval` on its
/// own connection and writes the exporters as seen once a minute (from `exporters`).
class Persistence {
 public:
  /// Opens what `config` enables. The database is opened and migrated now, and the saved
  /// detector and sampler state of every tenant it knows (and of the configured ones) and the
  /// decoder state rows are read. A
  /// PostgreSQL server that does not answer is logged and only delays writes (they spool to
  /// `<data_dir>/store-spool`); a malformed URL, an SQLite file that cannot be created, a
  /// schema newer than this build, an unusable spool directory or an invalid sink is an error.
  /// `exporters` is called on the upkeep thread for the exporters as seen (may be empty).
  /// `role` kCollector opens only what a collector keeps (PersistenceRole), and `node` names
  /// its sampler rows (collector_node_id); both are ignored for kFull.
  static std::unique_ptr<Persistence> open(
      const Config& config, std::function<std::vector<store::ExporterRecord>()> exporters,
      std::string& error, PersistenceRole role = PersistenceRole::kFull,
      std::string_view node = {});
  /// `stop()`.
  ~Persistence();
  Persistence(const Persistence&) = delete;
  Persistence& operator=(const Persistence&) = delete;

  /// Detector states read at open, by tenant (empty without a store).
  std::shared_ptr<const std::map<uint32_t, std::vector<std::byte>>> ai_states() const {
    return ai_states_;
  }

  /// Decoder state rows read at open (app/decoder_state.h; empty without a store or when the
  /// database did not answer), for `apply_decoder_states`.
  std::shared_ptr<const std::vector<store::StateEntry>> decoder_states() const {
    return decoder_states_;
  }
  /// Sampler state rows (key `sampler_key()`) of every tenant known, read at open.
  std::shared_ptr<const std::vector<store::StateEntry>> sampler_states() const {
    return sampler_states_;
  }
  /// The key the adaptive sampler's rows are read and saved under: kSamplerStateKey, or
  /// "sampler/<node>" for a collector.
  const std::string& sampler_key() const noexcept { return sampler_key_; }
  SamplerStateCounters& sampler_counters() noexcept { return sampler_counters_; }
  /// Registers `save`, called on the upkeep thread every 30 s and once more at `stop` before
  /// the writer's final flush, with the writer to hand rows to (it must only submit). No-op
  /// without a store. Any thread.
  void add_periodic_save(std::function<void(store::StoreWriter&)> save);

  /// The writer the decoder state savers hand to (null without a store), and their counters.
  store::StoreWriter* writer() noexcept { return writer_.get(); }
  DecoderStateCounters& decoder_counters() noexcept { return decoder_counters_; }

  /// The analysis stage's hooks (its control thread).
  void on_incident_events(std::span<const detect::IncidentEvent> events);
  void on_rollups(std::span<const analyze::TenantSummary> rollups);
  void on_ai_state(uint32_t tenant_id, std::span<const std::byte> state);
  /// Incidents' raw sampled flows (AnalyzeStage::Options::on_incident_flows), as JSON.
  void on_incident_flows(std::span<const analyze::CapturedFlow> flows);

  /// A mark after everything handed to the store so far, and whether all of it is committed
  /// to the database (store::StoreWriter::mark, durable). Without a store every mark is
  /// durable at once.
  uint64_t store_mark() const { return writer_ ? writer_->mark() : 0; }
  bool store_durable(uint64_t mark) const { return !writer_ || writer_->durable(mark); }
  /// Waits up to `timeout` until the store committed everything handed over (true without a
  /// store).
  bool flush_store(std::chrono::milliseconds timeout) {
    return !writer_ || writer_->flush(timeout);
  }

  /// Writes the exporters once more, waits (at most `timeout`) until the store has committed
  /// what was handed over, then stops the writer (what is left stays in its spool for the
  /// next start) and the dispatcher (undelivered alerts go to their spools). Idempotent.
  void stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  PersistenceStats stats() const;

 private:
  Persistence() = default;
  void upkeep();
  void write_exporters();
  void run_periodic_saves();

  std::unique_ptr<store::StoreWriter> writer_;
  PersistenceRole role_ = PersistenceRole::kFull;
  std::string sampler_key_{kSamplerStateKey};
  store::StoreOptions store_options_;
  std::string backend_;
  int64_t prune_interval_ns_ = 0;
  std::unique_ptr<alert::AlertDispatcher> alerts_;
  std::function<std::vector<store::ExporterRecord>()> exporters_;
  std::map<uint32_t, std::string> tenant_names_;
  std::shared_ptr<const std::map<uint32_t, std::vector<std::byte>>> ai_states_;
  std::shared_ptr<const std::vector<store::StateEntry>> decoder_states_;
  DecoderStateCounters decoder_counters_;
  std::shared_ptr<const std::vector<store::StateEntry>> sampler_states_;
  SamplerStateCounters sampler_counters_;
  std::vector<std::function<void(store::StoreWriter&)>> periodic_saves_;  ///< guarded by mu_

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  ///< guarded by mu_
  bool stopped_ = false;   ///< the owner's thread only
  std::thread upkeep_;
  std::atomic<uint64_t> prunes_{0}, prune_failures_{0}, pruned_rollups_{0}, pruned_incidents_{0},
      ai_saved_{0}, ai_refused_{0}, flows_saved_{0}, flows_refused_{0}, pruned_flows_{0};
};

/// The stored form of a per-minute tenant summary.
store::Rollup to_rollup(const analyze::TenantSummary& summary);

/// The URL `config` stores to: `store.url`, or SQLite `<data_dir>/fathom.db`.
std::string store_url(const Config& config);

}  // namespace fathom::app
