#pragma once

// Internals of RestApi shared by its source files (rest_api.cpp, rest_traffic.cpp,
// rest_incidents.cpp, rest_system.cpp).

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/rest_api.h"

namespace fathom::api {

using nlohmann::json;

/// A request's failure: becomes the error object of docs/api.md.
struct ApiError {
  int status = 400;
  std::string code;
  std::string message;
};

/// JSON or an error.
struct Reply {
  std::optional<ApiError> error;
  json body;
  static Reply fail(int status, std::string code, std::string message) {
    return {ApiError{status, std::move(code), std::move(message)}, {}};
  }
  static Reply bad(std::string message) { return fail(400, "bad_parameter", std::move(message)); }
  static Reply not_found(std::string message) { return fail(404, "not_found", std::move(message)); }
  static Reply ok(json body) { return {std::nullopt, std::move(body)}; }
};

/// A pooled database connection, returned to the pool unless marked broken.
class DbPool;
struct DbLease {
  DbPool* pool = nullptr;
  std::unique_ptr<store::Database> db;
  bool broken = false;
  DbLease() = default;
  DbLease(DbLease&&) = default;
  DbLease& operator=(DbLease&&) = delete;
  ~DbLease();
  store::Database* operator->() { return db.get(); }
};

/// The API's database connections: idle ones are reused; a new one is opened (and migrated)
/// when none is idle. A lease given up after a failed query drops every idle connection too:
/// they most likely lost the same server, and a reused dead connection would fail the next
/// request after the server is back.
class DbPool {
 public:
  DbPool(store::StoreOptions options, size_t max_idle)
      : options_(std::move(options)), max_idle_(max_idle) {}
  /// A connection, or null with `error`.
  DbLease acquire(std::string& error);
  /// Back to the idle list: the lease's queries succeeded.
  void release(std::unique_ptr<store::Database> db);
  /// A lease whose query failed: the connection is closed with every idle one.
  void discard(std::unique_ptr<store::Database> db);

  // Counters (relaxed atomics: read by the metrics from any thread).
  std::atomic<uint64_t> opened{0};
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<uint64_t> failed_queries{0};
  std::atomic<bool> up{false};  ///< the latest access succeeded

 private:
  store::StoreOptions options_;
  size_t max_idle_;
  std::mutex mu_;
  std::vector<std::unique_ptr<store::Database>> idle_;  // guarded by mu_
};

/// The request's query parameters, checked against what the endpoint accepts.
class Params {
 public:
  explicit Params(const HttpRequest& request) : request_(request) {}
  /// An error naming the first parameter not in `allowed` (or given twice).
  std::optional<std::string> unknown(std::initializer_list<std::string_view> allowed) const;
  const std::string* get(std::string_view name) const { return request_.param(name); }

 private:
  const HttpRequest& request_;
};

/// A per-second rate of a counter between two snapshots.
struct RateBase {
  int64_t t_ns = 0;
  uint64_t datagrams = 0;
  uint64_t records = 0;
  uint64_t kernel_drops = 0;
  uint64_t bus_dropped_records = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> exporters;  ///< packets, records
};

/// A heavy hitter merged over minutes: weights and error bounds add.
/// One key of a top list summed over a span's windows: Space-Saving's weight and error, the
/// sampling variance of its own part, and `absent`: the bound on what it weighed in the
/// windows whose list lacks it (each such list's smallest weight).
struct TopItem {
  double bytes = 0.0;
  double error = 0.0;
  double variance = 0.0;
  double present_floor = 0.0;  ///< Σ of the smallest weights of the lists that hold the key
};

/// One top list over a span: its keys, and Σ over its windows of each list's smallest weight
/// (a key absent from a window's list weighed at most that there).
struct TopList {
  std::map<std::string, TopItem> items;
  double floor_total = 0.0;
};

/// Top lists merged over a span: one per list name, and the bytes and seconds behind them.
struct MergedTops {
  std::vector<TopList> lists;
  double total_bytes = 0.0;
  double seconds = 0.0;
  std::string source = "rollups";  ///< or "live"
};

struct RestApi::Impl {
  TokenTable tokens;
  SnapshotProvider snapshot;
  std::shared_ptr<const LiveBoard> live;
  RestApiOptions options;
  Clock clock;
  std::unique_ptr<DbPool> db;
  /// Answers by status, in the order of kCountedStatuses (rest_api.cpp); the last is "other".
  std::array<std::atomic<uint64_t>, 8> responses{};

