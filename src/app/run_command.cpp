#include "app/run_command.h"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cinttypes>
#include <string>
#include <thread>

#include "api/http_server.h"
#include "api/metrics_text.h"
#include "app/api_service.h"
#include "app/clock.h"
#include "app/config_loader.h"
#include "app/logging.h"
#include "app/pipeline.h"
#include "app/signal_loop.h"
#include "collect/config.h"
#include "decode/decode_status.h"

namespace fathom::app {
namespace {

std::string rate(uint64_t count, int64_t elapsed_ns) {
  const double per_s =
      elapsed_ns > 0 ? static_cast<double>(count) * 1e9 / static_cast<double>(elapsed_ns) : 0.0;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f/s", per_s);
  return buf;
}

/// "1.23457e+06 [1.2e+06, 1.26e+06]": an estimate and its 95% interval, 6 significant digits.
std::string with_interval(const estimate::Estimate& e) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%.6g [%.6g, %.6g]", e.value, e.ci_low, e.ci_high);
  return buf;
}

/// "fathom run: estimate tenant acme (1) over 600 s: packets P [lo, hi], bytes B [lo, hi],
/// tcp flows F [lo, hi] (95% intervals)": the run's totals per tenant, printed at exit.
std::string estimate_line(const TenantRunEstimate& t, const std::vector<api::TenantName>& names) {
  std::string name = "?";
  for (const api::TenantName& n : names) {
    if (n.id == t.tenant_id) name = n.name;
  }
  char span[32];
  std::snprintf(span, sizeof(span), "%.0f", static_cast<double>(t.end_ns - t.start_ns) / 1e9);
  return "fathom run: estimate tenant " + name + " (" + std::to_string(t.tenant_id) + ") over " +
         span + " s: packets " + with_interval(t.total.packets) + ", bytes " +
         with_interval(t.total.bytes) + ", tcp flows " + with_interval(t.total.tcp_flows) +
         " (95% intervals)";
}

bool same_endpoints(const std::vector<collect::ListenEndpoint>& a,
                    const std::vector<collect::ListenEndpoint>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.host == y.host && x.port == y.port;
  });
}

bool is_ipv6_host(const collect::ListenEndpoint& e) {
  return e.host.find(':') != std::string::npos;
}

/// True when an IPv6 UDP socket can be bound on this host (the kernel may lack IPv6 or have
/// it disabled).
bool ipv6_available() {
  const int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_any;
  const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

/// "max" → 0; "10x", "10", "0.5x" → the factor. Returns false on anything else.
bool parse_speed(std::string text, double& out) {
  if (text == "max") {
    out = 0.0;
    return true;
  }
  if (!text.empty() && (text.back() == 'x' || text.back() == 'X')) text.pop_back();
  double v = 0.0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || !(v > 0.0) || v > 1e6) {
    return false;
  }
  out = v;
  return true;
}

bool load(const std::string& path, Config& config, std::FILE* err) {
  ConfigLoad load = load_config_file(path);
  if (!load.ok()) {
    for (const ConfigError& e : load.errors) {
      std::fprintf(err, "fathom run: %s\n", e.to_string().c_str());
    }
    return false;
  }
  config = std::move(load.config);
  return true;
}

}  // namespace

