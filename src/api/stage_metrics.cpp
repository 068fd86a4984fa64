// /metrics families of the stages after decode: the adaptive sampler, enrichment and the
// estimate stage (docs/metrics.md).

#include <string>
#include <unordered_map>

#include "api/collector_metrics.h"

namespace fathom::api {
namespace {

constexpr MetricType kCounter = MetricType::kCounter;
constexpr MetricType kGauge = MetricType::kGauge;

/// Tenant id → the name metrics show (the configured name, else the id in decimal).
class TenantLabels {
 public:
  explicit TenantLabels(const CollectorSnapshot& s) {
    for (const TenantName& t : s.tenants) names_[t.id] = t.name;
  }
  std::string name(uint32_t id) const {
    const auto it = names_.find(id);
    return it != names_.end() ? it->second : std::to_string(id);
  }

 private:
  std::unordered_map<uint32_t, std::string> names_;
};

/// Adds an estimate as three samples: stat="estimate", "ci_low", "ci_high".
void add_estimate(MetricsText::Family& family, const std::string& tenant, const std::string& id,
                  const estimate::Estimate& e) {
  family.sample({{"tenant", tenant}, {"tenant_id", id}, {"stat", "estimate"}}, e.value);
  family.sample({{"tenant", tenant}, {"tenant_id", id}, {"stat", "ci_low"}}, e.ci_low);
  family.sample({{"tenant", tenant}, {"tenant_id", id}, {"stat", "ci_high"}}, e.ci_high);
}

}  // namespace

void append_sampler_metrics(const CollectorSnapshot& s, MetricsText& out) {
  const TenantLabels labels(s);
  auto& probability =
      out.family("fathom_sampler_keep_probability",
                 "Adaptive sampler: probability a flow of the tenant is kept (1 = all).", kGauge);
  auto& target = out.family("fathom_sampler_target_rate",
                            "Adaptive sampler: the tenant's target_ingest_rate, records/s "
                            "(0 = no limit).",
                            kGauge);
  auto& arrival = out.family("fathom_sampler_arrival_rate",
                             "Adaptive sampler: smoothed arrival rate, records/s.", kGauge);
  auto& kept_rate =
      out.family("fathom_sampler_kept_rate",
                 "Adaptive sampler: records/s kept over the latest interval.", kGauge);
  auto& surges = out.family("fathom_sampler_surges_total",
                            "Times a surge lowered the tenant's keep probability early.", kCounter);
  for (const transform::SamplerTenantStats& t : s.sampler.tenants) {
    const std::string name = labels.name(t.tenant_id);
    const std::string id = std::to_string(t.tenant_id);
    const std::initializer_list<Label> l = {{"tenant", name}, {"tenant_id", id}};
    probability.sample(l, t.probability);
    target.sample(l, t.target);
    arrival.sample(l, t.arrival_rate);
    kept_rate.sample(l, t.kept_rate);
    surges.sample(l, t.surges_total);
  }
  out.family("fathom_sampler_updates_total", "Adaptive sampler controller runs.", kCounter)
      .sample({}, s.sampler.updates_total);
}

void append_enrichment_metrics(const CollectorSnapshot& s, MetricsText& out) {
  transform::EnrichCounts sum;
  for (const transform::IngestSnapshot& w : s.workers) sum += w.enrich;
  out.family("fathom_enrichment_records_total", "Flow records enriched.", kCounter)
      .sample({}, sum.records);
  out.family("fathom_enrichment_geo_misses_total",
             "External addresses (src or dst) no geo database knows.", kCounter)
      .sample({}, sum.geo_misses);
  out.family("fathom_enrichment_asn_misses_total",
             "External addresses (src or dst) no ASN source knows.", kCounter)
      .sample({}, sum.asn_misses);
  out.family("fathom_enrichment_intel_matches_total",
             "Records whose source or destination is on an intel list.", kCounter)
      .sample({{"side", "src"}}, sum.intel_src)
      .sample({{"side", "dst"}}, sum.intel_dst);
  out.family("fathom_enrichment_no_networks_total",
             "Records of tenants without internal_networks (direction unknown).", kCounter)
      .sample({}, sum.no_networks);
  if (!s.has_enrichment) return;
  const transform::LoaderStats& e = s.enrichment;
  out.family("fathom_enrichment_reloads_total",
             "Enrichment snapshots (intel set, geo/ASN table) swapped in after start.", kCounter)
      .sample({}, e.reloads);
  out.family("fathom_enrichment_reload_failures_total",
             "Failed enrichment reloads; the previous data stayed in use.", kCounter)
      .sample({}, e.failures);
  out.family("fathom_enrichment_memory_bytes", "Memory held by an enrichment table.", kGauge)
      .sample({{"table", "intel"}}, e.intel_memory_bytes)
      .sample({{"table", "geo_asn"}}, e.geo_asn_memory_bytes)
      .sample({{"table", "tenant_networks"}}, e.tenant_networks_memory_bytes);
  out.family("fathom_enrichment_intel_prefixes", "Blocks on all intel lists together.", kGauge)
      .sample({}, e.intel_prefixes);
  auto& entries = out.family("fathom_enrichment_source_entries",
                             "Entries of a source in use (intel blocks, geo/ASN ranges).", kGauge);
  auto& bad = out.family("fathom_enrichment_source_bad_lines",
                         "Lines skipped in the version of a source in use.", kGauge);
  auto& loaded = out.family("fathom_enrichment_source_loaded_time_seconds",
                            "Unix time the version of a source in use was read.", kGauge);
  auto& failures = out.family("fathom_enrichment_source_failures_total",
                              "Failed loads of a source (the previous version stayed).", kCounter);
  for (const transform::LoaderSourceStats& src : e.sources) {
    const std::initializer_list<Label> l = {{"source", src.name}, {"kind", src.kind}};
    entries.sample(l, src.entries);
    bad.sample(l, src.bad_lines);
    loaded.sample(l, static_cast<double>(src.loaded_at_ns) / 1e9);
    failures.sample(l, src.failures);
  }
}

void append_estimate_metrics(const CollectorSnapshot& s, MetricsText& out) {
  if (!s.has_estimates) return;
  const estimate::EstimatorStats& st = s.estimator;
  out.family("fathom_estimate_records_total", "Records offered to the estimate stage, by outcome.",
             kCounter)
      .sample({{"outcome", "counted"}}, st.records_counted)
      .sample({{"outcome", "not_counted"}}, st.records_not_counted)
      .sample({{"outcome", "late"}}, st.records_late)
      .sample({{"outcome", "no_tenant"}}, st.records_no_tenant)
      .sample({{"outcome", "bad_rate"}}, st.records_bad_rate)
      .sample({{"outcome", "tenant_overflow"}}, st.records_tenant_overflow);
  out.family("fathom_estimate_windows_closed_total", "Tenant estimate windows closed.", kCounter)
      .sample({}, st.windows_closed);
  const TenantLabels labels(s);
  auto& end = out.family("fathom_estimate_window_end_time_seconds",
                         "End (Unix time) of the tenant's latest closed estimate window.", kGauge);
  auto& length = out.family("fathom_estimate_window_seconds",
                            "Length of the tenant's latest closed estimate window.", kGauge);
  auto& packets = out.family("fathom_estimate_packets",
                             "Estimated packets in the tenant's latest closed window, with its "
                             "95% interval (stat).",
                             kGauge);
  auto& bytes = out.family("fathom_estimate_bytes",
                           "Estimated bytes in the tenant's latest closed window, with its 95% "
                           "interval (stat).",
                           kGauge);
  auto& flows = out.family("fathom_estimate_tcp_flows",
                           "Estimated TCP connections opened (SYN-flagged records) in the "
                           "tenant's latest closed window, with its 95% interval (stat).",
                           kGauge);
  auto& peers = out.family("fathom_estimate_external_peers",
                           "Distinct external peers in the tenant's latest closed window: "
                           "observed (a lower bound) and the model-based estimate (stat).",
                           kGauge);
  for (const estimate::TenantWindowSummary& w : s.estimates) {
    const std::string name = labels.name(w.tenant_id);
    const std::string id = std::to_string(w.tenant_id);
    const std::initializer_list<Label> l = {{"tenant", name}, {"tenant_id", id}};
    end.sample(l, static_cast<double>(w.end_ns) / 1e9);
    length.sample(l, static_cast<double>(w.end_ns - w.start_ns) / 1e9);
    add_estimate(packets, name, id, w.total.packets);
    add_estimate(bytes, name, id, w.total.bytes);
    add_estimate(flows, name, id, w.total.tcp_flows);
    peers.sample({{"tenant", name}, {"tenant_id", id}, {"stat", "observed"}},
                 w.external_peers.observed);
    peers.sample({{"tenant", name}, {"tenant_id", id}, {"stat", "estimate"}},
                 w.external_peers.estimate);
  }
}

namespace {

void append_ai_metrics(const AnalysisSnapshot& a, MetricsText& out) {
  if (!a.has_ai) return;
  out.family("fathom_ai_windows_total",
             "Tenant windows the autoencoder detector scored or learnt from.", kCounter)
      .sample({}, a.ai_windows);
  out.family("fathom_ai_hosts_total",
             "Host vectors the autoencoder saw, by phase (learning: a tenant's learning period).",
             kCounter)
      .sample({{"phase", "learning"}}, a.ai_hosts_learning)
      .sample({{"phase", "scored"}}, a.ai_hosts_scored);
  out.family("fathom_ai_findings_total",
             "Hosts over the anomaly threshold, by outcome: reported; unconfirmed (not yet for "
             "analyze.ai.persistence windows); dropped (over max_detections_per_window).",
             kCounter)
      .sample({{"outcome", "reported"}}, a.ai_detections)
      .sample({{"outcome", "unconfirmed"}}, a.ai_unconfirmed)
      .sample({{"outcome", "dropped"}}, a.ai_detections_dropped);
  out.family("fathom_ai_trainings_total",
             "Per-tenant model trainings: the fine-tune at the end of learning, and refreshes.",
             kCounter)
      .sample({{"kind", "fine_tune"}}, a.ai_trainings)
      .sample({{"kind", "refresh"}}, a.ai_refreshes);
  out.family("fathom_ai_baseline_full_total",
             "Hosts given no baseline of usual values: analyze.ai's per-tenant host cap reached.",
             kCounter)
      .sample({}, a.ai_baseline_full);
}

}  // namespace

void append_analysis_metrics(const CollectorSnapshot& s, MetricsText& out) {
  if (!s.has_analysis) return;
  const AnalysisSnapshot& a = s.analysis;
  out.family("fathom_analyze_records_total", "Records offered to the analysis stage, by outcome.",
             kCounter)
      .sample({{"outcome", "analysed"}}, a.records_analysed)
      .sample({{"outcome", "not_counted"}}, a.records_not_counted)
      .sample({{"outcome", "no_tenant"}}, a.records_no_tenant)
      .sample({{"outcome", "bad_rate"}}, a.records_bad_rate)
      .sample({{"outcome", "tenant_overflow"}}, a.records_tenant_overflow);
  out.family("fathom_analyze_records_late_total",
             "Analysed records whose arrival time fell in an already closed slide.", kCounter)
      .sample({}, a.records_late);
  out.family("fathom_analyze_hosts_total",
             "Hosts not kept in full host tables: one-offs evicted, or new hosts not tracked.",
             kCounter)
      .sample({{"outcome", "evicted"}}, a.hosts_evicted)
      .sample({{"outcome", "rejected"}}, a.hosts_rejected);
  out.family("fathom_analyze_contacts_dropped_total",
             "Outbound contacts not handed to the beaconing detector (per-slide cap).", kCounter)
      .sample({}, a.contacts_dropped);
  out.family("fathom_analyze_slides_total", "Micro-batches (closed slides) analysed.", kCounter)
      .sample({}, a.slides);
  out.family("fathom_analyze_windows_total", "Tenant windows closed, all levels.", kCounter)
      .sample({}, a.windows);
  out.family("fathom_analyze_overruns_total",
             "Slides whose analysis took longer than the slide interval.", kCounter)
      .sample({}, a.overruns);
  out.family("fathom_analyze_utilisation",
             "Running time of the latest slide's analysis / slide interval (window=latest), and "
             "its 10-minute mean (window=10m) that the autoscaler reads.",
             kGauge)
      .sample({{"window", "latest"}}, a.utilisation)
      .sample({{"window", "10m"}}, a.mean_utilisation_10m);
  out.family("fathom_analyze_load_factor",
             "Factor the load shedder multiplies every tenant's sampling by (1 = no shedding).",
             kGauge)
      .sample({}, a.load_factor);
  out.family("fathom_analyze_shed_total",
             "Slides after which the load shedder tightened sampling (an overrun).", kCounter)
      .sample({}, a.shed_slides);
  out.family("fathom_analyze_lag_seconds",
             "How long after its end the latest slide's analysis finished (live).", kGauge)
      .sample({}, a.lag_seconds);
  out.family("fathom_analyze_workers", "Analysis worker threads running.", kGauge)
      .sample({}, a.workers);
  out.family("fathom_analyze_desired_workers", "Analysis workers the autoscaling policy asks for.",
             kGauge)
      .sample({}, a.desired_workers);
  out.family("fathom_analyze_desired_replicas",
             "Cluster analyzers the autoscaling policy asks for, from this member's utilisation "
             "and share of the partitions (the HPA's metric; 1 in fathom run).",
             kGauge)
      .sample({}, a.desired_replicas);
  out.family("fathom_analyze_memory_bytes", "Host-table memory held by the analysis windows.",
             kGauge)
      .sample({}, static_cast<double>(a.memory_bytes));
  auto& detections =
      out.family("fathom_detections_total", "Rule and detector findings, by type.", kCounter);
  for (const auto& [type, count] : a.detections) detections.sample({{"type", type}}, count);
  out.family("fathom_incident_events_total", "Incident stream events, by event.", kCounter)
      .sample({{"event", "open"}}, a.incidents_opened)
      .sample({{"event", "update"}}, a.incidents_updated)
      .sample({{"event", "close"}}, a.incidents_closed);
  out.family("fathom_incidents_dropped_total",
             "Detections dropped because the open-incident cap was reached.", kCounter)
      .sample({}, a.incidents_dropped);
  const TenantLabels labels(s);
  auto& open =
      out.family("fathom_incidents_open", "Open incidents by tenant and severity.", kGauge);
  for (const auto& [tenant_id, level, count] : a.open_by_severity) {
    open.sample({{"tenant", labels.name(tenant_id)},
                 {"tenant_id", std::to_string(tenant_id)},
                 {"severity", level}},
                count);
  }
  append_ai_metrics(a, out);
}

void append_persistence_metrics(const CollectorSnapshot& s, MetricsText& out) {
  if (s.has_store) {
    const StoreSnapshot& st = s.store;
    out.family("fathom_store_up",
               "1 while the last database write succeeded, by back end (sqlite, postgresql).",
               kGauge)
        .sample({{"backend", st.backend}}, st.database_up ? 1 : 0);
    out.family("fathom_store_items_total",
               "Incident events, rollups, tenant, exporter and state rows the store writer "
               "handled: queued (accepted), written (committed from memory), spooled (to disk "
               "while the database was away), replayed (committed from the spool).",
               kCounter)
        .sample({{"outcome", "queued"}}, st.queued)
        .sample({{"outcome", "written"}}, st.written)
        .sample({{"outcome", "spooled"}}, st.spooled)
        .sample({{"outcome", "replayed"}}, st.replayed);
    out.family("fathom_store_dropped_total",
               "Items the store lost, by reason: queue_full, spool_full (disk budget or I/O), "
               "failed (refused by the database), corrupt (spool records that did not decode).",
               kCounter)
        .sample({{"reason", "queue_full"}}, st.dropped_queue_full)
        .sample({{"reason", "spool_full"}}, st.dropped_spool_full)
        .sample({{"reason", "failed"}}, st.dropped_failed)
        .sample({{"reason", "corrupt"}}, st.dropped_corrupt);
    out.family("fathom_store_retries_total", "Database writes that failed retryably (backed off).",
               kCounter)
        .sample({}, st.retries);
    out.family("fathom_store_pending",
               "Items waiting for the database: in memory (queue), records in the disk spool.",
               kGauge)
        .sample({{"where", "queue"}}, st.queue_depth)
        .sample({{"where", "spool"}}, st.spool_pending);
    out.family("fathom_store_prunes_total", "Retention passes, by outcome (ok, failed).", kCounter)
        .sample({{"outcome", "ok"}}, st.prunes)
        .sample({{"outcome", "failed"}}, st.prune_failures);
    out.family("fathom_store_pruned_total",
               "Rows the retention and size limits removed, by table (rollups, incidents, "
               "incident_flows).",
               kCounter)
        .sample({{"table", "rollups"}}, st.pruned_rollups)
        .sample({{"table", "incidents"}}, st.pruned_incidents)
        .sample({{"table", "incident_flows"}}, st.pruned_flows);
    out.family("fathom_store_tenant_state_total",
               "Tenants' detector states: restored at start, saved (checkpoints handed to the "
               "writer), refused (writer queue full; the next checkpoint retries).",
               kCounter)
        .sample({{"event", "restored"}}, st.state_restored)
        .sample({{"event", "saved"}}, st.state_saved)
        .sample({{"event", "refused"}}, st.state_refused);
    out.family("fathom_store_incident_flows_total",
               "Incidents' raw sampled flows: saved (handed to the writer), refused (writer "
               "queue full: not kept).",
               kCounter)
        .sample({{"event", "saved"}}, st.flows_saved)
        .sample({{"event", "refused"}}, st.flows_refused);
    out.family("fathom_store_decoder_state_total",
               "Decoder state rows (templates and sampling rates per exporter and observation "
               "domain): restored at start, older (the decoder held a later change), corrupt "
               "(ignored), no_room (exporter table full), saved (handed to the writer), refused "
               "(writer queue full; retried).",
               kCounter)
        .sample({{"event", "restored"}}, st.decoder_restored)
        .sample({{"event", "older"}}, st.decoder_older)
        .sample({{"event", "corrupt"}}, st.decoder_corrupt)
        .sample({{"event", "no_room"}}, st.decoder_no_room)
        .sample({{"event", "saved"}}, st.decoder_saved)
        .sample({{"event", "refused"}}, st.decoder_refused);
    out.family("fathom_store_sampler_state_total",
               "Adaptive-sampler tenant states: restored at start, stale (too old to restore), "
               "corrupt (ignored), skipped (tenant not configured or without a target), saved "
               "(handed to the writer every 30 s and at exit), refused (writer queue full).",
               kCounter)
        .sample({{"event", "restored"}}, st.sampler_restored)
        .sample({{"event", "stale"}}, st.sampler_stale)
        .sample({{"event", "corrupt"}}, st.sampler_corrupt)
        .sample({{"event", "skipped"}}, st.sampler_skipped)
        .sample({{"event", "saved"}}, st.sampler_saved)
        .sample({{"event", "refused"}}, st.sampler_refused);
  }
  if (s.has_alerts) {
    const AlertSnapshot& a = s.alerts;
    out.family("fathom_alert_events_total",
               "Incident events offered to alerting: accepted, or dropped (intake queue full).",
               kCounter)
        .sample({{"outcome", "accepted"}}, a.events_submitted)
        .sample({{"outcome", "dropped"}}, a.events_dropped_full);
    out.family("fathom_alert_raised_total",
               "Alerts raised by the policy, by kind (open, escalation, close, summary).", kCounter)
        .sample({{"kind", "open"}}, a.opens)
        .sample({{"kind", "escalation"}}, a.escalations)
        .sample({{"kind", "close"}}, a.closes)
        .sample({{"kind", "summary"}}, a.summaries);
    out.family("fathom_alert_suppressed_total",
               "Alerts not raised, by reason: deduplicated (already sent), rate_limited (tenant "
               "over its limit; summarised), unrouted (no sink wants the tenant or level).",
               kCounter)
        .sample({{"reason", "deduplicated"}}, a.deduplicated)
        .sample({{"reason", "rate_limited"}}, a.rate_limited)
        .sample({{"reason", "unrouted"}}, a.unrouted);
    out.family("fathom_alert_tracked_evicted_total",
               "Incidents whose alert state was forgotten to bound memory.", kCounter)
        .sample({}, a.tracked_evicted);
    out.family("fathom_alert_journal_errors_total", "De-duplication journal writes that failed.",
               kCounter)
        .sample({}, a.journal_errors);
    auto& alerts = out.family(
        "fathom_alert_sink_alerts_total",
        "Alerts per sink, by outcome: submitted, delivered, replayed (from the spool), spooled, "
        "failed (rejected for good by the receiver), dropped_spool_full, dropped_no_spool, "
        "corrupt (spool records that did not decode).",
        kCounter);
    auto& retries = out.family("fathom_alert_sink_retries_total",
                               "Delivery attempts after a retryable failure.", kCounter);
    auto& client_errors =
        out.family("fathom_alert_sink_client_errors_total",
                   "Errors a sink's client reported outside a delivery's result (kafka: "
                   "librdkafka's error callback, e.g. brokers unreachable, and late delivery "
                   "reports); 0 for the other kinds.",
                   kCounter);
    auto& pending =
        out.family("fathom_alert_sink_pending",
                   "Alerts waiting per sink: in memory (queue), in the disk spool.", kGauge);
    for (const AlertSinkSnapshot& k : a.sinks) {
      const auto add = [&](const char* outcome, uint64_t v) {
        alerts.sample({{"sink", k.name}, {"outcome", outcome}}, v);
      };
      add("submitted", k.submitted);
      add("delivered", k.delivered);
      add("replayed", k.replayed);
      add("spooled", k.spooled);
      add("failed", k.failed_permanent);
      add("dropped_spool_full", k.dropped_spool_full);
      add("dropped_no_spool", k.dropped_no_spool);
      add("corrupt", k.corrupt_spooled);
      retries.sample({{"sink", k.name}}, k.retried);
      client_errors.sample({{"sink", k.name}}, k.client_errors);
      pending.sample({{"sink", k.name}, {"where", "queue"}}, k.queued);
      pending.sample({{"sink", k.name}, {"where", "spool"}}, k.spool_pending);
    }
  }
}

}  // namespace fathom::api
