// fathom-gen: simulated tenants, background traffic and attacks, exported as NetFlow v5/v9,
// IPFIX and sFlow v5 to pcap files and UDP collectors, with ground truth. See docs/generator.md.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gen/generator.h"
#include "gen/output.h"
#include "gen/scenario_yaml.h"

namespace {

using fathom::gen::DatagramInfo;
using Clock = std::chrono::steady_clock;

/// How fast simulated time runs: 0 = as fast as possible, otherwise simulated s per wall s.
double parse_speed(const std::string& text) {
  if (text == "max") return 0;
  if (text == "realtime") return 1;
  std::string number = text;
  if (!number.empty() && (number.back() == 'x' || number.back() == 'X')) number.pop_back();
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(number, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != number.size() || !(v > 0)) {
    throw std::invalid_argument("bad --speed '" + text + "' (realtime, max or Nx, e.g. 10x)");
  }
  return v;
}

/// Opens `path` for writing through a 1 MiB buffer (one write(2) per ~700 datagrams instead
/// of one per datagram). `buffer` must outlive the stream.
void open_out(std::ofstream& out, const std::string& path, std::vector<char>& buffer) {
  buffer.resize(size_t{1} << 20);
  out.rdbuf()->pubsetbuf(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  out.open(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fathom-gen: multi-tenant flow telemetry and attack generator"};
  std::string config_path;
  std::optional<uint64_t> seed;
  std::string speed_text = "max";
  double rate = 0;
  std::string duration_text;
  std::string pcap_path;
  std::vector<std::string> udp_targets;
  std::string truth_path;
  std::string ground_truth_path;
  bool quiet = false;
  std::optional<bool> truth_hosts;
  bool random_attack_starts = false;
  app.add_option("--config", config_path, "scenario YAML file")->check(CLI::ExistingFile);
  app.add_option("--seed", seed, "random seed (overrides the scenario's)");
  app.add_option("--speed", speed_text, "realtime, Nx (e.g. 10x) or max")->capture_default_str();
  app.add_option("--rate", rate, "target exported records per second (0 = no target)");
  app.add_option("--duration", duration_text, "simulated duration (e.g. 600s, 10m, 1h)");
  app.add_option("--pcap", pcap_path, "write export datagrams to this pcap file");
  app.add_option("--udp", udp_targets, "send datagrams to HOST:PORT (repeatable)");
  app.add_option("--truth", truth_path, "write the unsampled per-window truth CSV");
  app.add_option("--ground-truth", ground_truth_path, "write the attack ground-truth CSV");
  app.add_option("--truth-hosts", truth_hosts,
                 "per-host lines in the truth CSV (true/false; overrides the scenario)");
  app.add_flag("--random-attack-starts", random_attack_starts,
               "draw attack start times from the seed (ignores the scenario's starts)");
  app.add_flag("--quiet", quiet, "no progress line");
  CLI11_PARSE(app, argc, argv);

  try {
    fathom::gen::Scenario scenario = config_path.empty() ? fathom::gen::default_scenario()
                                                         : fathom::gen::load_scenario(config_path);
    if (seed) scenario.seed = *seed;
    if (truth_hosts) scenario.truth_hosts = *truth_hosts;
    if (random_attack_starts) scenario.random_attack_starts = true;
    if (!duration_text.empty())
      scenario.duration_ns = fathom::gen::parse_duration_ns(duration_text);
    const double speed = parse_speed(speed_text);
    if (rate < 0) throw std::invalid_argument("--rate must be >= 0");
    if (pcap_path.empty() && udp_targets.empty() && truth_path.empty() &&
        ground_truth_path.empty()) {
      throw std::invalid_argument("nothing to do: give --pcap, --udp, --truth or --ground-truth");
    }

    fathom::gen::Generator generator(std::move(scenario));
    std::vector<char> pcap_buffer;
    std::vector<char> truth_buffer;
    std::ofstream pcap_file;
    std::unique_ptr<fathom::gen::PcapWriter> pcap;
    if (!pcap_path.empty()) {
      open_out(pcap_file, pcap_path, pcap_buffer);
      pcap = std::make_unique<fathom::gen::PcapWriter>(pcap_file);
    }
    std::unique_ptr<fathom::gen::UdpSender> udp;
    if (!udp_targets.empty()) {
      std::vector<fathom::gen::UdpTarget> targets;
      for (const auto& t : udp_targets) {
        auto parsed = fathom::gen::UdpTarget::parse(t);
        if (!parsed) throw std::invalid_argument("bad --udp target '" + t + "' (HOST:PORT)");
        targets.push_back(*parsed);
      }
      std::vector<fathom::flow::IpAddress> exporter_addresses;
      for (const auto& e : generator.exporters()) exporter_addresses.push_back(e.address);
      udp = std::make_unique<fathom::gen::UdpSender>(std::move(targets), exporter_addresses);
    }
    std::ofstream truth_file;
    if (!truth_path.empty()) open_out(truth_file, truth_path, truth_buffer);

    const bool progress = !quiet && ::isatty(STDERR_FILENO);
    const auto wall_start = Clock::now();
    auto last_progress = wall_start;
    const int64_t sim_start = generator.scenario().start_ns;
    uint64_t records = 0;
    uint64_t datagrams = 0;
    const auto sink = [&](const DatagramInfo& info, uint32_t n, std::span<const std::byte> data) {
      // Pace: simulated time at `speed`, or records at `rate`, whichever is slower.
      std::chrono::nanoseconds due{0};
      if (speed > 0) {
        due = std::chrono::nanoseconds(
            static_cast<int64_t>(static_cast<double>(info.time_ns - sim_start) / speed));
      }
      if (rate > 0) {
        due = std::max(due, std::chrono::nanoseconds(
                                static_cast<int64_t>(static_cast<double>(records) / rate * 1e9)));
      }
      if (due.count() > 0) std::this_thread::sleep_until(wall_start + due);
      if (pcap) pcap->write(info, data);
      if (udp) udp->send(info, data);
      records += n;
      ++datagrams;
      if (progress) {
        const auto now = Clock::now();
        if (now - last_progress > std::chrono::milliseconds(500)) {
          last_progress = now;
          const double wall = std::chrono::duration<double>(now - wall_start).count();
          std::fprintf(stderr, "\rsim %7.1fs  records %12llu  datagrams %10llu  %9.0f rec/s ",
                       static_cast<double>(info.time_ns - sim_start) / 1e9,
                       static_cast<unsigned long long>(records),
                       static_cast<unsigned long long>(datagrams),
                       static_cast<double>(records) / std::max(wall, 1e-9));
        }
      }
    };
    const auto summary = generator.run(sink, truth_path.empty() ? nullptr : &truth_file);
    if (!ground_truth_path.empty()) {
      std::vector<char> gt_buffer;
      std::ofstream gt;
      open_out(gt, ground_truth_path, gt_buffer);
      generator.write_ground_truth(gt);
      gt.flush();
      if (!gt) throw std::runtime_error("write failed: " + ground_truth_path);
    }
    const double wall = std::chrono::duration<double>(Clock::now() - wall_start).count();
    if (progress) std::fputc('\n', stderr);
    if (!quiet) {
      std::fprintf(stderr,
                   "fathom-gen: %llu flows, %llu records, %llu datagrams in %.1f simulated s, "
                   "%.2f wall s (%.0f records/s)%s\n",
                   static_cast<unsigned long long>(summary.flows),
                   static_cast<unsigned long long>(summary.records),
                   static_cast<unsigned long long>(summary.datagrams),
                   static_cast<double>(summary.simulated_ns) / 1e9, wall,
                   static_cast<double>(summary.records) / std::max(wall, 1e-9),
                   udp && udp->errors() ? " (UDP send errors)" : "");
    }
    if (pcap_file.is_open() && !pcap_file.flush()) {
      throw std::runtime_error("write failed: " + pcap_path);
    }
    if (truth_file.is_open() && !truth_file.flush()) {
      throw std::runtime_error("write failed: " + truth_path);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fathom-gen: %s\n", e.what());
    return 1;
  }
}
