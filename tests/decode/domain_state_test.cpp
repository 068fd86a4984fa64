// Per-domain decoder state, the unit the store keeps (Decoder::take_changed_domains,
// all_domains, apply_domain_state): change marks, newest-wins, hostile blobs.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "decode/decoder.h"
#include "decode/detail/template_state.h"
#include "template_packets.h"

namespace fathom::decode {
namespace {

using flow::FlowBatch;
using testing::FlowPacket;
using testing::kArrivalNs;
using testing::kExportSecs;

const flow::IpAddress kExporter = testing::test_context().exporter;

/// A v9 message of source id 3: a sampling options template and record (1 in 100), and a data
/// template 1024 (src, dst, bytes, first, last).
FlowPacket v9_templates() {
  auto v9 = FlowPacket::v9(600'000, kExportSecs, 3);
  v9.options_template_set(256, {{1, 4}}, {{34, 4}, {35, 1}});
  v9.begin_set(256).w.u32(0).u32(100).u8(1).zeros(3);
  v9.end_set();
  v9.template_set(1024, {{8, 4}, {12, 4}, {1, 4}, {22, 4}, {21, 4}});
  return v9;
}

/// A data-only v9 message of source id 3 for template 1024.
FlowPacket v9_data(uint32_t bytes) {
  auto v9 = FlowPacket::v9(600'000, kExportSecs, 3);
  v9.begin_set(1024).w.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).u32(bytes).u32(599'000).u32(599'500);
  v9.end_set();
  return v9;
}

/// An IPFIX message of domain 5 with data template 1025 (src, dst, bytes).
FlowPacket ipfix_templates() {
  auto p = FlowPacket::ipfix(kExportSecs, 5);
  p.template_set(1025, {{8, 4}, {12, 4}, {1, 4}});
  return p;
}

std::vector<DomainState> take(Decoder& d) {
  std::vector<DomainState> out;
  d.take_changed_domains(out);
  std::sort(out.begin(), out.end(),
            [](const DomainState& a, const DomainState& b) { return a.domain < b.domain; });
  return out;
}

const TemplateState* templates_of(const Decoder& d, const flow::IpAddress& addr = kExporter) {
  const TemplateState* out = nullptr;
  d.for_each_exporter([&](const ExporterState& e) {
    if (e.address == addr) out = e.templates.get();
  });
  return out;
}

size_t exporter_count(const Decoder& d) {
  size_t n = 0;
  d.for_each_exporter([&](const ExporterState&) { ++n; });
  return n;
}

TEST(DomainState, OnlyRealChangesAreTakenAndAnotherDecoderDecodesWithThem) {
  Decoder first;
  FlowBatch out;
  auto v9 = v9_templates();
  ASSERT_EQ(testing::feed(first, v9, out), DecodeStatus::kOk);
  auto ipfix = ipfix_templates();
  ASSERT_EQ(testing::feed(first, ipfix, out, kArrivalNs + 5), DecodeStatus::kOk);

  const std::vector<DomainState> changed = take(first);
  ASSERT_EQ(changed.size(), 2u);
  EXPECT_EQ(changed[0].exporter, kExporter);
  EXPECT_EQ(changed[0].domain, 3u);
  EXPECT_EQ(changed[0].changed_ns, kArrivalNs);
  EXPECT_EQ(changed[1].domain, 5u);
  EXPECT_EQ(changed[1].changed_ns, kArrivalNs + 5);
  EXPECT_TRUE(take(first).empty());

  // The exporter re-announces the same templates and rate: nothing to save.
  auto again = v9_templates();
  ASSERT_EQ(testing::feed(first, again, out, kArrivalNs + 10), DecodeStatus::kOk);
  EXPECT_TRUE(take(first).empty());
  // A different rate is a change.
  auto rate = FlowPacket::v9(600'000, kExportSecs, 3);
  rate.begin_set(256).w.u32(0).u32(1000).u8(1).zeros(3);
  rate.end_set();
  ASSERT_EQ(testing::feed(first, rate, out, kArrivalNs + 20), DecodeStatus::kOk);
  const std::vector<DomainState> rate_change = take(first);
  ASSERT_EQ(rate_change.size(), 1u);
  EXPECT_EQ(rate_change[0].domain, 3u);
  EXPECT_EQ(rate_change[0].changed_ns, kArrivalNs + 20);

  std::vector<DomainState> all;
  first.all_domains(all);
  EXPECT_EQ(all.size(), 2u);

  // A decoder that never saw a template decodes data records at once.
  Decoder second;
  for (const DomainState& d : all) {
    EXPECT_EQ(second.apply_domain_state(d.exporter, d.domain, d.blob, d.changed_ns),
              ApplyStatus::kApplied);
  }
  EXPECT_TRUE(take(second).empty()) << "restored state is not a change to save again";
  FlowBatch restored;
  auto data = v9_data(1500);
  ASSERT_EQ(testing::feed(second, data, restored), DecodeStatus::kOk);
  ASSERT_EQ(restored.size(), 1u);
  EXPECT_EQ(restored[0].bytes, 1500u);
  EXPECT_EQ(restored[0].device_sampling_rate, 1000u);
  auto ipfix_data = FlowPacket::ipfix(kExportSecs, 5);
  ipfix_data.begin_set(1025).w.ipv4(10, 0, 0, 3).ipv4(10, 0, 0, 4).u32(77);
  ipfix_data.end_set();
  ASSERT_EQ(testing::feed(second, ipfix_data, restored), DecodeStatus::kOk);
  ASSERT_EQ(restored.size(), 2u);
  EXPECT_EQ(restored[1].bytes, 77u);
  EXPECT_EQ(testing::stats_of(second).templates_active, 3u);
}

TEST(DomainState, ALaterTemplateWinsOverAnOlderBlob) {
  Decoder first;
  FlowBatch out;
  auto v9 = v9_templates();
  ASSERT_EQ(testing::feed(first, v9, out, kArrivalNs), DecodeStatus::kOk);
  const std::vector<DomainState> saved = take(first);
  ASSERT_EQ(saved.size(), 1u);

  // `second` learned template 1024 of domain 3 with another layout, later than the blob.
  Decoder second;
  auto newer = FlowPacket::v9(600'000, kExportSecs, 3);
  newer.template_set(1024, {{1, 4}, {8, 4}, {12, 4}, {22, 4}, {21, 4}});
  ASSERT_EQ(testing::feed(second, newer, out, kArrivalNs + 1), DecodeStatus::kOk);
  EXPECT_EQ(second.apply_domain_state(kExporter, 3, saved[0].blob, saved[0].changed_ns),
            ApplyStatus::kOlder);
  FlowBatch records;
  auto data = FlowPacket::v9(600'000, kExportSecs, 3);
  data.begin_set(1024).w.u32(42).ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).u32(599'000).u32(599'500);
  data.end_set();
  ASSERT_EQ(testing::feed(second, data, records), DecodeStatus::kOk);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].bytes, 42u);  // its own layout: bytes first

  // A blob newer than what `second` holds replaces it (and its rate comes along).
  EXPECT_EQ(second.apply_domain_state(kExporter, 3, saved[0].blob, kArrivalNs + 2),
            ApplyStatus::kApplied);
  records.clear();
  auto old_layout = v9_data(1500);
  ASSERT_EQ(testing::feed(second, old_layout, records), DecodeStatus::kOk);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].bytes, 1500u);
  EXPECT_EQ(records[0].device_sampling_rate, 100u);
  // And a template on the wire after that wins again, as a change to save.
  auto newest = FlowPacket::v9(600'000, kExportSecs, 3);
  newest.template_set(1024, {{1, 4}, {8, 4}, {12, 4}, {22, 4}, {21, 4}});
  ASSERT_EQ(testing::feed(second, newest, out, kArrivalNs + 3), DecodeStatus::kOk);
  const std::vector<DomainState> changed = take(second);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].changed_ns, kArrivalNs + 3);
}

