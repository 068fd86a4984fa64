#include "bus/tenant_partition.h"

#include <charconv>

namespace fathom::bus {

std::string_view tenant_key(uint32_t tenant_id, std::array<char, 10>& buffer) noexcept {
  // 10 digits hold any uint32_t, so to_chars cannot fail.
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), tenant_id);
  (void)ec;
  return {buffer.data(), static_cast<size_t>(end - buffer.data())};
}

uint32_t murmur2(std::span<const std::byte> key) noexcept {
  // org.apache.kafka.common.utils.Utils.murmur2, in unsigned arithmetic (Java's int wraps the
  // same way; its `>>>` is the unsigned shift).
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const size_t length = key.size();
  uint32_t h = kSeed ^ static_cast<uint32_t>(length);
  const auto byte_at = [&](size_t i) { return static_cast<uint32_t>(key[i]); };
  for (size_t word_idx = 0; word_idx < length / 4; ++word_idx) {
    const size_t i = word_idx * 4;
    uint32_t k =
        byte_at(i) | (byte_at(i + 1) << 8) | (byte_at(i + 2) << 16) | (byte_at(i + 3) << 24);
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  const size_t tail = length & ~size_t{3};
  switch (length % 4) {
    case 3: h ^= byte_at(tail + 2) << 16; [[fallthrough]];
    case 2: h ^= byte_at(tail + 1) << 8; [[fallthrough]];
    case 1: h ^= byte_at(tail); h *= kM;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return h;
}

int32_t tenant_partition(uint32_t tenant_id, int32_t partition_count) noexcept {
  if (partition_count <= 1) return 0;
  std::array<char, 10> buffer;
  const std::string_view key = tenant_key(tenant_id, buffer);
  const uint32_t h = murmur2(std::as_bytes(std::span(key.data(), key.size())));
  return static_cast<int32_t>((h & 0x7fffffffu) % static_cast<uint32_t>(partition_count));
}

}  // namespace fathom::bus
