#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace fathom::decode {

/// Bounds-checked big-endian reader over wire bytes. Every read checks the remaining length
/// first; a read past the end returns false (or 0 for the `*_or0` forms after `ok()` turned
/// false) and never touches memory outside the span. Never cast wire bytes to structs.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> data) noexcept : data_(data) {}

  size_t remaining() const noexcept { return data_.size() - pos_; }
  size_t position() const noexcept { return pos_; }
  bool has(size_t n) const noexcept { return n <= remaining(); }
  /// False once any read or skip went past the end; stays false.
  bool ok() const noexcept { return ok_; }
  const std::byte* current() const noexcept { return data_.data() + pos_; }
  std::span<const std::byte> rest() const noexcept { return data_.subspan(pos_); }

  bool skip(size_t n) noexcept {
    if (!has(n)) return fail();
    pos_ += n;
    return true;
  }

  /// A sub-reader over the next `n` bytes, advancing past them; empty (and !ok()) if short.
  ByteReader sub(size_t n) noexcept {
    if (!has(n)) {
      fail();
      return ByteReader({});
    }
    ByteReader r(data_.subspan(pos_, n));
    pos_ += n;
    return r;
  }

  bool read_bytes(void* out, size_t n) noexcept {
    if (!has(n)) return fail();
    std::memcpy(out, data_.data() + pos_, n);
    pos_ += n;
    return true;
  }

  uint8_t u8() noexcept {
    if (!has(1)) return fail(), 0;
    return static_cast<uint8_t>(data_[pos_++]);
  }
  uint16_t u16() noexcept {
    if (!has(2)) return fail(), 0;
    const uint16_t v = load_be16(data_.data() + pos_);
    pos_ += 2;
    return v;
  }
  uint32_t u32() noexcept {
    if (!has(4)) return fail(), 0;
    const uint32_t v = load_be32(data_.data() + pos_);
    pos_ += 4;
    return v;
  }
  uint64_t u64() noexcept {
    if (!has(8)) return fail(), 0;
    const uint64_t v = load_be64(data_.data() + pos_);
    pos_ += 8;
    return v;
  }

  /// Big-endian loads from a pointer the caller has already bounds-checked.
  static uint16_t load_be16(const std::byte* p) noexcept {
    return static_cast<uint16_t>((uint16_t{u(p[0])} << 8) | u(p[1]));
  }
  static uint32_t load_be32(const std::byte* p) noexcept {
    return (uint32_t{u(p[0])} << 24) | (uint32_t{u(p[1])} << 16) | (uint32_t{u(p[2])} << 8) |
           uint32_t{u(p[3])};
  }
  static uint64_t load_be64(const std::byte* p) noexcept {
    return (uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
  }
  /// Unsigned big-endian integer of 1..8 bytes (IPFIX reduced-size encoding, RFC 7011 §6.2).
  static uint64_t load_be_n(const std::byte* p, size_t n) noexcept {
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < 8; ++i) v = (v << 8) | u(p[i]);
    return v;
  }

 private:
  static uint8_t u(std::byte b) noexcept { return static_cast<uint8_t>(b); }
  bool fail() noexcept {
    ok_ = false;
    pos_ = data_.size();
    return false;
  }

  std::span<const std::byte> data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace fathom::decode