std::string RunSummary::line(const api::CollectorSnapshot& now, int64_t elapsed_ns) {
  uint64_t datagrams = 0;
  uint64_t records = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  size_t exporters = 0;
  std::array<uint64_t, 4> by_protocol{};
  constexpr std::array<const char*, 4> kProtocols = {"netflow_v5", "netflow_v9", "ipfix",
                                                     "sflow_v5"};
  std::array<uint64_t, decode::kDecodeStatusCount> reasons{};
  for (const transform::IngestSnapshot& w : now.workers) {
    datagrams += w.datagrams;
    records += w.records_decoded;
    accepted += w.records_accepted;
    rejected += w.records_rejected;
    exporters += w.exporters.size();
    auto add = [&](const decode::ExporterStats& s) {
      for (size_t i = 1; i < decode::kDecodeStatusCount; ++i) reasons[i] += s.reasons[i];
    };
    for (const transform::ExporterIngest& e : w.exporters) {
      add(e.decode);
      const uint64_t n = e.decode.records;
      switch (e.decode.last_version) {
        case 5: by_protocol[0] += n; break;
        case 9: by_protocol[1] += n; break;
        case 10: by_protocol[2] += n; break;
        case 0x50: by_protocol[3] += n; break;
        default: break;
      }
    }
    add(w.overflow);
  }
  const uint64_t interval_datagrams = datagrams - last_datagrams_;
  const uint64_t interval_records = records - last_records_;
  std::string line = prefix_ + ": packets " + std::to_string(interval_datagrams) + " (" +
                     rate(interval_datagrams, elapsed_ns) + "), records " +
                     std::to_string(interval_records) + " (" + rate(interval_records, elapsed_ns) +
                     ")";
  bool any_protocol = false;
  for (size_t i = 0; i < by_protocol.size(); ++i) {
    const uint64_t n = by_protocol[i] - last_by_protocol_[i];
    if (n == 0) continue;
    line += any_protocol ? " " : "; ";
    any_protocol = true;
    line += kProtocols[i];
    line += '=';
    line += std::to_string(n);
  }
  line += "; exporters " + std::to_string(exporters) + "; accepted " + std::to_string(accepted) +
          ", rejected " + std::to_string(rejected) + " since start; errors since start:";
  bool any_error = false;
  for (size_t i = 1; i < decode::kDecodeStatusCount; ++i) {
    if (reasons[i] == 0) continue;
    any_error = true;
    line += ' ';
    line += decode::to_string(static_cast<decode::DecodeStatus>(i));
    line += '=';
    line += std::to_string(reasons[i]);
  }
  if (!any_error) line += " none";
  uint64_t bus_drops = 0;
  for (const bus::SubscriberStats& s : now.bus.subscribers) bus_drops += s.dropped_records;
  uint64_t kernel_drops = 0;
  for (const collect::SocketStats& s : now.sockets) kernel_drops += s.counters.kernel_drops;
  if (bus_drops != 0 || kernel_drops != 0) {
    line += "; dropped since start: kernel=" + std::to_string(kernel_drops) +
            " queue_records=" + std::to_string(bus_drops);
  }
  last_datagrams_ = datagrams;
  last_records_ = records;
  last_by_protocol_ = by_protocol;
  return line;
}

