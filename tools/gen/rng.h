#pragma once

// The generator's own pseudo-random numbers. Standard distributions (std::normal_distribution,
// std::poisson_distribution, ...) may produce different sequences on different standard
// libraries, which would break `--seed` reproducibility, so every draw is written here on top
// of xoshiro256** (Blackman & Vigna) seeded through splitmix64.

#include <cmath>
#include <cstdint>

namespace fathom::gen {

__extension__ typedef unsigned __int128 Uint128;  // GCC/Clang builtin; __extension__ for -Wpedantic

/// splitmix64 step: used to expand a seed and to derive independent sub-seeds.
constexpr uint64_t splitmix64(uint64_t& state) noexcept {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// Mixes two values into one well-spread 64-bit value (stream ids, per-object seeds).
constexpr uint64_t mix_seed(uint64_t a, uint64_t b) noexcept {
  uint64_t s = a ^ (b * 0xD1B54A32D192ED03ULL);
  splitmix64(s);
  return splitmix64(s);
}

/// xoshiro256** with the draws the simulation needs. Copyable value type; identical output for
/// a seed on every platform with IEEE-754 doubles and a correctly rounded `std::log`/`std::exp`
/// (glibc's are).
class Rng {
 public:
  explicit constexpr Rng(uint64_t seed = 1) noexcept {
    uint64_t s = seed;
    for (auto& word : s_) word = splitmix64(s);
  }

  /// Next raw 64-bit value.
  constexpr uint64_t next() noexcept {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// Uniform integer in [0, bound); 0 when bound is 0. Lemire's multiply-shift (tiny bias for
  /// huge bounds is irrelevant here and keeps it branch-free).
  uint64_t below(uint64_t bound) noexcept {
    return static_cast<uint64_t>((static_cast<Uint128>(next()) * bound) >> 64);
  }

  /// Uniform integer in [lo, hi] (inclusive).
  uint64_t range(uint64_t lo, uint64_t hi) noexcept { return lo + below(hi - lo + 1); }

  /// Uniform double in [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  /// Uniform double in (0, 1]: safe to take the logarithm of.
  double uniform_pos() noexcept { return 1.0 - uniform(); }

  /// True with probability p.
  bool chance(double p) noexcept { return uniform() < p; }

  /// Exponential with the given mean.
  double exponential(double mean) noexcept { return -mean * std::log(uniform_pos()); }

  /// Standard normal (Marsaglia polar method; the pair's second value is kept for the next call).
  double normal() noexcept {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u = 0;
    double v = 0;
    double s = 0;
    do {
      u = 2.0 * uniform() - 1.0;
      v = 2.0 * uniform() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double m = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = v * m;
    has_spare_ = true;
    return u * m;
  }

  /// Log-normal: exp(N(mu, sigma)).
  double lognormal(double mu, double sigma) noexcept { return std::exp(mu + sigma * normal()); }

  /// Pareto with scale `xm` (minimum) and shape `alpha` (heavier tail as alpha falls to 1).
  double pareto(double xm, double alpha) noexcept {
    return xm / std::pow(uniform_pos(), 1.0 / alpha);
  }

  /// Poisson count with the given mean: multiplication method for small means, a rounded
  /// normal approximation above 64 (error far below the simulation's own noise).
  uint64_t poisson(double mean) noexcept {
    if (mean <= 0) return 0;
    if (mean > 64) {
      const double v = mean + std::sqrt(mean) * normal() + 0.5;
      return v < 0 ? 0 : static_cast<uint64_t>(v);
    }
    const double limit = std::exp(-mean);
    uint64_t k = 0;
    double p = uniform_pos();
    while (p > limit) {
      ++k;
      p *= uniform_pos();
    }
    return k;
  }

  /// Packets until the next sample (>= 1) for Bernoulli(1/n) sampling of each packet: geometric
  /// with mean n. n <= 1 samples every packet.
  uint64_t geometric_skip(uint32_t n) noexcept {
    if (n <= 1) return 1;
    const double q = std::log1p(-1.0 / static_cast<double>(n));
    return 1 + static_cast<uint64_t>(std::log(uniform_pos()) / q);
  }

 private:
  static constexpr uint64_t rotl(uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

  uint64_t s_[4]{};
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace fathom::gen
