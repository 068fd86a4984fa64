#include "transform/intel_list.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace fathom::transform {
namespace {

namespace fs = std::filesystem;

IntelList list_of(IntelFormat format, IntelCategory category = IntelCategory::kOther,
                  uint8_t severity = 50) {
  IntelList list;
  list.name = "test";
  list.format = format;
  list.category = category;
  list.severity = severity;
  return list;
}

/// The entries' prefixes as text, in order.
std::vector<std::string> prefixes(const std::vector<IntelEntry>& entries) {
  std::vector<std::string> out;
  for (const IntelEntry& entry : entries) out.push_back(entry.prefix.to_string());
  return out;
}

using Strings = std::vector<std::string>;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "fathom_intel_list_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name, const std::string& content) const {
    const std::string path = (path_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(IntelCategoryNames, RoundTripAndRejectUnknown) {
  for (const IntelCategory category :
       {IntelCategory::kMalware, IntelCategory::kC2, IntelCategory::kBotnet,
        IntelCategory::kScanner, IntelCategory::kBruteforce, IntelCategory::kSpam,
        IntelCategory::kPhishing, IntelCategory::kHijacked, IntelCategory::kTor,
        IntelCategory::kAnonymizer, IntelCategory::kAttacker, IntelCategory::kOther}) {
    IntelCategory parsed = IntelCategory::kOther;
    ASSERT_TRUE(parse_intel_category(to_string(category), parsed)) << to_string(category);
    EXPECT_EQ(parsed, category);
  }
  EXPECT_EQ(to_string(IntelCategory::kC2), "c2");
  EXPECT_EQ(to_string(IntelCategory::kHijacked), "hijacked");
  IntelCategory out = IntelCategory::kTor;
  EXPECT_FALSE(parse_intel_category("Malware", out));  // exact names only
  EXPECT_FALSE(parse_intel_category("", out));
  EXPECT_FALSE(parse_intel_category("c2 ", out));
  EXPECT_EQ(out, IntelCategory::kTor);
}

TEST(IntelListParser, PlainWithCommentsBlankLinesAndCrlf) {
  const std::string text =
      "# documentation ranges\r\n"
      "; another comment style\r\n"
      "\r\n"
      "   \t\r\n"
      "192.0.2.1\r\n"
      "198.51.100.0/24   # trailing comment\r\n"
      "  203.0.113.128/25 ; trailing too\r\n"
      "2001:db8::/32#no space\n"
      "2001:db8:1::1\n"
      "203.0.113.7";  // no final newline
  std::vector<IntelEntry> out;
  const IntelParseStats stats =
      parse_intel_text(text, list_of(IntelFormat::kPlain, IntelCategory::kScanner, 30), out);
  EXPECT_EQ(prefixes(out), (Strings{"192.0.2.1/32", "198.51.100.0/24", "203.0.113.128/25",
                                    "2001:db8::/32", "2001:db8:1::1/128", "203.0.113.7/32"}));
  for (const IntelEntry& entry : out) {
    EXPECT_EQ(entry.category, IntelCategory::kScanner);
    EXPECT_EQ(entry.severity, 30);
  }
  EXPECT_EQ(stats.format, IntelFormat::kPlain);
  EXPECT_EQ(stats.lines, 10u);
  EXPECT_EQ(stats.entries, 6u);
  EXPECT_EQ(stats.bad_lines, 0u);
  EXPECT_EQ(stats.first_bad_line, 0u);
}

TEST(IntelListParser, PlainCountsBadLinesAndKeepsTheFirst) {
  const std::string text =
      "192.0.2.0/24\n"
      "not-an-address\n"
      "192.0.2.300\n"
      "198.51.100.0/33\n"
      "198.51.100.1 extra words\n"
      "2001:db8::/129\n"
      "203.0.113.0/24\n"
      "1.2.3.4-1.2.3.9\n";
  std::vector<IntelEntry> out;
  const IntelParseStats stats = parse_intel_text(text, list_of(IntelFormat::kPlain), out);
  EXPECT_EQ(prefixes(out), (Strings{"192.0.2.0/24", "203.0.113.0/24"}));
  EXPECT_EQ(stats.bad_lines, 6u);
  EXPECT_EQ(stats.first_bad_line, 2u);
  EXPECT_EQ(stats.first_bad_text, "not-an-address");
}

TEST(IntelListParser, HostBitsAreClearedAndCounted) {
  std::vector<IntelEntry> out;
  const IntelParseStats stats =
      parse_intel_text("192.0.2.77/24\n2001:db8::1/32\n", list_of(IntelFormat::kPlain), out);
  EXPECT_EQ(prefixes(out), (Strings{"192.0.2.0/24", "2001:db8::/32"}));
  EXPECT_EQ(stats.host_bits, 2u);
  EXPECT_EQ(stats.bad_lines, 0u);
}

TEST(IntelListParser, ByteOrderMarkIsSkipped) {
  std::vector<IntelEntry> out;
  const IntelParseStats stats = parse_intel_text(
      "\xEF\xBB\xBF"
      "192.0.2.1\n",
      list_of(IntelFormat::kAuto), out);
  EXPECT_EQ(prefixes(out), (Strings{"192.0.2.1/32"}));
  EXPECT_EQ(stats.bad_lines, 0u);
}

TEST(IntelListParser, FireholNetset) {
  // The header of a FireHOL ipset file, as update-ipsets writes it.
  const std::string text =
      "#\n"
      "# firehol_level1\n"
      "#\n"
      "# ipv4 hash:net ipset\n"
      "#\n"
      "# A firewall blacklist composed from IP lists, providing\n"
      "# maximum protection with minimum false positives.\n"
      "#\n"
      "# Maintainer      : FireHOL\n"
      "# Maintainer URL  : http://iplists.firehol.org/\n"
      "# List source URL : \n"
      "# Source File Date: Sun Jan 14 10:02:05 UTC 2024\n"
      "#\n"
      "# This File Date  : Sun Jan 14 10:12:33 UTC 2024\n"
      "# Update Frequency: 1 min\n"
      "# Aggregation     : none\n"
      "# Entries         : 3 subnets, 4354 unique IPs\n"
      "#\n"
      "192.0.2.0/24\n"
      "198.51.100.0/26\n"
      "203.0.113.9\n";
  std::vector<IntelEntry> out;
  const IntelParseStats stats =
      parse_intel_text(text, list_of(IntelFormat::kNetset, IntelCategory::kAttacker), out);
  EXPECT_EQ(prefixes(out), (Strings{"192.0.2.0/24", "198.51.100.0/26", "203.0.113.9/32"}));
  EXPECT_EQ(stats.format, IntelFormat::kNetset);
  EXPECT_EQ(stats.bad_lines, 0u);
  EXPECT_EQ(out[0].category, IntelCategory::kAttacker);
}

TEST(IntelListParser, SpamhausClassicDrop) {
  const std::string text =
      "; Spamhaus DROP List 2024/01/14 - (c) 2024 The Spamhaus Project SLU\r\n"
      "; https://www.spamhaus.org/drop/drop.txt\r\n"
      "; Last-Modified: Sun, 14 Jan 2024 09:47:40 GMT\r\n"
      "; Expires: Sun, 14 Jan 2024 11:12:36 GMT\r\n"
      "192.0.2.0/24 ; SBL256894\r\n"
      "198.51.101.0/22 ; SBL101\r\n"  // host bits: 198.51.101.0 is not on a /22 boundary
      "2001:db8::/32 ; SBL303\r\n";
  for (const IntelFormat format : {IntelFormat::kSpamhaus, IntelFormat::kAuto}) {
    std::vector<IntelEntry> out;
    const IntelParseStats stats =
        parse_intel_text(text, list_of(format, IntelCategory::kHijacked, 90), out);
    EXPECT_EQ(prefixes(out), (Strings{"192.0.2.0/24", "198.51.100.0/22", "2001:db8::/32"}));
    EXPECT_EQ(stats.bad_lines, 0u);
    EXPECT_EQ(stats.host_bits, 1u);
    EXPECT_EQ(out[0].severity, 90);
    EXPECT_EQ(stats.format, format == IntelFormat::kAuto ? IntelFormat::kPlain : format);
  }
}

TEST(IntelListParser, SpamhausJsonLines) {
  const std::string text =
      "{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"SBL256894\",\"rir\":\"apnic\"}\n"
      "{ \"cidr\" : \"198.51.100.0/24\" , \"sblid\" : \"SBL1\", \"rir\": \"ripencc\" }\r\n"
      "{\"rir\":\"arin\",\"extra\":{\"a\":[1,2,{\"b\":\"}\"}]},\"cidr\":\"2001:db8::/32\"}\n"
      "{\"cidr\":\"not-a-cidr\",\"sblid\":\"SBL2\"}\n"
      "{\"sblid\":\"SBL3\"}\n"
      "{\"cidr\":\"203.0.113.0/24\"\n"  // unterminated
      "{\"cidr\":\"203.0.113.0/24\"} trailing\n"
      "{\"type\":\"metadata\",\"timestamp\":1705225661,\"size\":69870,\"records\":1016,"
      "\"copyright\":\"(c) 2024 The Spamhaus Project SLU\","
      "\"terms\":\"https://www.spamhaus.org/drop/terms/\"}\n";
  for (const IntelFormat format : {IntelFormat::kSpamhaus, IntelFormat::kAuto}) {
    std::vector<IntelEntry> out;
    const IntelParseStats stats = parse_intel_text(text, list_of(format), out);
    EXPECT_EQ(prefixes(out), (Strings{"192.0.2.0/24", "198.51.100.0/24", "2001:db8::/32"}));
    EXPECT_EQ(stats.format, IntelFormat::kSpamhaus);
    EXPECT_EQ(stats.bad_lines, 4u);
    EXPECT_EQ(stats.first_bad_line, 4u);
    EXPECT_EQ(stats.first_bad_text, "{\"cidr\":\"not-a-cidr\",\"sblid\":\"SBL2\"}");
  }
}

TEST(IntelListParser, CsvWithHeaderCategoriesAndScores) {
  const std::string text =
      "address,category,score\r\n"
      "192.0.2.1,scanner,80\r\n"
      "\"198.51.100.0/24\",\"C2\",\"95.4\"\r\n"
      "203.0.113.0/25 , Bruteforce , 0 \r\n"
      "203.0.113.128/25,,\r\n"  // empty fields: the list's defaults
      "2001:db8::/48\r\n"       // address only
      "2001:db8:1::/48,made-up,30\r\n"
      "2001:db8:2::/48,tor,101\r\n"
      "2001:db8:3::/48,tor,high\r\n"
      "2001:db8:4::/48,spam,10,first_seen=2024-01-01,more\r\n"
      "# a comment\r\n"
      "bogus,spam,10\r\n"
      "\"192.0.2.2,spam,10\r\n"      // unterminated quote
      "\"192.0.2.3\"x,spam,10\r\n";  // text after the closing quote
  std::vector<IntelEntry> out;
  const IntelParseStats stats =
      parse_intel_text(text, list_of(IntelFormat::kAuto, IntelCategory::kMalware, 40), out);
  EXPECT_EQ(stats.format, IntelFormat::kCsv);
  ASSERT_EQ(prefixes(out), (Strings{"192.0.2.1/32", "198.51.100.0/24", "203.0.113.0/25",
                                    "203.0.113.128/25", "2001:db8::/48", "2001:db8:1::/48",
                                    "2001:db8:2::/48", "2001:db8:3::/48", "2001:db8:4::/48"}));
  const std::vector<std::pair<IntelCategory, int>> expected{
      {IntelCategory::kScanner, 80}, {IntelCategory::kC2, 95},      {IntelCategory::kBruteforce, 0},
      {IntelCategory::kMalware, 40}, {IntelCategory::kMalware, 40}, {IntelCategory::kMalware, 30},
      {IntelCategory::kTor, 40},     {IntelCategory::kTor, 40},     {IntelCategory::kSpam, 10}};
  for (size_t entry_idx = 0; entry_idx < expected.size(); ++entry_idx) {
    EXPECT_EQ(out[entry_idx].category, expected[entry_idx].first) << entry_idx;
    EXPECT_EQ(out[entry_idx].severity, expected[entry_idx].second) << entry_idx;
  }
  EXPECT_EQ(stats.unknown_categories, 1u);
  EXPECT_EQ(stats.bad_scores, 2u);
  EXPECT_EQ(stats.bad_lines, 3u);
  EXPECT_EQ(stats.first_bad_line, 12u);
  EXPECT_EQ(stats.first_bad_text, "bogus,spam,10");
}

TEST(IntelListParser, CsvWithoutHeaderAndIpv6StartingWithALetter) {
  std::vector<IntelEntry> out;
  const IntelParseStats stats =
      parse_intel_text("abcd::/16,spam\n192.0.2.1,spam\n", list_of(IntelFormat::kCsv), out);
  EXPECT_EQ(prefixes(out), (Strings{"abcd::/16", "192.0.2.1/32"}));
  EXPECT_EQ(stats.bad_lines, 0u);
  // Only the first data line may be a header.
  out.clear();
  const IntelParseStats late =
      parse_intel_text("192.0.2.1\naddress,category\n", list_of(IntelFormat::kCsv), out);
  EXPECT_EQ(late.bad_lines, 1u);
}

TEST(IntelListParser, AutoDetectsPlainWhenTheFirstDataLineHasNoComma) {
  std::vector<IntelEntry> out;
  const IntelParseStats stats =
      parse_intel_text("# header, with a comma\n192.0.2.1\n", list_of(IntelFormat::kAuto), out);
  EXPECT_EQ(stats.format, IntelFormat::kPlain);
  EXPECT_EQ(out.size(), 1u);

  out.clear();
  const IntelParseStats empty =
      parse_intel_text("# only comments\n\n", list_of(IntelFormat::kAuto), out);
  EXPECT_EQ(empty.format, IntelFormat::kAuto);
  EXPECT_EQ(empty.entries, 0u);
  EXPECT_EQ(empty.lines, 2u);
}

TEST(IntelListParser, ChunkBoundariesDoNotMatter) {
  const std::string text =
      "# c\r\n192.0.2.0/24 ; x\r\n\r\n{\"cidr\":\"198.51.100.0/24\"}\r\nbad line\r\n2001:db8::1";
  std::vector<IntelEntry> whole;
  const IntelParseStats expected = parse_intel_text(text, list_of(IntelFormat::kSpamhaus), whole);
  ASSERT_EQ(whole.size(), 3u);
  for (size_t chunk_size = 1; chunk_size <= 7; ++chunk_size) {
    std::vector<IntelEntry> out;
    IntelListParser parser(IntelFormat::kSpamhaus, IntelCategory::kOther, 50, out);
    for (size_t pos = 0; pos < text.size(); pos += chunk_size) {
      parser.feed(std::string_view(text).substr(pos, chunk_size));
    }
    parser.finish();
    EXPECT_EQ(out, whole) << chunk_size;
    EXPECT_EQ(parser.stats().lines, expected.lines);
    EXPECT_EQ(parser.stats().bad_lines, expected.bad_lines);
    EXPECT_EQ(parser.stats().first_bad_line, expected.first_bad_line);
    EXPECT_EQ(parser.stats().first_bad_text, expected.first_bad_text);
  }
}

TEST(IntelListParser, HugeLinesAreBadButBounded) {
  const std::string huge(1 << 20, '7');
  const std::string text = "192.0.2.1\n" + huge + "\n#" + huge + "\n198.51.100.1\n" + huge;
  for (const size_t chunk_size : {size_t{1000}, text.size()}) {
    std::vector<IntelEntry> out;
    IntelListParser parser(IntelFormat::kAuto, IntelCategory::kOther, 50, out);
    for (size_t pos = 0; pos < text.size(); pos += chunk_size) {
      parser.feed(std::string_view(text).substr(pos, chunk_size));
    }
    parser.finish();
    EXPECT_EQ(prefixes(out), (Strings{"192.0.2.1/32", "198.51.100.1/32"}));
    EXPECT_EQ(parser.stats().lines, 5u);
    EXPECT_EQ(parser.stats().bad_lines, 2u);  // the two huge data lines; the comment is fine
    EXPECT_EQ(parser.stats().first_bad_line, 2u);
    EXPECT_EQ(parser.stats().first_bad_text, std::string(IntelParseStats::kMaxShownBytes, '7'));
  }
}

TEST(IntelListParser, ControlCharactersAreMaskedInTheShownBadLine) {
  std::vector<IntelEntry> out;
  const IntelParseStats stats =
      parse_intel_text(std::string("x\x01y\x7fz\n", 6), list_of(IntelFormat::kPlain), out);
  EXPECT_EQ(stats.first_bad_text, "x?y?z");
}

TEST(IntelListFile, ReadsAFileAndItsSignature) {
  TempDir dir;
  IntelList list = list_of(IntelFormat::kAuto);
  list.path = dir.file("list.txt", "192.0.2.0/24\n198.51.100.0/24\n");
  std::vector<IntelEntry> out;
  IntelParseStats stats;
  FileSignature version;
  std::string error;
  ASSERT_TRUE(parse_intel_file(list, out, stats, version, error)) << error;
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(stats.entries, 2u);
  EXPECT_EQ(version.size, 29u);
  FileSignature again;
  ASSERT_TRUE(file_signature(list.path, again, error));
  EXPECT_EQ(again, version);
}

TEST(IntelListFile, MissingFileAndDirectoryAreErrors) {
  TempDir dir;
  IntelList list = list_of(IntelFormat::kAuto);
  list.path = (dir.path() / "missing.txt").string();
  std::vector<IntelEntry> out;
  IntelParseStats stats;
  FileSignature version;
  std::string error;
  EXPECT_FALSE(parse_intel_file(list, out, stats, version, error));
  EXPECT_NE(error.find("missing.txt"), std::string::npos) << error;
  EXPECT_FALSE(file_signature(list.path, version, error));

  list.path = dir.path().string();
  error.clear();
  EXPECT_FALSE(parse_intel_file(list, out, stats, version, error));
  EXPECT_NE(error.find("directory"), std::string::npos) << error;
}

TEST(IntelListFile, CancelStopsReading) {
  TempDir dir;
  IntelList list = list_of(IntelFormat::kAuto);
  list.path = dir.file("list.txt", "192.0.2.0/24\n");
  std::vector<IntelEntry> out;
  IntelParseStats stats;
  FileSignature version;
  std::string error;
  const std::atomic<bool> cancel{true};
  EXPECT_FALSE(parse_intel_file(list, out, stats, version, error, &cancel));
  EXPECT_EQ(error, "cancelled");
}

}  // namespace
}  // namespace fathom::transform

