// Issue 5 "Proof", hostile input: random bytes, truncated datagrams, every length from 0 to 64,
// 65507-byte datagrams, a template flood and malformed templates from one exporter, and a
// spoofed exporter, all interleaved with a well-behaved exporter's real IPFIX export. The
// collector stays up and healthy, the flooder holds at most its template budget, every
// problem is counted under its reason, the spoofed records are rejected, and the
// well-behaved exporter's records are exactly those `fathom decode` finds in its capture.

#include <signal.h>

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "decode/template_packets.h"
#include "e2e/export_packets.h"
#include "e2e/fathom_process.h"
#include "e2e/udp_sender.h"

namespace fathom::e2e {
namespace {

using testing::FlowPacket;

constexpr uint32_t kMaxTemplates = 64;
constexpr uint16_t kFloodTemplates = 5000;
constexpr uint16_t kTemplatesPerMessage = 100;

// .41 behaves, .42 floods templates, .43 sends garbage; all three belong to a tenant, so
// hostile input from a *known* exporter goes all the way through. .66 is not listed: a
// spoofer of valid packets.
constexpr char kConfig[] = R"(decode:
  max_templates_per_exporter: 64
transform:
  unknown_exporters: reject
tenants:
  - id: 1
    name: acme
    exporters: [127.0.0.41, 127.0.0.42, 127.0.0.43]
)";

Payload to_payload(FlowPacket& p) {
  const std::span<const std::byte> bytes = p.bytes();
  return Payload(bytes.begin(), bytes.end());
}

Payload random_bytes(std::mt19937& rng, size_t size) {
  Payload p(size);
  for (std::byte& b : p) b = std::byte(rng() & 0xff);
  return p;
}

/// Malformed template messages, one per reason they should be counted under.
std::vector<std::pair<std::string, Payload>> malformed_templates() {
  std::vector<std::pair<std::string, Payload>> out;
  {  // RFC 7011 §3.4.2.2: an options template's scope field count must not be zero.
    FlowPacket p = FlowPacket::ipfix(kExportSecs, 1);
    p.begin_set(3);
    p.w.u16(400).u16(2).u16(0).u16(149).u16(4).u16(34).u16(4);
    p.end_set();
    out.emplace_back("bad_template", to_payload(p));
  }
  {  // A 3-byte IPv4 address.
    FlowPacket p = FlowPacket::ipfix(kExportSecs, 1);
    p.template_set(401, {{8, 3}, {1, 8}});
    out.emplace_back("bad_field_length", to_payload(p));
  }
  {  // More fields than any template may have (kMaxFieldsPerTemplate = 512).
    FlowPacket p = FlowPacket::ipfix(kExportSecs, 1);
    p.begin_set(2);
    p.w.u16(402).u16(600);
    for (uint16_t idx = 0; idx < 600; ++idx) p.w.u16(210).u16(4);  // paddingOctets
    p.end_set();
    out.emplace_back("template_too_large", to_payload(p));
  }
  {  // A set whose length runs past the message.
    FlowPacket p = FlowPacket::ipfix(kExportSecs, 1);
    p.template_set(403, {{8, 4}, {1, 8}});
    Payload bytes = to_payload(p);
    bytes[16 + 2] = std::byte{0x7f};  // set length high byte
    out.emplace_back("bad_set_length", std::move(bytes));
  }
  {  // A message length larger than the datagram.
    FlowPacket p = FlowPacket::ipfix(kExportSecs, 1);
    p.template_set(404, {{8, 4}, {1, 8}});
    Payload bytes = to_payload(p);
    bytes[2] = std::byte{0xff};
    out.emplace_back("bad_message_length", std::move(bytes));
  }
  return out;
}

uint64_t rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

TEST(HostileInput, CollectorStaysUpAndOtherExportersAreUnaffected) {
  if (!have_captures()) GTEST_SKIP() << "reference captures missing: " << capture_path("");
  TempDir dir;
  std::string error;
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);

  // The well-behaved exporter: the IPFIX reference capture, and what `fathom decode` finds.
  const std::string good_capture = capture_path("ipfix_sampled100.pcap");
  auto good = capture_payloads(good_capture, error);
  ASSERT_TRUE(good) << error;
  const auto good_expected = fathom_decode(good_capture, dir, error);
  ASSERT_TRUE(good_expected) << error;

