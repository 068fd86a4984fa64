// Decoder state in the store (docs/storage.md "Decoder state"): a `fathom run` that learned
// templates saves them to its store; a fresh process on the same store, with no state file and
// another thread layout, decodes data records of templates it never received on the wire.

#include <signal.h>

#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "e2e/export_packets.h"
#include "e2e/fathom_process.h"
#include "e2e/udp_sender.h"

namespace fathom::e2e {
namespace {

constexpr uint16_t kTemplateId = 301;
constexpr uint32_t kRecordsPerMessage = 10;

struct Exporter {
  const char* address;
  uint32_t domain;
};
constexpr std::array<Exporter, 2> kExporters = {{{"127.0.0.41", 11}, {"127.0.0.43", 12}}};

std::string config(uint32_t receive_threads) {
  return "collect:\n  receive_threads: " + std::to_string(receive_threads) +
         "\ntransform:\n  unknown_exporters: reject\ntenants:\n  - id: 1\n    name: acme\n"
         "    exporters: [127.0.0.41, 127.0.0.43]\n";
}

/// Starts fathom on `data_dir`, sends each exporter's template (when `templates`) and one data
/// message, waits until all of it is decoded or parked, stops with SIGTERM.
MetricsSnapshot run_once(const TempDir& dir, const std::string& name, const std::string& data_dir,
                         uint32_t threads, bool templates, std::vector<JsonRecord>& flows) {
  std::string error;
  FathomOptions options;
  options.config_path = dir.write(name + ".yaml", config(threads));
  options.flows_path = dir.file(name + ".jsonl");
  options.data_dir = data_dir;
  auto fathom = FathomRun::start(options, error);
  if (!fathom) {
    ADD_FAILURE() << error;
    return {};
  }
  for (const Exporter& e : kExporters) {
    auto sender = UdpSender::open(e.address, 0, error);
    if (!sender) {
      ADD_FAILURE() << error;
      return {};
    }
    if (templates) {
      EXPECT_TRUE(fathom->send(*sender, ipfix_template_message(e.domain, kTemplateId)));
    }
    EXPECT_TRUE(
        fathom->send(*sender, ipfix_data_message(e.domain, kTemplateId, 0, kRecordsPerMessage)));
  }
  std::optional<MetricsSnapshot> snap = fathom->wait_all_decoded();
  EXPECT_TRUE(snap) << fathom->process().output();
  EXPECT_EQ(fathom->stop(SIGTERM), 0) << fathom->process().output();
  auto read = read_jsonl(options.flows_path, error);
  EXPECT_TRUE(read) << error;
  if (read) flows = std::move(*read);
  return snap ? *snap : MetricsSnapshot{};
}

TEST(StoreDecoderState, ARestartOnTheSameStoreDecodesDataWithoutTemplates) {
  TempDir dir;
  const std::string data_dir = dir.file("data");
  std::vector<JsonRecord> flows;

  const MetricsSnapshot first = run_once(dir, "first", data_dir, 1, true, flows);
  EXPECT_EQ(first.sum("fathom_transform_records_accepted_total"),
            kRecordsPerMessage * kExporters.size());
  EXPECT_EQ(first.sum("fathom_store_decoder_state_total", {{"event", "restored"}}), 0);

  // Another process, two receive threads, no state file: the templates come from the store.
  const MetricsSnapshot second = run_once(dir, "second", data_dir, 2, false, flows);
  EXPECT_EQ(second.sum("fathom_store_decoder_state_total", {{"event", "restored"}}),
            kExporters.size())
      << second.text();
  EXPECT_EQ(second.sum("fathom_store_decoder_state_total", {{"event", "corrupt"}}), 0);
  for (const Exporter& e : kExporters) {
    const Labels exporter = {{"exporter", e.address}};
    EXPECT_EQ(second.sum("fathom_exporter_records_total", exporter), kRecordsPerMessage)
        << second.text();
    EXPECT_EQ(second.sum("fathom_exporter_data_parked_total", exporter), 0);
    const std::vector<JsonRecord> got = where(flows, "exporter", e.address);
    ASSERT_EQ(got.size(), kRecordsPerMessage);
    RecordTotals want;
    for (uint32_t seq = 0; seq < kRecordsPerMessage; ++seq) {
      want.flows += 1;
      want.bytes += test_flow(seq).bytes;
      want.packets += test_flow(seq).packets;
    }
    EXPECT_EQ(totals_of(got), want);
  }

  // Control: a fresh store knows no template, so the same data waits for one.
  const MetricsSnapshot cold = run_once(dir, "cold", dir.file("other-data"), 1, false, flows);
  for (const Exporter& e : kExporters) {
    EXPECT_EQ(cold.sum("fathom_exporter_data_parked_total", {{"exporter", e.address}}), 1)
        << cold.text();
  }
  EXPECT_TRUE(flows.empty());
}

// The adaptive sampler's state across a restart: a tenant a flood pushed to a low keep
// probability is still at it when the next process starts, before any traffic, instead of
// starting at 1 (docs/adaptive-sampling.md "Across restarts").
std::string sampled_config() {
  // A long update interval: nothing but the surge rule moves p during the test, so what the
  // first process ends with does not depend on how fast the machine is.
  return "transform:\n  unknown_exporters: reject\n  sampling:\n    update_interval_seconds: 600\n"
         "    min_probability: 0.001\ntenants:\n  - id: 1\n    name: acme\n"
         "    exporters: [127.0.0.41]\n    target_ingest_rate: 10\n";
}

TEST(StoreSamplerState, ARestartKeepsTheTenantsKeepProbability) {
  TempDir dir;
  const std::string data_dir = dir.file("data");
  const Labels acme = {{"tenant", "acme"}};
  std::string error;
  double saved_p = 1.0;
  {
    FathomOptions options;
    options.config_path = dir.write("sampled.yaml", sampled_config());
    options.data_dir = data_dir;
    auto fathom = FathomRun::start(options, error);
    ASSERT_TRUE(fathom) << error;
    auto sender = UdpSender::open("127.0.0.41", 0, error);
    ASSERT_TRUE(sender) << error;
    ASSERT_TRUE(fathom->send(*sender, ipfix_template_message(11, kTemplateId)));
    // 10 000 records at once against a target of 10/s: beyond the surge threshold (surge
    // factor 4 x 10/s x a quarter interval = 6000), so the surge rule lowers p at once.
    for (uint32_t msg = 0; msg < 200; ++msg) {
      ASSERT_TRUE(fathom->send(*sender, ipfix_data_message(11, kTemplateId, msg * 50, 50)));
    }
    const auto low = fathom->wait_until([&](const MetricsSnapshot& m) {
      return m.sum("fathom_sampler_keep_probability", acme) < 0.5;
    });
    ASSERT_TRUE(low) << fathom->process().output();
    saved_p = low->sum("fathom_sampler_keep_probability", acme);
    ASSERT_EQ(fathom->stop(SIGTERM), 0) << fathom->process().output();
  }
  const auto start_and_read = [&](const std::string& dir_to_use) -> std::optional<MetricsSnapshot> {
    FathomOptions options;
    options.config_path = dir.file("sampled.yaml");
    options.data_dir = dir_to_use;
    auto fathom = FathomRun::start(options, error);
    if (!fathom) {
      ADD_FAILURE() << error;
      return std::nullopt;
    }
    std::optional<MetricsSnapshot> snap = fathom->metrics();
    EXPECT_EQ(fathom->stop(SIGTERM), 0) << fathom->process().output();
    return snap;
  };
  // No traffic yet: what the gauge shows is what was restored.
  const std::optional<MetricsSnapshot> restarted = start_and_read(data_dir);
  ASSERT_TRUE(restarted);
  EXPECT_EQ(restarted->sum("fathom_store_sampler_state_total", {{"event", "restored"}}), 1)
      << restarted->text();
  EXPECT_DOUBLE_EQ(restarted->sum("fathom_sampler_keep_probability", acme), saved_p)
      << restarted->text();
  // Control: a store without the state starts the tenant at 1.
  const std::optional<MetricsSnapshot> cold = start_and_read(dir.file("cold-data"));
  ASSERT_TRUE(cold);
  EXPECT_EQ(cold->sum("fathom_sampler_keep_probability", acme), 1);
  EXPECT_EQ(cold->sum("fathom_store_sampler_state_total", {{"event", "restored"}}), 0);
}

}  // namespace
}  // namespace fathom::e2e
