#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "bus/bus.h"

namespace fathom::app {

/// Counters of a FlowSink (any thread).
struct FlowSinkStats {
  uint64_t records = 0;          ///< flow records written
  uint64_t counter_records = 0;  ///< interface-counter records written
  uint64_t bytes = 0;            ///< bytes written
  uint64_t write_errors = 0;     ///< failed writes (each loses what it carried: counted)
  uint64_t records_lost = 0;     ///< records in failed writes
};

/// Writes every flow (and interface-counter) record published on the bus as one JSON object
/// per line (the `fathom decode` format) to a file or stdout, from its own thread. A slow
/// disk or pipe fills the sink's bus queue and whole batches are dropped there (counted by the
/// bus), never stalling the receive threads. A failed write (full disk, closed pipe) is
/// counted with the records it carried, logged once per minute, and the sink keeps going.
class FlowSink {
 public:
  /// Opens `path` for appending ("-" = stdout). Returns nullptr and sets `error` on failure.
  static std::unique_ptr<FlowSink> open(const std::string& path, bus::Bus& bus,
                                        size_t queue_batches, std::string& error);
  ~FlowSink();
  FlowSink(const FlowSink&) = delete;
  FlowSink& operator=(const FlowSink&) = delete;

  /// Returns once the bus is closed and everything queued is written.
  void join();
  FlowSinkStats stats() const;
  const std::string& path() const noexcept { return path_; }

 private:
  FlowSink(std::string path, std::FILE* file, std::shared_ptr<bus::Subscription> sub);
  void run();
  bool write(const std::string& text);

  const std::string path_;
  std::FILE* file_;
  const bool owns_file_;
  std::shared_ptr<bus::Subscription> sub_;
  std::thread thread_;
  int64_t last_error_log_ns_ = 0;
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> counter_records_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> records_lost_{0};
};

}  // namespace fathom::app
