#include "alert/dispatcher.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <utility>

#include <spdlog/spdlog.h>

#include "bus/disk_spool.h"

namespace fathom::alert {
namespace {

using Clock = std::chrono::steady_clock;

std::shared_ptr<spdlog::logger> log() {
  std::shared_ptr<spdlog::logger> logger = spdlog::get("alert");
  return logger ? logger : spdlog::default_logger();
}

int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Relaxed counter: written by one thread, read by `stats()`.
struct Counter {
  std::atomic<uint64_t> value{0};
  void add(uint64_t n = 1) noexcept { value.fetch_add(n, std::memory_order_relaxed); }
  uint64_t get() const noexcept { return value.load(std::memory_order_relaxed); }
};

}  // namespace

/// One sink's queue, spool and delivery thread. The queue is SPSC: the policy thread pushes
/// (never blocking on the sink), the delivery thread pops.
class AlertDispatcher::Worker {
 public:
  Worker(const SinkConfig& config, const RetryConfig& retry, uint32_t capacity,
         std::unique_ptr<Sink> sink, std::unique_ptr<bus::DiskSpool> spool)
      : config_(config),
        retry_(retry),
        capacity_(capacity),
        sink_(std::move(sink)),
        spool_(std::move(spool)),
        rng_(std::random_device{}()) {}

  ~Worker() { stop(); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  /// Called by the policy thread. A full queue is moved to the spool with `alert` behind it,
  /// so order is kept and memory stays bounded.
  void enqueue(const Alert& alert) {
    submitted_.add();
    {
      std::lock_guard lock(mu_);
      if (queue_.size() < capacity_) {
        queue_.push_back(alert);
      } else if (!spool_) {
        dropped_no_spool_.add();
        log_drop_locked("queue full");
      } else {
        queue_.push_back(alert);
        spill_queue_locked();
      }
    }
    cv_.notify_one();
  }

  SinkStats stats() const {
    SinkStats out;
    out.name = config_.name;
    out.submitted = submitted_.get();
    out.delivered = delivered_.get();
    out.retried = retried_.get();
    out.failed_permanent = failed_permanent_.get();
    out.spooled = spooled_.get();
    out.replayed = replayed_.get();
    out.dropped_spool_full = dropped_spool_full_.get();
    out.dropped_no_spool = dropped_no_spool_.get();
    out.corrupt_spooled = corrupt_spooled_.get();
    out.client_errors = sink_->client_errors();
    {
      std::lock_guard lock(mu_);
      out.queued = queue_.size();
    }
    if (spool_) out.spool_pending = spool_->stats().pending;
    return out;
  }

 private:
  /// Moves every queued alert to the spool (all or none); without a spool, or when the spool
  /// refuses, they are dropped and counted. Caller holds mu_.
  void spill_queue_locked() {
    if (queue_.empty()) return;
    const uint64_t n = queue_.size();
    if (!spool_) {
      dropped_no_spool_.add(n);
      log_drop_locked("stopping");
      queue_.clear();
      return;
    }
    std::vector<std::string> records;
    records.reserve(queue_.size());
    for (const Alert& alert : queue_) records.push_back(encode_alert(alert));
    if (spool_->append_all(records)) {
      spooled_.add(n);
    } else {
      // Over budget as a whole: keep the oldest that fit, one by one (still in order).
      uint64_t refused = 0;
      for (const std::string& record : records) {
        if (refused == 0 && spool_->append(record)) {
          spooled_.add();
        } else {
          ++refused;
        }
      }
      dropped_spool_full_.add(refused);
      const auto now = Clock::now();
      if (now - last_drop_log_ >= std::chrono::seconds(10)) {
        last_drop_log_ = now;
        log()->warn("alert: sink={} spool full (budget or I/O): dropped {} alerts, {} so far",
                    config_.name, refused, dropped_spool_full_.get());
      }
    }
    queue_.clear();
  }

  /// Spools an alert that ran out of retries, with everything queued behind it (all newer).
  void spool_one(const Alert& alert) {
    std::lock_guard lock(mu_);
    if (!spool_) {
      dropped_no_spool_.add();
      log_drop_locked("undeliverable");
      return;
    }
    queue_.push_front(alert);
    spill_queue_locked();
  }

  /// Logs a drop without a spool, at most once per 10 s. Caller holds mu_.
  void log_drop_locked(std::string_view why) {
    const auto now = Clock::now();
    if (now - last_drop_log_ < std::chrono::seconds(10)) return;
    last_drop_log_ = now;
    log()->warn("alert: sink={} dropping alerts ({}, no spool configured); dropped so far {}",
                config_.name, why, dropped_no_spool_.get());
  }

  /// The wait before the next attempt after `failures` consecutive failures, jittered.
  Clock::duration backoff(uint32_t failures) {
    double ms = static_cast<double>(retry_.initial_backoff_ms);
    for (uint32_t failure_idx = 1; failure_idx < failures; ++failure_idx) {
      ms = std::min(ms * 2.0, static_cast<double>(retry_.max_backoff_ms));
    }
    ms = std::min(ms, static_cast<double>(retry_.max_backoff_ms));
    std::uniform_real_distribution<double> draw(1.0 - retry_.jitter, 1.0 + retry_.jitter);
    ms *= draw(rng_);
    return std::chrono::microseconds(static_cast<int64_t>(ms * 1000.0));
  }

  /// Sleeps until `deadline` or stop; false when stopping.
  bool wait_until(Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, deadline, [this] { return stopping_; });
    return !stopping_;
  }

