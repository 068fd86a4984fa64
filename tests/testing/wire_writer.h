#pragma once

// Test-side message builder: writes big-endian wire fields so tests build packets field by
// field (and then break one on purpose) instead of pasting hex blobs.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

namespace fathom::testing {

class WireWriter {
 public:
  WireWriter& u8(uint8_t v) {
    buf_.push_back(std::byte(v));
    return *this;
  }
  WireWriter& u16(uint16_t v) { return u8(uint8_t(v >> 8)).u8(uint8_t(v)); }
  WireWriter& u32(uint32_t v) { return u16(uint16_t(v >> 16)).u16(uint16_t(v)); }
  WireWriter& u64(uint64_t v) { return u32(uint32_t(v >> 32)).u32(uint32_t(v)); }
  /// IPv4 address from four octets: ipv4(10, 0, 0, 1).
  WireWriter& ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return u8(a).u8(b).u8(c).u8(d); }
  WireWriter& bytes(std::initializer_list<uint8_t> bs) {
    for (uint8_t b : bs) u8(b);
    return *this;
  }
  WireWriter& bytes(std::span<const std::byte> bs) {
    buf_.insert(buf_.end(), bs.begin(), bs.end());
    return *this;
  }
  WireWriter& text(std::string_view s) {
    for (char c : s) u8(static_cast<uint8_t>(c));
    return *this;
  }
  WireWriter& zeros(size_t n) {
    buf_.insert(buf_.end(), n, std::byte{0});
    return *this;
  }
  /// Pads with zeros to a multiple of `align` bytes (sFlow opaque data, IPFIX set padding).
  WireWriter& pad_to(size_t align) {
    while (buf_.size() % align != 0) u8(0);
    return *this;
  }

  /// Current size: remember it before writing a length field, patch it afterwards.
  size_t size() const { return buf_.size(); }
  void patch_u16(size_t at, uint16_t v) {
    buf_[at] = std::byte(v >> 8);
    buf_[at + 1] = std::byte(v);
  }
  void patch_u32(size_t at, uint32_t v) {
    patch_u16(at, uint16_t(v >> 16));
    patch_u16(at + 2, uint16_t(v));
  }
  void truncate(size_t n) { buf_.resize(n); }

  std::span<const std::byte> span() const { return buf_; }
  const std::vector<std::byte>& data() const { return buf_; }

 private:
  std::vector<std::byte> buf_;
};

}  // namespace fathom::testing
