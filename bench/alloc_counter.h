#pragma once

// Counts heap allocations in a benchmark binary by replacing the global operator new/delete
// (every form: plain, array, nothrow, aligned). Include it from exactly one translation unit
// per binary (each bench/<kernel>_bench.cpp is one), since the replacements are definitions.
// Read `fathom::bench::allocations()` before and after a measured loop; the difference divided
// by the records decoded is the allocs/record counter (target 0 in steady state).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace fathom::bench {

namespace alloc_detail {
// Relaxed: benchmarks read it from the thread that allocates; other threads only add.
inline std::atomic<uint64_t> allocations{0};
inline std::atomic<uint64_t> allocated_bytes{0};

inline void* allocate(size_t size) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  allocated_bytes.fetch_add(size, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}

inline void* allocate_aligned(size_t size, std::align_val_t align) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  allocated_bytes.fetch_add(size, std::memory_order_relaxed);
  const auto alignment = static_cast<size_t>(align);
  // aligned_alloc wants a size that is a multiple of the alignment.
  const size_t rounded = (size + alignment - 1) / alignment * alignment;
  return std::aligned_alloc(alignment, rounded == 0 ? alignment : rounded);
}

// Out of line so the compiler, inlining operator delete into a caller, does not see free()
// paired with operator new (GCC's -Wmismatched-new-delete would flag that replacement).
[[gnu::noinline]] inline void release(void* p) noexcept {
  std::free(p);
}
}  // namespace alloc_detail

/// Heap allocations (operator new calls of any form) since the program started.
inline uint64_t allocations() noexcept {
  return alloc_detail::allocations.load(std::memory_order_relaxed);
}

/// Bytes requested from operator new since the program started.
inline uint64_t allocated_bytes() noexcept {
  return alloc_detail::allocated_bytes.load(std::memory_order_relaxed);
}

}  // namespace fathom::bench

void* operator new(size_t size) {
  void* p = fathom::bench::alloc_detail::allocate(size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t size) {
  void* p = fathom::bench::alloc_detail::allocate(size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  return fathom::bench::alloc_detail::allocate(size);
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  return fathom::bench::alloc_detail::allocate(size);
}
void* operator new(size_t size, std::align_val_t align) {
  void* p = fathom::bench::alloc_detail::allocate_aligned(size, align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t size, std::align_val_t align) {
  void* p = fathom::bench::alloc_detail::allocate_aligned(size, align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new(size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return fathom::bench::alloc_detail::allocate_aligned(size, align);
}
void* operator new[](size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return fathom::bench::alloc_detail::allocate_aligned(size, align);
}

void operator delete(void* p) noexcept {
  fathom::bench::alloc_detail::release(p);
}
void operator delete[](void* p) noexcept {
  fathom::bench::alloc_detail::release(p);
}
void operator delete(void* p, size_t) noexcept {
  fathom::bench::alloc_detail::release(p);
}
void operator delete[](void* p, size_t) noexcept {
  fathom::bench::alloc_detail::release(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  fathom::bench::alloc_detail::release(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  fathom::bench::alloc_detail::release(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  fathom::bench::alloc_detail::release(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  fathom::bench::alloc_detail::release(p);
}
void operator delete(void* p, size_t, std::align_val_t) noexcept {
  fathom::bench::alloc_detail::release(p);
}
void operator delete[](void* p, size_t, std::align_val_t) noexcept {
  fathom::bench::alloc_detail::release(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  fathom::bench::alloc_detail::release(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  fathom::bench::alloc_detail::release(p);
}
