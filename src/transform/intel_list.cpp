#include "transform/intel_list.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <span>

namespace fathom::transform {
namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
constexpr size_t kReadChunkBytes = 64 * 1024;

bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

bool is_comment_start(char c) noexcept {
  return c == '#' || c == ';';
}

/// A flat JSON object's "cidr" and "type" string values. Nested values are skipped.
struct JsonFields {
  std::string_view cidr;
  std::string_view type;
  bool has_cidr = false;
};

/// Scans one JSON string starting at text[pos] == '"'; on success `pos` is past the closing
/// quote and `value` holds the raw text between the quotes (escapes left as they are).
bool scan_string(std::string_view text, size_t& pos, std::string_view& value) noexcept {
  const size_t begin = ++pos;
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == '\\') {
      pos += 2;
      continue;
    }
    if (c == '"') {
      value = text.substr(begin, pos - begin);
      ++pos;
      return true;
    }
    ++pos;
  }
  return false;
}

void skip_ws(std::string_view text, size_t& pos) noexcept {
  while (pos < text.size() && (is_blank(text[pos]) || text[pos] == '\n')) ++pos;
}

/// Skips one JSON value (string, nested object/array, number or literal) at text[pos].
bool skip_value(std::string_view text, size_t& pos) noexcept {
  if (pos >= text.size()) return false;
  std::string_view ignored;
  if (text[pos] == '"') return scan_string(text, pos, ignored);
  if (text[pos] == '{' || text[pos] == '[') {
    int depth = 0;
    while (pos < text.size()) {
      const char c = text[pos];
      if (c == '"') {
        if (!scan_string(text, pos, ignored)) return false;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') --depth;
      ++pos;
      if (depth == 0) return true;
    }
    return false;
  }
  const size_t begin = pos;
  while (pos < text.size() && text[pos] != ',' && text[pos] != '}' && !is_blank(text[pos])) {
    ++pos;
  }
  return pos > begin;
}

/// Parses one line holding a flat JSON object. False when it is not well-formed.
bool scan_json_object(std::string_view text, JsonFields& out) noexcept {
  size_t pos = 0;
  skip_ws(text, pos);
  if (pos >= text.size() || text[pos] != '{') return false;
  ++pos;
  skip_ws(text, pos);
  if (pos < text.size() && text[pos] == '}') return pos + 1 == text.size();
  while (pos < text.size()) {
    std::string_view key;
    if (text[pos] != '"' || !scan_string(text, pos, key)) return false;
    skip_ws(text, pos);
    if (pos >= text.size() || text[pos] != ':') return false;
    ++pos;
    skip_ws(text, pos);
    if (pos >= text.size()) return false;
    if (text[pos] == '"' && (key == "cidr" || key == "type")) {
      std::string_view value;
      if (!scan_string(text, pos, value)) return false;
      if (key == "cidr") {
        out.cidr = value;
        out.has_cidr = true;
      } else {
        out.type = value;
      }
    } else if (!skip_value(text, pos)) {
      return false;
    }
    skip_ws(text, pos);
    if (pos >= text.size()) return false;
    if (text[pos] == '}') {
      ++pos;
      skip_ws(text, pos);
      return pos == text.size();
    }
    if (text[pos] != ',') return false;
    ++pos;
    skip_ws(text, pos);
  }
  return false;
}

/// Splits the first `fields.size()` CSV fields of `text` (RFC 4180 quoting; fields trimmed).
/// Returns how many fields the line has up to that limit, or -1 when quoting is broken.
int split_csv(std::string_view text, std::span<std::string_view> fields) noexcept {
  size_t pos = 0;
  int count = 0;
  while (count < static_cast<int>(fields.size())) {
    while (pos < text.size() && is_blank(text[pos])) ++pos;
    std::string_view field;
    if (pos < text.size() && text[pos] == '"') {
      const size_t begin = ++pos;
      for (;;) {
        if (pos >= text.size()) return -1;  // unterminated quote
        if (text[pos] == '"') {
          if (pos + 1 < text.size() && text[pos + 1] == '"') {
            pos += 2;  // an escaped quote: never valid in the fields read here
            continue;
          }
          break;
        }
        ++pos;
      }
      field = trim(text.substr(begin, pos - begin));
      ++pos;
      while (pos < text.size() && is_blank(text[pos])) ++pos;
      if (pos < text.size() && text[pos] != ',') return -1;  // text after the closing quote
    } else {
      const size_t comma = text.find(',', pos);
      const size_t end = comma == std::string_view::npos ? text.size() : comma;
      field = trim(text.substr(pos, end - pos));
      pos = end;
    }
    fields[static_cast<size_t>(count++)] = field;
    if (pos >= text.size()) break;
    ++pos;  // the comma
  }
  return count;
}

bool is_letter(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace

IntelListParser::IntelListParser(IntelFormat format, IntelCategory category, uint8_t severity,
                                 std::vector<IntelEntry>& out)
    : format_(format), category_(category), severity_(severity), out_(out) {
  stats_.format = format;
}

void IntelListParser::append_pending(std::string_view piece) {
  const size_t room = kMaxLineBytes + 1 - pending_.size();
  if (piece.size() > room) {
    // Keep the head (enough to tell a comment and to show in the log); drop the rest.
    pending_.append(piece.substr(0, room));
    overlong_ = true;
  } else {
    pending_.append(piece);
  }
}

void IntelListParser::feed(std::string_view chunk) {
  while (!chunk.empty()) {
    const size_t newline = chunk.find('\n');
    if (newline == std::string_view::npos) {
      append_pending(chunk);
      return;
    }
    const std::string_view piece = chunk.substr(0, newline);
    chunk.remove_prefix(newline + 1);
    if (pending_.empty() && !overlong_) {
      line(piece, piece.size() > kMaxLineBytes);
    } else {
      append_pending(piece);
      line(pending_, overlong_ || pending_.size() > kMaxLineBytes);
      pending_.clear();
      overlong_ = false;
    }
  }
}

void IntelListParser::finish() {
  if (!pending_.empty() || overlong_) {
    line(pending_, overlong_ || pending_.size() > kMaxLineBytes);
    pending_.clear();
    overlong_ = false;
  }
}

void IntelListParser::line(std::string_view text, bool overlong) {
  ++stats_.lines;
  if (stats_.lines == 1 && text.starts_with(kByteOrderMark)) {
    text.remove_prefix(kByteOrderMark.size());
  }
  text = trim(text);
  if (text.empty() || is_comment_start(text.front())) return;
  if (overlong) {
    bad(text);
    return;
  }
  const bool first = !seen_data_;
  if (first) {
    seen_data_ = true;
    if (format_ == IntelFormat::kAuto) {
      if (text.front() == '{') {
        format_ = IntelFormat::kSpamhaus;
      } else if (text.find(',') != std::string_view::npos) {
        format_ = IntelFormat::kCsv;
      } else {
        format_ = IntelFormat::kPlain;
      }
      stats_.format = format_;
    }
  }
  switch (format_) {
    case IntelFormat::kSpamhaus:
      if (text.front() == '{') {
        json_line(text);
      } else {
        plain_line(text);
      }
      break;
    case IntelFormat::kCsv: csv_line(text, first); break;
    case IntelFormat::kAuto:  // resolved above
    case IntelFormat::kPlain:
    case IntelFormat::kNetset: plain_line(text); break;
  }
}

void IntelListParser::plain_line(std::string_view text) {
  size_t end = 0;
  while (end < text.size() && !is_blank(text[end]) && !is_comment_start(text[end])) ++end;
  const std::string_view rest = trim(text.substr(end));
  if (!rest.empty() && !is_comment_start(rest.front())) {
    bad(text);
    return;
  }
  add(text.substr(0, end), text, category_, severity_);
}

void IntelListParser::json_line(std::string_view text) {
  JsonFields fields;
  if (!scan_json_object(text, fields)) {
    bad(text);
    return;
  }
  if (fields.has_cidr) {
    add(trim(fields.cidr), text, category_, severity_);
  } else if (fields.type != "metadata") {
    bad(text);
  }
}

void IntelListParser::csv_line(std::string_view text, bool first) {
  std::array<std::string_view, 3> fields{};
  const int count = split_csv(text, fields);
  if (count < 1) {
    bad(text);
    return;
  }
  if (first && !fields[0].empty() && is_letter(fields[0].front())) {
    IpPrefix probe;
    const PrefixParse parsed = parse_ip_prefix(fields[0], probe);
    // "abcd::/16" starts with a letter too: only text that is no address is a header row.
    if (parsed != PrefixParse::kOk && parsed != PrefixParse::kHostBits) return;
  }
  IntelCategory category = category_;
  if (count >= 2 && !fields[1].empty()) {
    std::array<char, 16> lower{};
    const std::string_view name = fields[1];
    bool known = false;
    if (name.size() < lower.size()) {
      for (size_t char_idx = 0; char_idx < name.size(); ++char_idx) {
        const char c = name[char_idx];
        lower[char_idx] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      }
      known = parse_intel_category(std::string_view(lower.data(), name.size()), category);
    }
    if (!known) {
      category = category_;
      ++stats_.unknown_categories;
    }
  }
  uint8_t severity = severity_;
  if (count >= 3 && !fields[2].empty()) {
    const std::string_view score_text = fields[2];
    double score = 0.0;
    const auto [ptr, ec] =
        std::from_chars(score_text.data(), score_text.data() + score_text.size(), score);
    if (ec == std::errc() && ptr == score_text.data() + score_text.size() && score >= 0.0 &&
        score <= 100.0) {
      severity = static_cast<uint8_t>(std::lround(score));
    } else {
      ++stats_.bad_scores;
    }
  }
  add(fields[0], text, category, severity);
}

void IntelListParser::add(std::string_view token, std::string_view text, IntelCategory category,
                          uint8_t severity) {
  IntelEntry entry;
  switch (parse_ip_prefix(token, entry.prefix)) {
    case PrefixParse::kOk: break;
    case PrefixParse::kHostBits: ++stats_.host_bits; break;  // kept with host bits cleared
    case PrefixParse::kBadAddress:
    case PrefixParse::kBadLength: bad(text); return;
  }
  entry.category = category;
  entry.severity = severity;
  out_.push_back(entry);
  ++stats_.entries;
}

void IntelListParser::bad(std::string_view text) {
  ++stats_.bad_lines;
  if (stats_.first_bad_line != 0) return;
  stats_.first_bad_line = stats_.lines;
  const std::string_view shown = text.substr(0, IntelParseStats::kMaxShownBytes);
  stats_.first_bad_text.assign(shown);
  for (char& c : stats_.first_bad_text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = '?';
  }
}

IntelParseStats parse_intel_text(std::string_view text, const IntelList& list,
                                 std::vector<IntelEntry>& out) {
  IntelListParser parser(list.format, list.category, list.severity, out);
  parser.feed(text);
  parser.finish();
  return parser.stats();
}

bool file_signature(const std::string& path, FileSignature& out, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = "cannot stat " + path + ": " + std::strerror(errno);
    return false;
  }
  out.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  out.size = static_cast<uint64_t>(st.st_size);
  out.inode = static_cast<uint64_t>(st.st_ino);
  return true;
}

bool parse_intel_file(const IntelList& list, std::vector<IntelEntry>& out, IntelParseStats& stats,
                      FileSignature& version, std::string& error, const std::atomic<bool>* cancel) {
  const int fd = ::open(list.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot open " + list.path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    error = "cannot read " + list.path + ": " +
            (S_ISDIR(st.st_mode) ? std::string("is a directory") : std::strerror(errno));
    ::close(fd);
    return false;
  }
  version.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  version.size = static_cast<uint64_t>(st.st_size);
  version.inode = static_cast<uint64_t>(st.st_ino);

  IntelListParser parser(list.format, list.category, list.severity, out);
  std::vector<char> buffer(kReadChunkBytes);
  for (;;) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
      error = "cancelled";
      ::close(fd);
      return false;
    }
    const ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      error = "cannot read " + list.path + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (got == 0) break;
    parser.feed(std::string_view(buffer.data(), static_cast<size_t>(got)));
  }
  ::close(fd);
  parser.finish();
  stats = parser.stats();
  return true;
}

}  // namespace fathom::transform