TEST(DomainState, CorruptTruncatedOrForeignBlobsChangeNothing) {
  Decoder first;
  FlowBatch out;
  auto v9 = v9_templates();
  ASSERT_EQ(testing::feed(first, v9, out), DecodeStatus::kOk);
  auto ipfix = ipfix_templates();
  ASSERT_EQ(testing::feed(first, ipfix, out), DecodeStatus::kOk);
  const std::vector<DomainState> saved = take(first);
  ASSERT_EQ(saved.size(), 2u);
  const std::vector<std::byte>& blob = saved[0].blob;  // domain 3

  Decoder second;
  const flow::IpAddress other = flow::IpAddress::from_v4(0xC0000209);
  for (size_t len = 0; len < blob.size(); ++len) {
    const std::span<const std::byte> cut(blob.data(), len);
    EXPECT_EQ(second.apply_domain_state(other, 3, cut, 1), ApplyStatus::kCorrupt) << len;
  }
  std::vector<std::byte> longer = blob;
  longer.push_back(std::byte{0});
  EXPECT_EQ(second.apply_domain_state(other, 3, longer, 1), ApplyStatus::kCorrupt);
  std::vector<std::byte> bad_version = blob;
  bad_version[1] = std::byte{99};
  EXPECT_EQ(second.apply_domain_state(other, 3, bad_version, 1), ApplyStatus::kCorrupt);
  // Domain 5's blob stored under domain 3's key.
  EXPECT_EQ(second.apply_domain_state(other, 3, saved[1].blob, 1), ApplyStatus::kCorrupt);
  EXPECT_EQ(exporter_count(second), 0u) << "a refused blob must not take an exporter slot";

  // Refused for an exporter that has state: that state is untouched.
  ASSERT_EQ(second.apply_domain_state(other, 3, blob, 1), ApplyStatus::kApplied);
  EXPECT_EQ(second.apply_domain_state(other, 3, std::span(blob.data(), 7), 2),
            ApplyStatus::kCorrupt);
  ASSERT_NE(templates_of(second, other), nullptr);
  EXPECT_EQ(templates_of(second, other)->cache.size(), 2u);
}

