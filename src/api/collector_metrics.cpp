#include "api/collector_metrics.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "decode/decode_status.h"

namespace fathom::api {
std::string_view protocol_name(uint8_t version) noexcept {
  switch (version) {
    case 5: return "netflow_v5";
    case 9: return "netflow_v9";
    case 10: return "ipfix";
    case 0x50: return "sflow_v5";
    default: return "unknown";
  }
}

namespace {

constexpr MetricType kCounter = MetricType::kCounter;
constexpr MetricType kGauge = MetricType::kGauge;

/// An exporter's counters, summed over workers (an exporter lives in one worker, but the
/// "other" bucket sums many).
struct ExporterRow {
  std::string label;
  std::string tenant;
  std::string protocol;
  transform::ExporterIngest sum;
};

void add_stats(const decode::ExporterStats& from, decode::ExporterStats& to) {
  to.packets += from.packets;
  to.bytes += from.bytes;
  to.packets_ok += from.packets_ok;
  to.records += from.records;
  to.counter_records += from.counter_records;
  to.templates_added += from.templates_added;
  to.templates_withdrawn += from.templates_withdrawn;
  to.templates_active += from.templates_active;
  to.pending_parked += from.pending_parked;
  to.pending_decoded += from.pending_decoded;
  to.sampling_unknown += from.sampling_unknown;
  for (size_t i = 0; i < to.reasons.size(); ++i) to.reasons[i] += from.reasons[i];
}

void append_socket_metrics(const CollectorSnapshot& s, MetricsText& out) {
  auto& datagrams =
      out.family("fathom_collect_datagrams_total", "UDP datagrams received, per socket.", kCounter);
  auto& bytes =
      out.family("fathom_collect_bytes_total", "UDP payload bytes received, per socket.", kCounter);
  auto& drops = out.family("fathom_collect_kernel_drops_total",
                           "Datagrams the kernel dropped because the socket's receive buffer was "
                           "full (SO_RXQ_OVFL).",
                           kCounter);
  auto& truncated = out.family("fathom_collect_truncated_total",
                               "Datagrams larger than the receive buffer (cut).", kCounter);
  auto& errors =
      out.family("fathom_collect_receive_errors_total", "recvmmsg errors, per socket.", kCounter);
  auto& rcvbuf = out.family("fathom_collect_receive_buffer_bytes",
                            "SO_RCVBUF granted by the kernel, per socket.", kGauge);
  auto& rcvbuf_asked = out.family("fathom_collect_receive_buffer_requested_bytes",
                                  "SO_RCVBUF asked for, per socket.", kGauge);
  for (const collect::SocketStats& sock : s.sockets) {
    const std::string thread = std::to_string(sock.listener);
    const std::initializer_list<Label> labels = {{"endpoint", sock.endpoint}, {"thread", thread}};
    datagrams.sample(labels, sock.counters.datagrams);
    bytes.sample(labels, sock.counters.bytes);
    drops.sample(labels, sock.counters.kernel_drops);
    truncated.sample(labels, sock.counters.truncated);
    errors.sample(labels, sock.counters.errors);
    rcvbuf.sample(labels, sock.receive_buffer.granted_bytes);
    rcvbuf_asked.sample(labels, sock.receive_buffer.requested_bytes);
  }
  out.family("fathom_collect_receive_threads", "Receive threads.", kGauge)
      .sample({}, s.receive_threads);
  out.family("fathom_collect_exporter_steering",
             "1 when every exporter's packets reach one receive thread (SO_REUSEPORT BPF "
             "steering), 0 when the kernel spreads them by 4-tuple.",
             kGauge)
      .sample({}, s.exporter_steering ? 1 : 0);
}

void append_exporter_metrics(const CollectorSnapshot& s,
                             const std::unordered_map<uint32_t, std::string>& tenant_names,
                             MetricsText& out) {
  std::vector<const transform::ExporterIngest*> all;
  decode::ExporterStats overflow;
  for (const transform::IngestSnapshot& w : s.workers) {
    for (const transform::ExporterIngest& e : w.exporters) all.push_back(&e);
    add_stats(w.overflow, overflow);
  }
  const size_t shown = std::min(all.size(), s.max_exporter_series);
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(shown), all.end(),
                    [](const auto* a, const auto* b) {
                      if (a->decode.packets != b->decode.packets) {
                        return a->decode.packets > b->decode.packets;
                      }
                      return a->address < b->address;
                    });
  std::vector<ExporterRow> rows;
  rows.reserve(shown + 2);
  for (size_t i = 0; i < shown; ++i) {
    const transform::ExporterIngest& e = *all[i];
    ExporterRow row;
    row.label = e.address.to_string();
    const auto name = tenant_names.find(e.tenant_id);
    row.tenant = e.tenant_id == 0             ? ""
                 : name != tenant_names.end() ? name->second
                                              : std::to_string(e.tenant_id);
    row.protocol = protocol_name(e.decode.last_version);
    row.sum = e;
    rows.push_back(std::move(row));
  }
  if (all.size() > shown) {
    ExporterRow other;
    other.label = "other";
    for (size_t i = shown; i < all.size(); ++i) {
      add_stats(all[i]->decode, other.sum.decode);
      other.sum.records_rejected += all[i]->records_rejected;
      other.sum.counters_rejected += all[i]->counters_rejected;
    }
    rows.push_back(std::move(other));
  }
  if (overflow.packets != 0) {
    ExporterRow row;
    row.label = "overflow";  // refused: the exporter table was full
    row.sum.decode = overflow;
    rows.push_back(std::move(row));
  }

