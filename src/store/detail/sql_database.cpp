// The Database both back ends share: every statement is written once, in the SQL subset
// SQLite (3.35+) and PostgreSQL (12+) both speak: $N parameters, INSERT ... ON CONFLICT ...
// DO UPDATE ... WHERE, CASE instead of MIN/LEAST.

#include <chrono>
#include <ostream>

#include "flow/json_text.h"
#include "store/detail/connection.h"

namespace fathom::store::detail {
namespace {

using P = Param;

constexpr std::string_view kCreateMigrations =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
    "description TEXT NOT NULL, applied_ns BIGINT NOT NULL)";

constexpr std::string_view kUpsertIncident =
    "INSERT INTO incidents (id, version, last_event, tenant_id, detection, detail, subject, "
    "state, severity, peak_severity, start_ns, last_seen_ns, end_ns, detected_ns, detections, "
    "summary, json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
    "$16, $17) ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
    "last_event = excluded.last_event, tenant_id = excluded.tenant_id, "
    "detection = excluded.detection, detail = excluded.detail, subject = excluded.subject, "
    "state = excluded.state, severity = excluded.severity, "
    "peak_severity = excluded.peak_severity, start_ns = excluded.start_ns, "
    "last_seen_ns = excluded.last_seen_ns, end_ns = excluded.end_ns, "
    "detected_ns = excluded.detected_ns, detections = excluded.detections, "
    "summary = excluded.summary, json = excluded.json "
    "WHERE excluded.version > incidents.version";

constexpr std::string_view kInsertUpdate =
    "INSERT INTO incident_updates (id, version, event, tenant_id, state, severity, "
    "last_seen_ns, json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
    "ON CONFLICT (id, version) DO NOTHING";

constexpr std::string_view kUpsertRollup =
    "INSERT INTO rollups (tenant_id, minute_ns, packets, packets_ci_low, packets_ci_high, "
    "bytes, bytes_ci_low, bytes_ci_high, flows, flows_ci_low, flows_ci_high, detail_json) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
    "ON CONFLICT (tenant_id, minute_ns) DO UPDATE SET packets = excluded.packets, "
    "packets_ci_low = excluded.packets_ci_low, packets_ci_high = excluded.packets_ci_high, "
    "bytes = excluded.bytes, bytes_ci_low = excluded.bytes_ci_low, "
    "bytes_ci_high = excluded.bytes_ci_high, flows = excluded.flows, "
    "flows_ci_low = excluded.flows_ci_low, flows_ci_high = excluded.flows_ci_high, "
    "detail_json = excluded.detail_json";

constexpr std::string_view kUpsertTenant =
    "INSERT INTO tenants (tenant_id, name, first_seen_ns, last_seen_ns) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (tenant_id) DO UPDATE SET "
    "name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE tenants.name END, "
    "first_seen_ns = CASE WHEN excluded.first_seen_ns < tenants.first_seen_ns "
    "THEN excluded.first_seen_ns ELSE tenants.first_seen_ns END, "
    "last_seen_ns = CASE WHEN excluded.last_seen_ns > tenants.last_seen_ns "
    "THEN excluded.last_seen_ns ELSE tenants.last_seen_ns END";

#define FATHOM_STORE_NEWER_EXPORTER(col)                                                  \
#col " = CASE WHEN excluded.last_seen_ns >= exporters.last_seen_ns THEN excluded." #col \
       " ELSE exporters." #col " END"
constexpr std::string_view kUpsertExporter =
    "INSERT INTO exporters (address, tenant_id, protocol, first_seen_ns, last_seen_ns, packets, "
    "records, malformed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
    "ON CONFLICT (address) DO UPDATE SET "
    "first_seen_ns = CASE WHEN excluded.first_seen_ns < exporters.first_seen_ns "
    "THEN excluded.first_seen_ns ELSE exporters.first_seen_ns END, "
    // The counters, tenant and protocol of the later sighting; last_seen_ns last (the CASEs
    // read the old row's value either way, but it reads better).
    FATHOM_STORE_NEWER_EXPORTER(tenant_id) ", " FATHOM_STORE_NEWER_EXPORTER(protocol) ", "
    FATHOM_STORE_NEWER_EXPORTER(packets) ", " FATHOM_STORE_NEWER_EXPORTER(records) ", "
    FATHOM_STORE_NEWER_EXPORTER(malformed) ", " FATHOM_STORE_NEWER_EXPORTER(last_seen_ns);
#undef FATHOM_STORE_NEWER_EXPORTER

constexpr std::string_view kInsertFlow =
    "INSERT INTO incident_flows (tenant_id, subject, time_ns, digest, json) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, subject, time_ns, digest) DO NOTHING";

/// FNV-1a, 64 bits, as a signed column value: tells two flows of one subject and time apart.
int64_t flow_digest(std::string_view json) {
  uint64_t h = 1469598103934665603ull;
  for (const char c : json) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return static_cast<int64_t>(h);
}

constexpr std::string_view kUpsertState =
    "INSERT INTO tenant_state (tenant_id, key, value, updated_ns) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (tenant_id, key) DO UPDATE SET value = excluded.value, "
    "updated_ns = excluded.updated_ns WHERE excluded.updated_ns >= tenant_state.updated_ns";

constexpr std::string_view kIncidentColumns =
    "id, version, last_event, tenant_id, detection, detail, subject, state, severity, "
    "peak_severity, start_ns, last_seen_ns, end_ns, detected_ns, detections, summary, json";

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

IncidentRecord incident_of(const std::vector<Cell>& r) {
  IncidentRecord rec;
  rec.id = r[0].s;
  rec.version = static_cast<uint32_t>(r[1].as_int());
  rec.event = r[2].s;
  rec.tenant_id = static_cast<uint32_t>(r[3].as_int());
  rec.detection = r[4].s;
  rec.detail = r[5].s;
  rec.subject = r[6].s;
  rec.state = r[7].s;
  rec.severity = r[8].as_real();
  rec.peak_severity = r[9].as_real();
  rec.start_ns = r[10].as_int();
  rec.last_seen_ns = r[11].as_int();
  rec.end_ns = r[12].as_int();
  rec.detected_ns = r[13].as_int();
  rec.detections = static_cast<uint64_t>(r[14].as_int());
  rec.summary = r[15].s;
  rec.json = r[16].s;
  return rec;
}

void append_hex(std::string_view bytes, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out += kHex[u >> 4];
    out += kHex[u & 15];
  }
}

class SqlDatabase final : public Database {
 public:
  SqlDatabase(std::unique_ptr<Connection> connection, const StoreOptions& options)
      : conn_(std::move(connection)), options_(options) {}

