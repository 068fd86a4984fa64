#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "flow/ip_address.h"

namespace fathom::transform {

/// A CIDR block over the 128-bit address space of `flow::IpAddress`, where IPv4 lives
/// v4-mapped (::ffff:0:0/96). An IPv4 "/n" is stored as length 96 + n, so one comparison
/// serves both families. Host bits of `address` are always zero.
struct IpPrefix {
  flow::IpAddress address;
  uint8_t length = 0;  ///< 0..128, in the 128-bit space

  /// True when `a` lies inside the block.
  bool contains(const flow::IpAddress& a) const noexcept;
  /// The highest address of the block (host bits all ones).
  flow::IpAddress last() const noexcept;
  /// True for a v4-mapped block of length >= 96 (written in IPv4 notation).
  bool is_v4() const noexcept { return length >= 96 && address.is_v4(); }
  /// "10.0.0.0/8", "2001:db8::/32"; a single address keeps its "/32" or "/128".
  std::string to_string() const;

  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
};

/// Why `parse_ip_prefix` refused its input.
enum class PrefixParse : uint8_t {
  kOk = 0,
  kBadAddress,  ///< the part before '/' is not an IPv4 or IPv6 address
  kBadLength,   ///< the length is not a number within 0..32 (IPv4) or 0..128 (IPv6)
  kHostBits,    ///< bits beyond the length are set ("10.0.0.1/8"): most likely a typo
};

/// Parses "ADDR/LEN" or a bare "ADDR" (a /32 or /128 block) into `out`. Never throws. On
/// kHostBits `out` holds the block with its host bits cleared (the likely intent); on the
/// other errors `out` is unspecified.
PrefixParse parse_ip_prefix(std::string_view text, IpPrefix& out) noexcept;

/// True when the two blocks share at least one address (CIDR blocks either nest or are
/// disjoint, so this is "one contains the other").
bool overlaps(const IpPrefix& a, const IpPrefix& b) noexcept;

}  // namespace fathom::transform
