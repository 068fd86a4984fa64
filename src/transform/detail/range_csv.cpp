// detail::read_range_csv: ip-location-db range CSVs ("first,last,value[,...]").

#include "transform/detail/geo_asn_sources.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

namespace fathom::transform::detail {
namespace {

/// The next comma-separated field of `line` (advancing it); surrounding quotes removed.
std::string_view next_field(std::string_view& line) {
  const size_t comma = line.find(',');
  std::string_view field = line.substr(0, comma);
  line = comma == std::string_view::npos ? std::string_view{} : line.substr(comma + 1);
  while (!field.empty() && (field.front() == ' ' || field.front() == '\t')) field.remove_prefix(1);
  while (!field.empty() && (field.back() == ' ' || field.back() == '\t')) field.remove_suffix(1);
  if (field.size() >= 2 && field.front() == '"' && field.back() == '"') {
    field = field.substr(1, field.size() - 2);
  }
  return field;
}

/// A decimal integer of up to 128 bits; false on anything else or overflow.
bool parse_decimal(std::string_view text, U128& out) {
  if (text.empty() || text.size() > 39) return false;
  U128 v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    const U128 next = v * 10 + static_cast<unsigned>(c - '0');
    if (next / 10 != v) return false;  // overflow
    v = next;
  }
  out = v;
  return true;
}

/// An address written as text or as a decimal integer. `decimal` tells which form it was.
bool parse_address(std::string_view text, U128& out, bool& decimal) {
  decimal = text.find_first_of(".:") == std::string_view::npos;
  if (decimal) return parse_decimal(text, out);
  const auto a = flow::IpAddress::parse(text);
  if (!a) return false;
  out = to_u128(*a);
  return true;
}

bool parse_value(std::string_view text, CsvValue kind, SourceRange& r) {
  if (kind == CsvValue::kCountry) {
    r.country = text.size() == 2 ? pack_country(text[0], text[1]) : uint16_t{0};
    return r.country != 0;
  }
  if (text.size() > 2 && (text[0] == 'A' || text[0] == 'a') && (text[1] == 'S' || text[1] == 's')) {
    text.remove_prefix(2);
  }
  U128 asn = 0;
  if (!parse_decimal(text, asn) || asn == 0 || asn > UINT32_MAX) return false;
  r.asn = static_cast<uint32_t>(asn);
  return true;
}

/// A file's bytes, mapped read-only. MAP_POPULATE maps every page in one call: touching a
/// 24 MB file page by page costs thousands of faults (expensive under virtualisation).
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }

  /// False with `error` set when the file cannot be opened or mapped.
  bool open(const std::string& path, std::string& error) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      error = std::strerror(errno);
      return false;
    }
    struct stat st {};
    bool ok = ::fstat(fd, &st) == 0;
    if (ok && st.st_size > 0) {
      size_ = static_cast<size_t>(st.st_size);
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      ok = p != MAP_FAILED;
      data_ = ok ? p : nullptr;
    }
    if (!ok) error = std::strerror(errno);
    ::close(fd);
    return ok;
  }

  std::string_view text() const {
    return data_ == nullptr ? std::string_view{}
                            : std::string_view(static_cast<const char*>(data_), size_);
  }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

bool read_range_csv(const std::string& path, CsvValue value, SourceData& out, std::string& error) {
  out = SourceData();
  MappedFile file;
  if (!file.open(path, error)) return false;
  const std::string_view content = file.text();
  // The *-num.csv files write addresses as integers; only the file name tells the IPv6 ones
  // apart when both ends are small.
  const std::string_view name(path.c_str() + (path.rfind('/') + 1));
  const bool v6_name = name.find("ipv6") != std::string_view::npos;

  std::vector<SourceRange> parsed;
  parsed.reserve(content.size() / 40);
  bool first_line = true;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t eol = content.find('\n', pos);
    if (eol == std::string_view::npos) eol = content.size();
    std::string_view line(content.data() + pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const bool header_allowed = first_line;
    first_line = false;

    SourceRange r;
    bool first_decimal = false;
    bool last_decimal = false;
    if (!parse_address(next_field(line), r.first, first_decimal)) {
      if (!header_allowed) ++out.bad_lines;  // a first line that is no address is a header
      continue;
    }
    if (!parse_address(next_field(line), r.last, last_decimal) || first_decimal != last_decimal ||
        !parse_value(next_field(line), value, r)) {
      ++out.bad_lines;
      continue;
    }
    if (first_decimal && !v6_name && r.last <= UINT32_MAX) {
      r.first |= kV4First;
      r.last |= kV4First;
    }
    // One family per line: the v4-mapped block's edges may not be crossed.
    if (r.first > r.last || (r.first < kV4First && r.last >= kV4First) ||
        (r.first <= kV4Last && r.last > kV4Last)) {
      ++out.bad_lines;
      continue;
    }
    parsed.push_back(r);
  }

  // ip-location-db files are sorted; sort anyway (a hand-made file may not be) and drop
  // lines that overlap an earlier range, then join adjacent runs with the same value.
  if (!std::is_sorted(parsed.begin(), parsed.end(), [](const SourceRange& a, const SourceRange& b) {
        return a.first < b.first;
      })) {
    std::stable_sort(parsed.begin(), parsed.end(),
                     [](const SourceRange& a, const SourceRange& b) { return a.first < b.first; });
  }
  size_t kept = 0;  // compacted in place: parsed[0, kept) are the ranges so far
  for (const SourceRange& r : parsed) {
    if (kept > 0) {
      SourceRange& prev = parsed[kept - 1];
      if (r.first <= prev.last) {
        ++out.bad_lines;
        continue;
      }
      if (prev.last + 1 == r.first && r.first != kV4First && r.first != kV4Last + 1 &&
          prev.asn == r.asn && prev.country == r.country) {
        prev.last = r.last;
        continue;
      }
    }
    parsed[kept++] = r;
  }
  parsed.resize(kept);
  out.ranges = std::move(parsed);
  out.has_country = value == CsvValue::kCountry && !out.ranges.empty();
  out.has_asn = value == CsvValue::kAsn && !out.ranges.empty();
  if (out.ranges.empty()) {
    error = "no valid line (" + std::to_string(out.bad_lines) + " malformed)";
    return false;
  }
  return true;
}

}  // namespace fathom::transform::detail
