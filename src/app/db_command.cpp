#include "app/db_command.h"

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "app/clock.h"
#include "app/config.h"
#include "app/config_loader.h"
#include "app/persistence.h"
#include "store/store.h"

namespace fathom::app {

int run_db(const DbCommandOptions& options, std::FILE* out, std::FILE* err) {
  const std::string& a = options.action;
  if (a != "migrate" && a != "vacuum" && a != "prune" && a != "export" && a != "status") {
    std::fprintf(err, "fathom db: unknown action '%s' (migrate, vacuum, prune, export, status)\n",
                 a.c_str());
    return 2;
  }
  Config config;
  if (!options.config_file.empty()) {
    ConfigLoad load = load_config_file(options.config_file);
    if (!load.ok()) {
      for (const ConfigError& e : load.errors) {
        std::fprintf(err, "fathom db: %s\n", e.to_string().c_str());
      }
      return 1;
    }
    config = std::move(load.config);
  }
  if (!options.data_dir.empty()) config.data_dir = options.data_dir;
  if (!options.url.empty()) config.store.url = options.url;
  store::StoreOptions so = config.store.options;
  so.url = store_url(config);

  std::string error;
  // Opening applies every pending migration (in one transaction).
  std::unique_ptr<store::Database> db = store::open_database(so, error);
  if (!db) {
    std::fprintf(err, "fathom db: %s\n", error.c_str());
    return 1;
  }
  auto [vstatus, version] = db->schema_version();
  if (!vstatus.ok) {
    std::fprintf(err, "fathom db: %s\n", vstatus.error.c_str());
    return 1;
  }
  if (a == "migrate") {
    std::fprintf(out, "%s: schema version %d\n", std::string(db->backend()).c_str(), version);
    return 0;
  }
  if (a == "vacuum") {
    if (const store::StoreStatus s = db->vacuum(); !s.ok) {
      std::fprintf(err, "fathom db: vacuum: %s\n", s.error.c_str());
      return 1;
    }
    std::fprintf(out, "vacuumed\n");
    return 0;
  }
  if (a == "prune") {
    auto [status, pruned] = db->prune(wall_clock_ns());
    if (!status.ok) {
      std::fprintf(err, "fathom db: prune: %s\n", status.error.c_str());
      return 1;
    }
    std::fprintf(out, "pruned %llu rollup(s), %llu incident(s), %llu incident update(s)\n",
                 static_cast<unsigned long long>(pruned.rollups),
                 static_cast<unsigned long long>(pruned.incidents),
                 static_cast<unsigned long long>(pruned.incident_updates));
    return 0;
  }
  if (a == "status") {
    auto [ts, tenants] = db->tenants();
    auto [es, exporters] = db->exporters();
    store::IncidentQuery open_q;
    open_q.state = detect::IncidentState::kOpen;
    auto [os, open] = db->count_incidents(open_q);
    if (!ts.ok || !es.ok || !os.ok) {
      std::fprintf(err, "fathom db: status: %s\n", (!ts.ok ? ts : !es.ok ? es : os).error.c_str());
      return 1;
    }
    std::fprintf(out,
                 "%s: schema version %d, %zu tenant(s), %zu exporter(s), %llu open incident(s)\n",
                 std::string(db->backend()).c_str(), version, tenants.size(), exporters.size(),
                 static_cast<unsigned long long>(open));
    return 0;
  }
  // export
  std::ofstream file;
  std::ostream* os = &std::cout;
  if (options.out != "-") {
    file.open(options.out, std::ios::binary | std::ios::trunc);
    if (!file) {
      std::fprintf(err, "fathom db: export: cannot write %s\n", options.out.c_str());
      return 1;
    }
    os = &file;
  }
  std::fflush(out);
  auto [status, rows] = db->export_jsonl(*os);
  os->flush();
  if (!status.ok || !*os) {
    std::fprintf(err, "fathom db: export: %s\n",
                 status.ok ? "write failed (disk full?)" : status.error.c_str());
    return 1;
  }
  std::fprintf(err, "fathom db: exported %llu row(s)\n", static_cast<unsigned long long>(rows));
  return 0;
}

}  // namespace fathom::app
