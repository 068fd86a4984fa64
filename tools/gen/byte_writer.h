#pragma once

// Big-endian writer into a reusable byte buffer: the encoders' only way to produce wire bytes.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "flow/ip_address.h"

namespace fathom::gen {

namespace detail {

template <typename T>
T byteswap(T v) noexcept {
  if constexpr (sizeof(T) == 2) {
    return static_cast<T>(__builtin_bswap16(v));
  } else if constexpr (sizeof(T) == 4) {
    return static_cast<T>(__builtin_bswap32(v));
  } else {
    return static_cast<T>(__builtin_bswap64(v));
  }
}

/// Stores `v` big-endian at `at` in one unaligned store. Encoders write a field at a time, and
/// a byte-at-a-time loop through std::byte (which may alias anything) makes the compiler
/// reload the buffer pointer and size after every byte.
template <typename T>
void store_be(std::byte* at, T v) noexcept {
  if constexpr (std::endian::native == std::endian::little && sizeof(T) > 1) v = byteswap(v);
  std::memcpy(at, &v, sizeof(T));
}

}  // namespace detail

/// Writes big-endian fields into space already reserved with ByteWriter::extend(): a
/// fixed-layout record costs one bounds check instead of one per field. The caller writes
/// exactly the bytes it reserved.
class FieldCursor {
 public:
  explicit FieldCursor(std::byte* at) noexcept : at_(at) {}
  void u8(uint8_t v) noexcept { put(v); }
  void u16(uint16_t v) noexcept { put(v); }
  void u32(uint32_t v) noexcept { put(v); }
  void u64(uint64_t v) noexcept { put(v); }
  void ipv4(const flow::IpAddress& a) noexcept {
    std::memcpy(at_, a.bytes.data() + 12, 4);
    at_ += 4;
  }
  void ipv6(const flow::IpAddress& a) noexcept {
    std::memcpy(at_, a.bytes.data(), 16);
    at_ += 16;
  }
  std::byte* position() const noexcept { return at_; }

 private:
  template <typename T>
  void put(T v) noexcept {
    detail::store_be(at_, v);
    at_ += sizeof(T);
  }
  std::byte* at_;
};

class ByteWriter {
 public:
  explicit ByteWriter(size_t reserve = 2048) : buf_(reserve) {}

  void u8(uint8_t v) { put_be(v); }
  void u16(uint16_t v) { put_be(v); }
  void u32(uint32_t v) { put_be(v); }
  void u64(uint64_t v) { put_be(v); }
  void bytes(const void* data, size_t n) {
    grow(n);
    std::memcpy(buf_.data() + size_, data, n);
    size_ += n;
  }
  void zeros(size_t n) {
    grow(n);
    std::memset(buf_.data() + size_, 0, n);
    size_ += n;
  }
  /// The 4 IPv4 bytes of a v4-mapped address.
  void ipv4(const flow::IpAddress& a) { bytes(a.bytes.data() + 12, 4); }
  void ipv6(const flow::IpAddress& a) { bytes(a.bytes.data(), 16); }
  void pad_to(size_t align) {
    while (size_ % align != 0) u8(0);
  }

  /// Appends `n` bytes and returns where they start; fill them through a FieldCursor.
  std::byte* extend(size_t n) {
    grow(n);
    std::byte* at = buf_.data() + size_;
    size_ += n;
    return at;
  }

  size_t size() const noexcept { return size_; }
  void patch_u8(size_t at, uint8_t v) noexcept { buf_[at] = std::byte{v}; }
  void patch_u16(size_t at, uint16_t v) noexcept { detail::store_be(buf_.data() + at, v); }
  void patch_u32(size_t at, uint32_t v) noexcept { detail::store_be(buf_.data() + at, v); }
  void clear() noexcept { size_ = 0; }
  /// Shrinks (or zero-extends) the written bytes to `n`.
  void resize(size_t n) {
    if (n > size_) {
      zeros(n - size_);
    } else {
      size_ = n;
    }
  }
  std::span<const std::byte> span() const noexcept { return {buf_.data(), size_}; }

 private:
  template <typename T>
  void put_be(T v) {
    grow(sizeof(T));
    detail::store_be(buf_.data() + size_, v);
    size_ += sizeof(T);
  }
  void grow(size_t n) {
    if (size_ + n > buf_.size()) [[unlikely]]
      grow_slow(n);
  }
  [[gnu::noinline]] void grow_slow(size_t n) { buf_.resize(std::max(buf_.size() * 2, size_ + n)); }

  std::vector<std::byte> buf_;  ///< capacity; bytes [0, size_) are written
  size_t size_ = 0;
};

/// RFC 1071 Internet checksum over `data`, starting from a partial sum `sum` of big-endian
/// 16-bit words.
inline uint16_t internet_checksum(std::span<const std::byte> data, uint32_t sum = 0) noexcept {
  // RFC 1071 §2(B): the one's-complement sum is independent of byte order, so add the data as
  // native 32-bit words (two per 8-byte load) into a 64-bit accumulator (no carries lost) and swap
  // at the end.
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t words = 0;
    std::memcpy(&words, data.data() + i, 8);
    acc += (words & 0xffffffffu) + (words >> 32);
  }
  for (; i + 4 <= data.size(); i += 4) {
    uint32_t word = 0;
    std::memcpy(&word, data.data() + i, 4);
    acc += word;
  }
  for (; i + 1 < data.size(); i += 2) {
    uint16_t word = 0;
    std::memcpy(&word, data.data() + i, 2);
    acc += word;
  }
  if (i < data.size()) {
    const uint16_t last = static_cast<uint16_t>(uint16_t(data[i]) << 8);  // big-endian pad
    acc += std::endian::native == std::endian::little ? __builtin_bswap16(last) : last;
  }
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  uint32_t folded = static_cast<uint32_t>(acc);
  if constexpr (std::endian::native == std::endian::little) {
    folded = __builtin_bswap16(static_cast<uint16_t>(folded));
  }
  folded += sum;
  while (folded >> 16) folded = (folded & 0xffff) + (folded >> 16);
  return static_cast<uint16_t>(~folded);
}

}  // namespace fathom::gen