  std::string_view backend() const noexcept override { return conn_->backend(); }

  StoreStatus migrate() override {
    if (StoreStatus s = conn_->ensure_connected(); !s.ok) return s;
    if (StoreStatus s = conn_->exec_script(kCreateMigrations); !s.ok) return s;
    return in_transaction([&]() -> StoreStatus {
      if (conn_->backend() == "postgresql") {
        // Two processes opening a fresh database at once: the second waits, then sees the
        // first one's versions and applies nothing.
        if (StoreStatus s = conn_->exec_script("LOCK TABLE schema_migrations IN EXCLUSIVE MODE");
            !s.ok) {
          return s;
        }
      }
      auto [status, current] = read_version();
      if (!status.ok) return status;
      const int latest = migrations().back().version;
      if (current > latest) {
        return StoreStatus::failure("store: database schema version " + std::to_string(current) +
                                        " is newer than this build's " + std::to_string(latest) +
                                        " (upgrade fathom)",
                                    false);
      }
      for (const Migration& m : migrations()) {
        if (m.version <= current) continue;
        std::string sql(m.sql);
        for (size_t at; (at = sql.find("{BLOB}")) != std::string::npos;) {
          sql.replace(at, 6, conn_->blob_type());
        }
        if (StoreStatus s = conn_->exec_script(sql); !s.ok) {
          s.error = "store: migration " + std::to_string(m.version) + ": " + s.error;
          return s;
        }
        const Param params[] = {P::integer(m.version), P::text(m.description),
                                P::integer(now_ns())};
        if (StoreStatus s =
                conn_->run("INSERT INTO schema_migrations (version, description, applied_ns) "
                           "VALUES ($1, $2, $3)",
                           params, nullptr);
            !s.ok) {
          return s;
        }
      }
      return StoreStatus::success();
    });
  }

