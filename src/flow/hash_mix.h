#pragma once

#include <cstdint>

namespace fathom::flow {

/// MurmurHash3's 64-bit finaliser: a bijection that spreads every input bit over every output
/// bit. The last step of the hashes the parts build (flow keys, sketch items, incident ids,
/// tenant ownership).
constexpr uint64_t fmix64(uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace fathom::flow
