#include "api/params.h"

#include <charconv>

namespace fathom::api {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kNsPerMs = 1'000'000;
// 9999-12-31T23:59:59Z: the last second RFC 3339 can write.
constexpr int64_t kMaxSeconds = 253'402'300'799;

bool digits(std::string_view s, size_t pos, size_t count, int& out) noexcept {
  if (pos + count > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool leap(int y) noexcept {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

std::optional<int64_t> parse_rfc3339(std::string_view s) noexcept {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM); 't', 'z' and a space for 'T' as RFC 3339
  // §5.6 allows.
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (s.size() < 20 || !digits(s, 0, 4, year) || s[4] != '-' || !digits(s, 5, 2, month) ||
      s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' ||
      !digits(s, 17, 2, second)) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1970 || month < 1 || month > 12 || day < 1 ||
      day > kDays[month - 1] + (month == 2 && leap(year) ? 1 : 0) || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  if (second == 60) second = 59;  // a leap second: the clock has no such second
  size_t pos = 19;
  int64_t frac_ns = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = 100'000'000;
    const size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (scale > 0) frac_ns += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 18) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;
  int64_t offset_s = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh = 0, om = 0;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_s = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const int64_t seconds =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second - offset_s;
  if (seconds < 0 || seconds > kMaxSeconds) return std::nullopt;
  return seconds * kNsPerSecond + frac_ns;
}

}  // namespace

std::optional<uint64_t> parse_uint(std::string_view text, uint64_t min, uint64_t max) noexcept {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (v < min || v > max) return std::nullopt;
  return v;
}

std::optional<int64_t> parse_duration(std::string_view text) noexcept {
  if (text.size() < 2) return std::nullopt;
  int64_t unit = 0;
  switch (text.back()) {
    case 's': unit = kNsPerSecond; break;
    case 'm': unit = 60 * kNsPerSecond; break;
    case 'h': unit = 3600 * kNsPerSecond; break;
    case 'd': unit = 86400 * kNsPerSecond; break;
    default: return std::nullopt;
  }
  constexpr uint64_t kTenYearsS = 10ULL * 366 * 86400;
  const auto n = parse_uint(text.substr(0, text.size() - 1), 1,
                            kTenYearsS / static_cast<uint64_t>(unit / kNsPerSecond));
  if (!n) return std::nullopt;
  return static_cast<int64_t>(*n) * unit;
}

std::optional<int64_t> parse_time(std::string_view text, int64_t now_ns) noexcept {
  if (text == "now") return now_ns;
  if (!text.empty() && text.front() == '-') {
    const auto d = parse_duration(text.substr(1));
    if (!d || *d > now_ns) return std::nullopt;
    return now_ns - *d;
  }
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos) {
    const auto ms = parse_uint(text, 0, static_cast<uint64_t>(kMaxSeconds) * 1000);
    if (!ms) return std::nullopt;
    return static_cast<int64_t>(*ms) * kNsPerMs;
  }
  return parse_rfc3339(text);
}

}  // namespace fathom::api
