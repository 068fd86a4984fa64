#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "live/replay_set.h"

namespace fathom::bench {

/// What the token bucket counts.
enum class RateUnit : uint8_t {
  kRecords,  ///< flow records (as Fathom's decoder counts them in each packet)
  kPackets,  ///< datagrams
};

/// How to replay a ReplaySet.
struct SendOptions {
  sockaddr_in destination{};  ///< IPv4 collector address (loopback when sources are 127/8)
  /// First source address (host order); stream i of replica r sends from
  /// first_source + r * streams + i, each from its own socket bound to that address.
  uint32_t first_source = 0x7f00000a;  // 127.0.0.10
  /// Copies of each capture exporter, each from its own source address: K replicas of S
  /// streams look like K * S exporters to the collector.
  uint32_t replicas = 1;
  double rate = 1'000'000;  ///< target `unit`s per second; 0 = as fast as possible
  RateUnit unit = RateUnit::kRecords;
  double duration_s = 10;  ///< stop after this long (0 = only `loops` stops)
  uint64_t loops = 0;      ///< stop each stream after this many passes (0 = only duration)
  size_t batch = 32;       ///< datagrams per sendmmsg (all from one stream)
  /// Largest burst the bucket may save up, in seconds of `rate`: a sender that slept too long
  /// catches up by at most this much at once. Sleeps in a VM overshoot by ~0.1 ms on average
  /// and by several ms now and then; 2 ms of credit lost 10-25% of the target rate, 10 ms
  /// keeps the achieved rate within 1% (10 ms at 5 M records/s is ~1,600 datagrams, ~3.5 MB of
  /// receive buffer).
  double burst_s = 0.010;
};

/// What one source address sent.
struct StreamReport {
  uint32_t source = 0;  ///< host order
  const ExporterStream* stream = nullptr;
  uint64_t packets = 0;
  uint64_t records = 0;
};

/// What was sent.
struct SendReport {
  uint64_t packets = 0;
  uint64_t records = 0;      ///< records in the packets sent (first pass, then steady counts)
  uint64_t bytes = 0;        ///< UDP payload bytes
  uint64_t send_errors = 0;  ///< sendmmsg calls that failed (e.g. ECONNREFUSED: no listener)
  uint64_t min_loops = 0;    ///< complete passes of the slowest stream
  int64_t elapsed_ns = 0;    ///< from the first send to the last
  int64_t cpu_user_ns = 0;   ///< this process, sending phase only
  int64_t cpu_sys_ns = 0;
  std::string first_error;            ///< strerror of the first failed send
  std::vector<StreamReport> streams;  ///< per source address, in address order
};

/// Replays `set` to `options.destination` paced by a token bucket, each exporter stream in
/// capture order from its own socket. Returns false and sets `error` when a socket cannot be
/// opened, bound or connected; send errors during the run are counted, not fatal.
bool send_paced(const ReplaySet& set, const SendOptions& options, SendReport& report,
                std::string& error);

}  // namespace fathom::bench
