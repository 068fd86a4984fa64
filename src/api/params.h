#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fathom::api {

/// A time given in a query parameter (docs/api.md "Conventions"): RFC 3339 with a zone
/// (`2026-12-07T08:00:00Z`, `...T09:00:00.25+01:00`), Unix milliseconds (`1796632800000`), a
/// duration before `now_ns` (`-15m`, `-30s`, `-2h`, `-7d`) or `now`. Nanoseconds since the
/// epoch; nullopt for anything else, out-of-range values (before 1970, after 9999) included.
std::optional<int64_t> parse_time(std::string_view text, int64_t now_ns) noexcept;

/// A duration `<n><unit>` with unit s, m, h or d (`10s`, `5m`); n a positive integer, at most
/// 10 years. Nanoseconds; nullopt otherwise.
std::optional<int64_t> parse_duration(std::string_view text) noexcept;

/// A decimal integer in [min, max] (no sign, no spaces, at most 19 digits); nullopt otherwise.
std::optional<uint64_t> parse_uint(std::string_view text, uint64_t min, uint64_t max) noexcept;

}  // namespace fathom::api