  std::mutex rate_mu;
  std::optional<RateBase> rate_prev;    // guarded by rate_mu
  std::optional<RateBase> rate_latest;  // guarded by rate_mu

  HttpResponse handle(const HttpRequest& request);
  Reply route(const Principal& who, const HttpRequest& request,
              const std::vector<std::string_view>& parts);

  /// A lease on the store, or the 503 reply.
  std::optional<Reply> lease(DbLease& out);
  /// The snapshot and the rate base to divide its counters against.
  CollectorSnapshot snapshot_with_rates(RateBase& base, int64_t now_ns);
  /// Nothing when the tenant exists (configured, live, or seen by the store); else the 404,
  /// or the 503 when the store does not answer (it might know the tenant).
  std::optional<Reply> unknown_tenant(uint32_t tenant_id, const CollectorSnapshot& snap);

  // rest_system.cpp
  Reply me(const Principal& who, const HttpRequest& request);
  Reply health(const Principal& who, const HttpRequest& request);
  /// `fathom api`'s /health: the store probed now; no collector, analysis or alerting here.
  Reply store_health(const Principal& who);
  Reply tenants(const Principal& who, const HttpRequest& request, std::optional<uint32_t> one);
  Reply exporters(const Principal& who, const HttpRequest& request, std::optional<uint32_t> tenant);
  Reply sampling(const HttpRequest& request, uint32_t tenant);
  // rest_traffic.cpp
  Reply traffic(const HttpRequest& request, uint32_t tenant);
  Reply top(const HttpRequest& request, uint32_t tenant);
  Reply geo(const HttpRequest& request, uint32_t tenant);
  /// The tenant's rollups with from_ns <= minute < to_ns, or the 503 reply.
  std::optional<Reply> stored_rollups(uint32_t tenant, int64_t from_ns, int64_t to_ns,
                                      std::vector<store::Rollup>& out);
  /// `from`, `to` (default the last 5 minutes) and `limit` of a top-list request, and the
  /// lists `names` merged over the stored minutes of that span (the latest live window when
  /// none is stored yet); an error reply otherwise.
  std::optional<Reply> merged_tops(const Params& params, uint32_t tenant,
                                   const std::vector<std::string>& names, uint64_t max_limit,
                                   uint64_t default_limit, int64_t& from, int64_t& to,
                                   uint64_t& limit, MergedTops& out);
  // rest_incidents.cpp
  Reply incidents(const Principal& who, const HttpRequest& request, std::optional<uint32_t> tenant);
  Reply incident(const HttpRequest& request, uint32_t tenant, std::string_view id);
};

/// "postgresql" or "sqlite": the back end store::open_database picks for `url`.
inline std::string store_backend(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://") ? "postgresql"
                                                                            : "sqlite";
}
/// {"value", "ci_low", "ci_high"}.
json estimate_json(double value, double ci_low, double ci_high);
/// Nanoseconds to the API's milliseconds (0 stays 0).
inline int64_t to_ms(int64_t ns) noexcept {
  return ns / 1'000'000;
}
/// The parameter `name` as a time (docs/api.md), `fallback` when absent; an error otherwise.
std::optional<std::string> time_param(const Params& params, std::string_view name, int64_t now_ns,
                                      int64_t fallback, int64_t& out);
/// The parameter `name` as an integer in [min, max], `fallback` when absent.
std::optional<std::string> uint_param(const Params& params, std::string_view name, uint64_t min,
                                      uint64_t max, uint64_t fallback, uint64_t& out);

}  // namespace fathom::api
