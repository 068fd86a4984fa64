#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "flow/flow_record.h"

namespace fathom::flow {

/// Records passed between stages: contiguous memory, reserved once, reused. `add()` appends a
/// default record and returns it for the decoder to fill in place; capacity only grows past the
/// reservation when one packet holds more records than the batch has room for, so in steady
/// state no call allocates. A producer hands the batch on when `full()`.
class FlowBatch {
 public:
  static constexpr size_t kDefaultCapacity = 4096;

  explicit FlowBatch(size_t capacity = kDefaultCapacity) : capacity_(capacity) {
    records_.reserve(capacity);
    counters_.reserve(64);
  }

  /// Appends a default-initialised record and returns it.
  FlowRecord& add() { return records_.emplace_back(); }

  /// Removes the last record (a decoder that finds a record malformed half-way through).
  void pop_back() noexcept { records_.pop_back(); }

  /// Keeps the first `n` records (n <= size()): the end of an in-place filter.
  void truncate(size_t n) noexcept { records_.resize(n < records_.size() ? n : records_.size()); }
  /// Keeps the first `n` interface-counter records.
  void truncate_counters(size_t n) noexcept {
    counters_.resize(n < counters_.size() ? n : counters_.size());
  }
  /// Appends interface counters (sFlow counter samples).
  InterfaceCounters& add_counters() { return counters_.emplace_back(); }

  size_t size() const noexcept { return records_.size(); }
  bool empty() const noexcept { return records_.empty() && counters_.empty(); }
  size_t capacity() const noexcept { return capacity_; }
  /// True once the batch holds at least its nominal capacity: time to hand it on.
  bool full() const noexcept { return records_.size() >= capacity_; }

  /// Forgets all records, keeping the memory.
  void clear() noexcept {
    records_.clear();
    counters_.clear();
  }

  FlowRecord& operator[](size_t i) noexcept { return records_[i]; }
  const FlowRecord& operator[](size_t i) const noexcept { return records_[i]; }
  std::span<FlowRecord> records() noexcept { return records_; }
  std::span<const FlowRecord> records() const noexcept { return records_; }
  std::span<InterfaceCounters> counters() noexcept { return counters_; }
  std::span<const InterfaceCounters> counters() const noexcept { return counters_; }

 private:
  size_t capacity_;
  std::vector<FlowRecord> records_;
  std::vector<InterfaceCounters> counters_;
};

}  // namespace fathom::flow
