// Decoder state in the store (app/decoder_state.h): keys, save through a StoreWriter, restore
// into a decoder that never saw a template, corrupt rows, and the later change winning between
// two collectors on one database.

#include "app/decoder_state.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "app/temp_dir.h"
#include "decode/template_packets.h"
#include "store/store.h"
#include "store/writer.h"

namespace fathom::app {
namespace {

using decode::Decoder;
using decode::DecodeStatus;
using fathom::testing::FlowPacket;
using fathom::testing::kArrivalNs;
using fathom::testing::kExportSecs;
using flow::FlowBatch;

const flow::IpAddress kExporter = fathom::testing::test_context().exporter;  // 192.0.2.1

/// v9 source id 3: sampling options (1 in 100) and data template 1024 (src, dst, bytes,
/// first, last).
FlowPacket v9_templates() {
  auto v9 = FlowPacket::v9(600'000, kExportSecs, 3);
  v9.options_template_set(256, {{1, 4}}, {{34, 4}, {35, 1}});
  v9.begin_set(256).w.u32(0).u32(100).u8(1).zeros(3);
  v9.end_set();
  v9.template_set(1024, {{8, 4}, {12, 4}, {1, 4}, {22, 4}, {21, 4}});
  return v9;
}

/// The same template id with bytes first: what another collector may have learned later.
FlowPacket v9_bytes_first() {
  auto v9 = FlowPacket::v9(600'000, kExportSecs, 3);
  v9.template_set(1024, {{1, 4}, {8, 4}, {12, 4}, {22, 4}, {21, 4}});
  return v9;
}

/// A data-only message for template 1024 of source id 3; the first field is 1500.
FlowPacket v9_data() {
  auto v9 = FlowPacket::v9(600'000, kExportSecs, 3);
  v9.begin_set(1024).w.u32(1500).ipv4(10, 0, 0, 2).u32(1500).u32(599'000).u32(599'500);
  v9.end_set();
  return v9;
}

/// An IPFIX template of domain 5 (src, dst, bytes) and a data message for it.
FlowPacket ipfix_template() {
  auto p = FlowPacket::ipfix(kExportSecs, 5);
  p.template_set(1025, {{8, 4}, {12, 4}, {1, 4}});
  return p;
}
FlowPacket ipfix_data() {
  auto p = FlowPacket::ipfix(kExportSecs, 5);
  p.begin_set(1025).w.ipv4(10, 0, 0, 3).ipv4(10, 0, 0, 4).u32(77);
  p.end_set();
  return p;
}

struct Store {
  explicit Store(const std::string& name) : dir(name) {
    options.url = "sqlite:" + dir.path + "/fathom.db";
  }
  std::unique_ptr<store::StoreWriter> writer() {
    std::string error;
    auto w = store::StoreWriter::start(options, store::StoreWriterOptions{}, error);
    EXPECT_NE(w, nullptr) << error;
    return w;
  }
  std::unique_ptr<store::Database> db() {
    std::string error;
    auto d = store::open_database(options, error);
    EXPECT_NE(d, nullptr) << error;
    return d;
  }
  std::vector<store::StateEntry> rows() {
    auto database = db();
    if (!database) return {};
    auto [status, out] = read_decoder_states(*database);
    EXPECT_TRUE(status.ok) << status.error;
    return out;
  }
  testing::TempDir dir;
  store::StoreOptions options;
};

/// Saves `decoder`'s changes through a fresh writer on `store` and waits until committed.
void save_changes(Store& s, Decoder& decoder, DecoderStateCounters& counters) {
  auto writer = s.writer();
  ASSERT_NE(writer, nullptr);
  DecoderStateSaver saver(*writer, counters);
  saver.tick(decoder, 1);
  ASSERT_TRUE(writer->flush(std::chrono::seconds(20)));
  writer->stop();
}

TEST(DecoderStateKey, RoundTripsAndRefusesEverythingElse) {
  flow::IpAddress addr;
  uint32_t domain = 0;
  EXPECT_EQ(decoder_state_key(kExporter, 3), "decoder/192.0.2.1/3");
  ASSERT_TRUE(parse_decoder_state_key("decoder/192.0.2.1/3", addr, domain));
  EXPECT_EQ(addr, kExporter);
  EXPECT_EQ(domain, 3u);
  const flow::IpAddress v6 = *flow::IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(parse_decoder_state_key(decoder_state_key(v6, 4294967295u), addr, domain));
  EXPECT_EQ(addr, v6);
  EXPECT_EQ(domain, 4294967295u);
  for (const char* bad :
       {"ai", "decoder/", "decoder/192.0.2.1", "decoder/192.0.2.1/", "decoder/192.0.2.1/x",
        "decoder/192.0.2.1/4294967296", "decoder/192.0.2.1/-1", "decoder/192.0.2.1/+1",
        "decoder/192.0.2.1/3 ", "decoder/192.0.2.300/0", "decoder/192.0.2.1/5/6", "decoder//0",
        "Decoder/192.0.2.1/0", "decoder/192.0.2.1/00000000001"}) {
    EXPECT_FALSE(parse_decoder_state_key(bad, addr, domain)) << bad;
  }
}

TEST(DecoderState, SavedByOneDecoderRestoredIntoOneThatNeverSawATemplate) {
  Store s("decoder-state-roundtrip");
  DecoderStateCounters counters;
  {
    Decoder first;
    FlowBatch out;
    auto v9 = v9_templates();
    ASSERT_EQ(fathom::testing::feed(first, v9, out), DecodeStatus::kOk);
    auto ipfix = ipfix_template();
    ASSERT_EQ(fathom::testing::feed(first, ipfix, out), DecodeStatus::kOk);
    save_changes(s, first, counters);
  }
  EXPECT_EQ(snapshot(counters).saved, 2u);
  const std::vector<store::StateEntry> rows = s.rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].tenant_id, kCollectorTenant);
  EXPECT_EQ(rows[0].key, "decoder/192.0.2.1/3");
  EXPECT_EQ(rows[0].updated_ns, kArrivalNs);  // when the template arrived, not when saved
  EXPECT_EQ(rows[1].key, "decoder/192.0.2.1/5");

  Decoder second;
  apply_decoder_states(rows, second, {}, counters);
  EXPECT_EQ(snapshot(counters).restored, 2u);
  FlowBatch records;
  auto data = v9_data();
  ASSERT_EQ(fathom::testing::feed(second, data, records), DecodeStatus::kOk);
  auto data5 = ipfix_data();
  ASSERT_EQ(fathom::testing::feed(second, data5, records), DecodeStatus::kOk);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].src, flow::IpAddress::from_v4(1500));  // first field: the source
  EXPECT_EQ(records[0].bytes, 1500u);
  EXPECT_EQ(records[0].device_sampling_rate, 100u);  // the options record's rate came along
  EXPECT_EQ(records[1].bytes, 77u);
  EXPECT_EQ(fathom::testing::stats_of(second).reason(DecodeStatus::kUnknownTemplate), 0u);

