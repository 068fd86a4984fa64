// Issue 5 "Proof": with several receive threads, every exporter's packets reach one decoder,
// whatever their source port. Each exporter announces its sampling rate in IPFIX options from
// one socket and sends its flows from another (as many routers do, and as other collectors
// get wrong when SO_REUSEPORT spreads the two ports over threads): every record must carry
// the announced rate.

#include <signal.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "collect/socket_group.h"
#include "e2e/export_packets.h"
#include "e2e/fathom_process.h"
#include "e2e/udp_sender.h"
#include "flow/ip_address.h"

namespace fathom::e2e {
namespace {

constexpr char kConfig[] = R"(collect:
  receive_threads: 2
transform:
  unknown_exporters: reject
tenants:
  - id: 1
    name: acme
    exporters: [127.0.0.16/28]
)";

constexpr uint16_t kOptionsTemplateId = 256;
constexpr uint16_t kDataTemplateId = 300;
constexpr uint32_t kRounds = 3;
constexpr uint32_t kRecordsPerMessage = 5;

struct Exporter {
  std::string address;
  uint32_t domain = 0;
  uint32_t rate = 0;  ///< 1-in-N announced in its options
  std::unique_ptr<UdpSender> options_socket;
  std::unique_ptr<UdpSender> data_socket;
  uint64_t datagrams = 0;
};

TEST(Steering, OptionsFromAnotherSourcePortReachTheDataOfTheirExporter) {
  TempDir dir;
  std::string error;
  FathomOptions options;
  options.config_path = dir.write("fathom.yaml", kConfig);
  options.flows_path = dir.file("flows.jsonl");
  auto fathom = FathomRun::start(options, error);
  ASSERT_TRUE(fathom) << error;

  std::vector<Exporter> exporters;
  for (uint32_t idx = 0; idx < 8; ++idx) {
    Exporter e;
    e.address = "127.0.0." + std::to_string(21 + idx);
    e.domain = 50 + idx;
    e.rate = 100 * (idx + 1) + idx;
    e.options_socket = UdpSender::open(e.address, 0, error);
    ASSERT_TRUE(e.options_socket) << error;
    e.data_socket = UdpSender::open(e.address, 0, error);
    ASSERT_TRUE(e.data_socket) << error;
    ASSERT_NE(e.options_socket->port(), e.data_socket->port());
    exporters.push_back(std::move(e));
  }

  uint32_t seq = 0;
  for (uint32_t round = 0; round < kRounds; ++round) {
    for (Exporter& e : exporters) {
      ASSERT_TRUE(fathom->send(
          *e.options_socket, ipfix_sampling_options_message(e.domain, kOptionsTemplateId, e.rate)));
      ++e.datagrams;
    }
    // The options are in the collector's sockets before any flow is sent: what is tested is
    // where they land, not a race between two senders.
    ASSERT_TRUE(fathom->wait_received()) << fathom->process().output();
    for (Exporter& e : exporters) {
      ASSERT_TRUE(fathom->send(*e.data_socket, ipfix_template_message(e.domain, kDataTemplateId)));
      ASSERT_TRUE(fathom->send(
          *e.data_socket, ipfix_data_message(e.domain, kDataTemplateId, seq, kRecordsPerMessage)));
      seq += kRecordsPerMessage;
      e.datagrams += 2;
    }
  }
  const auto snap = fathom->wait_all_decoded();
  ASSERT_TRUE(snap) << fathom->process().output();

  const uint64_t per_exporter = uint64_t{kRounds} * kRecordsPerMessage;
  EXPECT_EQ(snap->sum("fathom_transform_records_accepted_total"), per_exporter * exporters.size());
  EXPECT_EQ(snap->sum("fathom_exporter_sampling_rate_unknown_total"), 0) << snap->text();
  EXPECT_EQ(snap->sum("fathom_exporter_problems_total"), 0) << snap->text();
  const auto threads = static_cast<uint32_t>(snap->sum("fathom_collect_receive_threads"));
  if (threads == 2) {
    EXPECT_EQ(snap->sum("fathom_collect_exporter_steering"), 1);
    // Each exporter's datagrams, from both its ports, all on the thread shard_of names.
    std::vector<uint64_t> expected(2, 0);
    for (const Exporter& e : exporters) {
      expected[collect::UdpListenerGroup::shard_of(*flow::IpAddress::parse(e.address), 2)] +=
          e.datagrams;
    }
    ASSERT_GT(expected[0], 0u) << "the exporters should cover both threads";
    ASSERT_GT(expected[1], 0u) << "the exporters should cover both threads";
    for (size_t thread = 0; thread < 2; ++thread) {
      EXPECT_EQ(snap->sum("fathom_collect_datagrams_total", {{"thread", std::to_string(thread)}}),
                expected[thread])
          << "thread " << thread << "\n"
          << snap->text();
    }
  } else {
    // Without kernel support fathom runs one thread (logged) and stays correct.
    EXPECT_NE(fathom->process().output().find("exporter steering is unavailable"),
              std::string::npos)
        << fathom->process().output();
  }

  ASSERT_EQ(fathom->stop(SIGTERM), 0) << fathom->process().output();
  const auto flows = read_jsonl(options.flows_path, error);
  ASSERT_TRUE(flows) << error;
  EXPECT_EQ(flows->size(), per_exporter * exporters.size());
  for (const Exporter& e : exporters) {
    const std::vector<JsonRecord> got = where(*flows, "exporter", e.address);
    EXPECT_EQ(got.size(), per_exporter) << e.address;
    for (const JsonRecord& r : got) {
      ASSERT_EQ(r.at("device_sampling_rate"), std::to_string(e.rate)) << e.address;
      ASSERT_EQ(r.at("sampling_rate"), std::to_string(e.rate)) << e.address;
      ASSERT_EQ(r.at("flags"), "[]") << e.address;
      ASSERT_EQ(r.at("exporter_port"), std::to_string(e.data_socket->port())) << e.address;
    }
  }
}

}  // namespace
}  // namespace fathom::e2e
