// The schema, as an ordered list of migrations. Both back ends run the same text: BIGINT,
// DOUBLE PRECISION and TEXT mean the same to SQLite (by type affinity) and PostgreSQL; only the
// blob type differs. Never edit an applied migration: add the next one. Estimates are nullable:
// NULL stores NaN (an interval that could not be computed), which SQLite cannot hold as a REAL.

#include <array>

#include "store/detail/connection.h"

namespace fathom::store::detail {
namespace {

constexpr std::string_view kInitialSchema = R"sql(
CREATE TABLE incidents (
  id TEXT PRIMARY KEY,
  version BIGINT NOT NULL,
  last_event TEXT NOT NULL,
  tenant_id BIGINT NOT NULL,
  detection TEXT NOT NULL,
  detail TEXT NOT NULL,
  subject TEXT NOT NULL,
  state TEXT NOT NULL,
  severity DOUBLE PRECISION NOT NULL,
  peak_severity DOUBLE PRECISION NOT NULL,
  start_ns BIGINT NOT NULL,
  last_seen_ns BIGINT NOT NULL,
  end_ns BIGINT NOT NULL,
  detected_ns BIGINT NOT NULL,
  detections BIGINT NOT NULL,
  summary TEXT NOT NULL,
  json TEXT NOT NULL
);
CREATE INDEX incidents_tenant_start ON incidents (tenant_id, start_ns);
CREATE INDEX incidents_state_end ON incidents (state, end_ns);
CREATE TABLE incident_updates (
  id TEXT NOT NULL,
  version BIGINT NOT NULL,
  event TEXT NOT NULL,
  tenant_id BIGINT NOT NULL,
  state TEXT NOT NULL,
  severity DOUBLE PRECISION NOT NULL,
  last_seen_ns BIGINT NOT NULL,
  json TEXT NOT NULL,
  PRIMARY KEY (id, version)
);
CREATE TABLE rollups (
  tenant_id BIGINT NOT NULL,
  minute_ns BIGINT NOT NULL,
  packets DOUBLE PRECISION,
  packets_ci_low DOUBLE PRECISION,
  packets_ci_high DOUBLE PRECISION,
  bytes DOUBLE PRECISION,
  bytes_ci_low DOUBLE PRECISION,
  bytes_ci_high DOUBLE PRECISION,
  flows DOUBLE PRECISION,
  flows_ci_low DOUBLE PRECISION,
  flows_ci_high DOUBLE PRECISION,
  detail_json TEXT NOT NULL,
  PRIMARY KEY (tenant_id, minute_ns)
);
CREATE INDEX rollups_minute ON rollups (minute_ns);
CREATE TABLE tenants (
  tenant_id BIGINT PRIMARY KEY,
  name TEXT NOT NULL,
  first_seen_ns BIGINT NOT NULL,
  last_seen_ns BIGINT NOT NULL
);
CREATE TABLE exporters (
  address TEXT PRIMARY KEY,
  tenant_id BIGINT NOT NULL,
  protocol TEXT NOT NULL,
  first_seen_ns BIGINT NOT NULL,
  last_seen_ns BIGINT NOT NULL,
  packets BIGINT NOT NULL,
  records BIGINT NOT NULL,
  malformed BIGINT NOT NULL
);
CREATE TABLE tenant_state (
  tenant_id BIGINT NOT NULL,
  key TEXT NOT NULL,
  value {BLOB} NOT NULL,
  updated_ns BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, key)
);
)sql";

// Raw sampled flows kept as incidents' evidence; `digest` (FNV-1a of the JSON) makes a
// replayed flow a no-op insert.
constexpr std::string_view kIncidentFlows = R"sql(
CREATE TABLE incident_flows (
  tenant_id BIGINT NOT NULL,
  subject TEXT NOT NULL,
  time_ns BIGINT NOT NULL,
  digest BIGINT NOT NULL,
  json TEXT NOT NULL,
  PRIMARY KEY (tenant_id, subject, time_ns, digest)
);
CREATE INDEX incident_flows_time ON incident_flows (time_ns);
)sql";

constexpr std::array kMigrations = {
    Migration{1, "incidents, incident_updates, rollups, tenants, exporters, tenant_state",
              kInitialSchema},
    Migration{2, "incident_flows", kIncidentFlows},
};

constexpr std::array kExported = {
    TableOrder{"schema_migrations", "version"},
    TableOrder{"tenants", "tenant_id"},
    TableOrder{"exporters", "address"},
    TableOrder{"incidents", "id"},
    TableOrder{"incident_updates", "id, version"},
    TableOrder{"rollups", "tenant_id, minute_ns"},
    TableOrder{"tenant_state", "tenant_id, key"},
    TableOrder{"incident_flows", "tenant_id, subject, time_ns, digest"},
};

}  // namespace

std::span<const Migration> migrations() noexcept {
  return kMigrations;
}
std::span<const TableOrder> exported_tables() noexcept {
  return kExported;
}

}  // namespace fathom::store::detail