  out.family("fathom_exporters", "Exporter addresses the decoders track.", kGauge)
      .sample({}, all.size());
  auto& packets = out.family("fathom_exporter_packets_total",
                             "Export packets received from the exporter.", kCounter);
  auto& bytes = out.family("fathom_exporter_bytes_total",
                           "Export packet payload bytes from the exporter.", kCounter);
  auto& ok = out.family("fathom_exporter_packets_decoded_total",
                        "Export packets decoded without any error.", kCounter);
  auto& records = out.family("fathom_exporter_records_total",
                             "Flow records decoded from the exporter.", kCounter);
  auto& counter_records = out.family("fathom_exporter_counter_records_total",
                                     "sFlow interface-counter records decoded.", kCounter);
  auto& rejected = out.family(
      "fathom_exporter_records_rejected_total",
      "Records dropped because no tenant claims the exporter (the allowlist).", kCounter);
  auto& malformed = out.family(
      "fathom_exporter_problems_total",
      "Packets, sets or records dropped or noted by the decoder, by reason (malformed input, "
      "unknown template, template eviction, ...).",
      kCounter);
  auto& templates = out.family("fathom_exporter_templates",
                               "Templates the exporter has active (NetFlow v9, IPFIX).", kGauge);
  auto& templates_added = out.family("fathom_exporter_templates_learned_total",
                                     "New or changed templates learned.", kCounter);
  auto& parked = out.family("fathom_exporter_data_parked_total",
                            "Data sets parked because their template had not arrived.", kCounter);
  auto& unparked = out.family("fathom_exporter_data_parked_decoded_total",
                              "Parked data sets decoded once their template arrived.", kCounter);
  auto& sampling_unknown =
      out.family("fathom_exporter_sampling_rate_unknown_total",
                 "Records emitted without a known sampling rate (assumed 1).", kCounter);
  auto& last_seen = out.family("fathom_exporter_last_seen_seconds",
                               "Unix time of the exporter's latest packet.", kGauge);
  auto& info = out.family("fathom_exporter_info",
                          "1 per exporter, labelled with the tenant of its latest accepted "
                          "record (empty: none yet) and the protocol of its latest packet. "
                          "Kept apart from the counters so their series never change "
                          "identity; join on `exporter`.",
                          kGauge);
  for (const ExporterRow& row : rows) {
    const decode::ExporterStats& d = row.sum.decode;
    const std::initializer_list<Label> labels = {{"exporter", row.label}};
    if (row.label != "other" && row.label != "overflow") {
      info.sample({{"exporter", row.label}, {"tenant", row.tenant}, {"protocol", row.protocol}}, 1);
    }
    packets.sample(labels, d.packets);
    bytes.sample(labels, d.bytes);
    ok.sample(labels, d.packets_ok);
    records.sample(labels, d.records);
    counter_records.sample(labels, d.counter_records);
    rejected.sample(labels, row.sum.records_rejected + row.sum.counters_rejected);
    templates.sample(labels, d.templates_active);
    templates_added.sample(labels, d.templates_added);
    parked.sample(labels, d.pending_parked);
    unparked.sample(labels, d.pending_decoded);
    sampling_unknown.sample(labels, d.sampling_unknown);
    if (d.last_seen_ns != 0) {
      last_seen.sample(labels, static_cast<double>(d.last_seen_ns) / 1e9);
    }
    for (size_t i = 1; i < decode::kDecodeStatusCount; ++i) {
      if (d.reasons[i] == 0) continue;
      const std::string_view reason = decode::to_string(static_cast<decode::DecodeStatus>(i));
      malformed.sample({{"exporter", row.label}, {"reason", reason}}, d.reasons[i]);
    }
  }
}

void append_tenant_metrics(const CollectorSnapshot& s,
                           const std::unordered_map<uint32_t, std::string>& tenant_names,
                           MetricsText& out) {
  std::unordered_map<uint32_t, transform::TenantIngest> sums;
  for (const TenantName& t : s.tenants) sums[t.id].tenant_id = t.id;
  for (const transform::IngestSnapshot& w : s.workers) {
    for (const transform::TenantIngest& t : w.tenants) {
      transform::TenantIngest& sum = sums[t.tenant_id];
      sum.tenant_id = t.tenant_id;
      sum.records += t.records;
      sum.flow_bytes += t.flow_bytes;
      sum.flow_packets += t.flow_packets;
      sum.counter_records += t.counter_records;
      sum.records_kept += t.records_kept;
      sum.records_sampled_out += t.records_sampled_out;
      sum.records_not_counted += t.records_not_counted;
    }
  }
  std::vector<transform::TenantIngest> rows;
  for (const auto& [id, t] : sums) rows.push_back(t);
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.tenant_id < b.tenant_id; });
  auto& records =
      out.family("fathom_tenant_records_total",
                 "Flow records mapped to the tenant (before adaptive sampling).", kCounter);
  auto& kept = out.family("fathom_tenant_records_kept_total",
                          "Of those, records the adaptive sampler kept (published).", kCounter);
  auto& sampled_out =
      out.family("fathom_tenant_records_sampled_out_total",
                 "Of those, records the adaptive sampler left out (the kept records' sampling "
                 "rate accounts for them).",
                 kCounter);
  auto& not_counted =
      out.family("fathom_tenant_records_not_counted_total",
                 "Records a de-duplication rule excludes from the estimates.", kCounter);
  auto& bytes =
      out.family("fathom_tenant_flow_bytes_total",
                 "Bytes the tenant's flow records report, as exported (sampled).", kCounter);
  auto& packets =
      out.family("fathom_tenant_flow_packets_total",
                 "Packets the tenant's flow records report, as exported (sampled).", kCounter);
  auto& counters = out.family("fathom_tenant_counter_records_total",
                              "sFlow interface-counter records accepted for the tenant.", kCounter);
  for (const transform::TenantIngest& t : rows) {
    const auto name = tenant_names.find(t.tenant_id);
    const std::string label =
        name != tenant_names.end() ? name->second : std::to_string(t.tenant_id);
    const std::string id = std::to_string(t.tenant_id);
    const std::initializer_list<Label> labels = {{"tenant", label}, {"tenant_id", id}};
    records.sample(labels, t.records);
    kept.sample(labels, t.records_kept);
    sampled_out.sample(labels, t.records_sampled_out);
    not_counted.sample(labels, t.records_not_counted);
    bytes.sample(labels, t.flow_bytes);
    packets.sample(labels, t.flow_packets);
    counters.sample(labels, t.counter_records);
  }
}

