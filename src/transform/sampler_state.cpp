#include "transform/sampler_state.h"

#include <bit>
#include <cmath>
#include <cstring>

namespace fathom::transform {
namespace {

constexpr char kMagic[3] = {'F', 'S', 'S'};
constexpr uint8_t kVersion = 1;
constexpr size_t kRecordBytes = 3 + 1 + 4 * 8 + 8;

void put_u64(uint64_t v, std::string& out) {
  for (int byte_idx = 0; byte_idx < 8; ++byte_idx) {
    out += static_cast<char>((v >> (8 * byte_idx)) & 0xff);
  }
}

uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int byte_idx = 0; byte_idx < 8; ++byte_idx) {
    v |= uint64_t{static_cast<uint8_t>(p[byte_idx])} << (8 * byte_idx);
  }
  return v;
}

bool rate_ok(double v) {
  return std::isfinite(v) && v >= 0.0;
}

}  // namespace

std::string encode_sampler_state(const SamplerTenantState& state, int64_t saved_ns) {
  std::string out(kMagic, sizeof kMagic);
  out += static_cast<char>(kVersion);
  put_u64(std::bit_cast<uint64_t>(state.probability), out);
  put_u64(std::bit_cast<uint64_t>(state.smoothed_rate), out);
  put_u64(std::bit_cast<uint64_t>(state.kept_rate), out);
  put_u64(std::bit_cast<uint64_t>(state.target), out);
  put_u64(static_cast<uint64_t>(saved_ns), out);
  return out;
}

bool decode_sampler_state(std::string_view record, SamplerTenantState& out, int64_t& saved_ns) {
  if (record.size() != kRecordBytes || std::memcmp(record.data(), kMagic, sizeof kMagic) != 0 ||
      static_cast<uint8_t>(record[3]) != kVersion) {
    return false;
  }
  const char* p = record.data() + 4;
  const double probability = std::bit_cast<double>(get_u64(p));
  const double smoothed = std::bit_cast<double>(get_u64(p + 8));
  const double kept = std::bit_cast<double>(get_u64(p + 16));
  const double target = std::bit_cast<double>(get_u64(p + 24));
  if (!(probability > 0.0 && probability <= 1.0) || !rate_ok(smoothed) || !rate_ok(kept) ||
      !rate_ok(target)) {
    return false;
  }
  out.probability = probability;
  out.smoothed_rate = smoothed;
  out.kept_rate = kept;
  out.target = target;
  saved_ns = static_cast<int64_t>(get_u64(p + 32));
  return true;
}

}  // namespace fathom::transform
