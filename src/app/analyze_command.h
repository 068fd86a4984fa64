#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace fathom::app {

/// Options of `fathom analyze`. Flags override the config file.
struct AnalyzeCommandOptions {
  std::string config_file;     ///< fathom.yaml ("" = built-in defaults: kafka.brokers needed)
  std::string kafka_brokers;   ///< overrides `kafka.brokers` when not empty
  std::string data_dir;        ///< overrides `data_dir` (SQLite file, spools) when not empty
  std::string store_url;       ///< overrides `store.url` when not empty
  std::string metrics_listen;  ///< overrides `metrics_listen` ("off" disables the server)
  int64_t interval_ms = 5000;  ///< summary period
  int verbose = 0;             ///< each -v lowers the log level one step
  std::string log_format;      ///< overrides `log_format` when not empty
};

/// Runs `fathom analyze` (docs/scaling.md): joins the analyzers' consumer group on
/// `kafka.topic`, analyses the partitions it is given with the same stages as `fathom run`
/// and stores incidents, rollups and detector state (`store.*`, PostgreSQL in a cluster),
/// until SIGINT/SIGTERM; then it leaves the group cleanly (each partition checkpointed and
/// committed). Prints a summary line to `err` every interval. Returns 0 on a clean exit, 1
/// when the config, the store or the Kafka settings are refused, 2 on bad flags.
int run_analyze(const AnalyzeCommandOptions& options, std::FILE* err);

}  // namespace fathom::app
