#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "api/collector_metrics.h"
#include "api/http_server.h"
#include "app/analyze_stage.h"
#include "app/config.h"
#include "app/decoder_state.h"
#include "app/estimate_stage.h"
#include "app/flow_sink.h"
#include "app/kafka_sink.h"
#include "app/persistence.h"
#include "app/sampler_state.h"
#include "bus/bus.h"
#include "collect/socket_group.h"
#include "transform/enricher.h"
#include "transform/enrichment_loader.h"
#include "transform/ingest.h"
#include "transform/sampler.h"

namespace fathom::app {

/// What a file replay reads and how fast.
struct ReplayOptions {
  std::string path;  ///< pcap/pcapng capture or AWS VPC flow log, maybe gzip; "-" = stdin
  /// Speed relative to the capture's own timing: 0 = as fast as possible, 1 = real time.
  double speed = 0.0;
  /// VPC flow logs carry no exporter address: their records are attributed to this one for
  /// tenant mapping (list it in a tenant's `exporters`).
  flow::IpAddress vpc_exporter;
};

/// Counters of a replay.
struct ReplayStats {
  uint64_t datagrams = 0;  ///< export datagrams read from a capture
  uint64_t vpc_lines = 0;
  uint64_t vpc_records = 0;
  uint64_t vpc_bad_lines = 0;
};

/// The `fathom run` snapshot's store and alert sections from the persistence counters
/// (shared with `fathom analyze`).
void fill_persistence_snapshot(const PersistenceStats& p, api::CollectorSnapshot& s);
/// The snapshot's analysis section from an analysis stage's counters and open incidents.
void fill_analysis_snapshot(const AnalyzeStageStats& a, std::span<const detect::Incident> open,
                            bool has_ai, api::AnalysisSnapshot& o);

/// The analysis stage's settings from `config` (windows, rules with each tenant's thresholds,
/// beaconing, incidents, autoscaling, the autoencoder and its base model), without hooks or
/// output: what `fathom run` and `fathom analyze` share. False with `error` when the base
/// model cannot be loaded.
bool analyze_options(const Config& config, AnalyzeStage::Options& out, std::string& error);

/// The autoencoders' base model named by `analyze.ai.model`: "off" (null), "builtin" (the
/// shipped one) or a model file. False with `error` when the file is unreadable or invalid.
bool load_base_model(const std::string& which, std::shared_ptr<const detect::Model>& out,
                     std::string& error);

/// The embedded collector: receive threads (each a UDP listener of a SO_REUSEPORT group and an
/// ingest worker with its own decoder), the in-process bus, the output sinks, and the numbers
/// /metrics shows. `app` wiring only: each stage's logic lives in its part.
///
/// Lifecycle: construct, `load_enrichment`, `open_estimates`, `open_live` (or `open_replay`),
/// `load_state`, `start_live` (or `replay` on the caller's thread), `stop`, `save_state`.
/// `reload` and `metrics` may be called from any thread meanwhile.
class Pipeline {
 public:
  explicit Pipeline(const Config& config);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  /// Opens the flows JSON-lines output ("" = none, "-" = stdout).
  bool open_flow_output(const std::string& path, std::string& error);
  /// `fathom collect`: publishes every batch to Kafka (KafkaSink) instead of analysing it
  /// here. `replay`: wait for the producer's buffer instead of dropping. False with `error`
  /// when librdkafka refuses the settings.
  bool open_kafka(const bus::KafkaProducerOptions& options, bool replay, std::string& error);
  /// `fathom collect` with `kafka.flows_json_topic`: also publishes every record as a JSON
  /// object to that topic (KafkaSinkFormat::kJson, json_producer_options), a bus consumer of
  /// its own. Same `replay` and errors as `open_kafka`.
  bool open_kafka_json(const bus::KafkaProducerOptions& options, bool replay, std::string& error);
  /// Loads every enrichment source (geo/ASN databases, intel lists, tenant networks) and
  /// starts the thread that reloads changed files. False with `error` naming the source.
  bool load_enrichment(std::string& error);
  /// Starts the estimate stage; `output` is its JSON-lines output ("" = none, "-" = stdout).
  /// `live`: windows also close on the wall clock (false for replays).
  bool open_estimates(const std::string& output, bool live, std::string& error);
  /// Extra consumers of the analysis stage's output (called on its control thread; must not
  /// block): `fathom eval` collects the incident stream with them.
  struct AnalysisHooks {
    std::function<void(std::span<const detect::IncidentEvent>)> on_incident_events;
    std::function<void(std::span<const analyze::TenantSummary>)> on_rollups;
    std::function<void(std::span<const analyze::TenantSummary>)> on_live_windows;
    /// On the worker threads: every `analyze.ai.level` window's internal host vectors
    /// (thread-safe).
    std::function<void(uint32_t, std::span<const detect::HostSample>)> on_host_samples;
  };
  /// Opens the store and the alert sinks (`store`, `alert`; docs/storage.md, docs/alerting.md)
  /// that the analysis stage opened next feeds: call before `open_analysis`. With a store it
  /// also restores the adaptive sampler's saved tenant state and saves it every 30 s, and
  /// `start_live` / `replay` restore and save the decoder state through it. False with
  /// `error` when the store or a sink cannot be set up (Persistence::open).
  /// `fathom collect` opens it with PersistenceRole::kCollector: decoder and sampler state only
  /// (its sampler rows under "sampler/<collect.node_id or host name>").
  bool open_persistence(std::string& error, PersistenceRole role = PersistenceRole::kFull);
  const Persistence* persistence() const noexcept { return persistence_.get(); }
  /// Starts the analysis stage; `output` is its incident JSON-lines output ("" = none, "-" =
  /// stdout). `live`: slides also close on the wall clock (false for replays).
  bool open_analysis(const std::string& output, bool live, std::string& error,
                     AnalysisHooks hooks = {});
  /// The analysis stage's counters and open incidents (after `stop`: final).
  const AnalyzeStage* analysis() const noexcept { return analysis_.get(); }
  /// Binds `endpoints` with `collect.receive_threads` threads and creates one ingest worker
  /// per thread. Falls back to one thread (logged) when the kernel refuses exporter steering.
  bool open_live(const std::vector<collect::ListenEndpoint>& endpoints, std::string& error);
  /// One ingest worker for file replay (instead of `open_live`).
  void open_replay();
  /// Loads decoder state into each worker: the exporters its thread receives. With a store,
  /// `start_live` / `replay` then apply the store's rows over it, the later change of each
  /// (exporter, domain) winning, and save changes back through the store writer.
  bool load_state(const std::string& path, std::string& error);
  /// Starts the receive threads (live).
  void start_live();
  /// Reads one file through worker 0 on the calling thread until its end or `stop` is set.
  bool replay(const ReplayOptions& options, const std::atomic<bool>& stop, ReplayStats& stats,
              std::string& error);
  /// Stops and joins the receive threads, publishes every partial batch, closes the bus and
  /// waits until the outputs wrote what was queued. Idempotent.
  void stop();
  /// Writes every worker's templates and sampling rates to one file (call after `stop`).
  bool save_state(const std::string& path, std::string& error) const;
  /// Applies a new config's tenants, unknown-exporter policy and log level; settings that
  /// need a restart (listeners, threads, decoder limits) are reported in `restart_needed`.
  void reload(const Config& config, std::vector<std::string>& restart_needed);
  void count_reload_failure() { reload_failures_.fetch_add(1, std::memory_order_relaxed); }

