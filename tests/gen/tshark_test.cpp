// Wireshark's dissectors must read every datagram without malformed-packet or expert errors.
// Skipped, loudly, when tshark is not installed (scripts/install-deps installs it).

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gen/gen_test_util.h"

namespace fathom::gen {
namespace {

using testing::capture;

std::string run_command(const std::string& cmd, int& status) {
  std::string out;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) {
    status = -1;
    return out;
  }
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  status = ::pclose(pipe);
  return out;
}

bool have_tshark() {
  int status = 0;
  run_command("command -v tshark >/dev/null 2>&1", status);
  return status == 0;
}

Scenario all_protocols() {
  Scenario s = testing::one_tenant(ExportProtocol::kIpfix, 10, SamplingMode::kRandom, 200, 20);
  const struct {
    ExportProtocol protocol;
    uint32_t last_octet;
  } more[] = {{ExportProtocol::kNetflowV5, 21},
              {ExportProtocol::kNetflowV9, 22},
              {ExportProtocol::kSflowV5, 23}};
  for (const auto& m : more) {
    ExporterConfig e = s.tenants[0].exporters[0];
    e.protocol = m.protocol;
    e.address = flow::IpAddress::from_v4(0x7f000000 | m.last_octet);
    if (m.protocol == ExportProtocol::kSflowV5) {
      e.address = *flow::IpAddress::parse("2001:db8::23");  // IPv6 frames and agent address
    }
    s.tenants[0].exporters.push_back(e);
  }
  // v5 carries no IPv6: hosts send their IPv6 flows through the v6-capable exporters.
  AttackConfig scan;
  scan.id = "scan";
  scan.type = AttackType::kVerticalScan;
  scan.start_ns = 2'000'000'000;
  scan.duration_ns = 5'000'000'000;
  s.attacks.push_back(scan);
  return s;
}

TEST(TsharkTest, WiresharkReadsEveryDatagramCleanly) {
  if (!have_tshark()) {
    GTEST_SKIP() << "\n*** tshark NOT INSTALLED: Wireshark cross-check SKIPPED. "
                    "Run scripts/install-deps. ***";
  }
  const auto run = capture(all_protocols());
  const auto dir =
      std::filesystem::temp_directory_path() / ("fathom_gen_tshark_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto pcap = dir / "gen.pcap";
  {
    std::ofstream out(pcap, std::ios::binary);
    out << run.pcap;
  }
  const std::string decode_as =
      " -d udp.port==2055,cflow -d udp.port==4739,cflow -d udp.port==6343,sflow ";
  int status = 0;
  // One line per frame with the protocol column; count frames tshark dissected as flow exports.
  const std::string frames = run_command(
      "tshark -n -r " + pcap.string() + decode_as + "-T fields -e frame.protocols 2>/dev/null",
      status);
  ASSERT_EQ(status, 0) << frames;
  size_t lines = 0;
  size_t cflow = 0;
  size_t sflow = 0;
  size_t pos = 0;
  while (pos < frames.size()) {
    const size_t end = frames.find('\n', pos);
    const std::string line = frames.substr(pos, end == std::string::npos ? end : end - pos);
    ++lines;
    cflow += line.find(":cflow") != std::string::npos;
    sflow += line.find(":sflow") != std::string::npos;
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  EXPECT_EQ(lines, run.datagrams.size());
  EXPECT_EQ(cflow + sflow, run.datagrams.size());
  EXPECT_GT(sflow, 0u);
  // Every frame verbosely: no malformed packets, no expert warnings or errors.
  const std::string verbose =
      run_command("tshark -n -r " + pcap.string() + decode_as + "-V 2>&1", status);
  ASSERT_EQ(status, 0);
  EXPECT_EQ(verbose.find("[Malformed"), std::string::npos);
  EXPECT_EQ(verbose.find("Expert Info (Warn"), std::string::npos);
  EXPECT_EQ(verbose.find("Expert Info (Error"), std::string::npos);
  const std::string expert =
      run_command("tshark -n -q -r " + pcap.string() + decode_as + "-z expert,warn 2>&1", status);
  EXPECT_EQ(expert.find("Errors"), std::string::npos) << expert;
  EXPECT_EQ(expert.find("Warns"), std::string::npos) << expert;
  // Wireshark reads the announced sampling rate from the v5 header.
  const std::string v5 =
      run_command("tshark -n -r " + pcap.string() + decode_as +
                      "-Y cflow.version==5 -T fields -e cflow.samplingmode -e cflow.samplerate"
                      " 2>/dev/null | sort -u",
                  status);
  EXPECT_EQ(v5, "2\t10\n");  // mode 2 = random, 1 in 10
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fathom::gen
