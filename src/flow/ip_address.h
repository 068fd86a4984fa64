#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace fathom::flow {

/// An IPv4 or IPv6 address in 16 bytes, network byte order. IPv4 is stored v4-mapped
/// (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) so one type and one comparison serve both families.
/// Trivially copyable; the all-zero value (`::`) means "absent".
struct IpAddress {
  std::array<uint8_t, 16> bytes{};

  /// From an IPv4 address in host byte order (0x0a000001 is 10.0.0.1).
  static constexpr IpAddress from_v4(uint32_t host_order) noexcept {
    IpAddress a;
    a.bytes[10] = 0xff;
    a.bytes[11] = 0xff;
    a.bytes[12] = static_cast<uint8_t>(host_order >> 24);
    a.bytes[13] = static_cast<uint8_t>(host_order >> 16);
    a.bytes[14] = static_cast<uint8_t>(host_order >> 8);
    a.bytes[15] = static_cast<uint8_t>(host_order);
    return a;
  }

  /// From 4 wire bytes (network order). `wire` must hold at least 4 bytes.
  static IpAddress from_v4_bytes(const std::byte* wire) noexcept {
    IpAddress a;
    a.bytes[10] = 0xff;
    a.bytes[11] = 0xff;
    std::memcpy(a.bytes.data() + 12, wire, 4);
    return a;
  }

  /// From 16 wire bytes (network order). `wire` must hold at least 16 bytes.
  static IpAddress from_v6_bytes(const std::byte* wire) noexcept {
    IpAddress a;
    std::memcpy(a.bytes.data(), wire, 16);
    return a;
  }

  /// True when the address is v4-mapped (an IPv4 address).
  constexpr bool is_v4() const noexcept {
    if (std::is_constant_evaluated()) {
      for (int i = 0; i < 10; ++i) {
        if (bytes[i] != 0) return false;
      }
      return bytes[10] == 0xff && bytes[11] == 0xff;
    }
    // Two loads and a compare instead of a 12-byte loop: this runs once per record in the
    // encoders and formatters.
    uint64_t head = 0;
    uint32_t mid = 0;
    std::memcpy(&head, bytes.data(), 8);
    std::memcpy(&mid, bytes.data() + 8, 4);
    constexpr uint32_t kMappedMid =
        std::endian::native == std::endian::little ? 0xffff0000u : 0x0000ffffu;
    return head == 0 && mid == kMappedMid;
  }

  /// The IPv4 address in host byte order; meaningful only when `is_v4()`.
  constexpr uint32_t v4() const noexcept {
    return (uint32_t{bytes[12]} << 24) | (uint32_t{bytes[13]} << 16) | (uint32_t{bytes[14]} << 8) |
           uint32_t{bytes[15]};
  }

  /// True for the all-zero address, used as "absent".
  constexpr bool is_unspecified() const noexcept {
    for (uint8_t b : bytes) {
      if (b != 0) return false;
    }
    return true;
  }

  /// Text form: dotted quad for IPv4, RFC 5952 canonical form for IPv6.
  std::string to_string() const;

  /// Parses dotted-quad IPv4 or any RFC 4291 IPv6 text. Returns nullopt on bad input.
  static std::optional<IpAddress> parse(std::string_view text) noexcept;

  friend constexpr auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

/// Hash for unordered containers keyed by address.
struct IpAddressHash {
  size_t operator()(const IpAddress& a) const noexcept {
    uint64_t hi = 0;
    uint64_t lo = 0;
    std::memcpy(&hi, a.bytes.data(), 8);
    std::memcpy(&lo, a.bytes.data() + 8, 8);
    uint64_t h = hi * 0x9E3779B97F4A7C15ULL ^ (lo + 0x632BE59BD9B4E019ULL);
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    return static_cast<size_t>(h);
  }
};

}  // namespace fathom::flow