  void log_failure(const DeliveryResult& result) {
    // Once per interval: a dead receiver would otherwise log every attempt.
    const auto now = Clock::now();
    if (now - last_log_ < std::chrono::seconds(10)) return;
    last_log_ = now;
    log()->warn("alert: sink={} delivery failed ({}): {}", config_.name,
                result.retryable ? "will retry" : "permanent", result.error);
  }

  /// Delivers one alert from the queue, retrying; spools it when retries run out.
  void deliver_with_retries(const Alert& alert) {
    for (uint32_t attempt = 1;; ++attempt) {
      const DeliveryResult result = sink_->deliver(alert);
      if (result.ok) {
        delivered_.add();
        failures_ = 0;
        return;
      }
      log_failure(result);
      if (!result.retryable) {
        failed_permanent_.add();
        return;
      }
      ++failures_;
      if (attempt >= retry_.max_attempts) break;
      if (!wait_until(Clock::now() + backoff(attempt))) break;
      retried_.add();
    }
    spool_one(alert);
    next_probe_ = Clock::now() + backoff(failures_);
  }

  /// Tries the oldest spooled alert once.
  void replay_one() {
    const std::vector<std::string> head = spool_->peek(1);
    if (head.empty()) return;
    Alert alert;
    if (!decode_alert(head.front(), alert)) {
      corrupt_spooled_.add();
      spool_->pop(1);
      return;
    }
    const DeliveryResult result = sink_->deliver(alert);
    if (result.ok) {
      spool_->pop(1);
      replayed_.add();
      failures_ = 0;
      return;
    }
    log_failure(result);
    if (!result.retryable) {
      spool_->pop(1);
      failed_permanent_.add();
      return;
    }
    retried_.add();
    ++failures_;
    next_probe_ = Clock::now() + backoff(failures_);
  }

  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      const bool spool_waiting = spool_ && !spool_->empty();
      // While older alerts wait in the spool, newer ones queue behind them on disk.
      if (spool_waiting && !queue_.empty()) spill_queue_locked();
      if (stopping_) break;
      if (spool_waiting) {
        if (Clock::now() < next_probe_) {
          cv_.wait_until(lock, next_probe_, [this] { return stopping_; });
          continue;
        }
        lock.unlock();
        replay_one();
        lock.lock();
        continue;
      }
      if (queue_.empty()) {
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        continue;
      }
      Alert alert = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      deliver_with_retries(alert);
      lock.lock();
    }
    spill_queue_locked();  // what is left survives the restart in the spool
  }

  const SinkConfig config_;
  const RetryConfig retry_;
  const uint32_t capacity_;
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<bus::DiskSpool> spool_;  // thread-safe itself; null = no spool

  mutable std::mutex mu_;  // guards queue_, stopping_
  std::condition_variable cv_;
  std::deque<Alert> queue_;
  bool stopping_ = false;
  Clock::time_point last_drop_log_{};

  // Delivery thread only.
  std::mt19937_64 rng_;
  uint32_t failures_ = 0;  ///< consecutive retryable failures
  Clock::time_point next_probe_{};
  Clock::time_point last_log_{};

  Counter submitted_, delivered_, retried_, failed_permanent_, spooled_, replayed_,
      dropped_spool_full_, dropped_no_spool_, corrupt_spooled_;
  std::thread thread_;
};

std::unique_ptr<AlertDispatcher> AlertDispatcher::create(const AlertConfig& config,
                                                         std::string& error) {
  std::vector<std::unique_ptr<Sink>> sinks;
  if (error = validate(config); !error.empty()) return nullptr;
  for (const SinkConfig& sink_config : config.sinks) {
    std::unique_ptr<Sink> sink = make_sink(sink_config, error);
    if (!sink) return nullptr;
    sinks.push_back(std::move(sink));
  }
  return create(config, std::move(sinks), error);
}

