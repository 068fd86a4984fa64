#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "detect/incident.h"

namespace fathom::store {

inline constexpr int64_t kNsPerDay = 86'400'000'000'000;

/// How to reach the database and what to keep (docs/storage.md).
struct StoreOptions {
  /// "sqlite:PATH" or a bare PATH: an SQLite file (created, WAL mode). "postgresql://..." or
  /// "postgres://...": a PostgreSQL server through libpq (any libpq URI parameter works).
  std::string url;
  /// `prune` deletes rollups whose minute is older than this.
  int64_t rollup_retention_ns = 30 * kNsPerDay;
  /// `prune` deletes closed incidents (and their updates) that ended longer ago than this.
  int64_t incident_retention_ns = 365 * kNsPerDay;
  /// SQLite only: `prune` deletes the oldest rollups, then the oldest closed incidents, until
  /// the live data fits in this many bytes. 0 = no limit.
  uint64_t max_database_bytes = 0;
  /// SQLite: how long a statement waits for another connection's lock before failing
  /// (retryable).
  int busy_timeout_ms = 5'000;
  /// PostgreSQL: connect (and reconnect) gives up after this long (libpq connect_timeout,
  /// whole seconds, at least 1), so a dead server is an error, not a hang.
  int connect_timeout_s = 5;
};

/// Outcome of a fallible call. Never thrown.
struct StoreStatus {
  bool ok = true;
  /// Only when !ok. True when the same call may succeed later (connection lost, server down,
  /// database busy or locked, disk full): a writer keeps the batch and retries. False for a
  /// bug or bad data (constraint violation, bad SQL, schema newer than this build).
  bool retryable = false;
  std::string error;  ///< what failed, with the back end's own message

  static StoreStatus success() { return {}; }
  static StoreStatus failure(std::string error, bool retryable) {
    return {false, retryable, std::move(error)};
  }
};

/// A value or the reason there is none; read with structured bindings
/// (`auto [status, rows] = db.incidents(q);`).
template <class T>
struct StoreResult {
  StoreStatus status;
  T value{};
};

/// One incident row as stored: the incident as of its highest version seen, or (in
/// `incident_updates`) as of one version. `json` is detect::incident_json of the event.
struct IncidentRecord {
  std::string id;
  uint32_t version = 0;
  std::string event;  ///< "open", "update", "close": the event of this version
  uint32_t tenant_id = 0;
  std::string detection;  ///< detect::to_string(DetectionType)
  std::string detail;
  std::string subject;  ///< address text
  std::string state;    ///< "open", "closed"
  double severity = 0.0;
  double peak_severity = 0.0;
  int64_t start_ns = 0;
  int64_t last_seen_ns = 0;
  int64_t end_ns = 0;  ///< 0 while open
  int64_t detected_ns = 0;
  uint64_t detections = 0;
  std::string summary;
  std::string json;

