#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "collect/udp_listener.h"
#include "decode/decoder.h"
#include "flow/flow_batch.h"

namespace fathom::app {

/// Options of `fathom run` (the interim collector until the full pipeline lands). Flags given
/// on the command line override the config file.
struct RunOptions {
  std::string config_file;  ///< fathom.yaml to load ("" = built-in defaults)
  /// "HOST:PORT" endpoints; empty means `collect.listeners` of the config.
  std::vector<std::string> listen;
  std::string state_file;      ///< overrides `collect.state_file` when not empty
  int64_t interval_ms = 5000;  ///< summary period
};

/// Decodes received datagrams with one Decoder and keeps the numbers for the periodic summary.
/// Records are counted and dropped: nothing downstream exists yet.
class LiveCollector {
 public:
  explicit LiveCollector(decode::Config config = {});

  /// Decodes each datagram (PacketContext from its source and arrival time).
  void handle(std::span<const collect::ReceivedDatagram> datagrams);

  /// One summary line for the interval since the previous call, then starts a new interval:
  /// packets and records with per-second rates over `elapsed_ns`, records per protocol, and
  /// every decoder reason counted so far (since start), by name.
  std::string summary(int64_t elapsed_ns);

  decode::Decoder& decoder() noexcept { return decoder_; }
  uint64_t total_packets() const noexcept { return total_packets_; }
  uint64_t total_records() const noexcept { return total_records_; }

 private:
  decode::Decoder decoder_;
  flow::FlowBatch batch_;
  uint64_t total_packets_ = 0;
  uint64_t total_records_ = 0;
  uint64_t interval_packets_ = 0;
  uint64_t interval_records_ = 0;
  std::array<uint64_t, 8> interval_by_source_{};  ///< indexed by flow::SourceProtocol
};

/// Runs `fathom run`: loads the config file (if any), binds the endpoints, decodes until
/// SIGINT or SIGTERM, prints a summary line to `err` every interval and a last one at exit.
/// Returns 0 on a clean exit, 1 when the config is invalid, a socket cannot be bound or the
/// state file cannot be loaded/saved.
int run_collector(const RunOptions& options, std::FILE* err);

}  // namespace fathom::app