namespace fathom::transform {
namespace {

TEST(IntelListExamples, EveryExampleParsesCleanly) {
  const std::string dir = std::string(FATHOM_SOURCE_DIR) + "/examples/intel/";
  const std::vector<std::pair<std::string, IntelFormat>> files{
      {"example-plain.txt", IntelFormat::kPlain},
      {"example-blocklist.netset", IntelFormat::kNetset},
      {"example-drop.txt", IntelFormat::kSpamhaus},
      {"example-drop.json", IntelFormat::kSpamhaus},
      {"example-scored.csv", IntelFormat::kCsv}};
  for (const auto& [name, format] : files) {
    for (const IntelFormat as : {format, IntelFormat::kAuto}) {
      IntelList list = list_of(as);
      list.path = dir + name;
      std::vector<IntelEntry> out;
      IntelParseStats stats;
      FileSignature version;
      std::string error;
      ASSERT_TRUE(parse_intel_file(list, out, stats, version, error)) << error;
      EXPECT_GE(stats.entries, 3u) << name;
      EXPECT_EQ(stats.bad_lines, 0u) << name << ": " << stats.first_bad_text;
      EXPECT_EQ(stats.host_bits, 0u) << name;
      EXPECT_EQ(stats.unknown_categories + stats.bad_scores, 0u) << name;
    }
  }
}

}  // namespace
}  // namespace fathom::transform
