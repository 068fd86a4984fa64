#include "app/run_command.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <string>

#include "app/config_loader.h"
#include "collect/config.h"
#include "decode/packet_context.h"

namespace fathom::app {
namespace {

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::string rate(uint64_t count, int64_t elapsed_ns) {
  const double per_s =
      elapsed_ns > 0 ? static_cast<double>(count) * 1e9 / static_cast<double>(elapsed_ns) : 0.0;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f/s", per_s);
  return buf;
}

/// Blocks SIGINT/SIGTERM for this thread and returns a signalfd that becomes readable when one
/// arrives, so the poll loop wakes without a signal handler or global flag.
int open_signal_fd() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) return -1;
  return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

}  // namespace

LiveCollector::LiveCollector(decode::Config config) : decoder_(config) {}

void LiveCollector::handle(std::span<const collect::ReceivedDatagram> datagrams) {
  for (const collect::ReceivedDatagram& d : datagrams) {
    const decode::PacketContext ctx{d.src, d.src_port, d.arrival_ns};
    batch_.clear();
    decoder_.decode(d.payload, ctx, batch_);
    ++interval_packets_;
    ++total_packets_;
    interval_records_ += batch_.size();
    total_records_ += batch_.size();
    for (const flow::FlowRecord& r : batch_.records()) {
      const auto source = static_cast<size_t>(r.source);
      if (source < interval_by_source_.size()) ++interval_by_source_[source];
    }
  }
}

std::string LiveCollector::summary(int64_t elapsed_ns) {
  std::string line = "fathom run: packets " + std::to_string(interval_packets_) + " (" +
                     rate(interval_packets_, elapsed_ns) + "), records " +
                     std::to_string(interval_records_) + " (" +
                     rate(interval_records_, elapsed_ns) + ")";
  bool any_source = false;
  for (size_t i = 0; i < interval_by_source_.size(); ++i) {
    if (interval_by_source_[i] == 0) continue;
    line += any_source ? " " : "; ";
    any_source = true;
    line += flow::to_string(static_cast<flow::SourceProtocol>(i));
    line += '=';
    line += std::to_string(interval_by_source_[i]);
  }
  std::array<uint64_t, decode::kDecodeStatusCount> reasons{};
  size_t exporters = 0;
  auto add = [&](const decode::ExporterStats& s) {
    for (size_t i = 1; i < decode::kDecodeStatusCount; ++i) reasons[i] += s.reasons[i];
  };
  decoder_.for_each_exporter([&](const decode::ExporterState& e) {
    ++exporters;
    add(e.stats);
  });
  add(decoder_.overflow_stats());
  line += "; exporters " + std::to_string(exporters) + "; errors since start:";
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
  interval_packets_ = 0;
  interval_records_ = 0;
  interval_by_source_.fill(0);
  return line;
}

namespace {

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

}  // namespace

int run_collector(const RunOptions& options, std::FILE* err) {
  Config config;
  if (!options.config_file.empty()) {
    ConfigLoad load = load_config_file(options.config_file);
    if (!load.ok()) {
      for (const ConfigError& e : load.errors) {
        std::fprintf(err, "fathom run: %s\n", e.to_string().c_str());
      }
      return 1;
    }
    config = std::move(load.config);
  }
  std::vector<collect::ListenEndpoint> endpoints;
  if (options.listen.empty()) {
    endpoints = config.collect.listeners;
    // The built-in defaults listen on [::] too; on a host without IPv6 `make run` must still
    // start, so only those defaults fall back to IPv4. Listeners the user named stay strict.
    if (same_endpoints(endpoints, collect::Config{}.listeners) && !ipv6_available()) {
      std::erase_if(endpoints, [](const collect::ListenEndpoint& e) { return is_ipv6_host(e); });
      std::fprintf(err, "fathom run: no IPv6 on this host; listening on IPv4 only\n");
    }
  }
  for (const std::string& text : options.listen) {
    collect::ListenEndpoint endpoint;
    std::string error;
    if (!collect::parse_listen_endpoint(text, endpoint, error)) {
      std::fprintf(err, "fathom run: %s\n", error.c_str());
      return 2;
    }
    endpoints.push_back(endpoint);
  }

  const std::string& state_file =
      options.state_file.empty() ? config.collect.state_file : options.state_file;
  LiveCollector collector(config.decode);
  if (!state_file.empty()) {
    std::string error;
    if (!collector.decoder().load_state(state_file, error)) {
      std::fprintf(err, "fathom run: state file: %s\n", error.c_str());
      return 1;
    }
  }
  std::string error;
  auto listener = collect::UdpListener::open(endpoints, error);
  if (!listener) {
    std::fprintf(err, "fathom run: %s\n", error.c_str());
    return 1;
  }
  const int signal_fd = open_signal_fd();
  if (signal_fd < 0) {
    std::fprintf(err, "fathom run: cannot set up signal handling\n");
    return 1;
  }
  std::string ports;
  for (uint16_t port : listener->local_ports()) ports += " " + std::to_string(port);
  std::fprintf(err, "fathom run: listening on UDP ports%s; Ctrl-C to stop\n", ports.c_str());

  std::vector<collect::ReceivedDatagram> datagrams;
  datagrams.reserve(collect::UdpListener::kBatch);
  int64_t interval_start = monotonic_ns();
  bool stop = false;
  int rc = 0;
  while (!stop) {
    const int64_t now = monotonic_ns();
    const int64_t until_summary_ms =
        (interval_start + options.interval_ms * 1'000'000 - now) / 1'000'000;
    bool woken = false;
    if (!listener->receive(static_cast<int>(std::max<int64_t>(0, until_summary_ms)), datagrams,
                           signal_fd, &woken)) {
      std::fprintf(err, "fathom run: poll failed\n");
      rc = 1;
      break;
    }
    collector.handle(datagrams);
    if (woken) {
      signalfd_siginfo info{};
      if (read(signal_fd, &info, sizeof(info)) > 0) stop = true;
    }
    const int64_t after = monotonic_ns();
    if (after - interval_start >= options.interval_ms * 1'000'000 || stop) {
      std::fprintf(err, "%s\n", collector.summary(after - interval_start).c_str());
      std::fflush(err);
      timespec wall{};
      clock_gettime(CLOCK_REALTIME, &wall);
      collector.decoder().expire(int64_t{wall.tv_sec} * 1'000'000'000 + wall.tv_nsec);
      interval_start = after;
    }
  }
  close(signal_fd);
  std::fprintf(err, "fathom run: stopping after %" PRIu64 " packets, %" PRIu64 " records\n",
               collector.total_packets(), collector.total_records());
  if (!state_file.empty()) {
    if (!collector.decoder().save_state(state_file, error)) {
      std::fprintf(err, "fathom run: state file: %s\n", error.c_str());
      rc = 1;
    }
  }
  return rc;
}

}  // namespace fathom::app