TEST(DomainState, FullExporterTableIsNoRoom) {
  Config config;
  config.max_exporters = 1;
  Decoder first;
  FlowBatch out;
  auto v9 = v9_templates();
  ASSERT_EQ(testing::feed(first, v9, out), DecodeStatus::kOk);
  const std::vector<DomainState> saved = take(first);
  ASSERT_EQ(saved.size(), 1u);
  Decoder second(config);
  EXPECT_EQ(second.apply_domain_state(kExporter, 3, saved[0].blob, 1), ApplyStatus::kApplied);
  EXPECT_EQ(second.apply_domain_state(flow::IpAddress::from_v4(7), 3, saved[0].blob, 1),
            ApplyStatus::kNoRoom);
}

TEST(DomainState, WithdrawalIsAChangeAndItsBlobRemovesTheTemplates) {
  Decoder first;
  FlowBatch out;
  auto ipfix = ipfix_templates();
  ASSERT_EQ(testing::feed(first, ipfix, out), DecodeStatus::kOk);
  std::vector<DomainState> all;
  first.all_domains(all);
  take(first);

  Decoder second;
  ASSERT_EQ(second.apply_domain_state(kExporter, 5, all[0].blob, 1), ApplyStatus::kApplied);
  // RFC 7011 §8.1: a template record with no fields withdraws template 1025.
  auto withdraw = FlowPacket::ipfix(kExportSecs, 5);
  withdraw.begin_set(2).w.u16(1025).u16(0);
  withdraw.end_set();
  ASSERT_EQ(testing::feed(first, withdraw, out, kArrivalNs + 9), DecodeStatus::kOk);
  const std::vector<DomainState> changed = take(first);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].changed_ns, kArrivalNs + 9);
  ASSERT_EQ(second.apply_domain_state(kExporter, 5, changed[0].blob, changed[0].changed_ns),
            ApplyStatus::kApplied);
  EXPECT_EQ(templates_of(second)->cache.size(), 0u);
}

TEST(DomainState, StateFileDomainsTakeTheFilesTime) {
  const std::string path =
      (std::filesystem::path(::testing::TempDir()) / "domain_state_file").string();
  {
    Decoder first;
    FlowBatch out;
    auto v9 = v9_templates();
    ASSERT_EQ(testing::feed(first, v9, out), DecodeStatus::kOk);
    std::string error;
    ASSERT_TRUE(first.save_state(path, error)) << error;
  }
  Decoder second;
  std::string error;
  ASSERT_TRUE(second.load_state(path, error)) << error;
  EXPECT_TRUE(take(second).empty());
  std::vector<DomainState> all;
  second.all_domains(all);
  ASSERT_EQ(all.size(), 1u);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(all[0].changed_ns, int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec);
  std::filesystem::remove(path);
}

TEST(DomainState, ChangeMarksStayBoundedWhenDomainsCycle) {
  Config config;
  config.max_templates_per_exporter = 8;
  Decoder decoder(config);
  FlowBatch out;
  // A spoofer announcing a template in a new domain each time: evictions leave at most 8
  // domains with state, and the change table never outgrows its cap.
  const uint32_t rounds = static_cast<uint32_t>(TemplateState::kMaxTrackedDomains) + 500;
  for (uint32_t domain = 0; domain < rounds; ++domain) {
    auto p = FlowPacket::ipfix(kExportSecs, domain);
    p.template_set(1025, {{8, 4}, {12, 4}, {1, 4}});
    ASSERT_EQ(testing::feed(decoder, p, out), DecodeStatus::kOk);
  }
  ASSERT_NE(templates_of(decoder), nullptr);
  EXPECT_LE(templates_of(decoder)->changes.size(), TemplateState::kMaxTrackedDomains);
  // The newest domain was still tracked (entries of evicted domains made room).
  std::vector<DomainState> changed;
  decoder.take_changed_domains(changed);
  EXPECT_TRUE(std::any_of(changed.begin(), changed.end(),
                          [&](const DomainState& d) { return d.domain == rounds - 1; }));
}

}  // namespace
}  // namespace fathom::decode
