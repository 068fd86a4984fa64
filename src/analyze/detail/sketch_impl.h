#pragma once

// Template member definitions of analyze/sketch.h (included at its end).

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "analyze/sketch.h"

namespace fathom::analyze {

namespace detail {

/// 2^−r as a double, built from its exponent bits (r <= 1022).
inline double inv_pow2(uint8_t r) noexcept {
  return std::bit_cast<double>((uint64_t{1023} - r) << 52);
}

/// HyperLogLog's bias constant αₘ (Flajolet et al. 2007, fig. 3).
constexpr double hll_alpha(size_t m) noexcept {
  if (m == 16) return 0.673;
  if (m == 32) return 0.697;
  if (m == 64) return 0.709;
  return 0.7213 / (1.0 + 1.079 / static_cast<double>(m));
}

}  // namespace detail

// --- HyperLogLog -----------------------------------------------------------------------------

template <size_t kRegisters>
void HyperLogLog<kRegisters>::add(uint64_t hash) noexcept {
  const size_t idx = static_cast<size_t>(hash >> (64 - kIndexBits));
  // The remaining 64 − log2(m) bits, top-aligned, with a sentinel bit below them: the rank is
  // capped at 65 − log2(m) when they are all zero, which fits a byte.
  const uint64_t rest = (hash << kIndexBits) | (uint64_t{1} << (kIndexBits - 1));
  const auto rank = static_cast<uint8_t>(std::countl_zero(rest) + 1);
  if (rank > registers_[idx]) registers_[idx] = rank;
}

template <size_t kRegisters>
void HyperLogLog<kRegisters>::merge(const HyperLogLog& other) noexcept {
  for (size_t reg_idx = 0; reg_idx < kRegisters; ++reg_idx) {
    registers_[reg_idx] = std::max(registers_[reg_idx], other.registers_[reg_idx]);
  }
}

template <size_t kRegisters>
double HyperLogLog<kRegisters>::estimate() const noexcept {
  double inv_sum = 0.0;
  uint32_t zeros = 0;
  for (const uint8_t r : registers_) {
    inv_sum += detail::inv_pow2(r);
    zeros += r == 0 ? 1 : 0;
  }
  constexpr auto m = static_cast<double>(kRegisters);
  const double raw = detail::hll_alpha(kRegisters) * m * m / inv_sum;
  // Small range (Flajolet et al. 2007 §4): the raw estimate is biased up while many
  // registers are empty; linear counting on the empty ones is better there. An empty sketch
  // reads m·ln(1) = 0.
  if (raw <= 2.5 * m && zeros != 0) return m * std::log(m / static_cast<double>(zeros));
  return raw;
}

template <size_t kRegisters>
constexpr double HyperLogLog<kRegisters>::relative_error() noexcept {
  // √m for m = 2^p without std::sqrt (not constexpr in C++20): 2^⌊p/2⌋, times √2 if p is odd.
  constexpr double kSqrt2 = 1.4142135623730951;
  const double root = static_cast<double>(size_t{1} << (kIndexBits / 2));
  return 1.04 / (kIndexBits % 2 == 0 ? root : root * kSqrt2);
}

template <size_t kRegisters>
bool HyperLogLog<kRegisters>::empty() const noexcept {
  return std::all_of(registers_.begin(), registers_.end(), [](uint8_t r) { return r == 0; });
}

template <size_t kRegisters>
void HyperLogLog<kRegisters>::clear() noexcept {
  registers_.fill(0);
}

// --- EntropyHistogram ------------------------------------------------------------------------

template <size_t kBins>
void EntropyHistogram<kBins>::add(uint64_t hash, uint16_t count) noexcept {
  uint16_t& bin = bins_[hash & (kBins - 1)];
  const uint32_t sum = uint32_t{bin} + count;
  bin = static_cast<uint16_t>(std::min<uint32_t>(sum, UINT16_MAX));
}

template <size_t kBins>
void EntropyHistogram<kBins>::merge(const EntropyHistogram& other) noexcept {
  for (size_t bin_idx = 0; bin_idx < kBins; ++bin_idx) {
    const uint32_t sum = uint32_t{bins_[bin_idx]} + other.bins_[bin_idx];
    bins_[bin_idx] = static_cast<uint16_t>(std::min<uint32_t>(sum, UINT16_MAX));
  }
}

template <size_t kBins>
uint64_t EntropyHistogram<kBins>::total() const noexcept {
  uint64_t sum = 0;
  for (const uint16_t c : bins_) sum += c;
  return sum;
}

template <size_t kBins>
double EntropyHistogram<kBins>::entropy_bits() const noexcept {
  uint64_t sum = 0;
  uint32_t non_empty = 0;
  double c_log_c = 0.0;  // Σ c·log2 c
  for (const uint16_t c : bins_) {
    if (c == 0) continue;
    sum += c;
    ++non_empty;
    c_log_c += c * std::log2(static_cast<double>(c));
  }
  if (non_empty < 2) return 0.0;
  // H = −Σ (c/T)·log2(c/T) = log2 T − Σ c·log2 c / T: one division instead of one per bin.
  const auto t = static_cast<double>(sum);
  return std::clamp(std::log2(t) - c_log_c / t, 0.0, std::log2(static_cast<double>(kBins)));
}

template <size_t kBins>
double EntropyHistogram<kBins>::normalized_entropy() const noexcept {
  const auto non_empty = std::count_if(bins_.begin(), bins_.end(), [](uint16_t c) { return c; });
  if (non_empty < 2) return 0.0;
  return std::clamp(entropy_bits() / std::log2(static_cast<double>(non_empty)), 0.0, 1.0);
}

template <size_t kBins>
bool EntropyHistogram<kBins>::empty() const noexcept {
  return std::all_of(bins_.begin(), bins_.end(), [](uint16_t c) { return c == 0; });
}

template <size_t kBins>
void EntropyHistogram<kBins>::clear() noexcept {
  bins_.fill(0);
}

static_assert(std::is_trivially_copyable_v<HyperLogLog<64>>);
static_assert(sizeof(HyperLogLog<1024>) == 1024);
static_assert(std::is_trivially_copyable_v<EntropyHistogram<64>>);
static_assert(sizeof(EntropyHistogram<64>) == 128);

}  // namespace fathom::analyze
