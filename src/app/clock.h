#pragma once

#include <time.h>

#include <cstdint>

namespace fathom::app {

/// Nanoseconds since the Unix epoch (CLOCK_REALTIME): the clock of arrival times.
inline int64_t wall_clock_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// Nanoseconds of CLOCK_MONOTONIC: for intervals and timeouts.
inline int64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace fathom::app
