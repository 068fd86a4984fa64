#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "api/metrics_text.h"
#include "bus/bus.h"
#include "bus/kafka_consumer.h"
#include "bus/kafka_producer.h"
#include "collect/udp_listener.h"
#include "estimate/window_estimator.h"
#include "estimate/window_result.h"
#include "transform/enrichment_loader.h"
#include "transform/ingest.h"
#include "transform/sampler.h"

namespace fathom::api {

/// A tenant's id and name, for metric labels.
struct TenantName {
  uint32_t id = 0;
  std::string name;
};

/// Counters of one output sink.
struct OutputStats {
  std::string name;  ///< "flows_jsonl"
  uint64_t records = 0;
  uint64_t write_errors = 0;
  uint64_t records_lost = 0;
};

/// Everything /metrics shows about the collector, copied from the running stages.
/// The analysis stage's figures, copied out of it (api reads no analyzer internals).
struct AnalysisSnapshot {
  uint64_t records_analysed = 0;
  uint64_t records_late = 0;
  uint64_t records_no_tenant = 0;
  uint64_t records_bad_rate = 0;
  uint64_t records_not_counted = 0;
  uint64_t records_tenant_overflow = 0;
  uint64_t hosts_evicted = 0;
  uint64_t hosts_rejected = 0;
  uint64_t contacts_dropped = 0;
  uint64_t slides = 0;
  uint64_t windows = 0;
  uint64_t overruns = 0;
  double load_factor = 1.0;
  uint64_t shed_slides = 0;
  double lag_seconds = 0.0;
  uint64_t memory_bytes = 0;
  double utilisation = 0.0;           ///< latest slide's running time / slide interval
  double mean_utilisation_10m = 0.0;  ///< the autoscaler's 10-minute mean
  uint32_t workers = 1;
  uint32_t desired_workers = 1;
  /// Cluster analyzers: the group size the autoscaling policy asks for (ReplicaPolicy); 1 in
  /// `fathom run`.
  uint32_t desired_replicas = 1;
  /// Detections so far by detection type name.
  std::vector<std::pair<std::string, uint64_t>> detections;
  uint64_t incidents_opened = 0;
  uint64_t incidents_updated = 0;
  uint64_t incidents_closed = 0;
  uint64_t incidents_dropped = 0;
  /// Open incidents by (tenant id, severity level name).
  std::vector<std::tuple<uint32_t, std::string, uint64_t>> open_by_severity;
  /// The autoencoder detector, summed over the workers (`has_ai`: a base model is loaded).
  bool has_ai = false;
  uint64_t ai_windows = 0;
  uint64_t ai_hosts_learning = 0;
  uint64_t ai_hosts_scored = 0;
  uint64_t ai_detections = 0;
  uint64_t ai_detections_dropped = 0;
  uint64_t ai_unconfirmed = 0;
  uint64_t ai_trainings = 0;
  uint64_t ai_refreshes = 0;
  uint64_t ai_baseline_full = 0;
};

/// The store writer's and its upkeep's figures, copied out of them.
struct StoreSnapshot {
  std::string backend;  ///< "sqlite", "postgresql"
  bool database_up = false;
  uint64_t queued = 0;
  uint64_t written = 0;
  uint64_t spooled = 0;
  uint64_t replayed = 0;
  uint64_t dropped_queue_full = 0;
  uint64_t dropped_spool_full = 0;
  uint64_t dropped_failed = 0;
  uint64_t dropped_corrupt = 0;
  uint64_t retries = 0;
  uint64_t queue_depth = 0;
  uint64_t spool_pending = 0;
  uint64_t prunes = 0;
  uint64_t prune_failures = 0;
  uint64_t pruned_rollups = 0;
  uint64_t pruned_incidents = 0;
  uint64_t state_restored = 0;  ///< tenants' detector states read at start
  uint64_t state_saved = 0;
  uint64_t state_refused = 0;
  uint64_t flows_saved = 0;  ///< incidents' sampled flows handed to the writer
  uint64_t flows_refused = 0;
  uint64_t pruned_flows = 0;
  /// Decoder state rows (app/decoder_state.h): restored at start, skipped as older than the
  /// decoder's, corrupt, no room; saved (handed to the writer), refused (writer queue full).
  uint64_t decoder_restored = 0;
  uint64_t decoder_older = 0;
  uint64_t decoder_corrupt = 0;
  uint64_t decoder_no_room = 0;
  uint64_t decoder_saved = 0;
  uint64_t decoder_refused = 0;
  /// Adaptive-sampler rows (app/sampler_state.h): restored, stale, corrupt, skipped (tenant
  /// without a target), saved, refused.
  uint64_t sampler_restored = 0;
  uint64_t sampler_stale = 0;
  uint64_t sampler_corrupt = 0;
  uint64_t sampler_skipped = 0;
  uint64_t sampler_saved = 0;
  uint64_t sampler_refused = 0;
};

/// One alert sink's figures.
struct AlertSinkSnapshot {
  std::string name;
  uint64_t submitted = 0;
  uint64_t delivered = 0;
  uint64_t retried = 0;
  uint64_t failed_permanent = 0;
  uint64_t spooled = 0;
  uint64_t replayed = 0;
  uint64_t dropped_spool_full = 0;
  uint64_t dropped_no_spool = 0;
  uint64_t rate_limited = 0;
  uint64_t deduplicated = 0;
  uint64_t corrupt_spooled = 0;
  uint64_t queued = 0;
  uint64_t spool_pending = 0;
  uint64_t client_errors = 0;  ///< errors the sink's client reported (Kafka: librdkafka's)
};

/// The alert dispatcher's figures.
struct AlertSnapshot {
  uint64_t events_submitted = 0;
  uint64_t events_dropped_full = 0;
  uint64_t opens = 0;
  uint64_t escalations = 0;
  uint64_t closes = 0;
  uint64_t summaries = 0;
  uint64_t deduplicated = 0;
  uint64_t rate_limited = 0;
  uint64_t unrouted = 0;
  uint64_t tracked_evicted = 0;
  uint64_t journal_errors = 0;
  std::vector<AlertSinkSnapshot> sinks;
};

struct CollectorSnapshot {
  int64_t start_time_ns = 0;  ///< process start, wall clock
  uint32_t receive_threads = 0;
  bool exporter_steering = true;  ///< every exporter's packets reach one thread
  std::vector<collect::SocketStats> sockets;
  std::vector<transform::IngestSnapshot> workers;
  bus::BusStats bus;
  std::vector<TenantName> tenants;  ///< configured tenants (and the default one)
  std::vector<OutputStats> outputs;
  uint64_t config_reloads = 0;
  uint64_t config_reload_failures = 0;
  transform::SamplerSnapshot sampler;
  bool has_enrichment = false;  ///< `enrichment` is filled (the loader runs)
  transform::LoaderStats enrichment;
  bool has_estimates = false;  ///< `estimator` and `estimates` are filled (the stage runs)
  estimate::EstimatorStats estimator;
  /// The latest closed estimate window of each tenant.
  std::vector<estimate::TenantWindowSummary> estimates;
  bool has_analysis = false;  ///< `analysis` is filled (the stage runs)
  AnalysisSnapshot analysis;
  bool has_store = false;  ///< `store` is filled (the store is enabled)
  StoreSnapshot store;
  bool has_alerts = false;  ///< `alerts` is filled (alert sinks are configured)
  AlertSnapshot alerts;
  /// `fathom collect`: the Kafka producer's counters (`kafka_producer` is filled).
  bool has_kafka_producer = false;
  bus::KafkaProducerStats kafka_producer;
  /// `fathom collect` with `kafka.flows_json_topic`: that topic's producer (one message per
  /// record; `kafka_json_producer` is filled).
  bool has_kafka_json_producer = false;
  bus::KafkaProducerStats kafka_json_producer;
  /// `fathom analyze`: the consumer group member's counters and the partitions it owns now.
  bool has_kafka_consumer = false;
  bus::KafkaConsumerStats kafka_consumer;
  uint32_t kafka_partitions_owned = 0;
  /// Exporters shown with their own label; the rest are summed under exporter="other".
  size_t max_exporter_series = 1000;
};

/// "netflow_v5", "netflow_v9", "ipfix", "sflow_v5" for an ExporterStats::last_version, else
/// "unknown".
std::string_view protocol_name(uint8_t version) noexcept;

/// Appends the collector's families to `out`: sockets (datagrams, bytes, kernel drops, receive
/// buffer), per-exporter decode counters (packets, bytes, records, malformed by reason,
/// templates, parked data, unknown sampling rate, rejected records), per-tenant records, bus
/// queues (depth, enqueued, dropped) and outputs. Exporter counters are labelled by exporter
/// only; `fathom_exporter_info` carries each exporter's tenant and protocol. Label cardinality is
/// bounded: at most `max_exporter_series` exporters (the busiest by packets) get their own series,
/// reason series appear only when non-zero, tenants come from the config.
void append_collector_metrics(const CollectorSnapshot& snapshot, MetricsText& out);

/// The adaptive sampler's per-tenant figures (probability, rates, totals); part of
/// `append_collector_metrics`.
void append_sampler_metrics(const CollectorSnapshot& snapshot, MetricsText& out);
/// Enrichment: what it did to records, and each source's size, reloads and failures.
void append_enrichment_metrics(const CollectorSnapshot& snapshot, MetricsText& out);
/// The estimate stage: records by outcome, and each tenant's latest closed window's estimates
/// with their 95% interval (`stat` = estimate, ci_low, ci_high).
void append_estimate_metrics(const CollectorSnapshot& snapshot, MetricsText& out);
/// The analysis stage: records by outcome, slides and their utilisation, the autoscaler's
/// desired workers, detections by type and incidents.
void append_analysis_metrics(const CollectorSnapshot& snapshot, MetricsText& out);
/// The store's and the alert dispatcher's families (`has_store`, `has_alerts`).
void append_persistence_metrics(const CollectorSnapshot& snapshot, MetricsText& out);
/// The Kafka bus's families (kafka_metrics.cpp), part of `append_collector_metrics`.
void append_kafka_metrics(const CollectorSnapshot& snapshot, MetricsText& out);

}  // namespace fathom::api