void append_pipeline_metrics(const CollectorSnapshot& s, MetricsText& out) {
  uint64_t datagrams = 0, decoded = 0, accepted = 0, rejected = 0, logged = 0, suppressed = 0;
  uint64_t kept = 0, sampled_out = 0;
  for (const transform::IngestSnapshot& w : s.workers) {
    datagrams += w.datagrams;
    decoded += w.records_decoded;
    accepted += w.records_accepted;
    rejected += w.records_rejected;
    kept += w.records_kept;
    sampled_out += w.records_sampled_out;
    logged += w.unknown_exporters_logged;
    suppressed += w.unknown_exporters_suppressed;
  }
  out.family("fathom_decode_datagrams_total", "Datagrams handed to the decoders.", kCounter)
      .sample({}, datagrams);
  out.family("fathom_decode_records_total", "Flow records decoded.", kCounter).sample({}, decoded);
  out.family("fathom_transform_records_accepted_total",
             "Flow records mapped to a tenant (kept plus sampled out).", kCounter)
      .sample({}, accepted);
  out.family("fathom_transform_records_kept_total",
             "Accepted flow records the adaptive sampler kept: what is published.", kCounter)
      .sample({}, kept);
  out.family("fathom_transform_records_sampled_out_total",
             "Accepted flow records the adaptive sampler left out (not an error).", kCounter)
      .sample({}, sampled_out);
  out.family("fathom_transform_records_rejected_total",
             "Flow records dropped: no tenant claims their exporter.", kCounter)
      .sample({}, rejected);
  out.family("fathom_transform_unknown_exporters_logged_total",
             "Unknown exporters named in the log (once each).", kCounter)
      .sample({}, logged);
  out.family("fathom_transform_unknown_exporters_unlogged_total",
             "Unknown exporters not named in the log because of its rate limit.", kCounter)
      .sample({}, suppressed);

  out.family("fathom_bus_published_batches_total", "Batches published on the in-process bus.",
             kCounter)
      .sample({}, s.bus.published_batches);
  out.family("fathom_bus_published_records_total", "Records published on the in-process bus.",
             kCounter)
      .sample({}, s.bus.published_records);
  out.family("fathom_bus_batches_allocated", "Batch buffers ever allocated (pool high-water).",
             kGauge)
      .sample({}, s.bus.batches_allocated);
  auto& depth = out.family("fathom_bus_queue_depth_batches",
                           "Batches waiting in the consumer's queue.", kGauge);
  auto& capacity = out.family("fathom_bus_queue_capacity_batches",
                              "Batches the consumer's queue holds.", kGauge);
  auto& enqueued = out.family("fathom_bus_enqueued_records_total",
                              "Records enqueued for the consumer.", kCounter);
  auto& dropped_batches =
      out.family("fathom_bus_dropped_batches_total",
                 "Batches dropped because the consumer's queue was full.", kCounter);
  auto& dropped_records = out.family("fathom_bus_dropped_records_total",
                                     "Records in batches dropped for the consumer.", kCounter);
  for (const bus::SubscriberStats& sub : s.bus.subscribers) {
    const std::initializer_list<Label> labels = {{"consumer", sub.name}};
    depth.sample(labels, sub.depth);
    capacity.sample(labels, sub.capacity);
    enqueued.sample(labels, sub.enqueued_records);
    dropped_batches.sample(labels, sub.dropped_batches);
    dropped_records.sample(labels, sub.dropped_records);
  }

  auto& written =
      out.family("fathom_output_records_total", "Records written by the output.", kCounter);
  auto& write_errors =
      out.family("fathom_output_write_errors_total", "Failed writes of the output.", kCounter);
  auto& lost = out.family("fathom_output_records_lost_total",
                          "Records in failed writes of the output.", kCounter);
  for (const OutputStats& o : s.outputs) {
    const std::initializer_list<Label> labels = {{"output", o.name}};
    written.sample(labels, o.records);
    write_errors.sample(labels, o.write_errors);
    lost.sample(labels, o.records_lost);
  }
  out.family("fathom_config_reloads_total", "Successful config reloads (SIGHUP).", kCounter)
      .sample({}, s.config_reloads);
  out.family("fathom_config_reload_failures_total",
             "Config reloads refused (invalid file); the previous config stays.", kCounter)
      .sample({}, s.config_reload_failures);
  out.family("fathom_start_time_seconds", "Unix time the process started.", kGauge)
      .sample({}, static_cast<double>(s.start_time_ns) / 1e9);
}

}  // namespace

void append_collector_metrics(const CollectorSnapshot& snapshot, MetricsText& out) {
  std::unordered_map<uint32_t, std::string> tenant_names;
  for (const TenantName& t : snapshot.tenants) tenant_names[t.id] = t.name;
  append_pipeline_metrics(snapshot, out);
  append_socket_metrics(snapshot, out);
  append_exporter_metrics(snapshot, tenant_names, out);
  append_tenant_metrics(snapshot, tenant_names, out);
  append_sampler_metrics(snapshot, out);
  append_enrichment_metrics(snapshot, out);
  append_estimate_metrics(snapshot, out);
  append_analysis_metrics(snapshot, out);
  append_persistence_metrics(snapshot, out);
  append_kafka_metrics(snapshot, out);
}

}  // namespace fathom::api