  StoreResult<int> schema_version() override {
    if (StoreStatus s = conn_->ensure_connected(); !s.ok) return {s};
    return read_version();
  }

  StoreStatus write(const WriteBatch& batch) override {
    if (batch.empty()) return StoreStatus::success();
    return in_transaction([&]() -> StoreStatus {
      // Every statement of the batch sent at once (PostgreSQL's pipeline), answers read at
      // the end: the first failure wins either way.
      if (StoreStatus s = conn_->begin_batch(); !s.ok) return s;
      StoreStatus sent = send(batch);
      StoreStatus answered = conn_->end_batch();
      return sent.ok ? answered : sent;
    });
  }

  /// The statements of one write batch (inside its transaction).
  StoreStatus send(const WriteBatch& batch) {
    for (const IncidentRecord& r : batch.incidents) {
      const Param row[] = {P::text(r.id),
                           P::integer(r.version),
                           P::text(r.event),
                           P::integer(r.tenant_id),
                           P::text(r.detection),
                           P::text(r.detail),
                           P::text(r.subject),
                           P::text(r.state),
                           P::real(r.severity),
                           P::real(r.peak_severity),
                           P::integer(r.start_ns),
                           P::integer(r.last_seen_ns),
                           P::integer(r.end_ns),
                           P::integer(r.detected_ns),
                           P::integer(static_cast<int64_t>(r.detections)),
                           P::text(r.summary),
                           P::text(r.json)};
      if (StoreStatus s = conn_->run(kUpsertIncident, row, nullptr); !s.ok) return s;
      const Param update[] = {P::text(r.id),
                              P::integer(r.version),
                              P::text(r.event),
                              P::integer(r.tenant_id),
                              P::text(r.state),
                              P::real(r.severity),
                              P::integer(r.last_seen_ns),
                              P::text(r.json)};
      if (StoreStatus s = conn_->run(kInsertUpdate, update, nullptr); !s.ok) return s;
    }
    for (const Rollup& r : batch.rollups) {
      const Param row[] = {
          P::integer(r.tenant_id),   P::integer(r.minute_ns),    P::real(r.packets.value),
          P::real(r.packets.ci_low), P::real(r.packets.ci_high), P::real(r.bytes.value),
          P::real(r.bytes.ci_low),   P::real(r.bytes.ci_high),   P::real(r.flows.value),
          P::real(r.flows.ci_low),   P::real(r.flows.ci_high),   P::text(r.detail_json)};
      if (StoreStatus s = conn_->run(kUpsertRollup, row, nullptr); !s.ok) return s;
    }
    for (const TenantRecord& t : batch.tenants) {
      const Param row[] = {P::integer(t.tenant_id), P::text(t.name), P::integer(t.first_seen_ns),
                           P::integer(t.last_seen_ns)};
      if (StoreStatus s = conn_->run(kUpsertTenant, row, nullptr); !s.ok) return s;
    }
    for (const ExporterRecord& e : batch.exporters) {
      const Param row[] = {P::text(e.address),
                           P::integer(e.tenant_id),
                           P::text(e.protocol),
                           P::integer(e.first_seen_ns),
                           P::integer(e.last_seen_ns),
                           P::integer(static_cast<int64_t>(e.packets)),
                           P::integer(static_cast<int64_t>(e.records)),
                           P::integer(static_cast<int64_t>(e.malformed))};
      if (StoreStatus s = conn_->run(kUpsertExporter, row, nullptr); !s.ok) return s;
    }
    for (const StateEntry& e : batch.state) {
      const Param row[] = {P::integer(e.tenant_id), P::text(e.key), P::blob(e.value),
                           P::integer(e.updated_ns)};
      if (StoreStatus s = conn_->run(kUpsertState, row, nullptr); !s.ok) return s;
    }
    for (const SampledFlow& f : batch.flows) {
      const Param row[] = {P::integer(f.tenant_id), P::text(f.subject), P::integer(f.time_ns),
                           P::integer(flow_digest(f.json)), P::text(f.json)};
      if (StoreStatus s = conn_->run(kInsertFlow, row, nullptr); !s.ok) return s;
    }
    return StoreStatus::success();
  }

