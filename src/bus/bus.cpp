#include "bus/bus.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

namespace fathom::bus {

Subscription::Subscription(std::string name, size_t capacity)
    : name_(std::move(name)), capacity_(std::max<size_t>(capacity, 1)), ring_(capacity_) {}

void Subscription::offer(const BatchRef& batch) {
  {
    std::lock_guard lock(mutex_);
    if (closed_ || size_ == capacity_) {
      ++dropped_batches_;
      dropped_records_ += batch->size();
      return;
    }
    ring_[(head_ + size_) % capacity_] = batch;
    ++size_;
    ++enqueued_batches_;
    enqueued_records_ += batch->size();
  }
  ready_.notify_one();
}

BatchRef Subscription::pop(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_for(lock, timeout, [&] { return size_ > 0 || closed_; })) return nullptr;
  if (size_ == 0) return nullptr;  // closed and drained
  BatchRef batch = std::move(ring_[head_]);
  head_ = (head_ + 1) % capacity_;
  --size_;
  ++delivered_batches_;
  return batch;
}

bool Subscription::finished() const {
  std::lock_guard lock(mutex_);
  return closed_ && size_ == 0;
}

void Subscription::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  ready_.notify_all();
}

SubscriberStats Subscription::stats() const {
  std::lock_guard lock(mutex_);
  SubscriberStats s;
  s.name = name_;
  s.capacity = capacity_;
  s.depth = size_;
  s.enqueued_batches = enqueued_batches_;
  s.enqueued_records = enqueued_records_;
  s.dropped_batches = dropped_batches_;
  s.dropped_records = dropped_records_;
  s.delivered_batches = delivered_batches_;
  return s;
}

/// Idle batches for reuse. Shared with the deleter of every published batch, so a batch
/// released after the Bus is gone is simply freed.
struct Bus::Pool {
  explicit Pool(size_t max) : max_idle(max) {}
  std::mutex mutex;
  std::vector<std::unique_ptr<flow::FlowBatch>> idle;
  const size_t max_idle;
  uint64_t allocated = 0;

  std::unique_ptr<flow::FlowBatch> take() {
    {
      std::lock_guard lock(mutex);
      if (!idle.empty()) {
        std::unique_ptr<flow::FlowBatch> batch = std::move(idle.back());
        idle.pop_back();
        return batch;
      }
      ++allocated;
    }
    return std::make_unique<flow::FlowBatch>();
  }

  void give(std::unique_ptr<flow::FlowBatch> batch) {
    batch->clear();
    std::lock_guard lock(mutex);
    if (idle.size() < max_idle) idle.push_back(std::move(batch));
  }
};

Bus::Bus(size_t max_idle_batches) : pool_(std::make_shared<Pool>(max_idle_batches)) {}

Bus::~Bus() {
  close();
}

std::unique_ptr<flow::FlowBatch> Bus::acquire() {
  return pool_->take();
}

void Bus::publish(std::unique_ptr<flow::FlowBatch> batch) {
  if (!batch) return;
  if (batch->empty()) {
    pool_->give(std::move(batch));
    return;
  }
  std::vector<std::shared_ptr<Subscription>> targets;
  {
    std::lock_guard lock(mutex_);
    if (closed_) {
      dropped_after_close_.fetch_add(1, std::memory_order_relaxed);
      pool_->give(std::move(batch));
      return;
    }
    targets.reserve(subscribers_.size());
    for (const std::weak_ptr<Subscription>& weak : subscribers_) {
      if (std::shared_ptr<Subscription> sub = weak.lock()) targets.push_back(std::move(sub));
    }
  }
  published_batches_.fetch_add(1, std::memory_order_relaxed);
  published_records_.fetch_add(batch->size(), std::memory_order_relaxed);
  std::weak_ptr<Pool> pool = pool_;
  BatchRef shared(batch.release(), [pool](const flow::FlowBatch* b) {
    std::unique_ptr<flow::FlowBatch> owned(const_cast<flow::FlowBatch*>(b));
    if (std::shared_ptr<Pool> p = pool.lock()) p->give(std::move(owned));
  });
  for (const std::shared_ptr<Subscription>& sub : targets) sub->offer(shared);
}

std::shared_ptr<Subscription> Bus::subscribe(std::string name, size_t capacity_batches) {
  auto sub = std::make_shared<Subscription>(std::move(name), capacity_batches);
  std::lock_guard lock(mutex_);
  std::erase_if(subscribers_, [](const std::weak_ptr<Subscription>& w) { return w.expired(); });
  if (closed_) sub->close();
  subscribers_.push_back(sub);
  return sub;
}

void Bus::close() {
  std::vector<std::shared_ptr<Subscription>> targets;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    for (const std::weak_ptr<Subscription>& weak : subscribers_) {
      if (std::shared_ptr<Subscription> sub = weak.lock()) targets.push_back(std::move(sub));
    }
  }
  for (const std::shared_ptr<Subscription>& sub : targets) sub->close();
}

bool Bus::wait_for_room(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool room = true;
    {
      std::lock_guard lock(mutex_);
      for (const std::weak_ptr<Subscription>& weak : subscribers_) {
        const std::shared_ptr<Subscription> sub = weak.lock();
        if (!sub) continue;
        std::lock_guard sub_lock(sub->mutex_);
        if (!sub->closed_ && sub->size_ >= sub->capacity_) room = false;
      }
    }
    if (room) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

BusStats Bus::stats() const {
  BusStats s;
  s.published_batches = published_batches_.load(std::memory_order_relaxed);
  s.published_records = published_records_.load(std::memory_order_relaxed);
  {
    std::lock_guard lock(pool_->mutex);
    s.batches_allocated = pool_->allocated;
    s.batches_idle = pool_->idle.size();
  }
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    std::lock_guard lock(mutex_);
    for (const std::weak_ptr<Subscription>& weak : subscribers_) {
      if (std::shared_ptr<Subscription> sub = weak.lock()) subs.push_back(std::move(sub));
    }
  }
  for (const std::shared_ptr<Subscription>& sub : subs) s.subscribers.push_back(sub->stats());
  return s;
}

}  // namespace fathom::bus
