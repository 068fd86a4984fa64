#pragma once

// Per-second output queues of a flow meter without per-second vectors: each queue is a list of
// fixed-size chunks drawn from, and returned to, one pool. Memory follows the records actually
// waiting (not the busiest second ever seen), and steady state allocates nothing.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

namespace fathom::gen {

template <typename T, size_t kChunkSize = 512>
class ChunkPool {
  // Items live in raw storage, constructed as they are appended and never destroyed.
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  /// A chunk's storage is left uninitialised (make_unique_for_overwrite): a zeroed array would
  /// write every page of a new chunk once before the records are written into it.
  struct Chunk {
    size_t size = 0;
    Chunk* next = nullptr;
    alignas(T) std::byte storage[sizeof(T) * kChunkSize];
    T* items() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  };

  /// A FIFO of items in chunks from the pool. Trivially movable (two pointers).
  struct Queue {
    Chunk* head = nullptr;
    Chunk* tail = nullptr;
    bool empty() const noexcept { return head == nullptr; }
  };

  /// Appends an item to be filled in place through the returned reference: the caller writes
  /// each field once into the chunk instead of building the item elsewhere and copying it.
  T& emplace(Queue& q) {
    if (q.tail == nullptr || q.tail->size == kChunkSize) {
      Chunk* c = acquire();
      if (q.tail) {
        q.tail->next = c;
      } else {
        q.head = c;
      }
      q.tail = c;
    }
    return *::new (q.tail->storage + sizeof(T) * q.tail->size++) T;
  }

  /// Appends the queue's items to `out` in order and returns its chunks to the pool.
  void drain(Queue& q, std::vector<T>& out) {
    for (Chunk* c = q.head; c != nullptr;) {
      out.insert(out.end(), c->items(), c->items() + c->size);
      Chunk* next = c->next;
      c->size = 0;
      c->next = nullptr;
      free_.push_back(c);
      c = next;
    }
    q = Queue{};
  }

 private:
  Chunk* acquire() {
    if (!free_.empty()) {
      Chunk* c = free_.back();
      free_.pop_back();
      return c;
    }
    owned_.push_back(std::make_unique_for_overwrite<Chunk>());
    owned_.back()->size = 0;
    owned_.back()->next = nullptr;
    return owned_.back().get();
  }

  std::vector<std::unique_ptr<Chunk>> owned_;
  std::vector<Chunk*> free_;
};

}  // namespace fathom::gen
