#include "store/writer.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "store/detail/batch_codec.h"

namespace fathom::store {
namespace {

using Clock = std::chrono::steady_clock;

/// Spool records replayed per pass at most, so new submissions are taken in between.
constexpr int kReplayPerPass = 64;

/// Each item of `batch` as a batch of its own, in section order.
std::vector<WriteBatch> singles(const WriteBatch& batch) {
  std::vector<WriteBatch> out;
  out.reserve(batch.size());
  for (const auto& x : batch.incidents) out.emplace_back().incidents.push_back(x);
  for (const auto& x : batch.rollups) out.emplace_back().rollups.push_back(x);
  for (const auto& x : batch.tenants) out.emplace_back().tenants.push_back(x);
  for (const auto& x : batch.exporters) out.emplace_back().exporters.push_back(x);
  for (const auto& x : batch.state) out.emplace_back().state.push_back(x);
  for (const auto& x : batch.flows) out.emplace_back().flows.push_back(x);
  return out;
}

void append(WriteBatch& to, WriteBatch&& from) {
  auto move_all = [](auto& dst, auto& src) {
    dst.insert(dst.end(), std::make_move_iterator(src.begin()), std::make_move_iterator(src.end()));
  };
  move_all(to.incidents, from.incidents);
  move_all(to.rollups, from.rollups);
  move_all(to.tenants, from.tenants);
  move_all(to.exporters, from.exporters);
  move_all(to.state, from.state);
  move_all(to.flows, from.flows);
}

}  // namespace

struct StoreWriter::Queue {
  std::vector<detect::IncidentEvent> events;
  std::vector<Rollup> rollups;
  std::vector<TenantRecord> tenants;
  std::vector<ExporterRecord> exporters;
  std::vector<StateEntry> state;
  std::vector<SampledFlow> flows;
};

std::unique_ptr<StoreWriter> StoreWriter::start(const StoreOptions& store,
                                                const StoreWriterOptions& options,
                                                std::string& error) {
  std::unique_ptr<bus::DiskSpool> spool;
  if (!options.spool_directory.empty()) {
    bus::DiskSpoolOptions spool_options;
    spool_options.directory = options.spool_directory;
    spool_options.max_bytes = options.spool_max_bytes;
    spool = bus::DiskSpool::open(spool_options, error);
    if (spool == nullptr) {
      error = "store writer: spool " + options.spool_directory + ": " + error;
      return nullptr;
    }
  }
  std::unique_ptr<StoreWriter> writer(new StoreWriter(store, options, std::move(spool)));
  writer->thread_ = std::thread([w = writer.get()] { w->run(); });
  return writer;
}

StoreWriter::StoreWriter(StoreOptions store, StoreWriterOptions options,
                         std::unique_ptr<bus::DiskSpool> spool)
    : store_(std::move(store)),
      options_(std::move(options)),
      spool_(std::move(spool)),
      queue_(std::make_unique<Queue>()) {}

StoreWriter::~StoreWriter() {
  stop();
}

bool StoreWriter::admit(size_t items) {
  if (stopping_ || queued_items_ + items > options_.queue_capacity) {
    dropped_queue_full_.fetch_add(items, std::memory_order_relaxed);
    return false;
  }
  queued_items_ += items;
  accepted_total_ += items;
  queued_.fetch_add(items, std::memory_order_relaxed);
  if (queued_items_ >= options_.max_batch) wake_.notify_one();
  return true;
}

bool StoreWriter::submit_incidents(std::span<const detect::IncidentEvent> events) {
  std::lock_guard lock(mu_);
  if (!admit(events.size())) return false;
  queue_->events.insert(queue_->events.end(), events.begin(), events.end());
  return true;
}

bool StoreWriter::submit_rollups(std::span<const Rollup> rollups) {
  std::lock_guard lock(mu_);
  if (!admit(rollups.size())) return false;
  queue_->rollups.insert(queue_->rollups.end(), rollups.begin(), rollups.end());
  return true;
}

bool StoreWriter::submit_tenants(std::span<const TenantRecord> tenants) {
  std::lock_guard lock(mu_);
  if (!admit(tenants.size())) return false;
  queue_->tenants.insert(queue_->tenants.end(), tenants.begin(), tenants.end());
  return true;
}

bool StoreWriter::submit_exporters(std::span<const ExporterRecord> exporters) {
  std::lock_guard lock(mu_);
  if (!admit(exporters.size())) return false;
  queue_->exporters.insert(queue_->exporters.end(), exporters.begin(), exporters.end());
  return true;
}

bool StoreWriter::submit_state(StateEntry entry) {
  std::lock_guard lock(mu_);
  if (!admit(1)) return false;
  queue_->state.push_back(std::move(entry));
  return true;
}

bool StoreWriter::submit_flows(std::vector<SampledFlow> flows) {
  std::lock_guard lock(mu_);
  if (!admit(flows.size())) return false;
  std::move(flows.begin(), flows.end(), std::back_inserter(queue_->flows));
  return true;
}

bool StoreWriter::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  flush_requested_ = true;
  wake_.notify_one();
  return settled_.wait_for(lock, timeout, [&] {
    return queued_items_ == 0 && inflight_items_ == 0 && held_empty_.load() &&
           (spool_ == nullptr || spool_->empty());
  });
}

