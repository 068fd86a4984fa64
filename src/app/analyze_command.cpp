#include "app/analyze_command.h"

#include <unistd.h>

#include <cinttypes>
#include <string>

#include "api/http_server.h"
#include "app/cluster_analyzer.h"
#include "app/config_loader.h"
#include "app/logging.h"
#include "app/signal_loop.h"
#include "collect/config.h"

namespace fathom::app {
namespace {

constexpr const char* kCmd = "fathom analyze";

std::string partition_list(const std::vector<int32_t>& partitions) {
  std::string text;
  for (int32_t p : partitions) text += (text.empty() ? "" : ",") + std::to_string(p);
  return text.empty() ? "none" : text;
}

}  // namespace

int run_analyze(const AnalyzeCommandOptions& options, std::FILE* err) {
  Config config;
  if (!options.config_file.empty()) {
    ConfigLoad load = load_config_file(options.config_file);
    if (!load.ok()) {
      for (const ConfigError& e : load.errors) {
        std::fprintf(err, "%s: %s\n", kCmd, e.to_string().c_str());
      }
      return 1;
    }
    config = std::move(load.config);
  }
  if (!options.kafka_brokers.empty()) config.kafka.brokers = options.kafka_brokers;
  if (!options.data_dir.empty()) config.data_dir = options.data_dir;
  if (!options.store_url.empty()) config.store.url = options.store_url;
  if (config.kafka.brokers.empty()) {
    std::fprintf(err, "%s: kafka.brokers is not set (in the config or --kafka-brokers)\n", kCmd);
    return 2;
  }
  if (const int status =
          setup_command_logging(kCmd, options.verbose, options.log_format, config, err)) {
    return status;
  }
  std::string error;
  auto log = logger("app");
  for (const char* part : {"analyze", "detect", "store", "output", "alert"}) logger(part);
  collect::ListenEndpoint metrics_endpoint = config.metrics_listen;
  bool metrics_on = true;
  if (options.metrics_listen == "off") {
    metrics_on = false;
  } else if (!options.metrics_listen.empty() &&
             !collect::parse_listen_endpoint(options.metrics_listen, metrics_endpoint, error)) {
    std::fprintf(err, "%s: --metrics-listen: %s\n", kCmd, error.c_str());
    return 2;
  }

  // Signals are blocked before any thread starts, so only the signalfd sees them.
  const int signal_fd = open_signal_fd();
  if (signal_fd < 0) {
    std::fprintf(err, "%s: cannot set up signal handling\n", kCmd);
    return 1;
  }
  std::unique_ptr<ClusterAnalyzer> analyzer = ClusterAnalyzer::open(config, error);
  if (!analyzer) {
    std::fprintf(err, "%s: %s\n", kCmd, error.c_str());
    ::close(signal_fd);
    return 1;
  }
  api::HttpServer http([&analyzer] { return analyzer->metrics(); },
                       [&analyzer] { return analyzer->health(); });
  if (metrics_on && !http.start(metrics_endpoint.host.empty() ? "::" : metrics_endpoint.host,
                                metrics_endpoint.port, error)) {
    std::fprintf(err, "%s: metrics: %s\n", kCmd, error.c_str());
    ::close(signal_fd);
    return 1;
  }
  analyzer->start();
  std::fprintf(err, "%s: joining group %s on topic %s at %s%s; Ctrl-C to stop\n", kCmd,
               config.kafka.group_id.c_str(), config.kafka.topic.c_str(),
               config.kafka.brokers.c_str(),
               metrics_on ? ("; metrics on port " + std::to_string(http.port())).c_str() : "");
  std::fflush(err);

  uint64_t last_records = 0;
  const int rc = run_until_stopped(signal_fd, options.interval_ms, kCmd, [&](double seconds) {
    const ClusterAnalyzerStats s = analyzer->stats();
    std::fprintf(err,
                 "%s: partitions %s; records %" PRIu64 " (%.1f/s); commits %" PRIu64
                 "; taken over: %" PRIu64 " incident(s), %" PRIu64 " detector state(s)\n",
                 kCmd, partition_list(analyzer->partitions()).c_str(), s.records - last_records,
                 seconds > 0 ? static_cast<double>(s.records - last_records) / seconds : 0.0,
                 s.commits, s.incidents_restored, s.tenants_restored);
    std::fflush(err);
    last_records = s.records;
  });
  analyzer->stop();
  http.stop();
  ::close(signal_fd);
  const api::CollectorSnapshot last = analyzer->snapshot();
  std::fprintf(err,
               "%s: stopped: %" PRIu64 " records analysed, incidents opened %" PRIu64
               ", updated %" PRIu64 ", closed %" PRIu64 "\n",
               kCmd, last.analysis.records_analysed, last.analysis.incidents_opened,
               last.analysis.incidents_updated, last.analysis.incidents_closed);
  return rc;
}

}  // namespace fathom::app
