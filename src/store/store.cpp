#include "store/store.h"

#include "detect/incident_json.h"
#include "store/detail/connection.h"

namespace fathom::store {

IncidentRecord to_record(const detect::IncidentEvent& event) {
  const detect::Incident& inc = event.incident;
  IncidentRecord r;
  r.id = inc.id;
  r.version = inc.version;
  r.event = std::string(detect::to_string(event.kind));
  r.tenant_id = inc.tenant_id;
  r.detection = std::string(detect::to_string(inc.type));
  r.detail = inc.detail;
  r.subject = inc.subject.to_string();
  r.state = std::string(detect::to_string(inc.state));
  r.severity = inc.severity;
  r.peak_severity = inc.peak_severity;
  r.start_ns = inc.start_ns;
  r.last_seen_ns = inc.last_seen_ns;
  r.end_ns = inc.end_ns;
  r.detected_ns = inc.detected_ns;
  r.detections = inc.detections;
  r.summary = inc.latest.summary;
  r.json = detect::incident_json(event);
  return r;
}

StoreStatus Database::write_incident_events(std::span<const detect::IncidentEvent> events) {
  WriteBatch batch;
  batch.incidents.reserve(events.size());
  for (const detect::IncidentEvent& e : events) batch.incidents.push_back(to_record(e));
  return write(batch);
}

StoreStatus Database::write_rollups(std::span<const Rollup> rollups) {
  WriteBatch batch;
  batch.rollups.assign(rollups.begin(), rollups.end());
  return write(batch);
}

StoreStatus Database::upsert_tenants(std::span<const TenantRecord> tenants) {
  WriteBatch batch;
  batch.tenants.assign(tenants.begin(), tenants.end());
  return write(batch);
}

StoreStatus Database::upsert_exporters(std::span<const ExporterRecord> exporters) {
  WriteBatch batch;
  batch.exporters.assign(exporters.begin(), exporters.end());
  return write(batch);
}

StoreStatus Database::put_state(uint32_t tenant_id, std::string_view key, std::string_view value,
                                int64_t updated_ns) {
  WriteBatch batch;
  batch.state.push_back({tenant_id, std::string(key), std::string(value), updated_ns});
  return write(batch);
}

std::unique_ptr<Database> open_database(const StoreOptions& options, std::string& error) {
  const std::string_view url = options.url;
  std::unique_ptr<detail::Connection> conn;
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    conn = detail::open_postgres(options.url, options, error);
  } else {
    std::string path(url.starts_with("sqlite:") ? url.substr(7) : url);
    if (path.empty()) {
      error = "store: empty database url (want sqlite:PATH, a path, or postgresql://...)";
      return nullptr;
    }
    if (path.find("://") != std::string::npos) {
      error = "store: unknown database url scheme in '" + options.url +
              "' (want sqlite:PATH, a path, or postgresql://...)";
      return nullptr;
    }
    conn = detail::open_sqlite(path, options, error);
  }
  if (conn == nullptr) return nullptr;
  std::unique_ptr<Database> db = detail::make_sql_database(std::move(conn), options);
  if (StoreStatus s = db->migrate(); !s.ok) {
    error = s.error;
    return nullptr;
  }
  return db;
}

}  // namespace fathom::store
