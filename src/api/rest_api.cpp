#include "api/rest_api.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <sstream>

#include "api/detail/rest_impl.h"
#include "api/params.h"
#include "api/web_assets.h"

namespace fathom::api {
namespace {

constexpr std::string_view kJson = "application/json; charset=utf-8";
constexpr std::string_view kApiPrefix = "/api/v1";
/// The statuses the API answers with, each counted on its own (RestApi::Impl::responses).
constexpr std::array<int, 7> kCountedStatuses = {200, 400, 401, 404, 405, 500, 503};

int64_t system_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

HttpResponse json_response(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = std::string(kJson);
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  r.body.push_back('\n');
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse error_response(const ApiError& e) {
  HttpResponse r = json_response(
      e.status, json{{"error", {{"status", e.status}, {"code", e.code}, {"message", e.message}}}});
  if (e.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"fathom\"");
  if (e.status == 405) r.headers.emplace_back("Allow", "GET, HEAD");
  return r;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    if (!part.empty()) parts.push_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

/// A tenant id in a path: 1..4294967295 in decimal.
std::optional<uint32_t> tenant_of(std::string_view text) {
  const auto v = parse_uint(text, 1, UINT32_MAX);
  if (!v) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

/// Security headers for every dashboard file: no framing, no sniffing, and a policy that
/// allows only this origin's scripts, styles and API.
void add_page_headers(HttpResponse& r) {
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                         "script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
}

}  // namespace

DbLease::~DbLease() {
  if (pool == nullptr || !db) return;
  if (broken) {
    pool->discard(std::move(db));
  } else {
    pool->release(std::move(db));
  }
}

DbLease DbPool::acquire(std::string& error) {
  DbLease lease;
  lease.pool = this;
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      lease.db = std::move(idle_.back());
      idle_.pop_back();
      return lease;
    }
  }
  lease.db = store::open_database(options_, error);
  if (lease.db) {
    opened.fetch_add(1, std::memory_order_relaxed);
  } else {
    connect_failures.fetch_add(1, std::memory_order_relaxed);
    up.store(false, std::memory_order_relaxed);
  }
  return lease;
}

void DbPool::release(std::unique_ptr<store::Database> db) {
  up.store(true, std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(db));
}

void DbPool::discard(std::unique_ptr<store::Database> db) {
  failed_queries.fetch_add(1, std::memory_order_relaxed);
  up.store(false, std::memory_order_relaxed);
  std::vector<std::unique_ptr<store::Database>> dropped;
  {
    std::lock_guard lock(mu_);
    dropped.swap(idle_);
  }
  db.reset();  // closed outside the lock: a PostgreSQL close may wait on the network
}

std::optional<std::string> Params::unknown(std::initializer_list<std::string_view> allowed) const {
  std::string_view previous;
  for (const auto& [name, value] : request_.params) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string list;
      for (const std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return "unknown parameter '" + name.substr(0, 64) + "'" +
             (list.empty() ? std::string(" (this endpoint takes none)")
                           : " (this endpoint takes " + list + ")");
    }
    if (name == previous) return "parameter '" + name + "' is given more than once";
    previous = name;
  }
  return std::nullopt;
}

json estimate_json(double value, double ci_low, double ci_high) {
  return json{{"value", value}, {"ci_low", ci_low}, {"ci_high", ci_high}};
}

std::optional<std::string> time_param(const Params& params, std::string_view name, int64_t now_ns,
                                      int64_t fallback, int64_t& out) {
  const std::string* text = params.get(name);
  if (text == nullptr) {
    out = fallback;
    return std::nullopt;
  }
  const auto t = parse_time(*text, now_ns);
  if (!t) {
    return std::string(name) +
           ": not a time (RFC 3339 such as 2026-12-07T08:00:00Z, Unix milliseconds, a "
           "duration before now such as -15m, or now)";
  }
  out = *t;
  return std::nullopt;
}

std::optional<std::string> uint_param(const Params& params, std::string_view name, uint64_t min,
                                      uint64_t max, uint64_t fallback, uint64_t& out) {
  const std::string* text = params.get(name);
  if (text == nullptr) {
    out = fallback;
    return std::nullopt;
  }
  const auto v = parse_uint(*text, min, max);
  if (!v) {
    return std::string(name) + ": an integer from " + std::to_string(min) + " to " +
           std::to_string(max);
  }
  out = *v;
  return std::nullopt;
}

RestApi::RestApi(TokenTable tokens, SnapshotProvider snapshot,
                 std::shared_ptr<const LiveBoard> live, RestApiOptions options, Clock clock)
    : impl_(std::make_unique<Impl>()) {
  impl_->tokens = std::move(tokens);
  impl_->snapshot = std::move(snapshot);
  impl_->live = live ? std::move(live) : std::make_shared<const LiveBoard>();
  impl_->options = std::move(options);
  impl_->clock = clock ? std::move(clock) : Clock(system_now_ns);
  if (impl_->options.store_enabled) {
    impl_->db = std::make_unique<DbPool>(impl_->options.store, impl_->options.max_idle_connections);
  }
}

RestApi::~RestApi() = default;

HttpResponse RestApi::handle(const HttpRequest& request) {
  HttpResponse r;
  try {
    r = impl_->handle(request);
    if (request.method == "HEAD") r.body.clear();
  } catch (const std::exception& e) {
    r = error_response({500, "internal", std::string("internal error: ") + e.what()});
  } catch (...) {
    r = error_response({500, "internal", "internal error"});
  }
  const auto* it = std::find(kCountedStatuses.begin(), kCountedStatuses.end(), r.status);
  impl_->responses[static_cast<size_t>(it - kCountedStatuses.begin())].fetch_add(
      1, std::memory_order_relaxed);
  return r;
}

bool RestApi::probe_store(std::string& error) {
  DbLease l;
  if (auto fail = impl_->lease(l)) {
    error = fail->error->message;
    return false;
  }
  auto [status, version] = l->schema_version();
  if (!status.ok) {
    l.broken = true;
    error = "the store does not answer: " + status.error;
    return false;
  }
  return true;
}

RestApiStats RestApi::stats() const {
  RestApiStats s;
  for (size_t i = 0; i < impl_->responses.size(); ++i) {
    const uint64_t n = impl_->responses[i].load(std::memory_order_relaxed);
    if (n == 0) continue;
    s.responses.emplace_back(i < kCountedStatuses.size() ? kCountedStatuses[i] : 0, n);
  }
  std::sort(s.responses.begin(), s.responses.end());
  if (const DbPool* db = impl_->db.get()) {
    s.store_connections_opened = db->opened.load(std::memory_order_relaxed);
    s.store_connect_failures = db->connect_failures.load(std::memory_order_relaxed);
    s.store_failed_queries = db->failed_queries.load(std::memory_order_relaxed);
    s.store_up = db->up.load(std::memory_order_relaxed);
    s.backend = store_backend(impl_->options.store.url);
  }
  return s;
}

void append_api_metrics(const RestApiStats& stats, MetricsText& out) {
  auto& responses = out.family("fathom_api_responses_total",
                               "REST API and dashboard answers by HTTP status (0: any other).",
                               MetricType::kCounter);
  for (const auto& [status, count] : stats.responses) {
    const std::string code = std::to_string(status);
    responses.sample({{"status", code}}, count);
  }
  if (stats.backend.empty()) return;
  out.family("fathom_api_store_connections_total",
             "Database connections of the API readers: opened, failed (could not connect), "
             "dropped (given up after a failed query).",
             MetricType::kCounter)
      .sample({{"event", "opened"}}, stats.store_connections_opened)
      .sample({{"event", "failed"}}, stats.store_connect_failures)
      .sample({{"event", "dropped"}}, stats.store_failed_queries);
  out.family("fathom_api_store_up",
             "1 while the API's latest store access succeeded (0 before the first).",
             MetricType::kGauge)
      .sample({{"backend", stats.backend}}, stats.store_up ? 1 : 0);
}

HttpResponse RestApi::Impl::handle(const HttpRequest& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    return error_response({405, "method_not_allowed", "only GET and HEAD are served"});
  }
  const std::string_view path = request.path;
  const bool api = path == kApiPrefix || path.starts_with(std::string(kApiPrefix) + "/");
  if (!api) {
    // The dashboard: a file from web_root, or the built-in copy.
    std::string name = path == "/" ? "/index.html" : std::string(path);
    if (name.find("..") != std::string::npos || name.find('\0') != std::string::npos) {
      return error_response({404, "not_found", "no such file"});
    }
    HttpResponse r;
    if (!options.web_root.empty()) {
      std::ifstream file(options.web_root + name, std::ios::binary);
      if (!file) return error_response({404, "not_found", "no such file: " + name});
      std::ostringstream body;
      body << file.rdbuf();
      r.body = body.str();
      r.content_type = std::string(content_type_of(name));
    } else {
      const auto assets = web_assets();
      const auto it =
          std::lower_bound(assets.begin(), assets.end(), name,
                           [](const WebAsset& a, const std::string& n) { return a.path < n; });
      if (it == assets.end() || it->path != name || name.starts_with(kApiPrefix)) {
        return error_response({404, "not_found",
                               name == "/index.html"
                                   ? "the dashboard was not built into this binary"
                                   : "no such file: " + name});
      }
      r.body = std::string(it->bytes);
      r.content_type = std::string(it->content_type);
    }
    r.headers.emplace_back("Cache-Control", "no-cache");
    add_page_headers(r);
    return r;
  }
  if (path == "/api/v1/openapi.yaml") {
    for (const WebAsset& a : web_assets()) {
      if (a.path == path) {
        HttpResponse r;
        r.content_type = std::string(a.content_type);
        r.body = std::string(a.bytes);
        return r;
      }
    }
    return error_response({404, "not_found", "the API description was not built in"});
  }
  const std::optional<Principal> who = tokens.authenticate(request.authorization);
  if (!who) {
    return error_response({401, "unauthorized",
                           request.authorization.empty()
                               ? "this endpoint needs an Authorization: Bearer <token> header"
                               : "the token is not valid"});
  }
  const std::vector<std::string_view> parts = split_path(path.substr(kApiPrefix.size()));
  Reply reply = route(*who, request, parts);
  if (reply.error) return error_response(*reply.error);
  return json_response(200, reply.body);
}

