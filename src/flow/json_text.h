#pragma once

// Small JSON writers shared by every JSON output: `fathom run`'s JSON lines, stored incident
// evidence, alert payloads.

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace fathom::flow {

/// Appends `v` as a JSON number: integral values whole, others with enough digits to
/// round-trip; NaN and infinities (not JSON) as `null`.
inline void append_json_number(double v, std::string& out) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  const bool integral = v == std::floor(v) && std::fabs(v) < 9.0e15;
  const auto [end, ec] = integral ? std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v))
                                  : std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ec == std::errc() ? end : buf);
}

/// Appends `text` as a JSON string: quotes, backslashes and control characters escaped.
inline void append_json_string(std::string_view text, std::string& out) {
  out += '"';
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace fathom::flow