  StoreResult<std::optional<std::string>> get_state(uint32_t tenant_id,
                                                    std::string_view key) override {
    const Param params[] = {P::integer(tenant_id), P::text(key)};
    Rows rows;
    if (StoreStatus s =
            read("SELECT value FROM tenant_state WHERE tenant_id = $1 AND key = $2", params, rows);
        !s.ok) {
      return {s};
    }
    if (rows.rows.empty()) return {StoreStatus::success(), std::nullopt};
    return {StoreStatus::success(), std::move(rows.rows[0][0].s)};
  }

  StoreResult<std::vector<SampledFlow>> sampled_flows(uint32_t tenant_id, std::string_view subject,
                                                      int64_t from_ns, int64_t to_ns,
                                                      uint32_t limit) override {
    const Param params[] = {P::integer(tenant_id), P::text(subject), P::integer(from_ns),
                            P::integer(to_ns), P::integer(limit)};
    Rows rows;
    if (StoreStatus s = read("SELECT tenant_id, subject, time_ns, json FROM incident_flows "
                             "WHERE tenant_id = $1 AND subject = $2 AND time_ns >= $3 AND "
                             "time_ns < $4 ORDER BY time_ns, digest LIMIT $5",
                             params, rows);
        !s.ok) {
      return {s};
    }
    std::vector<SampledFlow> out;
    out.reserve(rows.rows.size());
    for (auto& r : rows.rows) {
      out.push_back({static_cast<uint32_t>(r[0].as_int()), std::move(r[1].s), r[2].as_int(),
                     std::move(r[3].s)});
    }
    return {StoreStatus::success(), std::move(out)};
  }

  StoreResult<std::vector<StateEntry>> list_state(uint32_t tenant_id) override {
    const Param params[] = {P::integer(tenant_id)};
    Rows rows;
    if (StoreStatus s = read("SELECT tenant_id, key, value, updated_ns FROM tenant_state "
                             "WHERE tenant_id = $1 ORDER BY key",
                             params, rows);
        !s.ok) {
      return {s};
    }
    std::vector<StateEntry> out;
    out.reserve(rows.rows.size());
    for (auto& r : rows.rows) {
      out.push_back({static_cast<uint32_t>(r[0].as_int()), std::move(r[1].s), std::move(r[2].s),
                     r[3].as_int()});
    }
    return {StoreStatus::success(), std::move(out)};
  }

  /// The WHERE clause of `q` (without paging) and its parameters. Every value is a bound
  /// parameter: nothing from the query reaches the SQL text.
  static std::string incident_filter(const IncidentQuery& q, std::vector<Param>& params) {
    std::string sql = " WHERE last_seen_ns >= $1 AND start_ns < $2";
    params = {P::integer(q.since_ns), P::integer(q.until_ns)};
    if (q.tenant_id) {
      params.push_back(P::integer(*q.tenant_id));
      sql += " AND tenant_id = $" + std::to_string(params.size());
    }
    if (q.state) {
      params.push_back(P::text(detect::to_string(*q.state)));
      sql += " AND state = $" + std::to_string(params.size());
    }
    if (q.detection) {
      params.push_back(P::text(*q.detection));
      sql += " AND detection = $" + std::to_string(params.size());
    }
    if (q.min_severity > 0.0) {
      params.push_back(P::real(q.min_severity));
      sql += " AND severity >= $" + std::to_string(params.size());
    }
    if (q.id) {
      params.push_back(P::text(*q.id));
      sql += " AND id = $" + std::to_string(params.size());
    }
    return sql;
  }

  StoreResult<std::vector<IncidentRecord>> incidents(const IncidentQuery& q) override {
    std::vector<Param> params;
    std::string sql =
        "SELECT " + std::string(kIncidentColumns) + " FROM incidents" + incident_filter(q, params);
    params.push_back(P::integer(q.limit));
    sql += " ORDER BY start_ns DESC, id LIMIT $" + std::to_string(params.size());
    params.push_back(P::integer(q.offset));
    sql += " OFFSET $" + std::to_string(params.size());
    Rows rows;
    if (StoreStatus s = read(sql, params, rows); !s.ok) return {s};
    std::vector<IncidentRecord> out;
    out.reserve(rows.rows.size());
    for (const auto& r : rows.rows) out.push_back(incident_of(r));
    return {StoreStatus::success(), std::move(out)};
  }

