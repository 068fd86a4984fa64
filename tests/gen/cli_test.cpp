// The fathom-gen binary end to end: a scenario file in, pcap and CSVs out, clear errors out.

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

const std::string kBinary = std::string(FATHOM_BINARY_DIR) + "/tools/gen/fathom-gen";
const std::string kDemo = std::string(FATHOM_SOURCE_DIR) + "/examples/scenarios/demo.yaml";

struct Result {
  int status = 0;
  std::string output;  // stdout + stderr
};

Result run(const std::string& args) {
  Result r;
  FILE* pipe = ::popen((kBinary + " " + args + " 2>&1").c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  r.status = ::pclose(pipe);
  return r;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kBinary)) << kBinary << " not built";
    dir_ = fs::temp_directory_path() / ("fathom_gen_cli_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(CliTest, DemoScenarioWritesPcapAndTruth) {
  const auto pcap = dir_ / "demo.pcap";
  const auto gt = dir_ / "attacks.csv";
  const auto truth = dir_ / "truth.csv";
  const Result r = run("--config " + kDemo + " --duration 60s --quiet --pcap " + pcap.string() +
                       " --ground-truth " + gt.string() + " --truth " + truth.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_GT(fs::file_size(pcap), 100'000u);
  const std::string attacks = slurp(gt);
  EXPECT_EQ(attacks.rfind("tenant,attack_id,type,", 0), 0u);
  EXPECT_NE(attacks.find("t1-syn,syn_flood"), std::string::npos);
  EXPECT_EQ(slurp(truth).rfind("window_start,window_end,tenant,host,", 0), 0u);
  // --seed changes the bytes; the same seed reproduces them.
  const auto again = dir_ / "again.pcap";
  ASSERT_EQ(run("--config " + kDemo + " --duration 60s --quiet --pcap " + again.string()).status,
            0);
  EXPECT_EQ(slurp(again), slurp(pcap));
  const auto other = dir_ / "other.pcap";
  ASSERT_EQ(
      run("--config " + kDemo + " --duration 60s --quiet --seed 5 --pcap " + other.string()).status,
      0);
  EXPECT_NE(slurp(other), slurp(pcap));
}

TEST_F(CliTest, TruthHostsAndRandomAttackStartsFlags) {
  const auto truth = dir_ / "truth.csv";
  ASSERT_EQ(run("--config " + kDemo + " --duration 20s --quiet --truth-hosts=false --truth " +
                truth.string())
                .status,
            0);
  const std::string text = slurp(truth);
  EXPECT_NE(text.find(",1,,"), std::string::npos);      // tenant lines stay
  EXPECT_EQ(text.find(",1,10.1."), std::string::npos);  // no host lines
  const auto fixed = dir_ / "fixed.csv";
  const auto random = dir_ / "random.csv";
  ASSERT_EQ(
      run("--config " + kDemo + " --duration 20s --quiet --ground-truth " + fixed.string()).status,
      0);
  ASSERT_EQ(run("--config " + kDemo + " --duration 20s --quiet --random-attack-starts " +
                "--ground-truth " + random.string())
                .status,
            0);
  EXPECT_NE(slurp(fixed), slurp(random));
  EXPECT_NE(run("--config " + kDemo + " --pcap /dev/null --truth-hosts=maybe").status, 0);
}

TEST_F(CliTest, BadScenarioFailsWithFileAndLine) {
  const auto bad = dir_ / "bad.yaml";
  {
    std::ofstream out(bad);
    out << "tenants:\n  - prefixes: [10.1.0.0/16]\n    exporterz: []\n";
  }
  const Result r = run("--config " + bad.string() + " --pcap " + (dir_ / "x.pcap").string());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("bad.yaml:3:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("exporterz"), std::string::npos) << r.output;
}

TEST_F(CliTest, RefusesToRunWithoutAnOutputOrWithABadTarget) {
  EXPECT_NE(run("--config " + kDemo).status, 0);
  const Result r = run("--config " + kDemo + " --udp nowhere");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("bad --udp target"), std::string::npos) << r.output;
  const Result speed = run("--config " + kDemo + " --pcap /dev/null --speed fast");
  EXPECT_NE(speed.status, 0);
  EXPECT_NE(speed.output.find("bad --speed 'fast'"), std::string::npos) << speed.output;
}

}  // namespace
