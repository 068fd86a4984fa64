#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "api/collector_metrics.h"

namespace fathom::app {

/// Options of `fathom run`. Flags given on the command line override the config file.
struct RunOptions {
  std::string config_file;  ///< fathom.yaml to load ("" = built-in defaults)
  /// "HOST:PORT" endpoints; empty means `collect.listeners` of the config.
  std::vector<std::string> listen;
  std::string state_file;      ///< overrides `collect.state_file` when not empty
  std::string data_dir;        ///< overrides `data_dir` (database, spools) when not empty
  std::string store_url;       ///< overrides `store.url` when not empty
  int64_t interval_ms = 5000;  ///< summary period
  /// Files to replay instead of listening (pcap/pcapng, VPC flow logs, "-" = stdin).
  std::vector<std::string> replay;
  std::string speed = "max";     ///< replay speed: "max", "1x", "10x", "0.5x"
  std::string vpc_exporter;      ///< exporter address given to VPC flow log records
  std::string flows_output;      ///< overrides `output.flows` when not empty ("-" = stdout)
  std::string estimates_output;  ///< overrides `output.estimates` when not empty ("-" = stdout)
  std::string incidents_output;  ///< overrides `output.incidents` when not empty ("-" = stdout)
  std::string metrics_listen;    ///< overrides `metrics_listen` ("off" disables the server)
  std::string api_listen;        ///< overrides `api.listen` ("off" disables the API)
  int verbose = 0;               ///< each -v lowers the log level one step
  std::string log_format;        ///< overrides `log_format` when not empty
  /// `fathom collect`: publish to Kafka (`kafka.*`) instead of analysing here; no estimates,
  /// store or API.
  bool collect_only = false;
  std::string kafka_brokers;  ///< overrides `kafka.brokers` when not empty
};

/// The periodic summary line of `fathom run`, from two successive snapshots: packets and
/// records in the interval with per-second rates, records per protocol, exporters, and every
/// decoder reason counted since start by name. Kept stable: tools/gen/run_demo parses it.
class RunSummary {
 public:
  /// `prefix` starts every line ("fathom run", "fathom collect").
  explicit RunSummary(std::string prefix = "fathom run") : prefix_(std::move(prefix)) {}
  /// "fathom run: packets N (R/s), records M (R/s); netflow_v9=…; exporters K; accepted A,
  /// rejected J; errors since start: none|reason=count …"
  std::string line(const api::CollectorSnapshot& now, int64_t elapsed_ns);
  uint64_t total_datagrams() const noexcept { return last_datagrams_; }
  uint64_t total_records() const noexcept { return last_records_; }

 private:
  uint64_t last_datagrams_ = 0;
  uint64_t last_records_ = 0;
  std::array<uint64_t, 4> last_by_protocol_{};
  std::string prefix_;
};

/// Runs `fathom run` (or, with `collect_only`, `fathom collect`): loads the config, sets up
/// logging, opens the metrics endpoint, binds the UDP endpoints (or replays files), and collects
/// until SIGINT/SIGTERM (or the end of the files): every record goes through decode and tenant
/// mapping onto the in-process bus, and to the flows output if one is configured. SIGHUP reloads
/// the config file (tenants, policy, log level) without closing sockets. On exit, queues are
/// drained and decoder state saved. Prints a summary line to `err` every interval and a last one at
/// exit. Returns 0 on a clean exit, 1 when the config is invalid, a socket or file cannot be
/// opened, or the state file cannot be loaded/saved; 2 on bad flags.
int run_collector(const RunOptions& options, std::FILE* err);

}  // namespace fathom::app
