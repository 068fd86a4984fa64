#include "app/decode_command.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "app/mini_json.h"

namespace fathom::app {
namespace {

namespace fs = std::filesystem;
using fathom::testing::MiniJson;

const std::string kCaptures = FATHOM_CAPTURES_DIR;

constexpr std::string_view kVpcDefault =
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 "
    "1418530010 1418530070 ACCEPT OK\n"
    "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA\n"
    "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 "
    "1418530010 1418530070 REJECT OK\n"
    "this line is broken\n";

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "fathom_decode_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string path(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, std::string_view data) const {
    std::ofstream f(path(name), std::ios::binary);
    f.write(data.data(), static_cast<std::streamsize>(data.size()));
    return path(name);
  }
  std::string write_gz(const std::string& name, std::string_view data) const {
    gzFile gz = gzopen(path(name).c_str(), "wb1");
    gzwrite(gz, data.data(), static_cast<unsigned>(data.size()));
    gzclose(gz);
    return path(name);
  }

 private:
  fs::path path_;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Result {
  int rc = 0;
  std::vector<std::string> lines;
  std::string err;
};

Result run(const DecodeOptions& options) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  Result r;
  r.rc = run_decode(options, out, err);
  auto read_all = [](std::FILE* f) {
    std::string s;
    std::rewind(f);
    char buf[65536];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) s.append(buf, n);
    std::fclose(f);
    return s;
  };
  const std::string text = read_all(out);
  r.err = read_all(err);
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) r.lines.push_back(line);
  return r;
}

bool have_v5_capture() {
  return fs::exists(kCaptures + "/netflow_v5.pcap");
}

TEST(DecodeCommand, NetflowV5CaptureAsJsonWithLimit) {
  if (!have_v5_capture()) GTEST_SKIP() << "reference capture missing in " << kCaptures;
  DecodeOptions options;
  options.files = {kCaptures + "/netflow_v5.pcap"};
  options.limit = 25;
  const Result r = run(options);
  EXPECT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(r.lines.size(), 25u) << r.err;
  for (const std::string& line : r.lines) {
    const auto obj = MiniJson::parse_object(line);
    ASSERT_TRUE(obj.has_value()) << line;
    EXPECT_EQ(obj->at("type"), "flow");
    EXPECT_EQ(obj->at("source"), "netflow_v5");
    EXPECT_EQ(obj->at("exporter"), "127.0.0.1");
  }
  // The reference CSV's first row: frame 1, 10.10.3.165:56469 > 198.18.0.53:53 UDP, 63 bytes.
  const auto first = *MiniJson::parse_object(r.lines[0]);
  EXPECT_EQ(first.at("frame"), "1");
  EXPECT_EQ(first.at("src"), "10.10.3.165");
  EXPECT_EQ(first.at("dst"), "198.18.0.53");
  EXPECT_EQ(first.at("src_port"), "56469");
  EXPECT_EQ(first.at("bytes"), "63");
  EXPECT_EQ(first.at("start_ns").substr(0, 13), "1705320000062");
}

TEST(DecodeCommand, CsvOutputHasHeaderAndMatchingColumns) {
  if (!have_v5_capture()) GTEST_SKIP() << "reference capture missing in " << kCaptures;
  DecodeOptions options;
  options.files = {kCaptures + "/netflow_v5.pcap"};
  options.format = OutputFormat::kCsv;
  options.limit = 5;
  const Result r = run(options);
  EXPECT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(r.lines.size(), 6u) << r.err;
  EXPECT_TRUE(r.lines[0].starts_with("frame,exporter,source,")) << r.lines[0];
  const auto commas = [](const std::string& s) { return std::count(s.begin(), s.end(), ','); };
  for (size_t i = 1; i < r.lines.size(); ++i) EXPECT_EQ(commas(r.lines[i]), commas(r.lines[0]));
  EXPECT_TRUE(
      r.lines[1].starts_with("1,127.0.0.1,netflow_v5,0,10.10.3.165,198.18.0.53,56469,53,"
                             "17,63,1,1705320000.062,1705320000.094,"))
      << r.lines[1];
}

