// Issue 5 "Proof": the exporter allowlist. Valid exports from an address no tenant claims are
// decoded, counted and dropped under `unknown_exporters: reject` (never reaching the output),
// and accepted into the default tenant under `unknown_exporters: default`.

#include <signal.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "e2e/export_packets.h"
#include "e2e/fathom_process.h"
#include "e2e/udp_sender.h"

namespace fathom::e2e {
namespace {

constexpr char kTenants[] = R"(tenants:
  - id: 1
    name: acme
    exporters: [127.0.0.11]
  - id: 2
    name: globex
    exporters: [127.0.0.12]
)";

TEST(UnknownExporter, RejectedRecordsAreCountedAndNeverPublished) {
  if (!have_captures()) GTEST_SKIP() << "reference captures missing: " << capture_path("");
  TempDir dir;
  std::string error;
  const V5Packets v5 = netflow_v5_packets(20, error);
  ASSERT_FALSE(v5.payloads.empty()) << error;

  FathomOptions options;
  options.config_path =
      dir.write("fathom.yaml", std::string("transform:\n  unknown_exporters: reject\n") + kTenants);
  options.flows_path = dir.file("flows.jsonl");
  auto fathom = FathomRun::start(options, error);
  ASSERT_TRUE(fathom) << error;
  auto stranger = UdpSender::open("127.0.0.99", 0, error);
  ASSERT_TRUE(stranger) << error;
  ASSERT_TRUE(fathom->send_all(*stranger, v5.payloads));
  const auto snap = fathom->wait_until([&](const MetricsSnapshot& s) {
    return s.sum("fathom_transform_records_rejected_total") >= static_cast<double>(v5.records);
  });
  ASSERT_TRUE(snap) << fathom->process().output();

  EXPECT_EQ(snap->sum("fathom_decode_datagrams_total"), fathom->sent());
  EXPECT_EQ(snap->sum("fathom_decode_records_total"), v5.records);
  EXPECT_EQ(snap->sum("fathom_transform_records_rejected_total"), v5.records);
  EXPECT_EQ(snap->sum("fathom_transform_records_accepted_total"), 0);
  // The exporter's own series carries the rejects, with no tenant.
  EXPECT_EQ(snap->sum("fathom_exporter_records_rejected_total", {{"exporter", "127.0.0.99"}}),
            v5.records)
      << snap->text();
  EXPECT_TRUE(snap->has("fathom_exporter_info",
                        {{"exporter", "127.0.0.99"}, {"tenant", ""}, {"protocol", "netflow_v5"}}))
      << snap->text();
  EXPECT_EQ(snap->sum("fathom_exporter_records_total", {{"exporter", "127.0.0.99"}}), v5.records);
  EXPECT_EQ(snap->sum("fathom_tenant_records_total"), 0);
  EXPECT_EQ(snap->sum("fathom_transform_unknown_exporters_logged_total"), 1);
  EXPECT_EQ(snap->sum("fathom_bus_published_records_total"), 0);

  ASSERT_EQ(fathom->stop(SIGTERM), 0) << fathom->process().output();
  const std::string out = fathom->process().output();
  // Logged once for the exporter, not once per packet.
  const std::string warning = "unknown exporter 127.0.0.99";
  const size_t first = out.find(warning);
  EXPECT_NE(first, std::string::npos) << out;
  EXPECT_EQ(out.find(warning, first + 1), std::string::npos) << out;
  EXPECT_NE(out.find("(accepted 0, rejected " + std::to_string(v5.records) + ")"),
            std::string::npos)
      << out;
  const auto flows = read_jsonl(options.flows_path, error);
  ASSERT_TRUE(flows) << error;
  EXPECT_TRUE(flows->empty()) << flows->size() << " records reached the output";
}

TEST(UnknownExporter, DefaultPolicyPutsThemInTheDefaultTenant) {
  if (!have_captures()) GTEST_SKIP() << "reference captures missing: " << capture_path("");
  TempDir dir;
  std::string error;
  const V5Packets v5 = netflow_v5_packets(10, error);
  ASSERT_FALSE(v5.payloads.empty()) << error;

  FathomOptions options;
  options.config_path =
      dir.write("fathom.yaml", std::string("transform:\n  unknown_exporters: default\n"
                                           "  default_tenant: {id: 900, name: lab}\n") +
                                   kTenants);
  options.flows_path = dir.file("flows.jsonl");
  auto fathom = FathomRun::start(options, error);
  ASSERT_TRUE(fathom) << error;
  auto stranger = UdpSender::open("127.0.0.99", 0, error);
  ASSERT_TRUE(stranger) << error;
  ASSERT_TRUE(fathom->send_all(*stranger, v5.payloads));
  const auto snap = fathom->wait_for_value("fathom_transform_records_accepted_total",
                                           static_cast<double>(v5.records));
  ASSERT_TRUE(snap) << fathom->process().output();
  EXPECT_EQ(snap->sum("fathom_transform_records_rejected_total"), 0);
  EXPECT_EQ(snap->sum("fathom_tenant_records_total", {{"tenant", "lab"}, {"tenant_id", "900"}}),
            v5.records)
      << snap->text();

  // SIGINT (Ctrl-C) drains like SIGTERM: every accepted record is in the output.
  ASSERT_EQ(fathom->stop(SIGINT), 0) << fathom->process().output();
  const auto flows = read_jsonl(options.flows_path, error);
  ASSERT_TRUE(flows) << error;
  EXPECT_EQ(flows->size(), v5.records);
  EXPECT_EQ(where(*flows, "tenant_id", "900").size(), v5.records);
}

}  // namespace
}  // namespace fathom::e2e
