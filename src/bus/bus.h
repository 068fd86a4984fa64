#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "flow/flow_batch.h"

namespace fathom::bus {

/// A published batch: shared by every subscriber, immutable once published, and returned to
/// the bus's pool when the last subscriber lets go of it.
using BatchRef = std::shared_ptr<const flow::FlowBatch>;

/// Counters of one subscriber's queue. Every batch published while the subscriber exists is
/// either enqueued or dropped, so `enqueued + dropped` is what the publishers offered it.
struct SubscriberStats {
  std::string name;
  size_t capacity = 0;  ///< batches the queue holds
  size_t depth = 0;     ///< batches waiting now
  uint64_t enqueued_batches = 0;
  uint64_t enqueued_records = 0;
  uint64_t dropped_batches = 0;  ///< offered while the queue was full
  uint64_t dropped_records = 0;
  uint64_t delivered_batches = 0;  ///< handed to the consumer by `pop`
};

/// Counters of the bus as a whole.
struct BusStats {
  uint64_t published_batches = 0;
  uint64_t published_records = 0;
  uint64_t batches_allocated = 0;  ///< batches ever created (the pool's high-water mark)
  size_t batches_idle = 0;         ///< batches waiting in the pool for reuse
  std::vector<SubscriberStats> subscribers;
};

class Bus;

/// One consumer's bounded queue of batches. Created by `Bus::subscribe`; the consumer's thread
/// calls `pop`. Dropping the last reference unsubscribes.
class Subscription {
 public:
  /// Waits up to `timeout` for a batch. Returns nullptr on timeout, or once the bus is closed
  /// and this queue is empty (then `finished()` is true).
  BatchRef pop(std::chrono::milliseconds timeout);
  /// True once the bus is closed and every batch offered to this queue was popped.
  bool finished() const;
  const std::string& name() const noexcept { return name_; }

  Subscription(std::string name, size_t capacity);
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

 private:
  friend class Bus;
  /// Enqueues or counts a drop; never blocks beyond the queue's short critical section.
  void offer(const BatchRef& batch);
  void close();
  SubscriberStats stats() const;

  const std::string name_;
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<BatchRef> ring_;  ///< capacity_ slots
  size_t head_ = 0;             ///< next slot to pop
  size_t size_ = 0;
  bool closed_ = false;
  uint64_t enqueued_batches_ = 0;
  uint64_t enqueued_records_ = 0;
  uint64_t dropped_batches_ = 0;
  uint64_t dropped_records_ = 0;
  uint64_t delivered_batches_ = 0;
};

/// The in-process stage boundary (DESIGN.md `bus`): producers fill batches taken from the bus
/// and publish them; every subscriber gets each batch in its own bounded queue, or the batch is
/// dropped for that subscriber and counted. Publishing never blocks on a slow consumer, so the
/// socket readers upstream never stall. Batches are recycled through a pool, so in steady state
/// no batch memory is allocated. Thread-safe: any thread may publish, subscribe or read stats.
class Bus {
 public:
  /// `max_idle_batches` bounds the batches the pool keeps for reuse.
  explicit Bus(size_t max_idle_batches = 64);
  ~Bus();
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  /// An empty batch to fill and then `publish` (recycled when possible).
  std::unique_ptr<flow::FlowBatch> acquire();
  /// Offers `batch` to every current subscriber. An empty batch is recycled without being
  /// published. After `close`, batches are recycled and counted as dropped.
  void publish(std::unique_ptr<flow::FlowBatch> batch);
  /// A new subscriber with a queue of `capacity_batches` (at least 1). Batches published
  /// before it subscribed are not delivered to it.
  std::shared_ptr<Subscription> subscribe(std::string name, size_t capacity_batches);
  /// No more batches: each subscriber drains what it holds, then `pop` reports finished.
  void close();
  /// Waits until every open subscriber's queue has room for a batch, or `timeout` passes
  /// (false). For producers that may wait, such as a file replay, which should lose nothing
  /// to a slow consumer; live receive threads never call it. Polls every millisecond.
  bool wait_for_room(std::chrono::milliseconds timeout);
  BusStats stats() const;
  /// Batches published after `close` (recycled unseen).
  uint64_t dropped_after_close() const noexcept {
    return dropped_after_close_.load(std::memory_order_relaxed);
  }

 private:
  struct Pool;
  std::shared_ptr<Pool> pool_;  ///< shared with in-flight batches' deleters
  mutable std::mutex mutex_;    ///< guards subscribers_ and closed_
  std::vector<std::weak_ptr<Subscription>> subscribers_;
  bool closed_ = false;
  std::atomic<uint64_t> published_batches_{0};
  std::atomic<uint64_t> published_records_{0};
  std::atomic<uint64_t> dropped_after_close_{0};
};

}  // namespace fathom::bus
