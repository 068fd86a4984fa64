#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/auth.h"
#include "api/collector_metrics.h"
#include "api/http_server.h"
#include "api/live_board.h"
#include "api/metrics_text.h"
#include "store/store.h"

namespace fathom::api {

/// What the REST API serves from, besides the live snapshot.
struct RestApiOptions {
  std::string version = "0.1.0";
  /// The store the API reads incidents, rollups, tenants and exporters from; without it those
  /// endpoints answer 503 (docs/api.md).
  bool store_enabled = false;
  store::StoreOptions store;
  /// Database connections kept open for readers (one per concurrent request at most).
  size_t max_idle_connections = 4;
  /// Dashboard assets from this directory instead of the copy built into the binary (for
  /// working on the dashboard without rebuilding). Empty: the built-in copy.
  std::string web_root;
  /// Length of the LiveBoard's windows (the first analysis level's window).
  int64_t live_window_ns = 10'000'000'000;
  /// analyze.incidents.flow_seconds: an incident's flows are those kept up to this long after
  /// it ended.
  int64_t incident_flow_ns = 60'000'000'000;
  /// `fathom api`: no collector or analysis runs in this process (the snapshot holds only the
  /// configured tenants and the start time), so everything is read from the store: no live
  /// windows, no sampler, and a store that does not answer is a 503 wherever `fathom run`
  /// would serve the live part alone (docs/api.md "fathom api").
  bool store_only = false;
};

/// What a RestApi counted since it was made, copied out (api metrics, docs/metrics.md).
struct RestApiStats {
  /// Answers by HTTP status, ascending; statuses other than those the API gives are under 0.
  std::vector<std::pair<int, uint64_t>> responses;
  uint64_t store_connections_opened = 0;  ///< database connections opened (and migrated)
  uint64_t store_connect_failures = 0;    ///< connections that could not be opened
  uint64_t store_failed_queries = 0;      ///< leases given up after a failed query
  /// The latest store access: true when it succeeded; false before the first one.
  bool store_up = false;
  std::string backend;  ///< "sqlite", "postgresql"; empty when the store is disabled
};

/// Appends the API's families (`fathom_api_*`) to `out`.
void append_api_metrics(const RestApiStats& stats, MetricsText& out);

/// The REST API of docs/api.md and the dashboard's static files, as one request handler for
/// an `HttpServer`. It reads the collector's snapshot (through `snapshot`), the LiveBoard and
/// the store, never the stages' internals. Thread-safe: requests may be handled on several
/// threads at once (each uses its own database connection).
class RestApi {
 public:
  using SnapshotProvider = std::function<CollectorSnapshot()>;
  using Clock = std::function<int64_t()>;  ///< wall clock, ns since the epoch

  RestApi(TokenTable tokens, SnapshotProvider snapshot, std::shared_ptr<const LiveBoard> live,
          RestApiOptions options, Clock clock = {});
  ~RestApi();
  RestApi(const RestApi&) = delete;
  RestApi& operator=(const RestApi&) = delete;

  /// Answers one request: `/api/v1/...` as JSON (401 without a known token, 404 for another
  /// tenant's data, 400 for a bad parameter, 503 when the store does not answer), anything
  /// else from the dashboard's files. Never throws.
  HttpResponse handle(const HttpRequest& request);

  /// Whether the store answers now: a pooled (or new) connection runs a trivial query. False
  /// with `error` when the store is disabled or does not answer. Thread-safe.
  bool probe_store(std::string& error);
  /// The counters so far. Thread-safe.
  RestApiStats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace fathom::api
