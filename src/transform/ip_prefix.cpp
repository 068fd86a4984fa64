#include "transform/ip_prefix.h"

#include <algorithm>
#include <charconv>

namespace fathom::transform {
namespace {

/// Mask byte `byte_idx` of a prefix of `length` bits.
uint8_t mask_byte(uint8_t length, size_t byte_idx) noexcept {
  const int bits = std::clamp(static_cast<int>(length) - static_cast<int>(byte_idx) * 8, 0, 8);
  return static_cast<uint8_t>(0xff00u >> bits);
}

}  // namespace

bool IpPrefix::contains(const flow::IpAddress& a) const noexcept {
  for (size_t byte_idx = 0; byte_idx < 16; ++byte_idx) {
    const uint8_t mask = mask_byte(length, byte_idx);
    if (mask == 0) return true;
    if ((a.bytes[byte_idx] & mask) != address.bytes[byte_idx]) return false;
  }
  return true;
}

flow::IpAddress IpPrefix::last() const noexcept {
  flow::IpAddress a = address;
  for (size_t byte_idx = 0; byte_idx < 16; ++byte_idx) {
    a.bytes[byte_idx] = static_cast<uint8_t>(a.bytes[byte_idx] | ~mask_byte(length, byte_idx));
  }
  return a;
}

std::string IpPrefix::to_string() const {
  const int shown = is_v4() ? length - 96 : length;
  return address.to_string() + "/" + std::to_string(shown);
}

PrefixParse parse_ip_prefix(std::string_view text, IpPrefix& out) noexcept {
  const size_t slash = text.find('/');
  const std::string_view addr_text = text.substr(0, slash);
  const std::optional<flow::IpAddress> addr = flow::IpAddress::parse(addr_text);
  if (!addr) return PrefixParse::kBadAddress;
  // A dotted quad is IPv4 even when written v4-mapped; the length is then in IPv4 bits.
  const bool v4_text = addr_text.find(':') == std::string_view::npos;
  const unsigned max_len = v4_text ? 32 : 128;
  unsigned len = max_len;
  if (slash != std::string_view::npos) {
    const std::string_view len_text = text.substr(slash + 1);
    const auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (len_text.empty() || ec != std::errc() || ptr != len_text.data() + len_text.size() ||
        len > max_len) {
      return PrefixParse::kBadLength;
    }
  }
  out.address = *addr;
  out.length = static_cast<uint8_t>(v4_text ? len + 96 : len);
  bool host_bits = false;
  for (size_t byte_idx = 0; byte_idx < 16; ++byte_idx) {
    const uint8_t mask = mask_byte(out.length, byte_idx);
    host_bits = host_bits || (out.address.bytes[byte_idx] & ~mask) != 0;
    out.address.bytes[byte_idx] &= mask;
  }
  return host_bits ? PrefixParse::kHostBits : PrefixParse::kOk;
}

bool overlaps(const IpPrefix& a, const IpPrefix& b) noexcept {
  return a.length <= b.length ? a.contains(b.address) : b.contains(a.address);
}

}  // namespace fathom::transform
