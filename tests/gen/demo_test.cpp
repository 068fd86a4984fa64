// `make demo` end to end, shortened: tools/gen/run_demo starts `fathom run` on a free loopback
// port, fathom-gen sends a few simulated seconds of the demo scenario to it, and fathom must
// report every datagram decoded, from every protocol, with no decode errors.

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <regex>
#include <string>

namespace {

const std::string kBinaryDir = FATHOM_BINARY_DIR;
const std::string kSourceDir = FATHOM_SOURCE_DIR;

struct Result {
  int status = 0;
  std::string output;  // stdout + stderr
};

Result run(const std::string& command) {
  Result r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  r.status = ::pclose(pipe);
  return r;
}

/// The first match of `pattern` in `text`, group by group ("" groups when there is none).
std::smatch find(const std::string& text, const std::string& pattern) {
  std::smatch m;
  std::regex_search(text, m, std::regex(pattern));
  return m;
}

TEST(DemoTest, FathomRunDecodesEveryDatagramOfAShortDemo) {
  // --rate paces the generator so loopback buffers never overflow; the flows still open at the
  // end of the 40 simulated seconds drain at the same pace.
  const Result r = run(kSourceDir + "/tools/gen/run_demo " + kBinaryDir + "/src/fathom " +
                       kBinaryDir + "/tools/gen/fathom-gen --listen 127.0.0.1:0 --speed max " +
                       "--rate 50000 --duration 40s --interval 0.2 --timeout 20");
  ASSERT_EQ(r.status, 0) << r.output;

  const std::smatch gen =
      find(r.output, R"(fathom-gen: \d+ flows, (\d+) records, (\d+) datagrams)");
  ASSERT_FALSE(gen.empty()) << r.output;
  const std::smatch stop =
      find(r.output, R"(fathom run: stopping after (\d+) packets, (\d+) records)");
  ASSERT_FALSE(stop.empty()) << r.output;
  const uint64_t sent_records = std::stoull(gen[1]);
  const uint64_t sent_datagrams = std::stoull(gen[2]);
  EXPECT_GT(sent_records, 1000u);
  EXPECT_EQ(std::stoull(stop[1]), sent_datagrams) << r.output;
  EXPECT_EQ(std::stoull(stop[2]), sent_records) << r.output;

  // The last summary line (printed at SIGINT) counts errors since start.
  const size_t last = r.output.rfind("fathom run: packets ");
  ASSERT_NE(last, std::string::npos) << r.output;
  const std::string last_line = r.output.substr(last, r.output.find('\n', last) - last);
  EXPECT_NE(last_line.find("errors since start: none"), std::string::npos) << last_line;
  // Every protocol of the demo reached the decoder.
  for (const char* protocol : {"netflow_v5=", "netflow_v9=", "ipfix=", "sflow_v5="}) {
    EXPECT_NE(r.output.find(protocol), std::string::npos) << protocol << "\n" << r.output;
  }
  EXPECT_NE(r.output.find("fathom received all"), std::string::npos) << r.output;
}

TEST(DemoTest, FailsClearlyWhenABinaryIsMissing) {
  const Result r = run(kSourceDir + "/tools/gen/run_demo /nonexistent/fathom " + kBinaryDir +
                       "/tools/gen/fathom-gen");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("/nonexistent/fathom is not built"), std::string::npos) << r.output;
}

}  // namespace
