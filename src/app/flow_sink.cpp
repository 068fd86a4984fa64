#include "app/flow_sink.h"

#include <time.h>

#include <cerrno>
#include <cstring>

#include "app/clock.h"
#include "app/logging.h"
#include "app/record_format.h"

namespace fathom::app {
std::unique_ptr<FlowSink> FlowSink::open(const std::string& path, bus::Bus& bus,
                                         size_t queue_batches, std::string& error) {
  std::FILE* file = nullptr;
  if (path == "-") {
    file = stdout;
  } else {
    file = std::fopen(path.c_str(), "ae");
    if (file == nullptr) {
      error = "cannot open flow output " + path + ": " + std::strerror(errno);
      return nullptr;
    }
  }
  std::shared_ptr<bus::Subscription> sub = bus.subscribe("flows_jsonl", queue_batches);
  return std::unique_ptr<FlowSink>(new FlowSink(path, file, std::move(sub)));
}

FlowSink::FlowSink(std::string path, std::FILE* file, std::shared_ptr<bus::Subscription> sub)
    : path_(std::move(path)), file_(file), owns_file_(file != stdout), sub_(std::move(sub)) {
  thread_ = std::thread([this] { run(); });
}

FlowSink::~FlowSink() {
  join();
  if (owns_file_) std::fclose(file_);
}

void FlowSink::join() {
  if (thread_.joinable()) thread_.join();
}

bool FlowSink::write(const std::string& text) {
  if (text.empty()) return true;
  const size_t n = std::fwrite(text.data(), 1, text.size(), file_);
  if (n == text.size() && std::fflush(file_) == 0) {
    bytes_.fetch_add(n, std::memory_order_relaxed);
    return true;
  }
  const int err = errno;
  std::clearerr(file_);
  write_errors_.fetch_add(1, std::memory_order_relaxed);
  const int64_t now = monotonic_ns();
  if (last_error_log_ns_ == 0 || now - last_error_log_ns_ >= 60'000'000'000) {
    last_error_log_ns_ = now;
    logger("output")->error("cannot write flows to {}: {} (records are counted as lost)",
                            path_ == "-" ? "stdout" : path_, std::strerror(err));
  }
  return false;
}

void FlowSink::run() {
  std::string text;
  text.reserve(1 << 20);
  while (!sub_->finished()) {
    const bus::BatchRef batch = sub_->pop(std::chrono::milliseconds(200));
    if (!batch) continue;
    text.clear();
    for (const flow::FlowRecord& r : batch->records()) {
      append_json(r, 0, text);
      text += '\n';
    }
    for (const flow::InterfaceCounters& c : batch->counters()) {
      append_json(c, 0, text);
      text += '\n';
    }
    if (write(text)) {
      records_.fetch_add(batch->size(), std::memory_order_relaxed);
      counter_records_.fetch_add(batch->counters().size(), std::memory_order_relaxed);
    } else {
      records_lost_.fetch_add(batch->size() + batch->counters().size(), std::memory_order_relaxed);
    }
  }
}

FlowSinkStats FlowSink::stats() const {
  FlowSinkStats s;
  s.records = records_.load(std::memory_order_relaxed);
  s.counter_records = counter_records_.load(std::memory_order_relaxed);
  s.bytes = bytes_.load(std::memory_order_relaxed);
  s.write_errors = write_errors_.load(std::memory_order_relaxed);
  s.records_lost = records_lost_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace fathom::app
