#include "collect/input_stream.h"

#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace fathom::collect {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "fathom_input_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string path(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, std::string_view data, bool append = false) const {
    std::ofstream f(path(name), append ? std::ios::binary | std::ios::app : std::ios::binary);
    f.write(data.data(), static_cast<std::streamsize>(data.size()));
    return path(name);
  }
  std::string gzip(std::string_view data) const {
    const std::string tmp = path("tmp.gz");
    gzFile gz = gzopen(tmp.c_str(), "wb1");
    gzwrite(gz, data.data(), static_cast<unsigned>(data.size()));
    gzclose(gz);
    std::ifstream f(tmp, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }

 private:
  fs::path path_;
};

std::vector<std::string> lines_of(InputStream& in, size_t max_line = 1 << 20) {
  LineReader reader(in, max_line);
  std::vector<std::string> lines;
  std::string_view line;
  while (reader.next(line)) lines.emplace_back(line);
  return lines;
}

std::string read_all(InputStream& in) {
  std::string out;
  char buf[7];  // small on purpose: many short reads across buffer boundaries
  ptrdiff_t n = 0;
  while ((n = in.read(buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(n, 0) << in.error();
  return out;
}

TEST(InputStream, PeekDoesNotConsume) {
  TempDir dir;
  const std::string path = dir.write("a.txt", "hello world\n");
  std::string error;
  auto in = InputStream::open(path, error);
  ASSERT_NE(in, nullptr) << error;
  EXPECT_FALSE(in->gzip());
  EXPECT_FALSE(in->is_stream());
  const auto head = in->peek(5);
  ASSERT_EQ(head.size(), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(head.data()), 5), "hello");
  EXPECT_EQ(in->peek(100).size(), 12u);  // shorter only at the end of the input
  EXPECT_EQ(read_all(*in), "hello world\n");
}

TEST(InputStream, GzipIsTransparentIncludingConcatenatedMembers) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "line " + std::to_string(i) + "\n";
  const std::string two_members = dir.gzip(text) + dir.gzip("tail\n");
  const std::string path = dir.write("a.gz", two_members);
  std::string error;
  auto in = InputStream::open(path, error);
  ASSERT_NE(in, nullptr) << error;
  EXPECT_TRUE(in->gzip());
  const auto head = in->peek(6);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(head.data()), head.size()), "line 0");
  EXPECT_EQ(read_all(*in), text + "tail\n");
}

TEST(InputStream, TruncatedGzipIsAnError) {
  TempDir dir;
  std::string gz = dir.gzip(std::string(100000, 'a') + "b");
  gz.resize(gz.size() / 2);
  const std::string path = dir.write("cut.gz", gz);
  std::string error;
  auto in = InputStream::open(path, error);
  ASSERT_NE(in, nullptr) << error;
  char buf[4096];
  ptrdiff_t n = 0;
  while ((n = in->read(buf, sizeof(buf))) > 0) {
  }
  EXPECT_EQ(n, -1);
  EXPECT_NE(in->error().find(path), std::string::npos) << in->error();
  EXPECT_NE(in->error().find("gzip"), std::string::npos) << in->error();
}

TEST(InputStream, OpenErrorsNameTheFile) {
  TempDir dir;
  std::string error;
  EXPECT_EQ(InputStream::open(dir.path("missing"), error), nullptr);
  EXPECT_NE(error.find(dir.path("missing")), std::string::npos) << error;
  EXPECT_EQ(InputStream::open(dir.path(""), error), nullptr);
  EXPECT_NE(error.find("is a directory"), std::string::npos) << error;
}

TEST(LineReader, SplitsLfAndCrlfAndLastLineWithoutNewline) {
  TempDir dir;
  const std::string path = dir.write("l.txt", "one\r\ntwo\n\nthree");
  std::string error;
  auto in = InputStream::open(path, error);
  ASSERT_NE(in, nullptr) << error;
  EXPECT_EQ(lines_of(*in), (std::vector<std::string>{"one", "two", "", "three"}));
}

TEST(LineReader, OverlongLinesComeInPieces) {
  TempDir dir;
  const std::string path = dir.write("l.txt", std::string(25, 'x') + "\nshort\n");
  std::string error;
  auto in = InputStream::open(path, error);
  ASSERT_NE(in, nullptr) << error;
  const auto lines = lines_of(*in, 10);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], std::string(10, 'x'));
  EXPECT_EQ(lines[1], std::string(10, 'x'));
  EXPECT_EQ(lines[2], std::string(5, 'x'));
  EXPECT_EQ(lines[3], "short");
}

TEST(LineReader, ManyLinesAcrossBufferRefills) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 100000; ++i) text += std::to_string(i) + "\n";
  const std::string path = dir.write("many.txt", text);
  std::string error;
  auto in = InputStream::open(path, error);
  ASSERT_NE(in, nullptr) << error;
  LineReader reader(*in);
  std::string_view line;
  int expected = 0;
  while (reader.next(line)) {
    ASSERT_EQ(line, std::to_string(expected)) << "line " << reader.line_number();
    ++expected;
  }
  EXPECT_EQ(expected, 100000);
}

TEST(InputStream, AsFileFeedsStdio) {
  TempDir dir;
  const std::string path = dir.write("a.gz", dir.gzip("through stdio\n"));
  std::string error;
  auto in = InputStream::open(path, error);
  ASSERT_NE(in, nullptr) << error;
  std::FILE* f = in->as_file();
  ASSERT_NE(f, nullptr);
  char buf[64] = {};
  ASSERT_NE(std::fgets(buf, sizeof(buf), f), nullptr);
  EXPECT_STREQ(buf, "through stdio\n");
  std::fclose(f);
}

}  // namespace
}  // namespace fathom::collect
