#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace fathom::detect::detail {

/// FNV-1a (64 bit) of `data`: the model and state files' checksum. Not cryptographic: it
/// catches truncation and bit rot, not tampering.
inline uint64_t fnv1a64(std::span<const std::byte> data, uint64_t hash = 0xcbf29ce484222325ULL) {
  for (const std::byte b : data) {
    hash ^= static_cast<uint8_t>(b);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

/// Appends little-endian integers and IEEE-754 floats, whatever the host's byte order.
class ByteWriter {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<std::byte>(v)); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) u8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void f32(float v) { u32(std::bit_cast<uint32_t>(v)); }
  void f64(double v) { u64(std::bit_cast<uint64_t>(v)); }
  void raw(std::string_view s) {
    for (const char c : s) u8(static_cast<uint8_t>(c));
  }
  void bytes(std::span<const std::byte> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  /// Appends the checksum of everything written so far.
  void checksum() { u64(fnv1a64(out_)); }
  std::vector<std::byte>& data() { return out_; }

 private:
  std::vector<std::byte> out_;
};

/// Reads what ByteWriter wrote. Every read is bounds-checked: past the end it returns 0 and
/// sets `failed()`, so a parser can read a whole section and check once.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> in) : in_(in) {}
  uint8_t u8() {
    if (pos_ >= in_.size()) {
      failed_ = true;
      return 0;
    }
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(u8()) << (8 * i);
    return v;
  }
  uint64_t u64() {
    if (!need(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(u8()) << (8 * i);
    return v;
  }
  float f32() { return std::bit_cast<float>(u32()); }
  double f64() { return std::bit_cast<double>(u64()); }
  /// True when `s` comes next (consumed either way).
  bool expect(std::string_view s) {
    bool same = true;
    for (const char c : s) same &= u8() == static_cast<uint8_t>(c);
    return same && !failed_;
  }
  /// `n` bytes as a view; empty and failed when fewer remain.
  std::span<const std::byte> bytes(size_t n) {
    if (!need(n)) return {};
    auto out = in_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  /// True when at least `n` more bytes remain (else sets failed): check before allocating
  /// from a count read from the input.
  bool need(size_t n) {
    if (failed_ || in_.size() - pos_ < n) {
      failed_ = true;
      return false;
    }
    return true;
  }
  size_t remaining() const { return in_.size() - pos_; }
  bool failed() const { return failed_; }
  void fail() { failed_ = true; }

 private:
  std::span<const std::byte> in_;
  size_t pos_ = 0;
  bool failed_ = false;
};

/// Checks the trailing FNV-1a checksum of `in` and returns the bytes before it; empty when
/// too short or the checksum does not match.
inline bool verify_checksum(std::span<const std::byte> in, std::span<const std::byte>& body) {
  if (in.size() < 8) return false;
  body = in.first(in.size() - 8);
  ByteReader tail(in.last(8));
  return tail.u64() == fnv1a64(body);
}

}  // namespace fathom::detect::detail