uint64_t StoreWriter::mark() const {
  std::lock_guard lock(mu_);
  return accepted_total_;
}

bool StoreWriter::durable(uint64_t mark) const {
  std::lock_guard lock(mu_);
  return resolved_through_ >= mark;
}

void StoreWriter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

StoreWriterStats StoreWriter::stats() const {
  StoreWriterStats s;
  s.queued = queued_.load(std::memory_order_relaxed);
  s.written = written_.load(std::memory_order_relaxed);
  s.spooled = spooled_.load(std::memory_order_relaxed);
  s.replayed = replayed_.load(std::memory_order_relaxed);
  s.dropped_queue_full = dropped_queue_full_.load(std::memory_order_relaxed);
  s.dropped_spool_full = dropped_spool_full_.load(std::memory_order_relaxed);
  s.dropped_failed = dropped_failed_.load(std::memory_order_relaxed);
  s.dropped_corrupt = dropped_corrupt_.load(std::memory_order_relaxed);
  s.retries = retries_.load(std::memory_order_relaxed);
  s.database_up = database_up_.load(std::memory_order_relaxed);
  if (spool_ != nullptr) s.spool_pending = spool_->stats().pending;
  std::lock_guard lock(mu_);
  s.queue_depth = queued_items_;
  s.last_error = last_error_;
  return s;
}

void StoreWriter::run() {
  while (step()) {
  }
}

bool StoreWriter::step() {
  Queue taken;
  bool stopping = false;
  uint64_t taken_through = 0;  // every item accepted before it is in `taken` or earlier
  {
    std::unique_lock lock(mu_);
    auto wake_at = Clock::now() + options_.flush_interval;
    const bool backlog = !held_.empty() || (spool_ != nullptr && !spool_->empty());
    if (backlog) wake_at = std::min(wake_at, std::max(next_attempt_, Clock::now()));
    wake_.wait_until(lock, wake_at, [&] {
      return stopping_ || flush_requested_ ||
             (queued_items_ >= options_.max_batch && held_.empty());
    });
    stopping = stopping_;
    flush_requested_ = false;
    // Without a spool, failed batches wait in held_ and the queue stays put (and fills, and
    // submits are refused and counted) until they are written: memory stays bounded.
    if (held_.empty()) {
      std::swap(taken, *queue_);
      inflight_items_ = queued_items_;
      queued_items_ = 0;
      taken_through = accepted_total_;
    }
  }

  // Render and cut into batches on this thread, not the submitter's.
  WriteBatch current;
  auto push = [&](auto& section, auto&& item) {
    section.push_back(std::forward<decltype(item)>(item));
    if (current.size() >= options_.max_batch) deliver(std::exchange(current, {}));
  };
  for (const auto& e : taken.events) push(current.incidents, to_record(e));
  for (auto& r : taken.rollups) push(current.rollups, std::move(r));
  for (auto& t : taken.tenants) push(current.tenants, std::move(t));
  for (auto& x : taken.exporters) push(current.exporters, std::move(x));
  for (auto& s : taken.state) push(current.state, std::move(s));
  for (auto& f : taken.flows) push(current.flows, std::move(f));
  if (!current.empty()) deliver(std::move(current));

  while (!held_.empty() && !backing_off()) {
    if (!try_write(held_.front(), written_)) break;
    held_.erase(held_.begin());
  }
  if (!stopping && spool_ != nullptr && !backing_off()) replay_spool();

  if (stopping && !held_.empty()) {
    uint64_t lost = 0;
    for (const auto& b : held_) lost += b.size();
    {
      // What held_ kept out of the queue goes with it: counted, not silently lost.
      std::lock_guard lock(mu_);
      lost += queued_items_;
      queued_items_ = 0;
      *queue_ = {};
    }
    dropped_failed_.fetch_add(lost, std::memory_order_relaxed);
    note_failure("store writer: stopped with " + std::to_string(lost) +
                     " items undelivered (database down, no spool)",
                 false);
    held_.clear();
  }
  held_empty_.store(held_.empty());
  const bool settled = held_.empty() && (spool_ == nullptr || spool_->empty());
  {
    std::lock_guard lock(mu_);
    inflight_items_ = 0;
    // Nothing waits in memory or on disk: everything taken so far is committed or counted.
    if (settled && taken_through > resolved_through_) resolved_through_ = taken_through;
  }
  settled_.notify_all();
  return !stopping;
}

