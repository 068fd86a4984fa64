#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace fathom::app {

/// Options of `fathom api`. Flags override the config file.
struct ApiCommandOptions {
  std::string config_file;       ///< fathom.yaml ("" = built-in defaults)
  std::string store_url;         ///< overrides `store.url` when not empty
  std::string api_listen;        ///< overrides `api.listen` (HOST:PORT; port 0: any free one)
  std::string data_dir;          ///< overrides `data_dir` (SQLite file, bootstrap token)
  std::string metrics_listen;    ///< overrides `metrics_listen` ("off" disables the server)
  int64_t interval_ms = 60'000;  ///< summary period
  int verbose = 0;               ///< each -v lowers the log level one step
  std::string log_format;        ///< overrides `log_format` when not empty
};

/// Runs `fathom api` (docs/scaling.md, docs/api.md "fathom api"): the REST API and dashboard
/// of `fathom run` served from the store alone (`store.*`, PostgreSQL in a cluster), which the
/// analyzers write; no collector or analysis runs here, so replicas behind a load balancer
/// are interchangeable. `/metrics` and `/healthz` on `metrics_listen` (healthy while the store
/// answers). Runs until SIGINT/SIGTERM. A PostgreSQL server that is down at the start or later
/// is waited for: requests answer 503 meanwhile. Prints a summary line to `err` every interval.
/// Returns 0 on a clean exit; 1 when the config or the tokens are refused, the store is
/// disabled, its URL is malformed, an SQLite file cannot be opened, or a socket cannot be
/// bound; 2 on bad flags.
int run_api(const ApiCommandOptions& options, std::FILE* err);

}  // namespace fathom::app
