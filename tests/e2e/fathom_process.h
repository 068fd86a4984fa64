#pragma once

// `fathom run` under test: started on loopback with kernel-chosen ports (so parallel ctest runs
// never collide), ports learned from its "listening" line, /metrics polled until a condition
// holds (never a sleep), and stopped by signal with a bounded wait.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "e2e/child_process.h"
#include "e2e/json_record.h"
#include "e2e/metrics_client.h"
#include "e2e/udp_sender.h"

namespace fathom::e2e {

using std::chrono::seconds;

/// Path of the `fathom` binary of this build tree.
std::string fathom_binary();

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const noexcept { return path_; }
  /// `path()/name`.
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  /// Writes `text` to `path()/name` (replacing it) and returns the full path.
  std::string write(const std::string& name, const std::string& text) const;

 private:
  std::string path_;
};

/// Reads a JSON-lines file; every line must be one flat JSON object (JsonRecord). Returns nullopt
/// and sets `error` (file, line number, text) otherwise. A missing file reads as no records.
std::optional<std::vector<JsonRecord>> read_jsonl(const std::string& path, std::string& error);

/// How to start `fathom run`. It always gets `--listen 127.0.0.1:0 --metrics-listen
/// 127.0.0.1:0 --interval 1` plus what is set here.
struct FathomOptions {
  std::string config_path;  ///< --config (empty: none)
  std::string flows_path;   ///< --flows (empty: none)
  std::string state_file;   ///< --state-file (empty: none)
  /// --data-dir (empty: a fresh directory of the run's own, removed with it).
  std::string data_dir;
  std::vector<std::string> extra_args;
};

class FathomRun {
 public:
  /// Starts the collector and waits (at most 15 s) for its "listening on UDP ports ...;
  /// metrics on port M" line. Returns nullptr and sets `error` (with the output so far) when
  /// it does not come.
  static std::unique_ptr<FathomRun> start(const FathomOptions& options, std::string& error);

  uint16_t udp_port() const noexcept { return udp_port_; }
  uint16_t metrics_port() const noexcept { return metrics_port_; }
  ChildProcess& process() noexcept { return *process_; }

  /// One /metrics scrape; nullopt when the server does not answer 200.
  std::optional<MetricsSnapshot> metrics() const;
  /// Scrapes /metrics every 20 ms until `done` holds for a scrape (returned) or `timeout`
  /// passes (nullopt).
  std::optional<MetricsSnapshot> wait_until(const std::function<bool(const MetricsSnapshot&)>& done,
                                            std::chrono::milliseconds timeout = seconds(10)) const;
  /// `wait_until` the sum of `name`{`labels`} is at least `value`.
  std::optional<MetricsSnapshot> wait_for_value(
      const std::string& name, double value, const Labels& labels = {},
      std::chrono::milliseconds timeout = seconds(10)) const;

  /// Sends one datagram from `sender` to the collector's UDP port, counted in `sent()`.
  /// Paced so that at most `kWindow` datagrams are in flight (sent but not yet counted by
  /// the collector's sockets as received or dropped): loopback never overflows the receive
  /// buffer however slow the collector is. False when the send fails or the collector stops
  /// receiving for 10 s.
  bool send(UdpSender& sender, std::span<const std::byte> payload);
  /// `send` for each payload in order.
  bool send_all(UdpSender& sender, const std::vector<std::vector<std::byte>>& payloads);
  /// Waits until the collector's sockets have taken (or the kernel dropped) every datagram
  /// sent: an ordering point, e.g. "the template was received before the data was sent".
  bool wait_received(std::chrono::milliseconds timeout = seconds(10));
  /// Datagrams sent through `send`.
  uint64_t sent() const noexcept { return sent_; }
  /// Waits until the decoders have counted every datagram sent
  /// (fathom_decode_datagrams_total == sent()); returns that scrape, or nullopt on timeout.
  std::optional<MetricsSnapshot> wait_all_decoded(
      std::chrono::milliseconds timeout = seconds(10)) const;

  /// Sends `sig` and waits (at most `timeout`) for the exit; returns the exit code, or nullopt
  /// when it had to be killed.
  std::optional<int> stop(int sig, std::chrono::milliseconds timeout = seconds(15));

  /// Datagrams in flight that `send` allows.
  static constexpr uint64_t kWindow = 32;

 private:
  FathomRun() = default;
  /// Datagrams the collector's sockets have taken or the kernel dropped, from /metrics.
  std::optional<uint64_t> received() const;

  std::unique_ptr<TempDir> data_dir_;  ///< when the options named none; outlives process_
  std::unique_ptr<ChildProcess> process_;
  uint16_t udp_port_ = 0;
  uint16_t metrics_port_ = 0;
  uint64_t sent_ = 0;
  uint64_t received_seen_ = 0;  // latest received() value, so most sends skip the scrape
};

}  // namespace fathom::e2e
