#pragma once

// The generator's own pseudo-random numbers. Standard distributions (std::normal_distribution,
// std::poisson_distribution, ...) may produce different sequences on different standard
// libraries, which would break `--seed` reproducibility, so every draw is written here on top
// of xoshiro256** (Blackman & Vigna) seeded through splitmix64.
//
// Normal and exponential variates come from ziggurats (Marsaglia & Tsang 2000, "The Ziggurat
// Method for Generating Random Variables", J. Stat. Softw. 5(8)) rather than the polar method
// and -log(u): about 99% of draws cost one 64-bit output, a table lookup and a multiply, with
// no logarithm or square root. The heavy tails (Pareto, log-normal) are exp() of those.

#include <array>
#include <cmath>
#include <cstddef>
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

/// Layers of a ziggurat for a decreasing density f on [0, inf): layer i > 0 spans x in
/// [0, edge[i]] and f in [f(edge[i]), f(edge[i-1])] (edge[0] taken as 0 for layer 1), so a
/// point with x < edge[i-1] is under the curve; layer 0 is the base strip of width edge[0]
/// whose part beyond edge[1] stands for the tail. All layers have the same area.
template <size_t kLayers>
struct Ziggurat {
  std::array<double, kLayers> edge{};   ///< right edge of each layer
  std::array<double, kLayers> inner{};  ///< edge[i-1] / edge[i]: share surely under the curve
  std::array<double, kLayers> f{};      ///< density at edge[i] (layer 0: f(0))
};

/// Builds a ziggurat from Marsaglia & Tsang's tail start `r` and layer area `v`, for
/// f(x) = exp(-x^2/2) (`normal`) or exp(-x). Runs once per process: the values depend only on
/// std::exp/std::log/std::sqrt of the same constants.
template <size_t kLayers>
Ziggurat<kLayers> make_ziggurat(double r, double v, bool normal) {
  const auto density = [normal](double x) {
    return normal ? std::exp(-0.5 * x * x) : std::exp(-x);
  };
  Ziggurat<kLayers> z;
  const double base = v / density(r);
  z.edge[0] = base;
  z.inner[0] = r / base;
  z.f[0] = 1.0;
  z.edge[kLayers - 1] = r;
  z.f[kLayers - 1] = density(r);
  double upper = r;
  for (size_t i = kLayers - 2; i >= 1; --i) {
    // The next edge up: the layer between them has area v.
    const double y = v / upper + density(upper);
    const double x = normal ? std::sqrt(-2.0 * std::log(y)) : -std::log(y);
    z.inner[i + 1] = x / upper;
    z.edge[i] = x;
    z.f[i] = density(x);
    upper = x;
  }
  z.inner[1] = 0.0;  // the top layer is all wedge
  return z;
}

/// 128-layer standard normal ziggurat (Marsaglia & Tsang's constants).
inline const Ziggurat<128>& normal_ziggurat() {
  static const Ziggurat<128> kTable = make_ziggurat<128>(3.442619855899, 9.91256303526217e-3, true);
  return kTable;
}

/// 256-layer standard exponential ziggurat (Marsaglia & Tsang's constants).
inline const Ziggurat<256>& exponential_ziggurat() {
  static const Ziggurat<256> kTable =
      make_ziggurat<256>(7.69711747013104972, 3.949659822581572e-3, false);
  return kTable;
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
  double exponential(double mean) noexcept { return mean * standard_exponential(); }

  /// Standard exponential (mean 1), by the ziggurat.
  double standard_exponential() noexcept {
    const Ziggurat<256>& z = exponential_ziggurat();
    for (;;) {
      // The layer from the low 8 bits, the position in it from the top 53: disjoint bits.
      const uint64_t bits = next();
      const size_t i = bits & 0xff;
      const double u = static_cast<double>(bits >> 11) * 0x1.0p-53;
      if (u < z.inner[i]) return u * z.edge[i];
      if (i == 0) return z.edge[255] + standard_exponential();  // memoryless tail beyond r
      const double x = u * z.edge[i];
      if (z.f[i] + uniform() * (z.f[i - 1] - z.f[i]) < std::exp(-x)) return x;
    }
  }

  /// Standard normal, by the ziggurat.
  double normal() noexcept {
    const Ziggurat<128>& z = normal_ziggurat();
    for (;;) {
      // The layer from the low 7 bits, a signed position from the top 53: disjoint bits.
      const uint64_t bits = next();
      const size_t i = bits & 0x7f;
      const double u = static_cast<double>(static_cast<int64_t>(bits) >> 11) * 0x1.0p-52;
      const double x = u * z.edge[i];
      if (std::fabs(u) < z.inner[i]) return x;
      if (i == 0) {
        // Tail beyond r (Marsaglia 1964): r + t with t accepted from an exponential proposal.
        const double r = z.edge[127];
        double t = 0;
        double e = 0;
        do {
          t = standard_exponential() / r;
          e = standard_exponential();
        } while (e + e < t * t);
        return u < 0 ? -(r + t) : r + t;
      }
      if (z.f[i] + uniform() * (z.f[i - 1] - z.f[i]) < std::exp(-0.5 * x * x)) return x;
    }
  }

  /// Log-normal: exp(N(mu, sigma)).
  double lognormal(double mu, double sigma) noexcept { return std::exp(mu + sigma * normal()); }

  /// Pareto with scale `xm` (minimum) and shape `alpha` (heavier tail as alpha falls to 1):
  /// xm * u^(-1/alpha) for uniform u, written as xm * exp(E / alpha) with E = -log(u)
  /// standard exponential, which the ziggurat draws without a logarithm (and exp is cheaper
  /// than pow).
  double pareto(double xm, double alpha) noexcept {
    return xm * std::exp(standard_exponential() / alpha);
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
    return n <= 1 ? 1 : geometric_skip_scaled(geometric_scale(n));
  }
  /// geometric_skip(n) for callers that draw many gaps of one n: `scale` is geometric_scale(n).
  uint64_t geometric_skip_scaled(double scale) noexcept {
    // P(skip > k) = (1 - 1/n)^k: 1 + the floor of an exponential with mean -1/log(1 - 1/n).
    return 1 + static_cast<uint64_t>(standard_exponential() * scale);
  }
  /// -1 / log(1 - 1/n), for n >= 2.
  static double geometric_scale(uint32_t n) noexcept {
    return -1.0 / std::log1p(-1.0 / static_cast<double>(n));
  }

 private:
  static constexpr uint64_t rotl(uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

  uint64_t s_[4]{};
};

}  // namespace fathom::gen
