#include "api/metrics_text.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <system_error>

namespace fathom::api {
namespace {

bool is_name_start(char c, bool colon_ok) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
}

bool is_name_char(char c, bool colon_ok) {
  return is_name_start(c, colon_ok) || (c >= '0' && c <= '9');
}

/// `name` with every character outside the grammar replaced by '_', and a prefix when it
/// would not start right: '_' for a metric name, 'x' for a label name (which must not start
/// with "__" either). Only reached when an assert has already failed in debug.
std::string sanitize_name(std::string_view name, bool is_label) {
  const bool colon_ok = !is_label;
  std::string out;
  if (name.empty() || !is_name_start(name.front(), colon_ok) ||
      (is_label && name.starts_with("__"))) {
    out.push_back(is_label ? 'x' : '_');
  }
  for (const char c : name) out.push_back(is_name_char(c, colon_ok) ? c : '_');
  return out;
}

/// Appends `text` escaped for the exposition: backslash and newline always, the double quote
/// inside a label value. Ill-formed UTF-8 becomes U+FFFD, because Prometheus rejects a scrape
/// whose label values are not valid UTF-8, and label values here may come from exporters.
void append_escaped(std::string& out, std::string_view text, bool escape_quote) {
  size_t pos = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else if (static_cast<unsigned char>(c) < 0x80) {
      out.push_back(c);
    } else {
      const size_t len = utf8_sequence_length(text.substr(pos));
      if (len == 0) {
        out += "\xEF\xBF\xBD";
        ++pos;
        continue;
      }
      out.append(text.substr(pos, len));
      pos += len;
      continue;
    }
    ++pos;
  }
}

}  // namespace

std::string_view to_string(MetricType type) noexcept {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
  }
  return "untyped";
}

bool is_valid_metric_name(std::string_view name) noexcept {
  if (name.empty() || !is_name_start(name.front(), true)) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return is_name_char(c, true); });
}

bool is_valid_label_name(std::string_view name) noexcept {
  if (name.empty() || !is_name_start(name.front(), false)) return false;
  if (name.starts_with("__")) return false;  // reserved for Prometheus' internal labels
  return std::all_of(name.begin(), name.end(), [](char c) { return is_name_char(c, false); });
}

MetricsText::Family::Family(std::string name, std::string help, MetricType type)
    : name_(std::move(name)), help_(std::move(help)), type_(type) {}

MetricsText::Family::Value MetricsText::Family::format_double(double value) noexcept {
  Value out{};
  std::string_view text;
  if (std::isnan(value)) {
    text = "NaN";
  } else if (std::isinf(value)) {
    text = value > 0 ? "+Inf" : "-Inf";
  } else {
    // Shortest representation that parses back to the same double (exact round trip).
    const auto [end, ec] = std::to_chars(out.text, out.text + sizeof(out.text), value);
    assert(ec == std::errc());  // 32 bytes hold any double's shortest form
    out.size = static_cast<uint8_t>(end - out.text);
    return out;
  }
  std::copy(text.begin(), text.end(), out.text);
  out.size = static_cast<uint8_t>(text.size());
  return out;
}

MetricsText::Family::Value MetricsText::Family::format_unsigned(uint64_t value) noexcept {
  Value out{};
  const auto [end, ec] = std::to_chars(out.text, out.text + sizeof(out.text), value);
  out.size = static_cast<uint8_t>(end - out.text);
  return out;
}

MetricsText::Family::Value MetricsText::Family::format_signed(int64_t value) noexcept {
  Value out{};
  const auto [end, ec] = std::to_chars(out.text, out.text + sizeof(out.text), value);
  out.size = static_cast<uint8_t>(end - out.text);
  return out;
}