  // Garbage from .43: random bytes, real datagrams of every protocol cut short, every
  // length 0..64 of them, and three maximum-size datagrams.
  std::vector<Payload> garbage;
  garbage.reserve(1000);
  for (int idx = 0; idx < 200; ++idx) garbage.push_back(random_bytes(rng, 1 + rng() % 1500));
  std::vector<Payload> real;
  for (const char* name : {"netflow_v5_sampled100.pcap", "netflow_v9_sampled100.pcap",
                           "ipfix_sampled100.pcap", "sflow_sampled100.pcap"}) {
    auto p = capture_payloads(capture_path(name), error);
    ASSERT_TRUE(p) << error;
    real.insert(real.end(), p->begin(), p->begin() + 3);
  }
  for (const Payload& p : real) {
    for (size_t len = 0; len <= 64 && len < p.size(); ++len) {
      garbage.emplace_back(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(len));
    }
    for (int cut = 0; cut < 8; ++cut) {
      const size_t len = 65 + rng() % (p.size() - 65);
      garbage.emplace_back(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(len));
    }
  }
  constexpr size_t kMaxUdpPayload = 65507;
  garbage.push_back(random_bytes(rng, kMaxUdpPayload));
  {  // An IPFIX header that claims all of it, then one data set of an unknown template.
    Payload big = random_bytes(rng, kMaxUdpPayload);
    const uint8_t head[] = {0, 10, 0xff, 0xe3, 0x65, 0xa5, 0x06, 0x94, 0,    0,
                            0, 1,  0,    0,    0,    9,    0x04, 0x00, 0xff, 0xd3};
    for (size_t idx = 0; idx < sizeof(head); ++idx) big[idx] = std::byte{head[idx]};
    garbage.push_back(std::move(big));
  }
  {  // A NetFlow v9 header followed by one flowset of random bytes filling the datagram.
    Payload big = random_bytes(rng, kMaxUdpPayload);
    const uint8_t head[] = {0, 9, 0, 1, 0, 0, 0, 1, 0x65, 0xa5, 0x06, 0x94,
                            0, 0, 0, 1, 0, 0, 0, 9, 0x01, 0x00, 0xff, 0xcf};
    for (size_t idx = 0; idx < sizeof(head); ++idx) big[idx] = std::byte{head[idx]};
    garbage.push_back(std::move(big));
  }

  // The flood from .42: 5000 distinct template ids, then the malformed ones.
  std::vector<Payload> flood;
  for (uint16_t first = 256; first < 256 + kFloodTemplates; first += kTemplatesPerMessage) {
    flood.push_back(ipfix_template_flood_message(1, first, kTemplatesPerMessage));
  }
  const auto malformed = malformed_templates();
  for (const auto& [reason, payload] : malformed) flood.push_back(payload);

  // The spoofer .66: real NetFlow v5, from an address no tenant lists.
  const V5Packets spoofed = netflow_v5_packets(30, error);
  ASSERT_FALSE(spoofed.payloads.empty()) << error;

  FathomOptions options;
  options.config_path = dir.write("fathom.yaml", kConfig);
  options.flows_path = dir.file("flows.jsonl");
  auto fathom = FathomRun::start(options, error);
  ASSERT_TRUE(fathom) << error;
  auto good_sender = UdpSender::open("127.0.0.41", 0, error);
  auto flood_sender = UdpSender::open("127.0.0.42", 0, error);
  auto garbage_sender = UdpSender::open("127.0.0.43", 0, error);
  auto spoof_sender = UdpSender::open("127.0.0.66", 0, error);
  ASSERT_TRUE(good_sender && flood_sender && garbage_sender && spoof_sender) << error;

  // The good exporter's first datagram (templates, sampling options) arrives first; then all
  // four interleave.
  ASSERT_TRUE(fathom->send(*good_sender, good->front()));
  ASSERT_TRUE(fathom->wait_received());
  const size_t rounds =
      std::max({good->size(), flood.size(), garbage.size(), spoofed.payloads.size()});
  for (size_t idx = 0; idx < rounds; ++idx) {
    bool ok = true;
    if (idx + 1 < good->size()) ok &= fathom->send(*good_sender, (*good)[idx + 1]);
    if (idx < flood.size()) ok &= fathom->send(*flood_sender, flood[idx]);
    if (idx < garbage.size()) {
      // A datagram near 64 KiB charges more than that to the receive buffer (its truesize);
      // with the common 208 KiB net.core.rmem_max a few queued ones would overflow it, so
      // each goes in alone.
      if (garbage[idx].size() > 16384) ok &= fathom->wait_received();
      ok &= fathom->send(*garbage_sender, garbage[idx]);
    }
    if (idx < spoofed.payloads.size()) ok &= fathom->send(*spoof_sender, spoofed.payloads[idx]);
    ASSERT_TRUE(ok) << "round " << idx << "\n" << fathom->process().output();
  }
  const auto snap = fathom->wait_all_decoded();
  ASSERT_TRUE(snap) << "sent " << fathom->sent() << "\n" << fathom->process().output();