std::unique_ptr<AlertDispatcher> AlertDispatcher::create(const AlertConfig& config,
                                                         std::vector<std::unique_ptr<Sink>> sinks,
                                                         std::string& error) {
  if (error = validate(config); !error.empty()) return nullptr;
  if (sinks.size() != config.sinks.size()) {
    error = "alert: one sink per configured sink expected";
    return nullptr;
  }
  std::unique_ptr<DedupSet> dedup;
  std::vector<std::unique_ptr<bus::DiskSpool>> spools(config.sinks.size());
  if (!config.spool_directory.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(config.spool_directory, ec);
    if (ec) {
      error =
          "alert: cannot create spool directory " + config.spool_directory + ": " + ec.message();
      return nullptr;
    }
    dedup = DedupSet::open(config.spool_directory + "/dedup.log", config.dedup_capacity, error);
    if (!dedup) return nullptr;
    for (size_t sink_idx = 0; sink_idx < config.sinks.size(); ++sink_idx) {
      bus::DiskSpoolOptions options;
      options.directory = config.spool_directory + "/" + config.sinks[sink_idx].name;
      options.max_bytes = config.spool_max_bytes_per_sink;
      options.segment_bytes = std::min<uint64_t>(
          options.segment_bytes, std::max<uint64_t>(config.spool_max_bytes_per_sink / 4, 4096));
      spools[sink_idx] = bus::DiskSpool::open(options, error);
      if (!spools[sink_idx]) return nullptr;
    }
  }
  std::unique_ptr<AlertDispatcher> dispatcher(new AlertDispatcher(config, std::move(dedup)));
  for (size_t sink_idx = 0; sink_idx < config.sinks.size(); ++sink_idx) {
    dispatcher->workers_.push_back(
        std::make_unique<Worker>(config.sinks[sink_idx], config.retry, config.queue_capacity,
                                 std::move(sinks[sink_idx]), std::move(spools[sink_idx])));
  }
  for (auto& worker : dispatcher->workers_) worker->start();
  dispatcher->policy_thread_ = std::thread([d = dispatcher.get()] { d->run_policy(); });
  return dispatcher;
}

AlertDispatcher::AlertDispatcher(const AlertConfig& config, std::unique_ptr<DedupSet> dedup)
    : config_(config), policy_(config, std::move(dedup)) {}

AlertDispatcher::~AlertDispatcher() {
  stop();
}

bool AlertDispatcher::submit(const detect::IncidentEvent& event) {
  {
    std::lock_guard lock(intake_mu_);
    if (stopping_ || intake_.size() >= config_.intake_capacity) {
      events_dropped_full_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    intake_.push_back(event);
  }
  events_submitted_.fetch_add(1, std::memory_order_relaxed);
  intake_cv_.notify_one();
  return true;
}

size_t AlertDispatcher::submit(std::span<const detect::IncidentEvent> events) {
  size_t accepted = 0;
  {
    std::lock_guard lock(intake_mu_);
    for (const detect::IncidentEvent& event : events) {
      if (stopping_ || intake_.size() >= config_.intake_capacity) break;
      intake_.push_back(event);
      ++accepted;
    }
  }
  events_submitted_.fetch_add(accepted, std::memory_order_relaxed);
  events_dropped_full_.fetch_add(events.size() - accepted, std::memory_order_relaxed);
  if (accepted > 0) intake_cv_.notify_one();
  return accepted;
}

void AlertDispatcher::run_policy() {
  std::deque<detect::IncidentEvent> batch;
  std::vector<RoutedAlert> routed;
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lock(intake_mu_);
      int64_t next_tick = 0;
      {
        std::lock_guard policy_lock(policy_mu_);
        next_tick = policy_.next_tick_ns();
      }
      const auto ready = [this] { return stopping_ || !intake_.empty(); };
      if (next_tick == INT64_MAX) {
        intake_cv_.wait(lock, ready);
      } else {
        const int64_t wait_ns = std::max<int64_t>(0, next_tick - monotonic_ns());
        intake_cv_.wait_for(lock, std::chrono::nanoseconds(wait_ns), ready);
      }
      batch.swap(intake_);
      stopping = stopping_;
    }
    routed.clear();
    {
      std::lock_guard policy_lock(policy_mu_);
      for (const detect::IncidentEvent& event : batch) {
        policy_.process(event, monotonic_ns(), wall_ns(), routed);
      }
      policy_.tick(monotonic_ns(), wall_ns(), routed);
    }
    batch.clear();
    for (const RoutedAlert& item : routed) {
      for (size_t sink_idx = 0; sink_idx < workers_.size(); ++sink_idx) {
        if (item.sinks & (uint64_t{1} << sink_idx)) workers_[sink_idx]->enqueue(item.alert);
      }
    }
    if (stopping) {
      std::lock_guard lock(intake_mu_);
      if (intake_.empty()) return;
    }
  }
}

void AlertDispatcher::stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard lock(intake_mu_);
    stopping_ = true;
  }
  intake_cv_.notify_all();
  if (policy_thread_.joinable()) policy_thread_.join();
  for (auto& worker : workers_) worker->stop();
}

DispatcherStats AlertDispatcher::stats() const {
  DispatcherStats out;
  out.events_submitted = events_submitted_.load(std::memory_order_relaxed);
  out.events_dropped_full = events_dropped_full_.load(std::memory_order_relaxed);
  std::vector<SinkPolicyCounters> per_sink;
  {
    std::lock_guard lock(policy_mu_);
    out.policy = policy_.stats();
    per_sink = policy_.sink_counters();
  }
  for (size_t sink_idx = 0; sink_idx < workers_.size(); ++sink_idx) {
    SinkStats sink = workers_[sink_idx]->stats();
    if (sink_idx < per_sink.size()) {
      sink.rate_limited = per_sink[sink_idx].rate_limited;
      sink.deduplicated = per_sink[sink_idx].deduplicated;
    }
    out.sinks.push_back(std::move(sink));
  }
  return out;
}

}  // namespace fathom::alert