TEST(DecodeCommand, MissingFileIsReportedAndOthersStillRun) {
  TempDir dir;
  const std::string vpc = dir.write("flows.log", kVpcDefault);
  DecodeOptions options;
  options.files = {dir.path("does-not-exist.pcap"), vpc};
  const Result r = run(options);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find(dir.path("does-not-exist.pcap") + ": No such file"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.lines.size(), 2u);  // the flow log after it was still decoded
}

TEST(DecodeCommand, UnknownFormatIsAnError) {
  TempDir dir;
  const std::string text = dir.write("notes.txt", "hello\nworld\n");
  std::string binary_data(
      "\x7f"
      "ELF\x02\x01\x01\x00\x00\x00",
      10);
  const std::string binary = dir.write("prog", binary_data);
  const std::string empty = dir.write("empty", "");
  DecodeOptions options;
  options.files = {text, binary, empty};
  const Result r = run(options);
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(r.lines.empty());
  EXPECT_NE(r.err.find(text + ": unknown format"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(binary + ": unknown format"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(empty + ": empty file"), std::string::npos) << r.err;
}

TEST(DecodeCommand, VpcFlowLogPlainAndGzipWithStats) {
  TempDir dir;
  const std::string plain = dir.write("a.log", kVpcDefault);
  const std::string custom =
      dir.write_gz("b.log.gz",
                   "version srcaddr dstaddr srcport dstport protocol packets bytes start end "
                   "action log-status flow-direction\n"
                   "5 10.0.0.1 10.0.0.2 1 2 17 3 300 1700000000 1700000060 ACCEPT OK egress\n");
  DecodeOptions options;
  options.files = {plain, custom};
  options.stats = true;
  const Result r = run(options);
  EXPECT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(r.lines.size(), 3u) << r.err;
  const auto third = *MiniJson::parse_object(r.lines[2]);
  EXPECT_EQ(third.at("source"), "vpc_flow_log");
  EXPECT_EQ(third.at("bytes"), "300");
  EXPECT_EQ(third.at("exporter_direction"), "1");
  EXPECT_EQ(third.at("frame"), "2");  // line number in the file
  EXPECT_NE(r.err.find("file " + plain +
                       " (vpc flow log): lines 4, records 2, headers 0, nodata 1, skipdata 0, "
                       "bad_lines 1"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("records written: 3"), std::string::npos) << r.err;
}

TEST(DecodeCommand, GzippedCaptureAndStdin) {
  if (!have_v5_capture()) GTEST_SKIP() << "reference capture missing in " << kCaptures;
  TempDir dir;
  const std::string raw = slurp(kCaptures + "/netflow_v5.pcap");
  const std::string gz = dir.write_gz("v5.pcap.gz", raw);
  DecodeOptions options;
  options.files = {gz};
  options.limit = 40;
  const Result from_gz = run(options);
  EXPECT_EQ(from_gz.rc, 0) << from_gz.err;
  EXPECT_EQ(from_gz.lines.size(), 40u);

  // "-" reads stdin: point fd 0 at the capture for the duration of the call.
  const int saved = dup(STDIN_FILENO);
  const int fd = open((kCaptures + "/netflow_v5.pcap").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  dup2(fd, STDIN_FILENO);
  close(fd);
  options.files = {"-"};
  const Result from_stdin = run(options);
  dup2(saved, STDIN_FILENO);
  close(saved);
  EXPECT_EQ(from_stdin.rc, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.lines, from_gz.lines);
}

TEST(DecodeCommand, StatsNameTheExporter) {
  if (!have_v5_capture()) GTEST_SKIP() << "reference capture missing in " << kCaptures;
  DecodeOptions options;
  options.files = {kCaptures + "/netflow_v5.pcap"};
  options.stats = true;
  options.limit = 1;
  const Result r = run(options);
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.err.find("exporter 127.0.0.1: packets 1 "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(capture): frames 1, udp 1,"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace fathom::app