  // Up and healthy.
  ASSERT_TRUE(fathom->process().running()) << fathom->process().output();
  const auto health = http_get(fathom->metrics_port(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body.rfind("ok", 0), 0u) << health->body;
  EXPECT_EQ(snap->sum("fathom_collect_kernel_drops_total"), 0);
  EXPECT_EQ(snap->sum("fathom_collect_truncated_total"), 0);
  EXPECT_TRUE(snap->bad_lines().empty()) << snap->bad_lines().front();
  const uint64_t rss = rss_kib(fathom->process().pid());
  RecordProperty("rss_kib", std::to_string(rss));
  EXPECT_LT(rss, 512u * 1024) << "RSS " << rss << " KiB after the flood";

  // The flooder holds at most its budget; evictions and each malformed template counted.
  const Labels flooder = {{"exporter", "127.0.0.42"}};
  const double templates = snap->sum("fathom_exporter_templates", flooder);
  EXPECT_GT(templates, 0);
  EXPECT_LE(templates, kMaxTemplates) << snap->text();
  EXPECT_GE(snap->sum("fathom_exporter_problems_total",
                      {{"exporter", "127.0.0.42"}, {"reason", "template_evicted"}}) +
                snap->sum("fathom_exporter_problems_total",
                          {{"exporter", "127.0.0.42"}, {"reason", "too_many_templates"}}),
            kFloodTemplates - kMaxTemplates)
      << snap->text();
  for (const auto& [reason, payload] : malformed) {
    EXPECT_GE(snap->sum("fathom_exporter_problems_total",
                        {{"exporter", "127.0.0.42"}, {"reason", reason}}),
              1)
        << reason << "\n"
        << snap->text();
  }
  // The garbage is counted, under reasons, on its exporter.
  const Labels garbler = {{"exporter", "127.0.0.43"}};
  EXPECT_EQ(snap->sum("fathom_exporter_packets_total", garbler), garbage.size());
  EXPECT_GE(snap->sum("fathom_exporter_problems_total",
                      {{"exporter", "127.0.0.43"}, {"reason", "truncated"}}),
            65)
      << snap->text();
  EXPECT_GE(snap->sum("fathom_exporter_problems_total",
                      {{"exporter", "127.0.0.43"}, {"reason", "unknown_protocol"}}),
            100)
      << snap->text();
  // The well-behaved exporter: nothing wrong, every record.
  const RecordTotals good_totals = totals_of(*good_expected);
  const Labels good_exporter = {{"exporter", "127.0.0.41"}};
  EXPECT_EQ(snap->sum("fathom_exporter_problems_total", good_exporter), 0) << snap->text();
  EXPECT_EQ(snap->sum("fathom_exporter_records_total", good_exporter), good_totals.flows);
  EXPECT_EQ(snap->sum("fathom_exporter_records_rejected_total", good_exporter), 0);
  // The spoofer: decoded, counted, rejected.
  EXPECT_EQ(snap->sum("fathom_exporter_records_rejected_total", {{"exporter", "127.0.0.66"}}),
            spoofed.records)
      << snap->text();

  ASSERT_EQ(fathom->stop(SIGTERM), 0) << fathom->process().output();
  const auto flows = read_jsonl(options.flows_path, error);
  ASSERT_TRUE(flows) << error;
  EXPECT_TRUE(where(*flows, "exporter", "127.0.0.66").empty());
  EXPECT_TRUE(where(*flows, "exporter", "127.0.0.42").empty());
  const std::vector<JsonRecord> got = where(*flows, "exporter", "127.0.0.41");
  EXPECT_EQ(totals_of(got), good_totals);
  EXPECT_EQ(where(got, "tenant_id", "1").size(), got.size());
  EXPECT_TRUE(comparable_records(got) == comparable_records(*good_expected))
      << "the well-behaved exporter's records differ from `fathom decode`";
}

}  // namespace
}  // namespace fathom::e2e