  StoreResult<uint64_t> count_incidents(const IncidentQuery& q) override {
    std::vector<Param> params;
    const std::string sql = "SELECT COUNT(*) FROM incidents" + incident_filter(q, params);
    Rows rows;
    if (StoreStatus s = read(sql, params, rows); !s.ok) return {s};
    if (rows.rows.empty() || rows.rows[0].empty()) return {StoreStatus::success(), 0};
    return {StoreStatus::success(), static_cast<uint64_t>(rows.rows[0][0].as_int())};
  }

  StoreResult<std::vector<IncidentUpdate>> incident_updates(std::string_view id) override {
    const Param params[] = {P::text(id)};
    Rows rows;
    if (StoreStatus s = read("SELECT id, version, event, tenant_id, state, severity, "
                             "last_seen_ns, json FROM incident_updates WHERE id = $1 "
                             "ORDER BY version",
                             params, rows);
        !s.ok) {
      return {s};
    }
    std::vector<IncidentUpdate> out;
    out.reserve(rows.rows.size());
    for (auto& r : rows.rows) {
      out.push_back({std::move(r[0].s), static_cast<uint32_t>(r[1].as_int()), std::move(r[2].s),
                     static_cast<uint32_t>(r[3].as_int()), std::move(r[4].s), r[5].as_real(),
                     r[6].as_int(), std::move(r[7].s)});
    }
    return {StoreStatus::success(), std::move(out)};
  }

  StoreResult<std::vector<Rollup>> rollups(uint32_t tenant_id, int64_t from_ns,
                                           int64_t to_ns) override {
    const Param params[] = {P::integer(tenant_id), P::integer(from_ns), P::integer(to_ns)};
    Rows rows;
    if (StoreStatus s = read("SELECT tenant_id, minute_ns, packets, packets_ci_low, "
                             "packets_ci_high, bytes, bytes_ci_low, bytes_ci_high, flows, "
                             "flows_ci_low, flows_ci_high, detail_json FROM rollups "
                             "WHERE tenant_id = $1 AND minute_ns >= $2 AND minute_ns < $3 "
                             "ORDER BY minute_ns",
                             params, rows);
        !s.ok) {
      return {s};
    }
    std::vector<Rollup> out;
    out.reserve(rows.rows.size());
    for (auto& r : rows.rows) {
      Rollup x;
      x.tenant_id = static_cast<uint32_t>(r[0].as_int());
      x.minute_ns = r[1].as_int();
      x.packets = {r[2].as_real(), r[3].as_real(), r[4].as_real()};
      x.bytes = {r[5].as_real(), r[6].as_real(), r[7].as_real()};
      x.flows = {r[8].as_real(), r[9].as_real(), r[10].as_real()};
      x.detail_json = std::move(r[11].s);
      out.push_back(std::move(x));
    }
    return {StoreStatus::success(), std::move(out)};
  }

  StoreResult<std::vector<TenantRecord>> tenants() override {
    Rows rows;
    if (StoreStatus s = read("SELECT tenant_id, name, first_seen_ns, last_seen_ns FROM tenants "
                             "ORDER BY tenant_id",
                             {}, rows);
        !s.ok) {
      return {s};
    }
    std::vector<TenantRecord> out;
    for (auto& r : rows.rows) {
      out.push_back(
          {static_cast<uint32_t>(r[0].as_int()), std::move(r[1].s), r[2].as_int(), r[3].as_int()});
    }
    return {StoreStatus::success(), std::move(out)};
  }

  StoreResult<std::vector<ExporterRecord>> exporters() override {
    Rows rows;
    if (StoreStatus s = read("SELECT address, tenant_id, protocol, first_seen_ns, last_seen_ns, "
                             "packets, records, malformed FROM exporters ORDER BY address",
                             {}, rows);
        !s.ok) {
      return {s};
    }
    std::vector<ExporterRecord> out;
    for (auto& r : rows.rows) {
      out.push_back({std::move(r[0].s), static_cast<uint32_t>(r[1].as_int()), std::move(r[2].s),
                     r[3].as_int(), r[4].as_int(), static_cast<uint64_t>(r[5].as_int()),
                     static_cast<uint64_t>(r[6].as_int()), static_cast<uint64_t>(r[7].as_int())});
    }
    return {StoreStatus::success(), std::move(out)};
  }