Reply RestApi::Impl::route(const Principal& who, const HttpRequest& request,
                           const std::vector<std::string_view>& parts) {
  const size_t n = parts.size();
  const auto no_route = [&] {
    return Reply::not_found("no such endpoint: " + request.path.substr(0, 200) +
                            " (docs/api.md lists them)");
  };
  if (n == 1 && parts[0] == "me") return me(who, request);
  if (n == 1 && parts[0] == "health") return health(who, request);
  if (n == 1 && parts[0] == "exporters") return exporters(who, request, std::nullopt);
  if (n == 1 && parts[0] == "incidents") return incidents(who, request, std::nullopt);
  if (n == 1 && parts[0] == "tenants") return tenants(who, request, std::nullopt);
  if (n < 2 || parts[0] != "tenants") return no_route();

  // /tenants/{tenant}/...: a tenant the token may not see is answered exactly like one that
  // does not exist.
  const std::optional<uint32_t> tenant = tenant_of(parts[1]);
  if (!tenant) {
    return Reply::bad("tenant: a tenant id (an integer from 1 to 4294967295) in the path");
  }
  if (!who.sees(*tenant)) return Reply::not_found("no such tenant: " + std::to_string(*tenant));
  if (n == 2) return tenants(who, request, *tenant);
  const std::string_view what = parts[2];
  if (n == 3 && what == "exporters") return exporters(who, request, *tenant);
  if (n == 3 && what == "incidents") return incidents(who, request, *tenant);
  if (n == 4 && what == "incidents") return incident(request, *tenant, parts[3]);
  if (n == 3 && what == "sampling") return sampling(request, *tenant);
  if (n == 3 && (what == "traffic" || what == "top" || what == "geo")) {
    const CollectorSnapshot snap = snapshot();
    if (auto fail = unknown_tenant(*tenant, snap)) return *fail;
    if (what == "traffic") return traffic(request, *tenant);
    if (what == "top") return top(request, *tenant);
    return geo(request, *tenant);
  }
  return no_route();
}

