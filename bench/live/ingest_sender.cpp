// fathom-ingest-sender: replays the flow exports in pcap files (the reference captures, or a
// fathom-gen --pcap file) to a UDP collector on loopback with sendmmsg, paced by a token bucket
// in records/s or packets/s, each exporter of each capture from its own source address and in
// capture order (templates before the data that needs them), replicated K times to look like
// K times as many exporters. Reports what it sent as one `key=value` line on stdout, for
// bench/live/run; the load summary goes to stderr.

#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "live/paced_sender.h"
#include "live/replay_set.h"

namespace {

using fathom::bench::RateUnit;

/// Parses "A.B.C.D:PORT" (IPv4, numeric). Returns false on anything else.
bool parse_destination(const std::string& text, sockaddr_in& out) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string host = text.substr(0, colon);
  const std::string port_text = text.substr(colon + 1);
  char* end = nullptr;
  const unsigned long port = std::strtoul(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || port == 0 || port > 65535) return false;
  out = {};
  out.sin_family = AF_INET;
  out.sin_port = htons(static_cast<uint16_t>(port));
  return inet_pton(AF_INET, host.c_str(), &out.sin_addr) == 1;
}

double seconds(int64_t ns) {
  return static_cast<double>(ns) / 1e9;
}

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// Busy clock ticks of the whole machine since boot (/proc/stat "cpu": user, nice, system, irq,
/// softirq; not idle, iowait or steal), or -1 when unreadable. Loopback delivery runs partly in
/// softirq, charged to no process, so only the machine-wide figure shows what both cores did.
int64_t host_busy_ticks() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  int64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  if (!(stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq) ||
      cpu != "cpu") {
    return -1;
  }
  return user + nice + system + irq + softirq;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fathom-ingest-sender: replay flow exports from pcap files to a UDP collector"};
  std::vector<std::string> pcaps;
  std::string destination_text = "127.0.0.1:2055";
  std::string first_source_text = "127.0.0.10";
  double records_per_s = 0;
  double packets_per_s = 0;
  fathom::bench::SendOptions options;
  bool info_only = false;
  app.add_option("pcap", pcaps, "pcap files of flow exports (reference captures, fathom-gen)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--to", destination_text, "collector, IPv4 HOST:PORT")->capture_default_str();
  app.add_option("--rate", records_per_s,
                 "target flow records per second (without --rate or --pps: flat out)");
  app.add_option("--pps", packets_per_s, "target datagrams per second (instead of --rate)");
  app.add_option("--duration", options.duration_s, "seconds to send (0: until --loops)")
      ->capture_default_str();
  app.add_option("--loops", options.loops, "passes over each exporter's packets (0: no limit)")
      ->capture_default_str();
  app.add_option("--replicas", options.replicas,
                 "copies of each capture exporter, each from its own source address")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--source", first_source_text,
                 "first source address; one more per exporter stream (must be local: 127/8)")
      ->capture_default_str();
  app.add_option("--batch", options.batch, "datagrams per sendmmsg")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--burst", options.burst_s, "most credit the token bucket saves up, seconds")
      ->capture_default_str();
  app.add_flag("--info", info_only, "print the exporter streams and record counts, send nothing");
  CLI11_PARSE(app, argc, argv);

  if (records_per_s > 0 && packets_per_s > 0) {
    std::fprintf(stderr, "fathom-ingest-sender: give --rate or --pps, not both\n");
    return 2;
  }
  options.unit = packets_per_s > 0 ? RateUnit::kPackets : RateUnit::kRecords;
  options.rate = packets_per_s > 0 ? packets_per_s : records_per_s;
  if (!parse_destination(destination_text, options.destination)) {
    std::fprintf(stderr, "fathom-ingest-sender: bad --to '%s' (IPv4 HOST:PORT)\n",
                 destination_text.c_str());
    return 2;
  }
  in_addr first_source{};
  if (inet_pton(AF_INET, first_source_text.c_str(), &first_source) != 1) {
    std::fprintf(stderr, "fathom-ingest-sender: bad --source '%s'\n", first_source_text.c_str());
    return 2;
  }
  options.first_source = ntohl(first_source.s_addr);
  if (options.duration_s <= 0 && options.loops == 0) {
    std::fprintf(stderr, "fathom-ingest-sender: give --duration or --loops\n");
    return 2;
  }

  fathom::bench::ReplaySet set;
  std::string error;
  if (!fathom::bench::load_replay_set(pcaps, set, error)) {
    std::fprintf(stderr, "fathom-ingest-sender: %s\n", error.c_str());
    return 1;
  }
  uint64_t steady_records = 0;
  for (const fathom::bench::ExporterStream& s : set.streams) {
    std::fprintf(stderr,
                 "fathom-ingest-sender: stream %s: %zu packets, %" PRIu64 " bytes, %" PRIu64
                 " records first pass, %" PRIu64 " per further pass\n",
                 s.origin.c_str(), s.packets.size(), s.bytes, s.records_first_pass,
                 s.records_steady);
    steady_records += s.records_steady;
  }
  std::fprintf(stderr,
               "fathom-ingest-sender: %zu streams x %u replicas, %zu packets, %.1f records/packet,"
               " %" PRIu64 " packets not fully decoded\n",
               set.streams.size(), options.replicas, set.packets.size(),
               set.packets.empty()
                   ? 0.0
                   : static_cast<double>(steady_records) / static_cast<double>(set.packets.size()),
               set.not_ok_packets);
  if (info_only) return 0;

  fathom::bench::SendReport report;
  const int64_t busy_before = host_busy_ticks();
  const int64_t wall_before = monotonic_ns();
  if (!fathom::bench::send_paced(set, options, report, error)) {
    std::fprintf(stderr, "fathom-ingest-sender: %s\n", error.c_str());
    return 1;
  }
  const int64_t busy_after = host_busy_ticks();
  const double wall = seconds(monotonic_ns() - wall_before);
  const double host_busy_cores = busy_before >= 0 && busy_after >= 0 && wall > 0
                                     ? static_cast<double>(busy_after - busy_before) /
                                           static_cast<double>(sysconf(_SC_CLK_TCK)) / wall
                                     : -1;
  const double elapsed = seconds(report.elapsed_ns);
  const double per_s = elapsed > 0 ? 1 / elapsed : 0;
  std::printf("packets=%" PRIu64 " records=%" PRIu64 " bytes=%" PRIu64
              " elapsed_s=%.3f pps=%.0f"
              " rps=%.0f exporters=%zu min_loops=%" PRIu64 " send_errors=%" PRIu64
              " cpu_user_s=%.3f cpu_sys_s=%.3f host_busy_cores=%.2f\n",
              report.packets, report.records, report.bytes, elapsed,
              static_cast<double>(report.packets) * per_s,
              static_cast<double>(report.records) * per_s, set.streams.size() * options.replicas,
              report.min_loops, report.send_errors, seconds(report.cpu_user_ns),
              seconds(report.cpu_sys_ns), host_busy_cores);
  // Per exporter, so a collector's loss can be told apart by protocol (reports aggregate by
  // exporter address).
  for (const fathom::bench::StreamReport& s : report.streams) {
    in_addr a{};
    a.s_addr = htonl(s.source);
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &a, text, sizeof(text));
    std::fprintf(stderr,
                 "fathom-ingest-sender: sent from %s (%s): %" PRIu64 " packets, %" PRIu64
                 " records\n",
                 text, s.stream->origin.c_str(), s.packets, s.records);
  }
  if (report.send_errors > 0) {
    std::fprintf(stderr, "fathom-ingest-sender: %" PRIu64 " failed sends, first: %s\n",
                 report.send_errors, report.first_error.c_str());
  }
  return 0;
}