MetricsText::Family& MetricsText::Family::add(std::span<const Label> labels, const Value& value) {
  // Label names come from code, so an invalid one is a programmer error; in release it is
  // repaired so the scrape stays parseable.
  std::vector<std::string> names;
  names.reserve(labels.size());
  for (const Label& label : labels) {
    assert(is_valid_label_name(label.name) && "label name must match [a-zA-Z_][a-zA-Z0-9_]*");
    if (is_valid_label_name(label.name)) {
      names.emplace_back(label.name);
    } else {
      names.push_back(sanitize_name(label.name, true));
    }
  }

  // Canonical series key: labels sorted by name, so {a,b} and {b,a} are the same series.
  std::vector<size_t> order(labels.size());
  for (size_t label_idx = 0; label_idx < order.size(); ++label_idx) order[label_idx] = label_idx;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return names[a] < names[b]; });
  std::string key;
  for (size_t pos = 0; pos < order.size(); ++pos) {
    const size_t label_idx = order[pos];
    if (pos > 0 && names[label_idx] == names[order[pos - 1]]) {
      assert(false && "a label name repeats within one sample");
      return *this;  // Prometheus rejects the scrape: drop the sample
    }
    key += names[label_idx];
    key += "=\"";
    append_escaped(key, labels[label_idx].value, true);
    key += "\",";
  }
  if (!series_.insert(std::move(key)).second) {
    assert(false && "the same series is added twice to a family");
    return *this;  // Prometheus rejects a scrape with a repeated series: keep the first
  }

  samples_ += name_;
  if (!labels.empty()) {
    samples_.push_back('{');
    for (size_t label_idx = 0; label_idx < labels.size(); ++label_idx) {
      if (label_idx > 0) samples_.push_back(',');
      samples_ += names[label_idx];
      samples_ += "=\"";
      append_escaped(samples_, labels[label_idx].value, true);
      samples_.push_back('"');
    }
    samples_.push_back('}');
  }
  samples_.push_back(' ');
  samples_.append(value.text, value.size);
  samples_.push_back('\n');
  return *this;
}

MetricsText::Family& MetricsText::family(std::string_view name, std::string_view help,
                                         MetricType type) {
  if (const auto found = by_name_.find(std::string(name)); found != by_name_.end()) {
    Family& existing = *found->second;
    assert(existing.type_ == type && "a family is declared twice with different types");
#ifndef NDEBUG
    std::string escaped_help;
    append_escaped(escaped_help, help, false);
    assert(existing.help_ == escaped_help && "a family is declared twice with different help");
#endif
    return existing;
  }
  assert(is_valid_metric_name(name) && "metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  assert((type != MetricType::kCounter || name.ends_with("_total")) &&
         "a counter's name ends in _total");
  std::string valid_name =
      is_valid_metric_name(name) ? std::string(name) : sanitize_name(name, false);
  if (valid_name != name) {
    // The repaired name may itself be taken; the first family under it gets the samples.
    if (const auto found = by_name_.find(valid_name); found != by_name_.end()) {
      return *found->second;
    }
  }
  std::string escaped_help;
  append_escaped(escaped_help, help, false);
  families_.push_back(std::unique_ptr<Family>(new Family(valid_name, escaped_help, type)));
  Family& created = *families_.back();
  by_name_.emplace(std::string(name), &created);
  if (valid_name != name) by_name_.emplace(std::move(valid_name), &created);
  return created;
}

std::string MetricsText::str() const {
  size_t size = 0;
  for (const auto& family : families_) {
    size += 2 * family->name_.size() + family->help_.size() + family->samples_.size() + 24;
  }
  std::string out;
  out.reserve(size);
  for (const auto& family : families_) {
    out += "# HELP ";
    out += family->name_;
    out.push_back(' ');
    out += family->help_;
    out += "\n# TYPE ";
    out += family->name_;
    out.push_back(' ');
    out += to_string(family->type_);
    out.push_back('\n');
    out += family->samples_;
  }
  return out;
}

size_t utf8_sequence_length(std::string_view s) noexcept {
  if (s.empty()) return 0;
  const auto byte = [&](size_t idx) { return static_cast<unsigned char>(s[idx]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
    if (lead == 0xE0) lo = 0xA0;  // overlong
    if (lead == 0xED) hi = 0x9F;  // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
    if (lead == 0xF0) lo = 0x90;  // overlong
    if (lead == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < len) return 0;
  if (byte(1) < lo || byte(1) > hi) return 0;
  for (size_t idx = 2; idx < len; ++idx) {
    if (byte(idx) < 0x80 || byte(idx) > 0xBF) return 0;
  }
  return len;
}

}  // namespace fathom::api
