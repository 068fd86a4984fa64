// Issue 5 "Proof": real export packets sent to `fathom run` on loopback from two exporters of
// two tenants arrive as exactly the records `fathom decode` makes of the same captures, each
// with its exporter's tenant, and the per-tenant counters of /metrics agree. The same for
// fathom-gen's demo scenario, whose four exporters speak the four protocols.

#include <signal.h>

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "e2e/export_packets.h"
#include "e2e/fathom_process.h"
#include "e2e/udp_sender.h"

namespace fathom::e2e {
namespace {

constexpr char kConfig[] = R"(log_level: info
transform:
  unknown_exporters: reject
tenants:
  - id: 1
    name: acme
    exporters: [127.0.0.11]
  - id: 2
    name: globex
    exporters: [127.0.0.12]
)";

struct Source {
  std::string capture;
  std::string exporter;
};

TEST(CapturesToTenants, EveryRecordArrivesOnceWithItsExportersTenant) {
  if (!have_captures()) GTEST_SKIP() << "reference captures missing: " << capture_path("");
  TempDir dir;
  // A router may export several protocols from one address: .11 sends NetFlow v9 and v5,
  // .12 IPFIX and sFlow (with one interface-counter record), each capture from its own port.
  const std::vector<Source> sources = {
      {"netflow_v9_sampled100.pcap", "127.0.0.11"},
      {"netflow_v5_sampled100.pcap", "127.0.0.11"},
      {"ipfix_sampled100.pcap", "127.0.0.12"},
      {"sflow_sampled100.pcap", "127.0.0.12"},
  };
  std::map<std::string, std::vector<JsonRecord>> expected;  // by exporter
  std::vector<std::vector<Payload>> payloads;
  std::string error;
  for (const Source& s : sources) {
    const auto decoded = fathom_decode(capture_path(s.capture), dir, error);
    ASSERT_TRUE(decoded) << error;
    ASSERT_FALSE(decoded->empty()) << s.capture;
    expected[s.exporter].insert(expected[s.exporter].end(), decoded->begin(), decoded->end());
    auto p = capture_payloads(capture_path(s.capture), error);
    ASSERT_TRUE(p) << error;
    payloads.push_back(std::move(*p));
  }

  FathomOptions options;
  options.config_path = dir.write("fathom.yaml", kConfig);
  options.flows_path = dir.file("flows.jsonl");
  auto fathom = FathomRun::start(options, error);
  ASSERT_TRUE(fathom) << error;
  for (size_t i = 0; i < sources.size(); ++i) {
    auto sender = UdpSender::open(sources[i].exporter, 0, error);
    ASSERT_TRUE(sender) << error;
    // The first datagram carries the templates and the sampling options: let it arrive
    // before the rest, so no data waits for its template (decoded_late would then differ).
    ASSERT_TRUE(fathom->send(*sender, payloads[i].front()));
    ASSERT_TRUE(fathom->wait_received()) << fathom->process().output();
    payloads[i].erase(payloads[i].begin());
    ASSERT_TRUE(fathom->send_all(*sender, payloads[i])) << fathom->process().output();
  }
  const auto snap = fathom->wait_all_decoded();
  ASSERT_TRUE(snap) << "sent " << fathom->sent() << "\n" << fathom->process().output();

  const RecordTotals acme = totals_of(expected["127.0.0.11"]);
  const RecordTotals globex = totals_of(expected["127.0.0.12"]);
  // Per-tenant counters: records and bytes as exported, and the sFlow counter record.
  EXPECT_EQ(snap->sum("fathom_tenant_records_total", {{"tenant", "acme"}, {"tenant_id", "1"}}),
            acme.flows);
  EXPECT_EQ(snap->sum("fathom_tenant_records_total", {{"tenant", "globex"}, {"tenant_id", "2"}}),
            globex.flows);
  EXPECT_EQ(snap->sum("fathom_tenant_flow_bytes_total", {{"tenant", "acme"}}), acme.bytes);
  EXPECT_EQ(snap->sum("fathom_tenant_flow_bytes_total", {{"tenant", "globex"}}), globex.bytes);
  EXPECT_EQ(snap->sum("fathom_tenant_flow_packets_total", {{"tenant", "globex"}}), globex.packets);
  EXPECT_EQ(snap->sum("fathom_tenant_counter_records_total", {{"tenant", "globex"}}),
            globex.if_counters);
  EXPECT_EQ(snap->sum("fathom_transform_records_accepted_total"), acme.flows + globex.flows);
  EXPECT_EQ(snap->sum("fathom_transform_records_rejected_total"), 0);
  EXPECT_EQ(snap->sum("fathom_decode_datagrams_total"), fathom->sent());
  // Nothing lost on the way and nothing malformed in real exports.
  EXPECT_EQ(snap->sum("fathom_collect_kernel_drops_total"), 0);
  EXPECT_EQ(snap->sum("fathom_bus_dropped_records_total"), 0);
  EXPECT_EQ(snap->sum("fathom_exporter_problems_total"), 0) << snap->text();
  EXPECT_EQ(snap->sum("fathom_exporter_records_total", {{"exporter", "127.0.0.11"}}), acme.flows);
  EXPECT_TRUE(snap->has("fathom_exporter_info", {{"exporter", "127.0.0.12"}, {"tenant", "globex"}}))
      << snap->text();
  EXPECT_TRUE(snap->bad_lines().empty()) << snap->bad_lines().front();

  ASSERT_EQ(fathom->stop(SIGTERM), 0) << fathom->process().output();
  const std::string out = fathom->process().output();
  EXPECT_NE(out.find("stopping after " + std::to_string(fathom->sent()) + " packets, " +
                     std::to_string(acme.flows + globex.flows) + " records (accepted " +
                     std::to_string(acme.flows + globex.flows) + ", rejected 0)"),
            std::string::npos)
      << out;

  const auto flows = read_jsonl(options.flows_path, error);
  ASSERT_TRUE(flows) << error;
  EXPECT_EQ(flows->size(), expected["127.0.0.11"].size() + expected["127.0.0.12"].size());
  for (const auto& [exporter, tenant_id] :
       std::vector<std::pair<std::string, std::string>>{{"127.0.0.11", "1"}, {"127.0.0.12", "2"}}) {
    const std::vector<JsonRecord> got = where(*flows, "exporter", exporter);
    EXPECT_EQ(totals_of(got), totals_of(expected[exporter])) << exporter;
    EXPECT_EQ(where(got, "tenant_id", tenant_id).size(), got.size())
        << exporter << " has records of another tenant";
    // Record for record, the same as `fathom decode` (multiset of every decoded field).
    const std::vector<std::string> got_keys = comparable_records(got);
    const std::vector<std::string> want_keys = comparable_records(expected[exporter]);
    ASSERT_EQ(got_keys.size(), want_keys.size()) << exporter;
    size_t differing = 0;
    for (size_t i = 0; i < got_keys.size(); ++i) {
      if (got_keys[i] != want_keys[i] && differing++ < 3) {
        ADD_FAILURE() << exporter << " record differs:\n  run:    " << got_keys[i]
                      << "\n  decode: " << want_keys[i];
      }
    }
    EXPECT_EQ(differing, 0u) << exporter;
  }
}

// The demo scenario's tenants (examples/demo.yaml), with unknown exporters rejected.
constexpr char kDemoTenants[] = R"(transform:
  unknown_exporters: reject
tenants:
  - id: 1
    name: acme
    exporters: [127.0.0.11, 127.0.0.12]
  - id: 2
    name: globex
    exporters: [127.0.0.21]
  - id: 3
    name: initech
    exporters: [127.0.0.31]
)";

