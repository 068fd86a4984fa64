#include "app/api_command.h"

#include <unistd.h>

#include <cinttypes>
#include <memory>
#include <string>

#include "api/http_server.h"
#include "api/metrics_text.h"
#include "app/api_service.h"
#include "app/clock.h"
#include "app/config_loader.h"
#include "app/logging.h"
#include "app/persistence.h"
#include "app/signal_loop.h"
#include "collect/config.h"
#include "store/store.h"
#include "store/url.h"

namespace fathom::app {
namespace {

constexpr const char* kCmd = "fathom api";

/// Requests answered so far (with `errors_only`: those answered 5xx or with another status).
uint64_t answered(const api::RestApiStats& s, bool errors_only) {
  uint64_t n = 0;
  for (const auto& [status, count] : s.responses) {
    if (!errors_only || status >= 500 || status == 0) n += count;
  }
  return n;
}

}  // namespace

int run_api(const ApiCommandOptions& options, std::FILE* err) {
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
  if (!options.data_dir.empty()) config.data_dir = options.data_dir;
  if (!options.store_url.empty()) config.store.url = options.store_url;
  if (!config.store.enabled) {
    std::fprintf(err, "%s: store.enabled is false: fathom api serves only what the store holds\n",
                 kCmd);
    return 1;
  }
  std::string error;
  collect::ListenEndpoint api_endpoint = config.api.listen;
  if (!options.api_listen.empty() &&
      !collect::parse_listen_endpoint(options.api_listen, api_endpoint, error)) {
    std::fprintf(err, "%s: --api-listen: %s\n", kCmd, error.c_str());
    return 2;
  }
  if (options.api_listen.empty() && !config.api.enabled) {
    std::fprintf(err, "%s: api.listen is off: fathom api serves nothing else\n", kCmd);
    return 1;
  }
  collect::ListenEndpoint metrics_endpoint = config.metrics_listen;
  bool metrics_on = true;
  if (options.metrics_listen == "off") {
    metrics_on = false;
  } else if (!options.metrics_listen.empty() &&
             !collect::parse_listen_endpoint(options.metrics_listen, metrics_endpoint, error)) {
    std::fprintf(err, "%s: --metrics-listen: %s\n", kCmd, error.c_str());
    return 2;
  }
  if (const int status =
          setup_command_logging(kCmd, options.verbose, options.log_format, config, err)) {
    return status;
  }
  auto log = logger("app");
  for (const char* part : {"api", "store"}) logger(part);

  // A malformed URL or an SQLite file that cannot be opened is a mistake to fix now; a
  // PostgreSQL server that does not answer yet is waited for (503 meanwhile), as the analyzers
  // wait for it.
  store::StoreOptions store_options = config.store.options;
  store_options.url = store_url(config);
  if (!store::check_url(store_options.url, error)) {
    std::fprintf(err, "%s: %s\n", kCmd, error.c_str());
    return 1;
  }
  if (std::unique_ptr<store::Database> db = store::open_database(store_options, error); !db) {
    if (!store::is_postgres_url(store_options.url)) {
      std::fprintf(err, "%s: %s\n", kCmd, error.c_str());
      return 1;
    }
    log->warn("the store does not answer yet ({}); answering 503 until it does", error);
  }

  std::unique_ptr<ApiService> service = ApiService::create(config, error);
  if (!service) {
    std::fprintf(err, "%s: %s\n", kCmd, error.c_str());
    return 1;
  }
  // Signals are blocked before any thread starts, so only the signalfd sees them.
  const int signal_fd = open_signal_fd();
  if (signal_fd < 0) {
    std::fprintf(err, "%s: cannot set up signal handling\n", kCmd);
    return 1;
  }
  if (!service->start_store_only(api_endpoint, error)) {
    std::fprintf(err, "%s: api: %s\n", kCmd, error.c_str());
    ::close(signal_fd);
    return 1;
  }
  const int64_t start_ns = wall_clock_ns();
  api::HttpServer http(
      [&service, start_ns] {
        api::MetricsText text;
        text.family("fathom_start_time_seconds", "Unix time the process started.",
                    api::MetricType::kGauge)
            .sample({}, static_cast<double>(start_ns) / 1e9);
        api::append_api_metrics(service->stats(), text);
        return text.str();
      },
      [&service] {
        api::Health h;
        std::string why;
        h.ok = service->probe_store(why);
        h.text = h.ok ? "store answers" : why;
        return h;
      });
  if (metrics_on && !http.start(metrics_endpoint.host.empty() ? "::" : metrics_endpoint.host,
                                metrics_endpoint.port, error)) {
    std::fprintf(err, "%s: metrics: %s\n", kCmd, error.c_str());
    service->stop();
    ::close(signal_fd);
    return 1;
  }
  const std::string metrics_note =
      metrics_on ? "; metrics on port " + std::to_string(http.port()) : std::string();
  if (!service->bootstrap_token().empty()) {
    std::fprintf(err, "%s: dashboard at %s#token=%s (admin token kept in %s/api-token)%s\n", kCmd,
                 service->url().c_str(), service->bootstrap_token().c_str(),
                 config.data_dir.c_str(), metrics_note.c_str());
  } else {
    std::fprintf(err, "%s: dashboard at %s (log in with an api.tokens token)%s\n", kCmd,
                 service->url().c_str(), metrics_note.c_str());
  }
  std::fprintf(err, "%s: serving the %s store; Ctrl-C to stop\n", kCmd,
               store::is_postgres_url(store_options.url) ? "postgresql" : "sqlite");
  std::fflush(err);

  uint64_t last_requests = 0;
  uint64_t last_errors = 0;
  const int rc = run_until_stopped(signal_fd, options.interval_ms, kCmd, [&](double) {
    const api::RestApiStats s = service->stats();
    const uint64_t requests = answered(s, false);
    const uint64_t errors = answered(s, true);
    std::fprintf(err, "%s: %" PRIu64 " request(s), %" PRIu64 " answered 5xx; store %s\n", kCmd,
                 requests - last_requests, errors - last_errors,
                 s.store_up ? "up" : "down or not used yet");
    std::fflush(err);
    last_requests = requests;
    last_errors = errors;
  });
  service->stop();
  http.stop();
  ::close(signal_fd);
  std::fprintf(err, "%s: stopped\n", kCmd);
  return rc;
}

}  // namespace fathom::app