void StoreWriter::deliver(WriteBatch&& batch) {
  // Behind a backlog or during a back-off, later batches queue up behind the earlier ones.
  if (spool_ != nullptr && (!spool_->empty() || backing_off())) {
    to_spool(batch);
    return;
  }
  if (!held_.empty() || (spool_ == nullptr && backing_off())) {
    held_.push_back(std::move(batch));
    return;
  }
  if (try_write(batch, written_)) return;
  if (spool_ != nullptr) {
    to_spool(batch);
  } else {
    held_.push_back(std::move(batch));
  }
}

bool StoreWriter::try_write(WriteBatch& batch, std::atomic<uint64_t>& counter) {
  if (!database_ready()) return false;
  const StoreStatus s = db_->write(batch);
  if (s.ok) {
    counter.fetch_add(batch.size(), std::memory_order_relaxed);
    note_success();
    return true;
  }
  note_failure(s.error, s.retryable);
  if (s.retryable) return false;
  // Not retryable: some item is bad. Write the rest one by one, drop only what is refused.
  std::vector<WriteBatch> items = singles(batch);
  for (size_t idx = 0; idx < items.size(); ++idx) {
    const StoreStatus one = db_->write(items[idx]);
    if (one.ok) {
      counter.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    note_failure(one.error, one.retryable);
    if (!one.retryable) {
      dropped_failed_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    // The database went away meanwhile: keep what is left for the retry.
    WriteBatch rest;
    for (size_t left = idx; left < items.size(); ++left) append(rest, std::move(items[left]));
    batch = std::move(rest);
    return false;
  }
  return true;
}

void StoreWriter::replay_spool() {
  for (int pass = 0; pass < kReplayPerPass && !spool_->empty() && !backing_off(); ++pass) {
    std::vector<std::string> records = spool_->peek(1);
    if (records.empty()) break;
    WriteBatch batch;
    if (!detail::decode_batch(records[0], batch)) {
      dropped_corrupt_.fetch_add(1, std::memory_order_relaxed);
      note_failure("store writer: a spool record does not decode (skipped)", false);
      spool_->pop(1);
      continue;
    }
    // On a retryable failure the record stays (whole: what was written of it is written
    // again, idempotently, on the next replay).
    if (!try_write(batch, replayed_)) break;
    spool_->pop(1);
    std::lock_guard lock(mu_);
    if (stopping_ || queued_items_ * 2 > options_.queue_capacity) break;  // take new items first
  }
}

bool StoreWriter::to_spool(const WriteBatch& batch) {
  if (spool_->append(detail::encode_batch(batch))) {
    spooled_.fetch_add(batch.size(), std::memory_order_relaxed);
    return true;
  }
  dropped_spool_full_.fetch_add(batch.size(), std::memory_order_relaxed);
  const bus::DiskSpoolStats s = spool_->stats();
  note_failure("store writer: spool " + options_.spool_directory + " refused a batch of " +
                   std::to_string(batch.size()) + " items (" +
                   (s.rejected_io > 0 ? "write error" : "over its budget") + "): dropped",
               false);
  return false;
}

bool StoreWriter::database_ready() {
  if (db_ != nullptr) return true;
  std::string error;
  db_ = open_database(store_, error);
  if (db_ == nullptr) {
    note_failure("store writer: " + error, true);
    return false;
  }
  return true;
}

void StoreWriter::note_failure(const std::string& error, bool retryable) {
  {
    std::lock_guard lock(mu_);
    last_error_ = error;
  }
  if (!retryable) return;
  retries_.fetch_add(1, std::memory_order_relaxed);
  database_up_.store(false, std::memory_order_relaxed);
  backoff_ =
      backoff_.count() == 0 ? options_.retry_min : std::min(backoff_ * 2, options_.retry_max);
  next_attempt_ = Clock::now() + backoff_;
}

void StoreWriter::note_success() {
  database_up_.store(true, std::memory_order_relaxed);
  backoff_ = std::chrono::milliseconds(0);
}

bool StoreWriter::backing_off() const {
  return Clock::now() < next_attempt_;
}

}  // namespace fathom::store
