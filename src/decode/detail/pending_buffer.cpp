#include "decode/detail/pending_buffer.h"

#include <algorithm>

namespace fathom::decode::detail {

bool PendingBuffer::park(uint64_t key, const MessageInfo& info, std::span<const std::byte> body,
                         size_t max_bytes) {
  const size_t cost = body.size() + kOverheadBytes;
  if (cost > max_bytes || bytes_ > max_bytes - cost) return false;
  PendingSet& set = sets_.emplace_back();
  set.key = key;
  set.info = info;
  set.body.assign(body.begin(), body.end());
  bytes_ += cost;
  return true;
}

void PendingBuffer::take(uint64_t key, std::vector<PendingSet>& taken) {
  auto keep = std::stable_partition(sets_.begin(), sets_.end(),
                                    [key](const PendingSet& s) { return s.key != key; });
  for (auto it = keep; it != sets_.end(); ++it) {
    bytes_ -= it->body.size() + kOverheadBytes;
    taken.push_back(std::move(*it));
  }
  sets_.erase(keep, sets_.end());
}

size_t PendingBuffer::expire(int64_t cutoff_ns) noexcept {
  auto keep = std::stable_partition(sets_.begin(), sets_.end(), [cutoff_ns](const PendingSet& s) {
    return s.info.arrival_ns >= cutoff_ns;
  });
  const size_t n = static_cast<size_t>(sets_.end() - keep);
  for (auto it = keep; it != sets_.end(); ++it) bytes_ -= it->body.size() + kOverheadBytes;
  sets_.erase(keep, sets_.end());
  return n;
}

}  // namespace fathom::decode::detail
