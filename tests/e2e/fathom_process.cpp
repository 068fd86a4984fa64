#include "e2e/fathom_process.h"

#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <thread>
namespace fathom::e2e {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

}  // namespace

std::string fathom_binary() {
  return std::string(FATHOM_BINARY_DIR) + "/src/fathom";
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/fathom-e2e-XXXXXX";
  if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& text) const {
  std::string full = file(name);
  // Write a new file and rename it over the old one: a reload never sees half a file.
  const std::string tmp = full + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(tmp, full);
  return full;
}

std::optional<std::vector<JsonRecord>> read_jsonl(const std::string& path, std::string& error) {
  std::vector<JsonRecord> records;
  std::ifstream in(path);
  if (!in) return records;
  std::string line;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    std::optional<JsonRecord> object = JsonRecord::parse(line);
    if (!object) {
      error = path;
      error += ":" + std::to_string(line_number) + ": not a JSON object: ";
      error += line;
      return std::nullopt;
    }
    records.push_back(std::move(*object));
  }
  return records;
}

std::unique_ptr<FathomRun> FathomRun::start(const FathomOptions& options, std::string& error) {
  std::vector<std::string> argv = {
      fathom_binary(), "run",          "--listen",    "127.0.0.1:0", "--metrics-listen",
      "127.0.0.1:0",   "--api-listen", "127.0.0.1:0", "--interval",  "1"};
  if (!options.config_path.empty()) argv.insert(argv.end(), {"--config", options.config_path});
  if (!options.flows_path.empty()) argv.insert(argv.end(), {"--flows", options.flows_path});
  if (!options.state_file.empty()) {
    argv.insert(argv.end(), {"--state-file", options.state_file});
  }
  std::unique_ptr<FathomRun> run(new FathomRun());
  if (options.data_dir.empty()) {
    run->data_dir_ = std::make_unique<TempDir>();
    argv.insert(argv.end(), {"--data-dir", run->data_dir_->path()});
  } else {
    argv.insert(argv.end(), {"--data-dir", options.data_dir});
  }
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());

  run->process_ = ChildProcess::start(argv, error);
  if (!run->process_) return nullptr;
  const auto m = run->process_->wait_for_line(
      R"(fathom run: listening on UDP ports (\d+).*; metrics on port (\d+))", seconds(15));
  if (!m) {
    error = "fathom run did not report its ports; output:\n" + run->process_->output();
    return nullptr;
  }
  run->udp_port_ = static_cast<uint16_t>(std::stoul((*m)[1]));
  run->metrics_port_ = static_cast<uint16_t>(std::stoul((*m)[2]));
  return run;
}

std::optional<MetricsSnapshot> FathomRun::metrics() const {
  return fetch_metrics(metrics_port_);
}

std::optional<MetricsSnapshot> FathomRun::wait_until(
    const std::function<bool(const MetricsSnapshot&)>& done,
    std::chrono::milliseconds timeout) const {
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    std::optional<MetricsSnapshot> snap = metrics();
    if (snap && done(*snap)) return snap;
    if (Clock::now() >= deadline) return std::nullopt;
    // Polling an external process's counters with a deadline: the wait ends on the
    // condition, the sleep only spaces the scrapes.
    std::this_thread::sleep_for(milliseconds(20));
  }
}

std::optional<MetricsSnapshot> FathomRun::wait_for_value(const std::string& name, double value,
                                                         const Labels& labels,
                                                         std::chrono::milliseconds timeout) const {
  return wait_until([&](const MetricsSnapshot& s) { return s.sum(name, labels) >= value; },
                    timeout);
}

std::optional<uint64_t> FathomRun::received() const {
  const std::optional<MetricsSnapshot> snap = metrics();
  if (!snap) return std::nullopt;
  return static_cast<uint64_t>(snap->sum("fathom_collect_datagrams_total") +
                               snap->sum("fathom_collect_kernel_drops_total"));
}

bool FathomRun::send(UdpSender& sender, std::span<const std::byte> payload) {
  if (sent_ - received_seen_ >= kWindow) {
    const Clock::time_point deadline = Clock::now() + seconds(10);
    for (;;) {
      if (const std::optional<uint64_t> got = received()) received_seen_ = *got;
      // Wait for half the window to drain, so scrapes are not one per datagram.
      if (sent_ - received_seen_ < kWindow / 2) break;
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(milliseconds(1));
    }
  }
  if (!sender.send_to(udp_port_, payload)) return false;
  ++sent_;
  return true;
}

bool FathomRun::wait_received(std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    if (const std::optional<uint64_t> got = received()) received_seen_ = *got;
    if (received_seen_ >= sent_) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
}

bool FathomRun::send_all(UdpSender& sender, const std::vector<std::vector<std::byte>>& payloads) {
  for (const std::vector<std::byte>& p : payloads) {
    if (!send(sender, p)) return false;
  }
  return true;
}

std::optional<MetricsSnapshot> FathomRun::wait_all_decoded(
    std::chrono::milliseconds timeout) const {
  return wait_until(
      [&](const MetricsSnapshot& s) {
        return s.sum("fathom_decode_datagrams_total") >= static_cast<double>(sent_);
      },
      timeout);
}

std::optional<int> FathomRun::stop(int sig, std::chrono::milliseconds timeout) {
  process_->send_signal(sig);
  return process_->wait_exit(timeout);
}

}  // namespace fathom::e2e
