#pragma once

// One line of Fathom's JSON-lines flow output (`fathom run --flows`, `fathom decode`): a flat
// JSON object whose values are strings, numbers, literals or arrays of those. Parsed strictly
// (anything else is an error, so the tests also check the output format) into the line's text
// and member offsets: tens of thousands of records parse in milliseconds, with two allocations
// each.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fathom::e2e {

class JsonRecord {
 public:
  /// Parses one flat JSON object; nullopt unless `line` is exactly one (whitespace around it
  /// allowed) with unique keys.
  static std::optional<JsonRecord> parse(std::string line);

  /// The raw text of member `key`'s value: strings without their quotes (escapes kept),
  /// numbers and arrays as written. Empty when there is no such member.
  std::string_view at(std::string_view key) const;
  bool has(std::string_view key) const;
  /// The value of `key` as an unsigned integer; 0 when missing or not one.
  uint64_t number(std::string_view key) const;

  size_t size() const noexcept { return members_.size(); }
  std::string_view key(size_t idx) const { return view(members_[idx].key); }
  std::string_view value(size_t idx) const { return view(members_[idx].value); }
  const std::string& text() const noexcept { return text_; }

 private:
  struct Span {
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  struct Member {
    Span key;
    Span value;
  };
  std::string_view view(Span s) const { return std::string_view(text_).substr(s.offset, s.length); }

  std::string text_;
  std::vector<Member> members_;  // in document order
};

}  // namespace fathom::e2e
