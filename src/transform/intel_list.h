#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "transform/config.h"
#include "transform/ip_prefix.h"

namespace fathom::transform {

/// One listed block of an intel list.
struct IntelEntry {
  IpPrefix prefix;  ///< host bits clear
  IntelCategory category = IntelCategory::kOther;
  uint8_t severity = 50;  ///< 0..100 (a CSV score; the list's `severity` otherwise)

  friend bool operator==(const IntelEntry&, const IntelEntry&) = default;
};

/// What parsing one list found. Lines are counted from 1; a final line without '\n' counts.
struct IntelParseStats {
  /// The format the lines were read as: the configured one, or for kAuto the one detected at
  /// the first data line (kSpamhaus, kCsv or kPlain); kAuto when the list has no data line.
  IntelFormat format = IntelFormat::kAuto;
  uint64_t lines = 0;
  uint64_t entries = 0;    ///< blocks appended to the output
  uint64_t bad_lines = 0;  ///< data lines skipped: not an address/CIDR, malformed, too long
  /// Warnings (the entry is kept):
  uint64_t host_bits = 0;           ///< "10.0.0.1/8": kept as 10.0.0.0/8
  uint64_t unknown_categories = 0;  ///< CSV category not known: the list's category is used
  uint64_t bad_scores = 0;          ///< CSV score not a number in 0..100: list severity used
  uint64_t first_bad_line = 0;      ///< line number of the first bad line; 0 = none
  /// Its first `kMaxShownBytes` bytes, control characters as '?', for a log message.
  std::string first_bad_text;

  static constexpr size_t kMaxShownBytes = 80;
};

/// Streaming parser of one intel list in any `IntelFormat`. Feed the text in chunks of any
/// size (split anywhere, even inside a CRLF), then `finish()`. Never throws on bad input;
/// memory per line is bounded (`kMaxLineBytes`), whatever the input.
///
/// Line syntax, per format (every format: blank lines are skipped, CRLF and LF both end a
/// line, a UTF-8 byte-order mark at the start is skipped, leading/trailing blanks are trimmed):
/// - kPlain, kNetset (FireHOL .netset/.ipset): one address or CIDR per line; a line starting
///   with '#' or ';' is a comment, and so is anything after " #" or " ;" (or a '#'/';' right
///   after the address). Anything else after the address makes the line bad. The Spamhaus
///   classic form "1.10.16.0/20 ; SBL256894" is therefore plain too.
/// - kSpamhaus: plain lines as above, plus JSON-lines objects (drop_v4.json, drop_v6.json):
///   {"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}; the trailing
///   {"type":"metadata",...} line is skipped, an object without "cidr" is bad.
/// - kCsv: "address_or_cidr[,category[,score]]" with further columns ignored. Fields may be
///   double-quoted ("" inside quotes is a quote). The first data line is a header (skipped,
///   not bad) when its first field is not an address but starts with a letter. Category is a
///   name as `to_string(IntelCategory)` writes it (case-insensitive); empty = the list's
///   category; unknown = the list's category, counted. Score 0..100 (decimals rounded) is
///   the entry's severity; empty = the list's severity; otherwise counted and the list's used.
/// - kAuto: decided at the first data line: kSpamhaus when it starts with '{', kCsv when it
///   has a comma, else kPlain.
class IntelListParser {
 public:
  /// Longer lines are bad lines (or comments, when they start with '#' or ';').
  static constexpr size_t kMaxLineBytes = 4096;

  /// Appends entries to `out`, which must outlive the parser. `category` and `severity` are
  /// the list's defaults.
  IntelListParser(IntelFormat format, IntelCategory category, uint8_t severity,
                  std::vector<IntelEntry>& out);

  /// Parses the complete lines in `chunk` (the rest waits for the next chunk).
  void feed(std::string_view chunk);
  /// Parses a last line without a newline. Call once, after the last `feed`.
  void finish();

  const IntelParseStats& stats() const noexcept { return stats_; }

 private:
  void append_pending(std::string_view piece);
  void line(std::string_view text, bool overlong);
  void plain_line(std::string_view text);
  void json_line(std::string_view text);
  void csv_line(std::string_view text, bool first);
  /// Parses `token` as an address/CIDR and appends an entry; a bad token makes `text` a bad
  /// line.
  void add(std::string_view token, std::string_view text, IntelCategory category, uint8_t severity);
  void bad(std::string_view text);

  IntelFormat format_;
  IntelCategory category_;
  uint8_t severity_;
  std::vector<IntelEntry>& out_;
  IntelParseStats stats_;
  bool seen_data_ = false;  ///< a data line (not blank, not comment) was seen
  std::string pending_;     ///< a line split across chunks, at most kMaxLineBytes + 1 bytes
  bool overlong_ = false;   ///< the pending line exceeded kMaxLineBytes
};

/// Parses a whole list held in memory (a convenience over IntelListParser).
IntelParseStats parse_intel_text(std::string_view text, const IntelList& list,
                                 std::vector<IntelEntry>& out);

/// Identity of a file version, to notice changes: mtime, size and inode.
struct FileSignature {
  int64_t mtime_ns = 0;
  uint64_t size = 0;
  uint64_t inode = 0;

  friend bool operator==(const FileSignature&, const FileSignature&) = default;
};

/// `stat` of `path`; false (and `error` set to "cannot stat PATH: REASON") when it fails.
bool file_signature(const std::string& path, FileSignature& out, std::string& error);

/// Reads and parses the list file `list.path` in bounded chunks, appending to `out`. `version`
/// gets the signature of the file actually read (taken on the open descriptor). Returns false
/// with `error` ("cannot open PATH: REASON", "cannot read PATH: REASON", "cancelled") when the
/// file cannot be read or `cancel` becomes true; bad content is never an error here (see
/// `stats`). `cancel` may be null.
bool parse_intel_file(const IntelList& list, std::vector<IntelEntry>& out, IntelParseStats& stats,
                      FileSignature& version, std::string& error,
                      const std::atomic<bool>* cancel = nullptr);

}  // namespace fathom::transform
