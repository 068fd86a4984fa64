#include "e2e/json_record.h"

#include <charconv>

namespace fathom::e2e {
namespace {

/// A cursor over one line; every method returns false (and the parse fails) on bad syntax.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  void ws() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool eat(char c) {
    ws();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool at_end() {
    ws();
    return pos_ == text_.size();
  }
  size_t pos() const noexcept { return pos_; }

  /// A string (RFC 8259 §7); `begin`/`end` bracket its contents without the quotes.
  bool string(size_t& begin, size_t& end) {
    ws();
    if (pos_ >= text_.size() || text_[pos_] != '"') return false;
    begin = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++pos_ >= text_.size()) return false;
        const char e = text_[pos_];
        if (e == 'u') {
          for (int digit = 0; digit < 4; ++digit) {
            if (++pos_ >= text_.size() || !is_hex(text_[pos_])) return false;
          }
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return false;
        }
      }
      ++pos_;
    }
    if (pos_ >= text_.size()) return false;
    end = pos_++;
    return true;
  }

  /// A scalar or an array of scalars; `begin`/`end` bracket its text (strings unquoted).
  bool value(size_t& begin, size_t& end) {
    ws();
    if (pos_ >= text_.size()) return false;
    if (text_[pos_] == '"') return string(begin, end);
    begin = pos_;
    if (text_[pos_] == '[') {
      ++pos_;
      if (!eat(']')) {
        do {
          size_t b = 0;
          size_t e = 0;
          ws();
          if (pos_ < text_.size() && text_[pos_] == '[') return false;  // flat only
          if (!value(b, e)) return false;
        } while (eat(','));
        if (!eat(']')) return false;
      }
      end = pos_;
      return true;
    }
    for (std::string_view word : {"true", "false", "null"}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        end = pos_;
        return true;
      }
    }
    if (!number()) return false;
    end = pos_;
    return true;
  }

 private:
  static bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }
  bool digits() {
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }
  /// RFC 8259 §6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool number() {
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '0') {
      ++pos_;
    } else if (!digits()) {
      return false;
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (!digits()) return false;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (!digits()) return false;
    }
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<JsonRecord> JsonRecord::parse(std::string line) {
  JsonRecord r;
  r.text_ = std::move(line);
  Scanner s(r.text_);
  if (!s.eat('{')) return std::nullopt;
  if (!s.eat('}')) {
    do {
      size_t key_begin = 0;
      size_t key_end = 0;
      size_t value_begin = 0;
      size_t value_end = 0;
      if (!s.string(key_begin, key_end) || !s.eat(':') || !s.value(value_begin, value_end)) {
        return std::nullopt;
      }
      const Member m{
          {static_cast<uint32_t>(key_begin), static_cast<uint32_t>(key_end - key_begin)},
          {static_cast<uint32_t>(value_begin), static_cast<uint32_t>(value_end - value_begin)}};
      if (r.has(r.view(m.key))) return std::nullopt;  // duplicate key
      r.members_.push_back(m);
    } while (s.eat(','));
    if (!s.eat('}')) return std::nullopt;
  }
  if (!s.at_end()) return std::nullopt;
  return r;
}

std::string_view JsonRecord::at(std::string_view key) const {
  for (const Member& m : members_) {
    if (view(m.key) == key) return view(m.value);
  }
  return {};
}

bool JsonRecord::has(std::string_view key) const {
  for (const Member& m : members_) {
    if (view(m.key) == key) return true;
  }
  return false;
}

uint64_t JsonRecord::number(std::string_view key) const {
  const std::string_view text = at(key);
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && end == text.data() + text.size() ? v : 0;
}

}  // namespace fathom::e2e
