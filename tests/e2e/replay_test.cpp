// `fathom run --replay`: files go through the same pipeline as live UDP (decode, tenant
// mapping, flows output) and the process exits 0 by itself at the end of its files. A capture
// yields exactly the records `fathom decode` finds in it; the allowlist rejects an exporter
// no tenant lists; VPC flow log records take their exporter address from --vpc-exporter.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "e2e/export_packets.h"
#include "e2e/fathom_process.h"

namespace fathom::e2e {
namespace {

struct ReplayResult {
  std::optional<int> exit_code;
  std::string output;
  std::vector<JsonRecord> flows;
};

/// Runs `fathom run --config CONFIG --replay FILE... --flows OUT --metrics-listen off` (plus
/// `extra`) to its end (at most 60 s).
ReplayResult replay(const TempDir& dir, const std::string& config,
                    const std::vector<std::string>& files,
                    const std::vector<std::string>& extra = {}) {
  ReplayResult result;
  const std::string flows = dir.file("flows.jsonl");
  std::vector<std::string> argv = {
      fathom_binary(), "run", "--config",         dir.write("fathom.yaml", config),
      "--flows",       flows, "--metrics-listen", "off",
      "--api-listen",  "off", "--data-dir",       dir.file("data")};
  for (const std::string& f : files) argv.insert(argv.end(), {"--replay", f});
  argv.insert(argv.end(), extra.begin(), extra.end());
  std::filesystem::remove(flows);
  result.exit_code = run_to_completion(argv, "", seconds(60), result.output);
  std::string error;
  auto records = read_jsonl(flows, error);
  EXPECT_TRUE(records) << error;
  if (records) result.flows = std::move(*records);
  return result;
}

constexpr char kAcceptLoopback[] = R"(transform:
  unknown_exporters: reject
tenants:
  - id: 5
    name: lab
    exporters: [127.0.0.1]
)";

constexpr char kRejectLoopback[] = R"(transform:
  unknown_exporters: reject
tenants:
  - id: 1
    name: acme
    exporters: [127.0.0.11]
)";

TEST(Replay, CapturesEndByThemselvesWithTheRecordsOfFathomDecode) {
  if (!have_captures()) GTEST_SKIP() << "reference captures missing: " << capture_path("");
  TempDir dir;
  std::string error;
  const std::vector<std::string> captures = {capture_path("netflow_v9_sampled100.pcap"),
                                             capture_path("sflow_sampled100.pcap")};
  std::vector<JsonRecord> expected;
  for (const std::string& c : captures) {
    const auto decoded = fathom_decode(c, dir, error);
    ASSERT_TRUE(decoded) << error;
    expected.insert(expected.end(), decoded->begin(), decoded->end());
  }
  const RecordTotals want = totals_of(expected);
  ASSERT_GT(want.flows, 0u);
  ASSERT_GT(want.if_counters, 0u);

  const ReplayResult r = replay(dir, kAcceptLoopback, captures);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("fathom run: replaying 2 file(s)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("records (accepted " + std::to_string(want.flows) + ", rejected 0)"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.flows.size(), expected.size());
  EXPECT_EQ(totals_of(r.flows), want);
  EXPECT_EQ(where(r.flows, "tenant_id", "5").size(), r.flows.size());
  EXPECT_TRUE(comparable_records(r.flows) == comparable_records(expected))
      << "replayed records differ from `fathom decode`";
}

TEST(Replay, AnExporterNoTenantListsIsRejected) {
  if (!have_captures()) GTEST_SKIP() << "reference captures missing: " << capture_path("");
  TempDir dir;
  std::string error;
  const std::string capture = capture_path("netflow_v9_sampled100.pcap");
  const auto decoded = fathom_decode(capture, dir, error);
  ASSERT_TRUE(decoded) << error;
  const RecordTotals want = totals_of(*decoded);

  const ReplayResult r = replay(dir, kRejectLoopback, {capture});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("(accepted 0, rejected " + std::to_string(want.flows) + ")"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("unknown exporter 127.0.0.1"), std::string::npos) << r.output;
  EXPECT_TRUE(r.flows.empty()) << r.flows.size() << " records reached the output";
}

TEST(Replay, MissingFileFailsWithItsName) {
  TempDir dir;
  const ReplayResult r = replay(dir, kAcceptLoopback, {dir.file("nope.pcap")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("nope.pcap"), std::string::npos) << r.output;
}

// AWS VPC flow logs, default format (version 2), examples of the AWS VPC User Guide plus two
// more; NODATA/SKIPDATA lines carry no record.
constexpr char kVpcLog[] =
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status\n"
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 "
    "1418530010 1418530070 ACCEPT OK\n"
    "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 "
    "1418530010 1418530070 REJECT OK\n"
    "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA\n"
    "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA\n"
    "2 123456789010 eni-1235b8ca123456789 10.0.1.5 10.0.2.7 443 51514 6 12 9000 1418530070 "
    "1418530130 ACCEPT OK\n"
    "2 123456789010 eni-1235b8ca123456789 2001:db8::1 2001:db8::2 53 40000 17 1 120 "
    "1418530070 1418530130 ACCEPT OK\n";

constexpr char kVpcTenant[] = R"(transform:
  unknown_exporters: reject
tenants:
  - id: 7
    name: cloud
    exporters: [192.0.2.10]
)";

TEST(Replay, VpcFlowLogRecordsBelongToTheVpcExportersTenant) {
  TempDir dir;
  const std::string log = dir.write("flows.log", kVpcLog);
  const ReplayResult r = replay(dir, kVpcTenant, {log}, {"--vpc-exporter", "192.0.2.10"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_EQ(r.flows.size(), 4u) << r.output;
  EXPECT_EQ(where(r.flows, "tenant_id", "7").size(), 4u);
  EXPECT_EQ(where(r.flows, "exporter", "192.0.2.10").size(), 4u);
  EXPECT_EQ(where(r.flows, "source", "vpc_flow_log").size(), 4u);
  const RecordTotals t = totals_of(r.flows);
  EXPECT_EQ(t.bytes, 4249u + 4249 + 9000 + 120);
  EXPECT_EQ(t.packets, 20u + 20 + 12 + 1);
  EXPECT_EQ(where(r.flows, "src", "2001:db8::1").size(), 1u);
  EXPECT_NE(r.output.find("(accepted 4, rejected 0)"), std::string::npos) << r.output;

  // Without --vpc-exporter the records come from "::", which no tenant lists.
  const ReplayResult unmapped = replay(dir, kVpcTenant, {log});
  ASSERT_EQ(unmapped.exit_code, 0) << unmapped.output;
  EXPECT_TRUE(unmapped.flows.empty());
  EXPECT_NE(unmapped.output.find("(accepted 0, rejected 4)"), std::string::npos) << unmapped.output;
}

}  // namespace
}  // namespace fathom::e2e