  // `keep` restricts a decoder to its own exporters (one receive thread each).
  Decoder elsewhere;
  apply_decoder_states(
      rows, elsewhere, [](const flow::IpAddress&) { return false; }, counters);
  FlowBatch none;
  auto again = v9_data();
  EXPECT_EQ(fathom::testing::feed(elsewhere, again, none), DecodeStatus::kUnknownTemplate);
}

TEST(DecoderState, CorruptRowsAreCountedAndIgnored) {
  Store s("decoder-state-corrupt");
  DecoderStateCounters counters;
  Decoder first;
  FlowBatch out;
  auto v9 = v9_templates();
  ASSERT_EQ(fathom::testing::feed(first, v9, out), DecodeStatus::kOk);
  save_changes(s, first, counters);
  const std::string good = s.rows().at(0).value;
  {
    auto db = s.db();
    ASSERT_NE(db, nullptr);
    const auto put = [&](uint32_t tenant, const std::string& key, const std::string& value) {
      const store::StoreStatus st = db->put_state(tenant, key, value, 5);
      ASSERT_TRUE(st.ok) << st.error;
    };
    put(kCollectorTenant, "decoder/192.0.2.7/3", good.substr(0, good.size() / 2));  // truncated
    put(kCollectorTenant, "decoder/192.0.2.8/3", std::string("\0\0garbage", 9));
    put(kCollectorTenant, "decoder/192.0.2.9/4", good);  // domain 3's blob under domain 4
    put(kCollectorTenant, "decoder/not-an-address/3", good);
    put(kCollectorTenant, "decoder/192.0.2.10/", good);
    put(kCollectorTenant, "other/thing", good);  // not decoder state: not read
    put(1, "decoder/192.0.2.11/3", good);        // a tenant's row: not read
  }
  const std::vector<store::StateEntry> rows = s.rows();
  ASSERT_EQ(rows.size(), 6u);
  Decoder second;
  apply_decoder_states(rows, second, {}, counters);
  const DecoderStateStats st = snapshot(counters);
  EXPECT_EQ(st.restored, 1u);
  EXPECT_EQ(st.corrupt, 5u);
  size_t exporters = 0;
  second.for_each_exporter([&](const decode::ExporterState&) { ++exporters; });
  EXPECT_EQ(exporters, 1u) << "corrupt rows must not create exporters";
  FlowBatch records;
  auto data = v9_data();
  ASSERT_EQ(fathom::testing::feed(second, data, records), DecodeStatus::kOk);
  EXPECT_EQ(records.size(), 1u);
}

TEST(DecoderState, TwoCollectorsOnOneStoreTheLaterTemplateWins) {
  Store s("decoder-state-two");
  DecoderStateCounters counters;
  // Collector B hears the exporter now (bytes-first layout, arrived later); collector A still
  // holds the layout it learned before the load balancer moved the exporter away.
  Decoder a;
  Decoder b;
  FlowBatch out;
  auto old_layout = v9_templates();
  ASSERT_EQ(fathom::testing::feed(a, old_layout, out, kArrivalNs), DecodeStatus::kOk);
  auto new_layout = v9_bytes_first();
  ASSERT_EQ(fathom::testing::feed(b, new_layout, out, kArrivalNs + 1'000'000'000),
            DecodeStatus::kOk);
  save_changes(s, b, counters);
  // A saves after B (its periodic full save, or its stop): its older copy must not win.
  {
    auto writer = s.writer();
    ASSERT_NE(writer, nullptr);
    DecoderStateSaver saver(*writer, counters);
    saver.save_all(a);
    ASSERT_TRUE(writer->flush(std::chrono::seconds(20)));
  }
  const std::vector<store::StateEntry> rows = s.rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].updated_ns, kArrivalNs + 1'000'000'000);

  Decoder replacement;
  apply_decoder_states(rows, replacement, {}, counters);
  FlowBatch records;
  auto data = v9_data();
  ASSERT_EQ(fathom::testing::feed(replacement, data, records), DecodeStatus::kOk);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].bytes, 1500u);
  EXPECT_EQ(records[0].src, flow::IpAddress::from_v4(0x0a000002));  // B's layout

  // A decoder that already holds a later change (here: from a template on the wire, or its
  // state file) keeps it over an older row.
  Decoder newer;
  auto newest = v9_templates();
  ASSERT_EQ(fathom::testing::feed(newer, newest, out, kArrivalNs + 2'000'000'000),
            DecodeStatus::kOk);
  const uint64_t older_before = snapshot(counters).older;
  apply_decoder_states(rows, newer, {}, counters);
  EXPECT_EQ(snapshot(counters).older, older_before + 1);
}

TEST(DecoderState, RefusedHandOversWaitAndKeepOnlyTheLatestPerDomain) {
  Store s("decoder-state-refused");
  DecoderStateCounters counters;
  auto writer = s.writer();
  ASSERT_NE(writer, nullptr);
  writer->stop();  // a stopped writer refuses every submit, as a full queue does
  DecoderStateSaver saver(*writer, counters, {0, INT64_MAX});
  Decoder decoder;
  FlowBatch out;
  auto v9 = v9_templates();
  ASSERT_EQ(fathom::testing::feed(decoder, v9, out), DecodeStatus::kOk);
  saver.tick(decoder, 1);
  EXPECT_EQ(saver.pending(), 1u);
  EXPECT_EQ(snapshot(counters).refused, 1u);
  EXPECT_EQ(snapshot(counters).saved, 0u);
  auto changed = v9_bytes_first();
  ASSERT_EQ(fathom::testing::feed(decoder, changed, out, kArrivalNs + 1), DecodeStatus::kOk);
  saver.tick(decoder, 2);
  EXPECT_EQ(saver.pending(), 1u) << "a newer state of the same domain replaces the waiting one";
  EXPECT_EQ(snapshot(counters).refused, 2u);
}

}  // namespace
}  // namespace fathom::app