  friend bool operator==(const IncidentRecord&, const IncidentRecord&) = default;
};

/// The stored form of one incident event (renders its JSON).
IncidentRecord to_record(const detect::IncidentEvent& event);

/// One row of an incident's history: the incident as of one version.
struct IncidentUpdate {
  std::string id;
  uint32_t version = 0;
  std::string event;  ///< "open", "update", "close"
  uint32_t tenant_id = 0;
  std::string state;
  double severity = 0.0;
  int64_t last_seen_ns = 0;
  std::string json;
  friend bool operator==(const IncidentUpdate&, const IncidentUpdate&) = default;
};

/// An estimate with its interval.
struct Estimate {
  double value = 0.0;
  double ci_low = 0.0;
  double ci_high = 0.0;
  friend bool operator==(const Estimate&, const Estimate&) = default;
};

/// One tenant's traffic in one minute. Keyed by (tenant_id, minute_ns); a second write of the
/// same key replaces the row.
struct Rollup {
  uint32_t tenant_id = 0;
  int64_t minute_ns = 0;  ///< start of the minute (a multiple of 60 s)
  Estimate packets;
  Estimate bytes;
  Estimate flows;
  /// JSON object text: by direction, protocol, top talkers (opaque to the store).
  std::string detail_json = "{}";
  friend bool operator==(const Rollup&, const Rollup&) = default;
};

/// A tenant as seen. Upserts keep the earliest first_seen, the latest last_seen, and the name
/// when the new one is empty.
struct TenantRecord {
  uint32_t tenant_id = 0;
  std::string name;
  int64_t first_seen_ns = 0;
  int64_t last_seen_ns = 0;
  friend bool operator==(const TenantRecord&, const TenantRecord&) = default;
};

/// An exporter as seen, keyed by address. Counters are the sender's running totals: an
/// upsert takes them (and tenant, protocol) from the row with the later last_seen_ns, so a
/// replay of an older row changes nothing.
struct ExporterRecord {
  std::string address;
  uint32_t tenant_id = 0;
  std::string protocol;  ///< "netflow_v5", "ipfix", ...
  int64_t first_seen_ns = 0;
  int64_t last_seen_ns = 0;
  uint64_t packets = 0;
  uint64_t records = 0;
  uint64_t malformed = 0;
  friend bool operator==(const ExporterRecord&, const ExporterRecord&) = default;
};

/// One tenant state blob (model file, normalisation stats, checkpoint). Binary-safe. A put
/// replaces the blob unless the stored one has a later updated_ns.
struct StateEntry {
  uint32_t tenant_id = 0;
  std::string key;
  std::string value;  ///< raw bytes, NULs allowed
  int64_t updated_ns = 0;
  friend bool operator==(const StateEntry&, const StateEntry&) = default;
};

/// One raw sampled flow kept as an incident's evidence (AnalysisEngine::capture): the flow as a
/// JSON object (the `--flows` JSON-lines format), under the tenant and the subject it was kept
/// for. Rows are unique by (tenant, subject, time, content), so a replay adds no duplicate.
struct SampledFlow {
  uint32_t tenant_id = 0;
  std::string subject;  ///< the incident's subject address, as text
  int64_t time_ns = 0;  ///< the flow's arrival time
  std::string json;
  friend bool operator==(const SampledFlow&, const SampledFlow&) = default;
};

/// Everything one transaction writes: the unit of the writer's batches and of its spool.
struct WriteBatch {
  std::vector<IncidentRecord> incidents;  ///< applied in order (see Database::write)
  std::vector<Rollup> rollups;
  std::vector<TenantRecord> tenants;
  std::vector<ExporterRecord> exporters;
  std::vector<StateEntry> state;
  std::vector<SampledFlow> flows;

  size_t size() const noexcept {
    return incidents.size() + rollups.size() + tenants.size() + exporters.size() + state.size() +
           flows.size();
  }
  bool empty() const noexcept { return size() == 0; }
  friend bool operator==(const WriteBatch&, const WriteBatch&) = default;
};

/// Filter of `Database::incidents`. Times select incidents overlapping [since, until).
struct IncidentQuery {
  std::optional<uint32_t> tenant_id;
  std::optional<detect::IncidentState> state;
  std::optional<std::string> detection;  ///< detect::to_string(DetectionType)
  double min_severity = 0.0;             ///< severity >= this (0: any)
  std::optional<std::string> id;         ///< one incident
  int64_t since_ns = 0;                  ///< last_seen_ns >= since_ns
  int64_t until_ns = INT64_MAX;          ///< start_ns < until_ns
  uint32_t limit = 100;                  ///< rows at most (newest start first)
  uint32_t offset = 0;
};

/// What `prune` removed.
struct PruneResult {
  uint64_t rollups = 0;
  uint64_t incidents = 0;
  uint64_t incident_updates = 0;
  uint64_t flows = 0;             ///< sampled flows older than the incident retention
  uint64_t live_bytes_after = 0;  ///< SQLite: pages in use × page size; 0 for PostgreSQL
};

/// The store: one schema behind two back ends. Not thread-safe: one thread uses a Database
/// at a time (the StoreWriter's thread, or an API reader with its own Database). Every call
/// returns a status instead of throwing; a lost PostgreSQL connection fails the call
/// (retryable) and is re-established on the next call.
class Database {
 public:
  virtual ~Database() = default;