TEST(CapturesToTenants, FathomGenDemoTrafficReachesTheDemoTenants) {
  TempDir dir;
  std::string error;
  const std::string pcap = dir.file("demo.pcap");
  std::string output;
  ASSERT_EQ(run_to_completion({fathom_gen_binary(), "--config",
                               std::string(FATHOM_SOURCE_DIR) + "/examples/scenarios/demo.yaml",
                               "--duration", "20s", "--seed", "7", "--pcap", pcap, "--quiet"},
                              "", seconds(60), output),
            0)
      << output;
  auto datagrams = capture_datagrams(pcap, error);
  ASSERT_TRUE(datagrams) << error;
  const auto decoded = fathom_decode(pcap, dir, error);
  ASSERT_TRUE(decoded) << error;

  FathomOptions options;
  options.config_path = dir.write("fathom.yaml", kDemoTenants);
  options.flows_path = dir.file("flows.jsonl");
  auto fathom = FathomRun::start(options, error);
  ASSERT_TRUE(fathom) << error;
  std::map<std::string, std::unique_ptr<UdpSender>> senders;  // one socket per exporter
  for (const CapturedPayload& d : *datagrams) {
    auto& sender = senders[d.exporter];
    const bool first = sender == nullptr;
    if (first) {
      sender = UdpSender::open(d.exporter, 0, error);
      ASSERT_TRUE(sender) << error;
    }
    ASSERT_TRUE(fathom->send(*sender, d.payload));
    // An exporter's first datagram carries its templates: in before its data.
    if (first) {
      ASSERT_TRUE(fathom->wait_received()) << fathom->process().output();
    }
  }
  ASSERT_EQ(senders.size(), 4u);
  const auto snap = fathom->wait_all_decoded();
  ASSERT_TRUE(snap) << fathom->process().output();
  EXPECT_EQ(snap->sum("fathom_transform_records_rejected_total"), 0);
  EXPECT_EQ(snap->sum("fathom_exporter_problems_total"), 0) << snap->text();
  ASSERT_EQ(fathom->stop(SIGTERM), 0) << fathom->process().output();

  const auto flows = read_jsonl(options.flows_path, error);
  ASSERT_TRUE(flows) << error;
  EXPECT_EQ(flows->size(), decoded->size());
  const std::map<std::string, std::string> tenant_of = {
      {"127.0.0.11", "1"}, {"127.0.0.12", "1"}, {"127.0.0.21", "2"}, {"127.0.0.31", "3"}};
  for (const auto& [exporter, tenant_id] : tenant_of) {
    const std::vector<JsonRecord> got = where(*flows, "exporter", exporter);
    const std::vector<JsonRecord> want = where(*decoded, "exporter", exporter);
    EXPECT_FALSE(want.empty()) << exporter;
    EXPECT_EQ(where(got, "tenant_id", tenant_id).size(), got.size()) << exporter;
    EXPECT_TRUE(comparable_records(got) == comparable_records(want))
        << exporter << ": " << totals_of(got) << " vs `fathom decode` " << totals_of(want);
  }
}

}  // namespace
}  // namespace fathom::e2e