std::optional<Reply> RestApi::Impl::lease(DbLease& out) {
  if (!db) {
    return Reply::fail(503, "unavailable",
                       "the store is disabled (store.enabled: false): incidents and traffic "
                       "history are not kept");
  }
  std::string error;
  DbLease l = db->acquire(error);
  if (!l.db) return Reply::fail(503, "unavailable", "the store does not answer: " + error);
  out.pool = l.pool;
  out.db = std::move(l.db);
  l.pool = nullptr;
  return std::nullopt;
}

CollectorSnapshot RestApi::Impl::snapshot_with_rates(RateBase& base, int64_t now_ns) {
  CollectorSnapshot snap = snapshot();
  RateBase current;
  current.t_ns = now_ns;
  for (const collect::SocketStats& s : snap.sockets)
    current.kernel_drops += s.counters.kernel_drops;
  for (const bus::SubscriberStats& s : snap.bus.subscribers) {
    current.bus_dropped_records += s.dropped_records;
  }
  for (const transform::IngestSnapshot& w : snap.workers) {
    current.datagrams += w.datagrams;
    current.records += w.records_decoded;
    for (const transform::ExporterIngest& e : w.exporters) {
      current.exporters[e.address.to_string()] = {e.decode.packets, e.decode.records};
    }
  }
  std::lock_guard lock(rate_mu);
  // Rates are taken against a sample at least 2 s old, refreshed as requests come: a
  // dashboard polling every few seconds sees the last few seconds' rates. Before any
  // sample, against the process start (all counters zero).
  if (!rate_latest || rate_latest->t_ns <= now_ns - 2'000'000'000) {
    rate_prev = rate_latest;
    rate_latest = current;
  }
  if (rate_prev) {
    base = *rate_prev;
  } else {
    base = RateBase{};
    base.t_ns = snap.start_time_ns;
  }
  return snap;
}

std::optional<Reply> RestApi::Impl::unknown_tenant(uint32_t tenant_id,
                                                   const CollectorSnapshot& snap) {
  for (const TenantName& t : snap.tenants) {
    if (t.id == tenant_id) return std::nullopt;
  }
  if (live->latest(tenant_id)) return std::nullopt;
  const Reply not_found = Reply::not_found("no such tenant: " + std::to_string(tenant_id));
  if (!db) return not_found;
  DbLease l;
  if (auto fail = lease(l)) return fail;
  auto [status, rows] = l->tenants();
  if (!status.ok) {
    l.broken = true;
    return Reply::fail(503, "unavailable", "the store does not answer: " + status.error);
  }
  const bool stored = std::any_of(rows.begin(), rows.end(), [&](const store::TenantRecord& t) {
    return t.tenant_id == tenant_id;
  });
  if (stored) return std::nullopt;
  return not_found;
}

}  // namespace fathom::api