  /// "sqlite" or "postgresql".
  virtual std::string_view backend() const noexcept = 0;

  /// Applies every migration newer than the schema version, in order, in one transaction
  /// (open_database does this). Idempotent. Fails (not retryable) when the database's schema
  /// is newer than this build knows.
  virtual StoreStatus migrate() = 0;
  /// Highest applied migration (0 for an empty database).
  virtual StoreResult<int> schema_version() = 0;

  /// Writes all of `batch` in one transaction, or nothing (on failure). Incidents: the row of
  /// an id is replaced only by a higher version (a replay or an older version changes
  /// nothing, never duplicates), and each (id, version) adds one incident_updates row at
  /// most. Rollups replace by (tenant, minute); tenants, exporters and state merge as their
  /// records say.
  virtual StoreStatus write(const WriteBatch& batch) = 0;

  /// `write` of just these (one transaction).
  StoreStatus write_incident_events(std::span<const detect::IncidentEvent> events);
  StoreStatus write_rollups(std::span<const Rollup> rollups);
  StoreStatus upsert_tenants(std::span<const TenantRecord> tenants);
  StoreStatus upsert_exporters(std::span<const ExporterRecord> exporters);
  StoreStatus put_state(uint32_t tenant_id, std::string_view key, std::string_view value,
                        int64_t updated_ns);

  /// The blob under (tenant, key); nullopt when absent.
  virtual StoreResult<std::optional<std::string>> get_state(uint32_t tenant_id,
                                                            std::string_view key) = 0;
  /// Every blob of a tenant, by key.
  virtual StoreResult<std::vector<StateEntry>> list_state(uint32_t tenant_id) = 0;

  /// Incidents matching `query`, newest start first (then id).
  virtual StoreResult<std::vector<IncidentRecord>> incidents(const IncidentQuery& query) = 0;
  /// How many incidents match `query` (its limit and offset ignored).
  virtual StoreResult<uint64_t> count_incidents(const IncidentQuery& query) = 0;
  /// One incident's history, by version.
  virtual StoreResult<std::vector<IncidentUpdate>> incident_updates(std::string_view id) = 0;
  /// The tenant's sampled flows kept for `subject` with from_ns <= time_ns < to_ns, oldest
  /// first, at most `limit`.
  virtual StoreResult<std::vector<SampledFlow>> sampled_flows(uint32_t tenant_id,
                                                              std::string_view subject,
                                                              int64_t from_ns, int64_t to_ns,
                                                              uint32_t limit) = 0;
  /// A tenant's rollups with from_ns <= minute_ns < to_ns, by minute.
  virtual StoreResult<std::vector<Rollup>> rollups(uint32_t tenant_id, int64_t from_ns,
                                                   int64_t to_ns) = 0;
  /// Every tenant, by id.
  virtual StoreResult<std::vector<TenantRecord>> tenants() = 0;
  /// Every exporter, by address.
  virtual StoreResult<std::vector<ExporterRecord>> exporters() = 0;

  /// Deletes what is past retention at `now_ns` and (SQLite) what exceeds
  /// max_database_bytes, oldest first. Freed SQLite pages are reused; `vacuum` returns them.
  virtual StoreResult<PruneResult> prune(int64_t now_ns) = 0;
  /// Returns free space to the file system (SQLite VACUUM; PostgreSQL VACUUM ANALYZE).
  virtual StoreStatus vacuum() = 0;
  /// Writes every row of every table as one JSON object per line:
  /// {"table":"incidents","row":{"id":"...",...}}; blobs as hex strings. Returns rows written.
  virtual StoreResult<uint64_t> export_jsonl(std::ostream& out) = 0;
};

/// Opens the database `options.url` names and migrates it. Null with `error` set when the
/// URL is malformed, the file cannot be created (missing or unwritable directory, full disk),
/// the server cannot be reached within connect_timeout_s, or a migration fails.
std::unique_ptr<Database> open_database(const StoreOptions& options, std::string& error);

}  // namespace fathom::store
