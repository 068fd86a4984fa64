#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "api/metrics_text.h"
#include "bus/bus.h"
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
  /// Detections so far by detection type name.
  std::vector<std::pair<std::string, uint64_t>> detections;
  uint64_t incidents_opened = 0;
  uint64_t incidents_updated = 0;
  uint64_t incidents_closed = 0;
  uint64_t incidents_dropped = 0;
  /// Open incidents by (tenant id, severity level name).
  std::vector<std::tuple<uint32_t, std::string, uint64_t>> open_by_severity;
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
  /// Exporters shown with their own label; the rest are summed under exporter="other".
  size_t max_exporter_series = 1000;
};

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

}  // namespace fathom::api
