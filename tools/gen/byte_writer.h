#pragma once

// Big-endian writer into a reusable byte buffer: the encoders' only way to produce wire bytes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "flow/ip_address.h"

namespace fathom::gen {

class ByteWriter {
 public:
  explicit ByteWriter(size_t reserve = 2048) : buf_(reserve) {}

  void u8(uint8_t v) {
    grow(1);
    buf_[size_++] = std::byte{v};
  }
  void u16(uint16_t v) {
    grow(2);
    buf_[size_] = std::byte(v >> 8);
    buf_[size_ + 1] = std::byte(v & 0xff);
    size_ += 2;
  }
  void u32(uint32_t v) {
    grow(4);
    for (int i = 0; i < 4; ++i) buf_[size_ + size_t(i)] = std::byte((v >> (24 - 8 * i)) & 0xff);
    size_ += 4;
  }
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    u32(static_cast<uint32_t>(v));
  }
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

  size_t size() const noexcept { return size_; }
  void patch_u8(size_t at, uint8_t v) noexcept { buf_[at] = std::byte{v}; }
  void patch_u16(size_t at, uint16_t v) noexcept {
    buf_[at] = std::byte(v >> 8);
    buf_[at + 1] = std::byte(v & 0xff);
  }
  void patch_u32(size_t at, uint32_t v) noexcept {
    patch_u16(at, static_cast<uint16_t>(v >> 16));
    patch_u16(at + 2, static_cast<uint16_t>(v));
  }
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
  void grow(size_t n) {
    if (size_ + n > buf_.size()) [[unlikely]]
      grow_slow(n);
  }
  [[gnu::noinline]] void grow_slow(size_t n) { buf_.resize(std::max(buf_.size() * 2, size_ + n)); }

  std::vector<std::byte> buf_;  ///< capacity; bytes [0, size_) are written
  size_t size_ = 0;
};

/// RFC 1071 Internet checksum over `data`, starting from a partial sum `sum`.
inline uint16_t internet_checksum(std::span<const std::byte> data, uint32_t sum = 0) noexcept {
  size_t i = 0;
  for (; i + 1 < data.size(); i += 2) {
    sum += (uint32_t(data[i]) << 8) | uint32_t(data[i + 1]);
  }
  if (i < data.size()) sum += uint32_t(data[i]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace fathom::gen