  StoreResult<PruneResult> prune(int64_t now_ns) override {
    PruneResult result;
    StoreStatus status = in_transaction([&]() -> StoreStatus {
      const Param rollup_cut[] = {P::integer(now_ns - options_.rollup_retention_ns)};
      Rows rows;
      if (StoreStatus s = conn_->run("DELETE FROM rollups WHERE minute_ns < $1", rollup_cut, &rows);
          !s.ok) {
        return s;
      }
      result.rollups += static_cast<uint64_t>(rows.changed);
      const Param incident_cut[] = {P::integer(now_ns - options_.incident_retention_ns)};
      return delete_closed_incidents_before(incident_cut[0], result);
    });
    if (!status.ok) return {status};
    if (options_.max_database_bytes > 0) {
      if (StoreStatus s = prune_to_size(result); !s.ok) return {s, result};
    }
    auto [s, live] = conn_->live_bytes();
    if (!s.ok) return {s, result};
    result.live_bytes_after = live;
    return {StoreStatus::success(), result};
  }

  StoreStatus vacuum() override {
    if (StoreStatus s = conn_->ensure_connected(); !s.ok) return s;
    if (conn_->backend() == "sqlite") {
      if (StoreStatus s = conn_->exec_script("VACUUM"); !s.ok) return s;
      return conn_->exec_script("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    return conn_->exec_script("VACUUM ANALYZE");
  }

  StoreResult<uint64_t> export_jsonl(std::ostream& out) override {
    uint64_t written = 0;
    std::string line;
    for (const TableOrder& t : exported_tables()) {
      Rows rows;
      const std::string sql =
          "SELECT * FROM " + std::string(t.table) + " ORDER BY " + std::string(t.order_by);
      if (StoreStatus s = read(sql, {}, rows); !s.ok) return {s, written};
      for (const auto& r : rows.rows) {
        line = "{\"table\":\"";
        line += t.table;
        line += "\",\"row\":{";
        for (size_t col = 0; col < r.size(); ++col) {
          if (col > 0) line += ',';
          flow::append_json_string(rows.columns[col], line);
          line += ':';
          const Cell& c = r[col];
          switch (c.kind) {
            case Cell::Kind::kNull: line += "null"; break;
            case Cell::Kind::kInt: line += std::to_string(c.i); break;
            case Cell::Kind::kReal: flow::append_json_number(c.d, line); break;
            case Cell::Kind::kText: flow::append_json_string(c.s, line); break;
            case Cell::Kind::kBlob:
              line += '"';
              append_hex(c.s, line);
              line += '"';
              break;
          }
        }
        line += "}}\n";
        out << line;
        ++written;
      }
    }
    out.flush();
    if (!out) return {StoreStatus::failure("store: export: write to the output failed", false)};
    return {StoreStatus::success(), written};
  }

 private:
  template <class Body>
  StoreStatus in_transaction(Body&& body) {
    if (StoreStatus s = conn_->ensure_connected(); !s.ok) return s;
    if (StoreStatus s = conn_->exec_script(conn_->begin_sql()); !s.ok) return s;
    StoreStatus s = body();
    if (s.ok) s = conn_->exec_script("COMMIT");
    // On a lost connection this fails too; the server has rolled back already.
    if (!s.ok) conn_->exec_script("ROLLBACK");
    return s;
  }

  StoreStatus read(std::string_view sql, std::span<const Param> params, Rows& rows) {
    if (StoreStatus s = conn_->ensure_connected(); !s.ok) return s;
    return conn_->run(sql, params, &rows);
  }

  StoreResult<int> read_version() {
    Rows rows;
    if (StoreStatus s = conn_->run("SELECT MAX(version) FROM schema_migrations", {}, &rows);
        !s.ok) {
      return {s};
    }
    if (rows.rows.empty() || rows.rows[0][0].kind == Cell::Kind::kNull) {
      return {StoreStatus::success(), 0};
    }
    return {StoreStatus::success(), static_cast<int>(rows.rows[0][0].as_int())};
  }

  StoreStatus delete_closed_incidents_before(const Param& cut, PruneResult& result) {
    const Param params[] = {cut};
    Rows rows;
    if (StoreStatus s =
            conn_->run("DELETE FROM incident_updates WHERE id IN (SELECT id FROM incidents "
                       "WHERE state = 'closed' AND end_ns < $1)",
                       params, &rows);
        !s.ok) {
      return s;
    }
    result.incident_updates += static_cast<uint64_t>(rows.changed);
    if (StoreStatus s = conn_->run("DELETE FROM incidents WHERE state = 'closed' AND end_ns < $1",
                                   params, &rows);
        !s.ok) {
      return s;
    }
    result.incidents += static_cast<uint64_t>(rows.changed);
    // Flows are kept as long as closed incidents are: by their own time.
    if (StoreStatus s = conn_->run("DELETE FROM incident_flows WHERE time_ns < $1", params, &rows);
        !s.ok) {
      return s;
    }
    result.flows += static_cast<uint64_t>(rows.changed);
    return StoreStatus::success();
  }

  /// Deletes the oldest rollups, then the oldest closed incidents, a chunk per transaction,
  /// until the live pages fit max_database_bytes (or nothing deletable is left).
  StoreStatus prune_to_size(PruneResult& result) {
    constexpr int64_t kChunk = 1000;
    // Each pass deletes at least one row or stops; the bound is a guard, not a limit.
    for (int pass = 0; pass < 1'000'000; ++pass) {
      auto [s, live] = conn_->live_bytes();
      if (!s.ok) return s;
      if (live <= options_.max_database_bytes) return StoreStatus::success();
      Rows rows;
      const Param chunk[] = {P::integer(kChunk - 1)};
      if (StoreStatus r = read("SELECT minute_ns FROM rollups ORDER BY minute_ns LIMIT 1 "
                               "OFFSET $1",
                               chunk, rows);
          !r.ok) {
        return r;
      }
      const bool some_rollups = [&] {
        Rows any;
        return read("SELECT 1 FROM rollups LIMIT 1", {}, any).ok && !any.rows.empty();
      }();
      if (some_rollups) {
        // The chunk's last minute, or every rollup when fewer than a chunk are left.
        const int64_t cut = rows.rows.empty() ? INT64_MAX : rows.rows[0][0].as_int();
        StoreStatus d = in_transaction([&]() -> StoreStatus {
          const Param params[] = {P::integer(cut)};
          Rows changed;
          StoreStatus x = conn_->run("DELETE FROM rollups WHERE minute_ns <= $1", params, &changed);
          result.rollups += static_cast<uint64_t>(changed.changed);
          return x;
        });
        if (!d.ok) return d;
        continue;
      }
      rows = {};
      if (StoreStatus r = read("SELECT end_ns FROM incidents WHERE state = 'closed' "
                               "ORDER BY end_ns LIMIT 1 OFFSET $1",
                               chunk, rows);
          !r.ok) {
        return r;
      }
      Rows any;
      if (StoreStatus r = read("SELECT 1 FROM incidents WHERE state = 'closed' LIMIT 1", {}, any);
          !r.ok) {
        return r;
      }
      if (any.rows.empty()) return StoreStatus::success();  // only live data left: keep it
      // end_ns <= cut, as "< cut + 1" (no overflow: INT64_MAX - 1 bounds a real end).
      const int64_t cut = rows.rows.empty() ? INT64_MAX - 1 : rows.rows[0][0].as_int();
      StoreStatus d = in_transaction([&]() -> StoreStatus {
        return delete_closed_incidents_before(P::integer(cut + 1), result);
      });
      if (!d.ok) return d;
    }
    return StoreStatus::success();
  }

  std::unique_ptr<Connection> conn_;
  StoreOptions options_;
};

}  // namespace

std::unique_ptr<Database> make_sql_database(std::unique_ptr<Connection> connection,
                                            const StoreOptions& options) {
  return std::make_unique<SqlDatabase>(std::move(connection), options);
}

}  // namespace fathom::store::detail
