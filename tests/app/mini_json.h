#pragma once

// A strict, tiny JSON checker for tests: validates one JSON value (RFC 8259 grammar) and, for a
// top-level object, returns its members as raw text (strings without their quotes). Enough to
// check that output lines parse and hold the right values, without a JSON dependency.

#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace fathom::testing {

class MiniJson {
 public:
  /// Parses `text` as one JSON object; nullopt unless it is valid JSON with nothing after it.
  static std::optional<std::map<std::string, std::string>> parse_object(std::string_view text) {
    MiniJson p(text);
    std::map<std::string, std::string> members;
    p.ws();
    if (!p.object(&members)) return std::nullopt;
    p.ws();
    if (p.pos_ != text.size()) return std::nullopt;
    return members;
  }

 private:
  explicit MiniJson(std::string_view t) : t_(t) {}

  void ws() {
    while (pos_ < t_.size() &&
           (t_[pos_] == ' ' || t_[pos_] == '\t' || t_[pos_] == '\n' || t_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool eat(char c) {
    ws();
    if (pos_ < t_.size() && t_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool string(std::string* out) {
    ws();
    if (pos_ >= t_.size() || t_[pos_] != '"') return false;
    ++pos_;
    while (pos_ < t_.size() && t_[pos_] != '"') {
      const char c = t_[pos_];
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c == '\\') {
        if (++pos_ >= t_.size()) return false;
        const std::string_view escapes = "\"\\/bfnrtu";
        if (escapes.find(t_[pos_]) == std::string_view::npos) return false;
        if (t_[pos_] == 'u') {
          for (int i = 0; i < 4; ++i) {
            if (++pos_ >= t_.size() || !std::isxdigit(static_cast<unsigned char>(t_[pos_]))) {
              return false;
            }
          }
        }
      }
      if (out != nullptr) *out += t_[pos_];
      ++pos_;
    }
    if (pos_ >= t_.size()) return false;
    ++pos_;
    return true;
  }
  bool number(std::string* out) {
    ws();
    const size_t start = pos_;
    if (pos_ < t_.size() && t_[pos_] == '-') ++pos_;
    if (pos_ >= t_.size() || !std::isdigit(static_cast<unsigned char>(t_[pos_]))) return false;
    if (t_[pos_] == '0') {
      ++pos_;
    } else {
      while (pos_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[pos_]))) ++pos_;
    }
    if (pos_ < t_.size() && t_[pos_] == '.') {
      ++pos_;
      if (pos_ >= t_.size() || !std::isdigit(static_cast<unsigned char>(t_[pos_]))) return false;
      while (pos_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[pos_]))) ++pos_;
    }
    if (pos_ < t_.size() && (t_[pos_] == 'e' || t_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < t_.size() && (t_[pos_] == '+' || t_[pos_] == '-')) ++pos_;
      if (pos_ >= t_.size() || !std::isdigit(static_cast<unsigned char>(t_[pos_]))) return false;
      while (pos_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[pos_]))) ++pos_;
    }
    if (out != nullptr) *out = std::string(t_.substr(start, pos_ - start));
    return true;
  }
  bool literal(std::string_view word, std::string* out) {
    ws();
    if (t_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    if (out != nullptr) *out = std::string(word);
    return true;
  }
  bool value(std::string* out) {
    ws();
    if (pos_ >= t_.size()) return false;
    const size_t start = pos_;
    const char c = t_[pos_];
    bool ok = false;
    if (c == '{') {
      ok = object(nullptr);
    } else if (c == '[') {
      ok = array();
    } else if (c == '"') {
      return string(out);
    } else if (c == 't') {
      return literal("true", out);
    } else if (c == 'f') {
      return literal("false", out);
    } else if (c == 'n') {
      return literal("null", out);
    } else {
      return number(out);
    }
    if (ok && out != nullptr) *out = std::string(t_.substr(start, pos_ - start));
    return ok;
  }
  bool array() {
    if (!eat('[')) return false;
    if (eat(']')) return true;
    do {
      if (!value(nullptr)) return false;
    } while (eat(','));
    return eat(']');
  }
  bool object(std::map<std::string, std::string>* members) {
    if (!eat('{')) return false;
    if (eat('}')) return true;
    do {
      std::string key;
      std::string val;
      if (!string(&key) || !eat(':') || !value(&val)) return false;
      if (members != nullptr && !members->emplace(key, val).second) return false;  // duplicate
    } while (eat(','));
    return eat('}');
  }

  std::string_view t_;
  size_t pos_ = 0;
};

}  // namespace fathom::testing