  /// The ports bound (live), in endpoint order of listener 0.
  std::vector<uint16_t> local_ports() const;
  /// The kernel's receive-buffer warning, if it capped SO_RCVBUF.
  std::string receive_buffer_warning() const;
  api::CollectorSnapshot snapshot() const;
  /// Every tenant's estimates over the windows closed so far (after `stop`: all of them).
  std::vector<TenantRunEstimate> estimate_totals() const;
  /// /metrics text.
  std::string metrics() const;
  /// /healthz: unhealthy when a receive thread stopped unexpectedly.
  api::Health health() const;
  bus::Bus& bus() noexcept { return bus_; }
  size_t worker_count() const noexcept { return workers_.size(); }

 private:
  void receive_loop(size_t idx);
  /// Replay only: once `worker` has published since `published`, waits until every bus
  /// consumer has room again, so a file replay loses nothing to a slow consumer.
  void wait_for_consumers(const transform::IngestWorker& worker, uint64_t& published);
  static std::vector<api::TenantName> tenant_names(const Config& config);
  /// With a store: applies the decoder state rows Persistence read to each worker (the
  /// exporters its thread receives) and creates one saver per worker. Once, before decoding.
  void restore_decoder_state();
  /// Worker `idx`'s saver tick (no-op without a store).
  void tick_decoder_state(size_t idx);
  transform::IngestWorker::Options worker_options() const;

  Config config_;
  int64_t start_time_ns_ = 0;
  bus::Bus bus_;
  // Shared by the workers, so declared (and destroyed) before them.
  transform::Enricher enricher_;
  std::shared_ptr<transform::AdaptiveSampler> sampler_;
  std::unique_ptr<collect::UdpListenerGroup> group_;
  std::vector<std::unique_ptr<transform::IngestWorker>> workers_;
  std::vector<std::thread> threads_;
  std::vector<int> wake_fds_;  ///< one eventfd per receive thread
  std::atomic<bool> stopping_{false};
  std::atomic<uint32_t> threads_failed_{0};
  std::atomic<uint32_t> threads_running_{0};
  std::unique_ptr<FlowSink> flow_sink_;
  std::unique_ptr<KafkaSink> kafka_sink_;
  std::unique_ptr<KafkaSink> kafka_json_sink_;
  std::unique_ptr<transform::EnrichmentLoader> enrichment_;  ///< updates enricher_
  std::unique_ptr<EstimateStage> estimates_;
  std::unique_ptr<Persistence>
      persistence_;  ///< fed by analysis_: declared before it, destroyed after
  std::unique_ptr<AnalyzeStage> analysis_;
  /// One per worker, with a store (app/decoder_state.h); used by that worker's thread only.
  std::vector<std::unique_ptr<DecoderStateSaver>> state_savers_;
  bool decoder_state_restored_ = false;
  bool analysis_output_ = false;  ///< the analysis stage writes incident events somewhere
  bool stopped_ = false;

  mutable std::mutex config_mutex_;  ///< guards tenant_names_ (reload vs metrics)
  std::vector<api::TenantName> tenant_names_;
  std::atomic<uint64_t> reloads_{0};
  std::atomic<uint64_t> reload_failures_{0};
};

}  // namespace fathom::app
