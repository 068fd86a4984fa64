#pragma once

#include <cstdio>
#include <string>

namespace fathom::app {

/// Options of `fathom db` (docs/storage.md "Maintenance").
struct DbCommandOptions {
  /// "migrate", "vacuum", "prune", "export" or "status".
  std::string action;
  std::string config_file;  ///< fathom.yaml: its `store` and `data_dir` (empty: defaults)
  std::string url;          ///< overrides `store.url`
  std::string data_dir;     ///< overrides `data_dir`
  std::string out = "-";    ///< export: the JSON-lines file ("-" = stdout)
};

/// Runs `fathom db ACTION` against the database the config names. migrate applies pending
/// migrations (opening does that) and prints the schema version; vacuum returns free space to
/// the file system; prune applies the retention and size limits now; export writes every
/// table as JSON lines; status prints the back end, schema version and row counts. Safe
/// beside a running `fathom run` (SQLite WAL; PostgreSQL transactions). Returns 0, 1 on a
/// failure (with the reason on `err`), 2 on bad options.
int run_db(const DbCommandOptions& options, std::FILE* out, std::FILE* err);

}  // namespace fathom::app
