// Issue 5 "Proof": SIGTERM persists templates, and a restart with the state file decodes data
// at once, without waiting for the exporter to repeat its template. The control: without the
// state file the same data is parked as "unknown template".

#include <signal.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "collect/socket_group.h"
#include "e2e/export_packets.h"
#include "e2e/fathom_process.h"
#include "e2e/udp_sender.h"
#include "flow/ip_address.h"

namespace fathom::e2e {
namespace {

constexpr uint16_t kTemplateId = 300;
constexpr uint32_t kRecordsPerMessage = 10;

/// Two IPFIX exporters, each with its own observation domain; with two receive threads the
/// kernel steers them to different threads (checked below).
struct Exporter {
  const char* address;
  uint32_t domain;
};
constexpr std::array<Exporter, 2> kExporters = {{{"127.0.0.31", 7}, {"127.0.0.33", 8}}};

std::string config(uint32_t receive_threads) {
  return "collect:\n  receive_threads: " + std::to_string(receive_threads) +
         "\ntransform:\n  unknown_exporters: reject\ntenants:\n  - id: 1\n    name: acme\n"
         "    exporters: [127.0.0.31, 127.0.0.33]\n";
}

/// Starts fathom with `state_file` ("" = none), sends each exporter one data message (flows
/// `first_seq`..), and returns the scrape once every datagram is decoded, after stopping.
struct DataOnlyRun {
  std::optional<MetricsSnapshot> snap;
  std::vector<JsonRecord> flows;
  std::string output;
};

DataOnlyRun send_data_only(const TempDir& dir, const std::string& name,
                           const std::string& state_file, uint32_t receive_threads,
                           uint32_t first_seq) {
  DataOnlyRun result;
  std::string error;
  FathomOptions options;
  options.config_path = dir.write(name + ".yaml", config(receive_threads));
  options.flows_path = dir.file(name + ".jsonl");
  options.state_file = state_file;
  auto fathom = FathomRun::start(options, error);
  if (!fathom) {
    ADD_FAILURE() << error;
    return result;
  }
  for (const Exporter& e : kExporters) {
    auto sender = UdpSender::open(e.address, 0, error);
    if (!sender) {
      ADD_FAILURE() << error;
      return result;
    }
    EXPECT_TRUE(fathom->send(
        *sender, ipfix_data_message(e.domain, kTemplateId, first_seq, kRecordsPerMessage)));
  }
  result.snap = fathom->wait_all_decoded();
  EXPECT_TRUE(result.snap) << fathom->process().output();
  EXPECT_EQ(fathom->stop(SIGTERM), 0) << fathom->process().output();
  result.output = fathom->process().output();
  auto flows = read_jsonl(options.flows_path, error);
  EXPECT_TRUE(flows) << error;
  if (flows) result.flows = std::move(*flows);
  return result;
}

TEST(StateFile, SigtermPersistsTemplatesAndARestartDecodesDataAtOnce) {
  TempDir dir;
  std::string error;
  const std::string state = dir.file("fathom.state");

  // Run 1: templates and data; SIGTERM saves the templates.
  {
    FathomOptions options;
    options.config_path = dir.write("first.yaml", config(1));
    options.flows_path = dir.file("first.jsonl");
    options.state_file = state;
    auto fathom = FathomRun::start(options, error);
    ASSERT_TRUE(fathom) << error;
    for (const Exporter& e : kExporters) {
      auto sender = UdpSender::open(e.address, 0, error);
      ASSERT_TRUE(sender) << error;
      ASSERT_TRUE(fathom->send(*sender, ipfix_template_message(e.domain, kTemplateId)));
      ASSERT_TRUE(
          fathom->send(*sender, ipfix_data_message(e.domain, kTemplateId, 0, kRecordsPerMessage)));
    }
    const auto snap = fathom->wait_all_decoded();
    ASSERT_TRUE(snap) << fathom->process().output();
    EXPECT_EQ(snap->sum("fathom_transform_records_accepted_total"),
              kRecordsPerMessage * kExporters.size());
    ASSERT_EQ(fathom->stop(SIGTERM), 0) << fathom->process().output();
    EXPECT_NE(fathom->process().output().find("decoder state saved to " + state), std::string::npos)
        << fathom->process().output();
    struct stat st {};
    ASSERT_EQ(::stat(state.c_str(), &st), 0) << "no state file after SIGTERM";
    EXPECT_GT(st.st_size, 0);
  }

  // Run 2: restart with the state file and two receive threads (each exporter's templates
  // must be loaded into the thread the kernel steers it to); data only, no template.
  const auto shard = [](const std::string& address) {
    return collect::UdpListenerGroup::shard_of(*flow::IpAddress::parse(address), 2);
  };
  ASSERT_NE(shard(kExporters[0].address), shard(kExporters[1].address));
  const DataOnlyRun restarted = send_data_only(dir, "restart", state, 2, 1000);
  ASSERT_TRUE(restarted.snap);
  const MetricsSnapshot& snap = *restarted.snap;
  const uint32_t threads = static_cast<uint32_t>(snap.sum("fathom_collect_receive_threads"));
  for (const Exporter& e : kExporters) {
    const Labels exporter = {{"exporter", e.address}};
    SCOPED_TRACE(std::string(e.address) + " on thread " + std::to_string(shard(e.address)) +
                 " of " + std::to_string(threads));
    EXPECT_EQ(snap.sum("fathom_exporter_records_total", exporter), kRecordsPerMessage)
        << snap.text();
    EXPECT_EQ(snap.sum("fathom_exporter_data_parked_total", exporter), 0);
    EXPECT_EQ(snap.sum("fathom_exporter_templates", exporter), 1);
    EXPECT_EQ(snap.sum("fathom_exporter_problems_total", exporter), 0) << snap.text();
    // Field by field: the restart decoded the right flows with the saved template.
    const std::vector<JsonRecord> got = where(restarted.flows, "exporter", e.address);
    ASSERT_EQ(got.size(), kRecordsPerMessage);
    RecordTotals want;
    for (uint32_t seq = 1000; seq < 1000 + kRecordsPerMessage; ++seq) {
      want.flows += 1;
      want.bytes += test_flow(seq).bytes;
      want.packets += test_flow(seq).packets;
    }
    EXPECT_EQ(totals_of(got), want);
    EXPECT_EQ(where(got, "observation_domain", std::to_string(e.domain)).size(), got.size());
    for (const JsonRecord& r : got) {
      EXPECT_EQ(r.at("flags").find("decoded_late"), std::string::npos) << r.at("flags");
    }
  }
  EXPECT_EQ(snap.sum("fathom_transform_records_accepted_total"),
            kRecordsPerMessage * kExporters.size());
  if (threads == 2) {
    // One data message each, on the thread its exporter is steered to.
    EXPECT_EQ(snap.sum("fathom_collect_datagrams_total", {{"thread", "0"}}), 1) << snap.text();
    EXPECT_EQ(snap.sum("fathom_collect_datagrams_total", {{"thread", "1"}}), 1) << snap.text();
  } else {
    // The kernel refused the steering program: fathom fell back to one thread (logged).
    EXPECT_NE(restarted.output.find("exporter steering is unavailable"), std::string::npos)
        << restarted.output;
  }

  // Control: the same data without the state file waits for a template that never comes.
  const DataOnlyRun cold = send_data_only(dir, "cold", "", 1, 1000);
  ASSERT_TRUE(cold.snap);
  for (const Exporter& e : kExporters) {
    EXPECT_EQ(cold.snap->sum("fathom_exporter_data_parked_total", {{"exporter", e.address}}), 1)
        << cold.snap->text();
    EXPECT_EQ(cold.snap->sum("fathom_exporter_records_total", {{"exporter", e.address}}), 0);
  }
  EXPECT_EQ(cold.snap->sum("fathom_transform_records_accepted_total"), 0);
  EXPECT_TRUE(cold.flows.empty());
}

TEST(StateFile, ACorruptStateFileStopsTheStartWithAClearError) {
  TempDir dir;
  const std::string state = dir.write("fathom.state", "this is not a fathom state file\n");
  std::string output;
  const std::optional<int> code = run_to_completion(
      {fathom_binary(), "run", "--listen", "127.0.0.1:0", "--metrics-listen", "off", "--api-listen",
       "off", "--state-file", state, "--data-dir", dir.file("data")},
      "", seconds(15), output);
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("state file"), std::string::npos) << output;
}

}  // namespace
}  // namespace fathom::e2e
