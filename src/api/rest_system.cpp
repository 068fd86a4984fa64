// RestApi: who, health, tenants, exporters and sampling (docs/api.md).
#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <set>

#include "api/detail/rest_impl.h"

namespace fathom::api {
namespace {

constexpr int64_t kActiveNs = 60'000'000'000;
constexpr std::string_view kLevels[] = {"low", "medium", "high", "critical"};

double per_second(uint64_t now, uint64_t before, int64_t dt_ns) {
  if (dt_ns <= 0 || now < before) return 0.0;
  return static_cast<double>(now - before) * 1e9 / static_cast<double>(dt_ns);
}

/// The traffic of a summary as rates with intervals.
json traffic_json(const analyze::TenantSummary& s) {
  const double seconds = static_cast<double>(s.end_ns - s.start_ns) * 1e-9;
  if (seconds <= 0) return nullptr;
  const auto rate = [&](const estimate::Estimate& e, double scale) {
    return estimate_json(e.value * scale / seconds, e.ci_low * scale / seconds,
                         e.ci_high * scale / seconds);
  };
  return json{{"window_s", seconds},
              {"end_ms", to_ms(s.end_ns)},
              {"bps", rate(s.total.bytes, 8.0)},
              {"pps", rate(s.total.packets, 1.0)},
              {"fps", rate(s.total.flows, 1.0)}};
}

uint64_t malformed_of(const decode::ExporterStats& d) {
  return d.packets - std::min(d.packets, d.packets_ok);
}

/// `fathom api`'s current traffic of a tenant: its latest stored minute of the last five, as
/// rates over the minute; null when none.
constexpr int64_t kMinuteNs = 60'000'000'000;
constexpr int64_t kStoredTrafficSpanNs = 5 * kMinuteNs;

json rollup_traffic_json(const store::Rollup& r) {
  const auto rate = [](const store::Estimate& e, double scale) {
    return estimate_json(e.value * scale / 60.0, e.ci_low * scale / 60.0, e.ci_high * scale / 60.0);
  };
  return json{{"window_s", 60.0},
              {"end_ms", to_ms(r.minute_ns + kMinuteNs)},
              {"bps", rate(r.bytes, 8.0)},
              {"pps", rate(r.packets, 1.0)},
              {"fps", rate(r.flows, 1.0)}};
}

/// The tenant's open incidents by level (low, medium, high, critical) from the store: one count,
/// and three more when there is any. The counts are not one snapshot, so a band is clamped at 0.
store::StoreStatus stored_open_incidents(store::Database& db, uint32_t tenant,
                                         std::array<uint64_t, 4>& out) {
  out = {};
  store::IncidentQuery q;
  q.tenant_id = tenant;
  q.state = detect::IncidentState::kOpen;
  auto [status, total] = db.count_incidents(q);
  if (!status.ok || total == 0) return status;
  std::array<uint64_t, 5> at_least = {total, 0, 0, 0, 0};  // severity >= 0, 40, 70, 90
  constexpr std::array<double, 3> kFloors = {40.0, 70.0, 90.0};
  for (size_t i = 0; i < kFloors.size(); ++i) {
    q.min_severity = kFloors[i];
    auto [s, n] = db.count_incidents(q);
    if (!s.ok) return s;
    at_least[i + 1] = n;
  }
  for (size_t i = 0; i < 4; ++i) {
    out[i] = at_least[i] > at_least[i + 1] ? at_least[i] - at_least[i + 1] : 0;
  }
  return status;
}

}  // namespace

Reply RestApi::Impl::me(const Principal& who, const HttpRequest& request) {
  if (auto e = Params(request).unknown({})) return Reply::bad(*e);
  return Reply::ok(json{{"name", who.name},
                        {"admin", who.admin},
                        {"tenant_id", who.admin ? json(nullptr) : json(who.tenant_id)}});
}

Reply RestApi::Impl::health(const Principal& who, const HttpRequest& request) {
  if (auto e = Params(request).unknown({})) return Reply::bad(*e);
  if (options.store_only) return store_health(who);
  const int64_t now = clock();
  RateBase base;
  const CollectorSnapshot snap = snapshot_with_rates(base, now);
  const int64_t dt = now - base.t_ns;

  uint64_t datagrams = 0, records = 0, malformed = 0, rejected = 0, unknown_logged = 0;
  uint64_t kernel_drops = 0, bus_dropped = 0;
  size_t exporters = 0;
  for (const collect::SocketStats& s : snap.sockets) kernel_drops += s.counters.kernel_drops;
  for (const bus::SubscriberStats& s : snap.bus.subscribers) bus_dropped += s.dropped_records;
  for (const transform::IngestSnapshot& w : snap.workers) {
    datagrams += w.datagrams;
    records += w.records_decoded;
    rejected += w.records_rejected;
    unknown_logged += w.unknown_exporters_logged + w.unknown_exporters_suppressed;
    exporters += w.exporters.size();
    for (const transform::ExporterIngest& e : w.exporters) malformed += malformed_of(e.decode);
  }
  std::vector<std::string> problems;
  if (kernel_drops > base.kernel_drops && base.t_ns > snap.start_time_ns) {
    problems.push_back("the kernel dropped " + std::to_string(kernel_drops - base.kernel_drops) +
                       " datagrams lately: receive buffers full (see "
                       "fathom_collect_kernel_drops_total)");
  }
  if (bus_dropped > base.bus_dropped_records && base.t_ns > snap.start_time_ns) {
    problems.push_back(
        "a consumer fell behind: " + std::to_string(bus_dropped - base.bus_dropped_records) +
        " records dropped lately (fathom_bus_dropped_records_total)");
  }
  if (snap.has_store && !snap.store.database_up) {
    problems.push_back("the store does not answer: writes wait in the spool");
  }
  if (snap.has_analysis &&
      snap.analysis.lag_seconds > static_cast<double>(options.live_window_ns) * 1e-9) {
    char lag[32];
    std::snprintf(lag, sizeof lag, "%.1f", snap.analysis.lag_seconds);
    problems.push_back(std::string("analysis lags ") + lag + " s behind arrivals");
  }
  const std::string status = problems.empty() ? "ok" : "degraded";
  if (!who.admin) {
    return Reply::ok(json{
        {"status", status}, {"version", options.version}, {"now_ms", to_ms(now)}, {"role", "run"}});
  }
  uint64_t open = 0;
  for (const auto& [tenant, level, count] : snap.analysis.open_by_severity) open += count;
  uint64_t alert_pending = 0, alert_dropped = 0;
  for (const AlertSinkSnapshot& s : snap.alerts.sinks) {
    alert_pending += s.spool_pending;
    alert_dropped += s.dropped_spool_full + s.dropped_no_spool + s.failed_permanent;
  }
  json body = {{"status", status},
               {"version", options.version},
               {"now_ms", to_ms(now)},
               {"role", "run"},
               {"uptime_s", static_cast<double>(now - snap.start_time_ns) * 1e-9},
               {"ingest",
                {{"datagrams_per_s", per_second(datagrams, base.datagrams, dt)},
                 {"records_per_s", per_second(records, base.records, dt)},
                 {"records_total", records},
                 {"malformed_total", malformed},
                 {"kernel_drops_total", kernel_drops},
                 {"bus_dropped_records_total", bus_dropped},
                 {"rejected_records_total", rejected},
                 {"unknown_exporters", unknown_logged},
                 {"exporters", exporters},
                 {"receive_threads", snap.receive_threads}}},
               {"analysis",
                {{"running", snap.has_analysis},
                 {"lag_s", snap.analysis.lag_seconds},
                 {"utilisation", snap.analysis.utilisation},
                 {"workers", snap.analysis.workers},
                 {"desired_workers", snap.analysis.desired_workers},
                 {"open_incidents", open},
                 {"ai", snap.analysis.has_ai}}},
               {"store",
                {{"enabled", snap.has_store},
                 {"backend", snap.store.backend},
                 {"up", snap.store.database_up},
                 {"queue_depth", snap.store.queue_depth},
                 {"spool_pending", snap.store.spool_pending},
                 {"dropped_total", snap.store.dropped_queue_full + snap.store.dropped_spool_full +
                                       snap.store.dropped_failed + snap.store.dropped_corrupt}}},
               {"alerts",
                {{"sinks", snap.alerts.sinks.size()},
                 {"spool_pending", alert_pending},
                 {"dropped_total", alert_dropped}}},
               {"problems", problems}};
  return Reply::ok(std::move(body));
}

Reply RestApi::Impl::store_health(const Principal& who) {
  const int64_t now = clock();
  std::vector<std::string> problems;
  bool up = false;
  if (db) {
    DbLease l;
    if (auto fail = lease(l)) {
      problems.push_back(fail->error->message);
    } else if (auto [status, version] = l->schema_version(); !status.ok) {
      l.broken = true;
      problems.push_back("the store does not answer: " + status.error);
    } else {
      up = true;
    }
  } else {
    problems.push_back(
        "the store is disabled (store.enabled: false): fathom api has nothing to serve");
  }
  const std::string status = problems.empty() ? "ok" : "degraded";
  json body = {
      {"status", status}, {"version", options.version}, {"now_ms", to_ms(now)}, {"role", "api"}};
  if (!who.admin) return Reply::ok(std::move(body));
  // No collector, analysis, store writer or alert sink runs here: those parts are the other
  // roles' (their /metrics), so they are null rather than zeros.
  body["uptime_s"] = static_cast<double>(now - snapshot().start_time_ns) * 1e-9;
  body["ingest"] = nullptr;
  body["analysis"] = nullptr;
  body["store"] = {{"enabled", db != nullptr},
                   {"backend", db ? store_backend(options.store.url) : std::string()},
                   {"up", up},
                   {"queue_depth", nullptr},
                   {"spool_pending", nullptr},
                   {"dropped_total", nullptr}};
  body["alerts"] = nullptr;
  body["problems"] = problems;
  return Reply::ok(std::move(body));
}

Reply RestApi::Impl::tenants(const Principal& who, const HttpRequest& request,
                             std::optional<uint32_t> one) {
  if (auto e = Params(request).unknown({})) return Reply::bad(*e);
  const CollectorSnapshot snap = snapshot();
  struct Row {
    std::string name;
    int64_t first_seen_ns = 0;
    int64_t last_seen_ns = 0;
  };
  std::map<uint32_t, Row> rows;
  for (const TenantName& t : snap.tenants) rows[t.id].name = t.name;
  DbLease l;  // fathom api reads each tenant's traffic, incidents and exporters with it below
  if (db) {
    if (auto fail = lease(l); fail && options.store_only) return *fail;
    if (l.db) {
      auto [status, stored] = l->tenants();
      if (!status.ok) {
        l.broken = true;
        return Reply::fail(503, "unavailable", "the store does not answer: " + status.error);
      }
      for (const store::TenantRecord& t : stored) {
        Row& r = rows[t.tenant_id];
        if (r.name.empty()) r.name = t.name;
        r.first_seen_ns = t.first_seen_ns;
        r.last_seen_ns = t.last_seen_ns;
      }
    }
  }
  // A tenant seen only in live traffic (not configured, not yet stored) is listed too, as
  // /tenants/{id} answers for it.
  for (const uint32_t id : live->tenant_ids()) rows.try_emplace(id);
  std::map<uint32_t, std::array<uint64_t, 4>> open;
  for (const auto& [tenant, level, count] : snap.analysis.open_by_severity) {
    for (size_t i = 0; i < 4; ++i) {
      if (level == kLevels[i]) open[tenant][i] += count;
    }
  }
  std::map<uint32_t, size_t> exporter_count;
  for (const transform::IngestSnapshot& w : snap.workers) {
    for (const transform::ExporterIngest& e : w.exporters) {
      if (e.tenant_id != 0) ++exporter_count[e.tenant_id];
    }
  }
  // fathom api: what fathom run takes from its live state comes from the store: the latest
  // stored minute as the current traffic, open incidents counted by level, stored exporters.
  std::map<uint32_t, json> stored_traffic;
  if (options.store_only && l.db) {
    const auto unavailable = [&](const store::StoreStatus& status) {
      l.broken = true;
      return Reply::fail(503, "unavailable", "the store does not answer: " + status.error);
    };
    const int64_t now = clock();
    for (const auto& [id, r] : rows) {
      if (one ? id != *one : !who.sees(id)) continue;
      auto [status, minutes] = l->rollups(id, now - kStoredTrafficSpanNs, now);
      if (!status.ok) return unavailable(status);
      stored_traffic[id] = minutes.empty() ? json(nullptr) : rollup_traffic_json(minutes.back());
      if (store::StoreStatus s = stored_open_incidents(*l.db, id, open[id]); !s.ok) {
        return unavailable(s);
      }
    }
    auto [status, exporters] = l->exporters();
    if (!status.ok) return unavailable(status);
    for (const store::ExporterRecord& x : exporters) {
      if (x.tenant_id != 0) ++exporter_count[x.tenant_id];
    }
  }
  const auto object = [&](uint32_t id, const Row& r) {
    json o = {{"id", id}, {"name", r.name}};
    o["first_seen_ms"] = r.first_seen_ns ? json(to_ms(r.first_seen_ns)) : json(nullptr);
    o["last_seen_ms"] = r.last_seen_ns ? json(to_ms(r.last_seen_ns)) : json(nullptr);
    const auto latest = live->latest(id);
    o["traffic"] = latest ? traffic_json(*latest) : json(nullptr);
    if (latest && latest->end_ns > r.last_seen_ns) o["last_seen_ms"] = to_ms(latest->end_ns);
    if (options.store_only) o["traffic"] = stored_traffic[id];
    const std::array<uint64_t, 4> counts = open.contains(id) ? open[id] : std::array<uint64_t, 4>{};
    json oi = json::object();
    uint64_t total = 0;
    for (size_t i = 0; i < 4; ++i) {
      oi[std::string(kLevels[i])] = counts[i];
      total += counts[i];
    }
    oi["total"] = total;
    o["open_incidents"] = oi;
    o["exporters"] = exporter_count[id];
    json sampling = {{"target", 0.0}, {"probability", 1.0}};
    for (const transform::SamplerTenantStats& s : snap.sampler.tenants) {
      if (s.tenant_id == id) sampling = {{"target", s.target}, {"probability", s.probability}};
    }
    // The adaptive sampler runs on the collectors; fathom api has no state of it.
    o["sampling"] = options.store_only ? json(nullptr) : sampling;
    return o;
  };
  if (one) {
    const auto it = rows.find(*one);
    if (it == rows.end()) return Reply::not_found("no such tenant: " + std::to_string(*one));
    return Reply::ok(object(*one, it->second));
  }
  json list = json::array();
  for (const auto& [id, r] : rows) {
    if (who.sees(id)) list.push_back(object(id, r));
  }
  return Reply::ok(json{{"tenants", std::move(list)}});
}

Reply RestApi::Impl::exporters(const Principal& who, const HttpRequest& request,
                               std::optional<uint32_t> tenant) {
  if (auto e = Params(request).unknown({})) return Reply::bad(*e);
  const int64_t now = clock();
  RateBase base;
  const CollectorSnapshot snap = snapshot_with_rates(base, now);
  if (tenant) {
    if (auto fail = unknown_tenant(*tenant, snap)) return *fail;
  }
  const int64_t dt = now - base.t_ns;
  std::map<std::string, json> out;
  for (const transform::IngestSnapshot& w : snap.workers) {
    for (const transform::ExporterIngest& e : w.exporters) {
      if (tenant ? e.tenant_id != *tenant : !who.sees(e.tenant_id)) continue;
      const decode::ExporterStats& d = e.decode;
      const std::string address = e.address.to_string();
      const auto before = base.exporters.find(address);
      const uint64_t packets_before = before != base.exporters.end() ? before->second.first : 0;
      const uint64_t records_before = before != base.exporters.end() ? before->second.second : 0;
      json reasons = json::object();
      for (size_t r = 1; r < decode::kDecodeStatusCount; ++r) {
        if (d.reasons[r] != 0) {
          reasons[std::string(decode::to_string(static_cast<decode::DecodeStatus>(r)))] =
              d.reasons[r];
        }
      }
      out[address] = {{"address", address},
                      {"tenant_id", e.tenant_id == 0 ? json(nullptr) : json(e.tenant_id)},
                      {"protocol", std::string(protocol_name(d.last_version))},
                      {"live", true},
                      {"first_seen_ms", nullptr},
                      {"last_seen_ms", to_ms(d.last_seen_ns)},
                      {"status", d.last_seen_ns >= now - kActiveNs ? "active" : "stale"},
                      {"packets_per_s", per_second(d.packets, packets_before, dt)},
                      {"records_per_s", per_second(d.records, records_before, dt)},
                      {"packets_total", d.packets},
                      {"records_total", d.records},
                      {"bytes_total", d.bytes},
                      {"sampling",
                       {{"known", e.sampling_rate != 0},
                        {"rate", e.sampling_rate != 0 ? json(e.sampling_rate) : json(nullptr)},
                        {"records_unknown_total", d.sampling_unknown}}},
                      {"templates",
                       {{"active", d.templates_active},
                        {"added_total", d.templates_added},
                        {"withdrawn_total", d.templates_withdrawn}}},
                      {"parked_total", d.pending_parked},
                      {"malformed_total", malformed_of(d)},
                      {"malformed_by_reason", reasons},
                      {"rejected_records_total", e.records_rejected}};
    }
  }
  if (db) {
    DbLease l;
    if (auto fail = lease(l); fail && options.store_only) return *fail;
    if (l.db) {
      auto [status, stored] = l->exporters();
      if (!status.ok) {
        l.broken = true;
        // fathom run still has its live exporters to show; fathom api would answer nothing.
        if (options.store_only) {
          return Reply::fail(503, "unavailable", "the store does not answer: " + status.error);
        }
      } else {
        for (const store::ExporterRecord& x : stored) {
          if (tenant ? x.tenant_id != *tenant : !who.sees(x.tenant_id)) continue;
          if (auto it = out.find(x.address); it != out.end()) {
            it->second["first_seen_ms"] = to_ms(x.first_seen_ns);
            continue;
          }
          out[x.address] = {
              {"address", x.address},
              {"tenant_id", x.tenant_id == 0 ? json(nullptr) : json(x.tenant_id)},
              {"protocol", x.protocol},
              {"live", false},
              {"first_seen_ms", to_ms(x.first_seen_ns)},
              {"last_seen_ms", to_ms(x.last_seen_ns)},
              {"status", "silent"},
              {"packets_per_s", nullptr},
              {"records_per_s", nullptr},
              {"packets_total", x.packets},
              {"records_total", x.records},
              {"bytes_total", nullptr},
              {"sampling",
               {{"known", false}, {"rate", nullptr}, {"records_unknown_total", nullptr}}},
              {"templates", nullptr},
              {"parked_total", nullptr},
              {"malformed_total", x.malformed},
              {"malformed_by_reason", nullptr},
              {"rejected_records_total", nullptr}};
        }
      }
    }
  }
  json list = json::array();
  for (auto& [address, o] : out) list.push_back(std::move(o));
  return Reply::ok(json{{"exporters", std::move(list)}});
}

Reply RestApi::Impl::sampling(const HttpRequest& request, uint32_t tenant) {
  if (auto e = Params(request).unknown({})) return Reply::bad(*e);
  const CollectorSnapshot snap = snapshot();
  if (auto fail = unknown_tenant(tenant, snap)) return *fail;
  if (options.store_only) {
    return Reply::fail(503, "unavailable",
                       "the adaptive sampler's state is only on the collectors (fathom collect: "
                       "its /metrics, fathom_sampler_*); fathom api serves the store");
  }
  json body = {{"tenant_id", tenant},     {"target", 0.0},        {"probability", 1.0},
               {"arrival_rate", nullptr}, {"kept_rate", nullptr}, {"arrivals_total", 0},
               {"kept_total", 0},         {"surges_total", 0}};
  for (const transform::SamplerTenantStats& s : snap.sampler.tenants) {
    if (s.tenant_id != tenant) continue;
    body["target"] = s.target;
    body["probability"] = s.probability;
    body["arrival_rate"] = s.arrival_rate;
    body["kept_rate"] = s.kept_rate;
    body["arrivals_total"] = s.arrivals_total;
    body["kept_total"] = s.kept_total;
    body["surges_total"] = s.surges_total;
  }
  if (body["arrival_rate"].is_null()) {
    // Not under the sampler (no target): every record is kept; totals from ingest.
    uint64_t records = 0;
    for (const transform::IngestSnapshot& w : snap.workers) {
      for (const transform::TenantIngest& t : w.tenants) {
        if (t.tenant_id == tenant) records += t.records;
      }
    }
    body["arrivals_total"] = records;
    body["kept_total"] = records;
  }
  json exporters = json::array();
  for (const transform::IngestSnapshot& w : snap.workers) {
    for (const transform::ExporterIngest& e : w.exporters) {
      if (e.tenant_id != tenant) continue;
      exporters.push_back({{"address", e.address.to_string()},
                           {"known", e.sampling_rate != 0},
                           {"rate", e.sampling_rate != 0 ? json(e.sampling_rate) : json(nullptr)}});
    }
  }
  body["exporters"] = std::move(exporters);
  return Reply::ok(std::move(body));
}

}  // namespace fathom::api