int run_collector(const RunOptions& options, std::FILE* err) {
  // `fathom collect` is `fathom run` with the analysis side swapped for the Kafka producer.
  const bool collect_only = options.collect_only;
  const char* cmd = collect_only ? "fathom collect" : "fathom run";
  Config config;
  if (!options.config_file.empty() && !load(options.config_file, config, err)) return 1;
  if (!options.data_dir.empty()) config.data_dir = options.data_dir;
  if (!options.store_url.empty()) config.store.url = options.store_url;
  if (!options.kafka_brokers.empty()) config.kafka.brokers = options.kafka_brokers;
  if (collect_only && config.kafka.brokers.empty()) {
    std::fprintf(err, "%s: kafka.brokers is not set (in the config or --kafka-brokers)\n", cmd);
    return 2;
  }

  if (const int status =
          setup_command_logging(cmd, options.verbose, options.log_format, config, err)) {
    return status;
  }
  std::string error;
  auto log = logger("app");
  // Parts that do not depend on `app` find their logger by name in spdlog's registry.
  for (const char* part : {"collect", "transform", "output"}) logger(part);

  std::vector<collect::ListenEndpoint> endpoints;
  if (options.listen.empty()) {
    endpoints = config.collect.listeners;
    // The built-in defaults listen on [::] too; on a host without IPv6 `make run` must still
    // start, so only those defaults fall back to IPv4. Listeners the user named stay strict.
    if (same_endpoints(endpoints, collect::Config{}.listeners) && !ipv6_available()) {
      std::erase_if(endpoints, [](const collect::ListenEndpoint& e) { return is_ipv6_host(e); });
      log->info("no IPv6 on this host; listening on IPv4 only");
    }
  }
  for (const std::string& text : options.listen) {
    collect::ListenEndpoint endpoint;
    if (!collect::parse_listen_endpoint(text, endpoint, error)) {
      std::fprintf(err, "%s: %s\n", cmd, error.c_str());
      return 2;
    }
    endpoints.push_back(endpoint);
  }
  double speed = 0.0;
  if (!parse_speed(options.speed, speed)) {
    std::fprintf(err, "%s: --speed must be max or a factor such as 1x, 10x, 0.5x\n", cmd);
    return 2;
  }
  flow::IpAddress vpc_exporter;
  if (!options.vpc_exporter.empty()) {
    const auto parsed = flow::IpAddress::parse(options.vpc_exporter);
    if (!parsed) {
      std::fprintf(err, "%s: --vpc-exporter: '%s' is not an IP address\n", cmd,
                   options.vpc_exporter.c_str());
      return 2;
    }
    vpc_exporter = *parsed;
  }
  collect::ListenEndpoint metrics_endpoint = config.metrics_listen;
  bool metrics_on = true;
  if (options.metrics_listen == "off") {
    metrics_on = false;
  } else if (!options.metrics_listen.empty() &&
             !collect::parse_listen_endpoint(options.metrics_listen, metrics_endpoint, error)) {
    std::fprintf(err, "%s: --metrics-listen: %s\n", cmd, error.c_str());
    return 2;
  }

  collect::ListenEndpoint api_endpoint = config.api.listen;
  bool api_on = config.api.enabled && !collect_only;  // a collector serves no API
  if (options.api_listen == "off") {
    api_on = false;
  } else if (!options.api_listen.empty()) {
    if (!collect::parse_listen_endpoint(options.api_listen, api_endpoint, error)) {
      std::fprintf(err, "%s: --api-listen: %s\n", cmd, error.c_str());
      return 2;
    }
    api_on = true;
  }
  std::unique_ptr<ApiService> api_service;
  if (api_on) {
    api_service = ApiService::create(config, error);
    if (!api_service) {
      std::fprintf(err, "%s: %s\n", cmd, error.c_str());
      return 1;
    }
  }

  // Signals are blocked before any thread starts, so only the signalfd sees them.
  const int signal_fd = open_signal_fd();
  if (signal_fd < 0) {
    std::fprintf(err, "%s: cannot set up signal handling\n", cmd);
    return 1;
  }

  Pipeline pipeline(config);
  const bool replaying = !options.replay.empty();
  const std::string flows_output =
      options.flows_output.empty() ? config.output.flows : options.flows_output;
  if (!pipeline.open_flow_output(flows_output, error)) {
    std::fprintf(err, "%s: %s\n", cmd, error.c_str());
    close(signal_fd);
    return 1;
  }
  const std::string estimates_output =
      options.estimates_output.empty() ? config.output.estimates : options.estimates_output;
  if (!pipeline.load_enrichment(error)) {
    std::fprintf(err, "%s: enrichment: %s\n", cmd, error.c_str());
    close(signal_fd);
    return 1;
  }
  if (collect_only) {
    if (!pipeline.open_kafka(producer_options(config.kafka), replaying, error)) {
      std::fprintf(err, "%s: %s\n", cmd, error.c_str());
      close(signal_fd);
      return 1;
    }
    if (!config.kafka.flows_json_topic.empty() &&
        !pipeline.open_kafka_json(json_producer_options(config.kafka), replaying, error)) {
      std::fprintf(err, "%s: %s\n", cmd, error.c_str());
      close(signal_fd);
      return 1;
    }
    // Decoder and sampler state in the store, so that a replacement collector on another
    // host decodes at once (docs/scaling.md "Collector state"). A database that does not
    // answer only delays the writes (they spool); receiving never waits for it.
    if (config.store.enabled && !pipeline.open_persistence(error, PersistenceRole::kCollector)) {
      std::fprintf(err, "%s: %s\n", cmd, error.c_str());
      close(signal_fd);
      return 1;
    }
  } else {
    if (!pipeline.open_estimates(estimates_output, !replaying, error)) {
      std::fprintf(err, "%s: %s\n", cmd, error.c_str());
      close(signal_fd);
      return 1;
    }
    if (!pipeline.open_persistence(error)) {
      std::fprintf(err, "%s: %s\n", cmd, error.c_str());
      close(signal_fd);
      return 1;
    }
    const std::string incidents_output =
        options.incidents_output.empty() ? config.output.incidents : options.incidents_output;
    Pipeline::AnalysisHooks hooks;
    if (api_service) {
      hooks.on_live_windows =
          [board = api_service->board()](std::span<const analyze::TenantSummary> windows) {
            board->add(windows);
          };
    }
    if (!pipeline.open_analysis(incidents_output, !replaying, error, std::move(hooks))) {
      std::fprintf(err, "%s: %s\n", cmd, error.c_str());
      close(signal_fd);
      return 1;
    }
  }
  if (replaying) {
    pipeline.open_replay();
  } else if (!pipeline.open_live(endpoints, error)) {
    std::fprintf(err, "%s: %s\n", cmd, error.c_str());
    close(signal_fd);
    return 1;
  }
  const std::string& state_file =
      options.state_file.empty() ? config.collect.state_file : options.state_file;
  if (!state_file.empty() && !pipeline.load_state(state_file, error)) {
    std::fprintf(err, "%s: state file: %s\n", cmd, error.c_str());
    close(signal_fd);
    return 1;
  }

  api::HttpServer http(
      [&pipeline, &api_service] {
        std::string text = pipeline.metrics();
        if (api_service) {  // the API's own families (fathom_api_*) follow the pipeline's
          api::MetricsText api_text;
          api::append_api_metrics(api_service->stats(), api_text);
          text += api_text.str();
        }
        return text;
      },
      [&pipeline] { return pipeline.health(); });
  if (metrics_on) {
    if (!http.start(metrics_endpoint.host.empty() ? "::" : metrics_endpoint.host,
                    metrics_endpoint.port, error)) {
      std::fprintf(err, "%s: metrics: %s\n", cmd, error.c_str());
      close(signal_fd);
      return 1;
    }
  }

  if (api_service) {
    if (!api_service->start(api_endpoint, pipeline, error)) {
      std::fprintf(err, "%s: api: %s\n", cmd, error.c_str());
      http.stop();
      close(signal_fd);
      return 1;
    }
    if (!api_service->bootstrap_token().empty()) {
      std::fprintf(err, "%s: dashboard at %s#token=%s (admin token kept in %s/api-token)\n", cmd,
                   api_service->url().c_str(), api_service->bootstrap_token().c_str(),
                   config.data_dir.c_str());
    } else {
      std::fprintf(err, "%s: dashboard at %s (log in with an api.tokens token)\n", cmd,
                   api_service->url().c_str());
    }
  }

  std::atomic<bool> stop_replay{false};
  std::thread replay_thread;
  const int done_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int rc = 0;
  std::atomic<bool> replay_failed{false};
  if (replaying) {
    std::fprintf(err, "%s: replaying %zu file(s)%s\n", cmd, options.replay.size(),
                 metrics_on ? ("; metrics on port " + std::to_string(http.port())).c_str() : "");
    replay_thread = std::thread([&] {
      for (const std::string& path : options.replay) {
        if (stop_replay.load()) break;
        ReplayStats stats;
        std::string replay_error;
        ReplayOptions ro{path, speed, vpc_exporter};
        if (!pipeline.replay(ro, stop_replay, stats, replay_error)) {
          logger("app")->error("replay: {}", replay_error);
          replay_failed.store(true);
        }
      }
      const uint64_t one = 1;
      [[maybe_unused]] const ssize_t n = ::write(done_fd, &one, sizeof(one));
    });
  } else {
    std::string ports;
    for (uint16_t port : pipeline.local_ports()) ports += " " + std::to_string(port);
    std::fprintf(err,
                 "%s: listening on UDP ports%s with %zu receive thread(s)%s; Ctrl-C "
                 "to stop\n",
                 cmd, ports.c_str(), pipeline.worker_count(),
                 metrics_on ? ("; metrics on port " + std::to_string(http.port())).c_str() : "");
    if (const std::string warning = pipeline.receive_buffer_warning(); !warning.empty()) {
      log->warn("{}", warning);
    }
    pipeline.start_live();
  }
  std::fflush(err);

  RunSummary summary(cmd);
  int64_t interval_start = monotonic_ns();
  bool stop = false;
  while (!stop) {
    const int64_t now = monotonic_ns();
    const int64_t wait_ms =
        std::max<int64_t>(0, (interval_start + options.interval_ms * 1'000'000 - now) / 1'000'000);
    pollfd fds[2] = {{signal_fd, POLLIN, 0}, {done_fd, POLLIN, 0}};
    const int ready = ::poll(fds, 2, static_cast<int>(wait_ms));
    if (ready < 0 && errno != EINTR) {
      log->critical("poll failed: {}", std::strerror(errno));
      rc = 1;
      break;
    }
    if (ready > 0 && (fds[0].revents & POLLIN) != 0) {
      signalfd_siginfo info{};
      while (::read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
        if (info.ssi_signo == SIGHUP) {
          if (options.config_file.empty()) {
            log->warn("SIGHUP: no config file to reload (started without --config)");
            continue;
          }
          Config next;
          ConfigLoad loaded = load_config_file(options.config_file);
          if (!loaded.ok()) {
            pipeline.count_reload_failure();
            for (const ConfigError& e : loaded.errors) {
              log->error("reload refused, keeping the running config: {}", e.to_string());
            }
            continue;
          }
          next = std::move(loaded.config);
          if (options.verbose > 0) next.log_level = config.log_level;  // -v wins
          std::vector<std::string> restart;
          pipeline.reload(next, restart);
          log->info("config reloaded from {}: {} tenant(s)", options.config_file,
                    next.transform.tenants.size());
          for (const std::string& what : restart) {
            log->warn("config reload: {} changed; it takes effect at the next restart", what);
          }
        } else {
          stop = true;
        }
      }
    }
    if (ready > 0 && (fds[1].revents & POLLIN) != 0) stop = true;
    const int64_t after = monotonic_ns();
    if (after - interval_start >= options.interval_ms * 1'000'000 || stop) {
      if (stop) {
        stop_replay.store(true);
        if (replay_thread.joinable()) replay_thread.join();
        pipeline.stop();  // drains: the last line counts everything
      }
      std::fprintf(err, "%s\n", summary.line(pipeline.snapshot(), after - interval_start).c_str());
      std::fflush(err);
      interval_start = after;
    }
  }
  stop_replay.store(true);
  if (replay_thread.joinable()) replay_thread.join();
  pipeline.stop();
  if (api_service) api_service->stop();
  http.stop();
  ::close(signal_fd);
  ::close(done_fd);
  if (replay_failed.load()) rc = 1;
  const api::CollectorSnapshot last = pipeline.snapshot();
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  for (const auto& w : last.workers) {
    accepted += w.records_accepted;
    rejected += w.records_rejected;
  }
  std::fprintf(err,
               "%s: stopping after %" PRIu64 " packets, %" PRIu64 " records (accepted %" PRIu64
               ", rejected %" PRIu64 ")\n",
               cmd, summary.total_datagrams(), summary.total_records(), accepted, rejected);
  for (const TenantRunEstimate& t : pipeline.estimate_totals()) {
    std::fprintf(err, "%s\n", estimate_line(t, last.tenants).c_str());
  }
  if (const AnalyzeStage* analysis = pipeline.analysis()) {
    const AnalyzeStageStats a = analysis->stats();
    std::fprintf(err,
                 "%s: analysis: %llu records, %llu slides (%llu overran), %llu detections; "
                 "incidents opened %llu, closed %llu\n",
                 cmd, static_cast<unsigned long long>(a.engine.records_analysed),
                 static_cast<unsigned long long>(a.slides),
                 static_cast<unsigned long long>(a.overruns),
                 static_cast<unsigned long long>(a.rules.detections),
                 static_cast<unsigned long long>(a.incidents.opened),
                 static_cast<unsigned long long>(a.incidents.closed));
  }
  if (last.has_kafka_producer) {
    const bus::KafkaProducerStats& k = last.kafka_producer;
    std::fprintf(err,
                 "%s: kafka: %" PRIu64 " records offered, %" PRIu64 " delivered, %" PRIu64
                 " failed, %" PRIu64 " dropped (buffer full), %" PRIu64
                 " dropped (refused), %" PRIu64 " purged at exit\n",
                 cmd, k.records_offered, k.records_delivered, k.records_failed,
                 k.records_dropped_full, k.records_dropped_error, k.records_purged);
    if (!k.last_error.empty()) log->warn("kafka: last error: {}", k.last_error);
  }
  if (last.has_kafka_json_producer) {
    const bus::KafkaProducerStats& k = last.kafka_json_producer;
    std::fprintf(err,
                 "%s: kafka json topic: %" PRIu64 " records offered, %" PRIu64
                 " delivered, %" PRIu64 " failed, %" PRIu64 " dropped (buffer full), %" PRIu64
                 " dropped (refused), %" PRIu64 " purged at exit\n",
                 cmd, k.records_offered, k.records_delivered, k.records_failed,
                 k.records_dropped_full, k.records_dropped_error, k.records_purged);
    if (!k.last_error.empty()) log->warn("kafka json topic: last error: {}", k.last_error);
  }
  if (!state_file.empty()) {
    if (!pipeline.save_state(state_file, error)) {
      std::fprintf(err, "%s: state file: %s\n", cmd, error.c_str());
      rc = 1;
    } else {
      log->info("decoder state saved to {}", state_file);
    }
  }
  return rc;
}

}  // namespace fathom::app
