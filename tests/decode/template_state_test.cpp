// Template engine internals (compilation, LRU cache, pending buffer) and persistence of the
// template state through Decoder::save_state / load_state, with hostile state blobs.

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <unistd.h>
#include <string>
#include <vector>

#include "decode/decoder.h"
#include "decode/detail/pending_buffer.h"
#include "decode/detail/protocols.h"
#include "decode/detail/template_cache.h"
#include "decode/detail/template_state.h"
#include "template_packets.h"

namespace fathom::decode {
namespace {

using detail::FieldSpec;
using detail::Target;
using detail::Template;
using detail::WireProtocol;
using flow::FlowBatch;
using testing::FlowPacket;
using testing::kExportSecs;
using testing::stats_of;

Template make_template(uint16_t id, std::vector<FieldSpec> fields, uint32_t domain = 0) {
  Template t;
  t.protocol = WireProtocol::kIpfix;
  t.domain = domain;
  t.id = id;
  t.fields = std::move(fields);
  return t;
}

TEST(CompileTemplate, MergesSkipsAndPicksBestRankedElement) {
  Template t = make_template(256, {{85, 8}, {999, 2}, {998, 4}, {1, 4}, {23, 4}, {8, 4}});
  ASSERT_EQ(detail::compile_template(t), DecodeStatus::kOk);
  ASSERT_EQ(t.ops.size(), 4u);
  EXPECT_EQ(t.ops[0].target, Target::kSkip);  // 85 loses to 1, merged with the unknowns
  EXPECT_EQ(t.ops[0].length, 14);
  EXPECT_EQ(t.ops[1].target, Target::kBytes);
  EXPECT_EQ(t.ops[2].target, Target::kSkip);  // 23 loses too
  EXPECT_EQ(t.ops[3].target, Target::kSrcV4);
  EXPECT_EQ(t.min_record_len, 26u);
  EXPECT_FALSE(t.has_varlen);
}

TEST(CompileTemplate, FastProgramDropsSkipsAndConvertsTimesOncePerRecord) {
  Template t = make_template(256, {{999, 3}, {8, 4}, {1, 3}, {152, 8}, {7, 2}, {153, 8}, {58, 2}});
  ASSERT_EQ(detail::compile_template(t), DecodeStatus::kOk);
  ASSERT_TRUE(t.fast);
  EXPECT_TRUE(t.fast_generic);  // the VLAN id is masked by the generic store
  EXPECT_EQ(t.start_time, detail::TimeKind::kMs);
  EXPECT_EQ(t.end_time, detail::TimeKind::kMs);
  ASSERT_EQ(t.fast_ops.size(), 6u);
  const auto op_for = [&t](Target target) {
    for (const detail::FastOp& op : t.fast_ops) {
      if (op.target == target) return op;
    }
    ADD_FAILURE() << "no step for target " << static_cast<int>(target);
    return detail::FastOp{};
  };
  EXPECT_EQ(op_for(Target::kSrcV4).offset, 3);
  EXPECT_EQ(op_for(Target::kSrcV4).code, detail::OpCode::kAddressV4);
  EXPECT_EQ(op_for(Target::kBytes).offset, 7);
  EXPECT_EQ(op_for(Target::kBytes).code, detail::OpCode::kIntNTo8);    // 3-byte reduced size
  EXPECT_EQ(op_for(Target::kStartMs).code, detail::OpCode::kInt8To8);  // raw, converted later
  EXPECT_EQ(op_for(Target::kEndMs).offset, 20);
  EXPECT_EQ(op_for(Target::kSrcPort).code, detail::OpCode::kInt2To2);
  EXPECT_EQ(op_for(Target::kVlan).code, detail::OpCode::kGeneric);
  // Independent stores are grouped by code: one run each for generic, 2→2, 8→8 (start and
  // end), N→8 and the address.
  ASSERT_EQ(t.fast_runs.size(), 5u);
  size_t covered = 0;
  for (const detail::FastRun& run : t.fast_runs) {
    EXPECT_EQ(run.begin, covered);
    for (size_t op_idx = run.begin; op_idx < run.end; ++op_idx) {
      EXPECT_EQ(t.fast_ops[op_idx].code, run.code);
    }
    covered = run.end;
  }
  EXPECT_EQ(covered, t.fast_ops.size());
}

TEST(CompileTemplate, FastProgramKeepsFieldOrderWhenStoresOverlap) {
  // IE 32 (type and code, generic store) and IE 176 (type) both write icmp_type: the last field
  // must win, so the steps stay in field order.
  Template t = make_template(256, {{176, 1}, {1, 4}, {32, 2}, {2, 4}});
  ASSERT_EQ(detail::compile_template(t), DecodeStatus::kOk);
  ASSERT_TRUE(t.fast);
  ASSERT_EQ(t.fast_ops.size(), 4u);
  EXPECT_EQ(t.fast_ops[0].target, Target::kIcmpType);
  EXPECT_EQ(t.fast_ops[1].target, Target::kBytes);
  EXPECT_EQ(t.fast_ops[2].target, Target::kIcmpTypeCode);
  EXPECT_EQ(t.fast_ops[3].target, Target::kPackets);
  EXPECT_EQ(t.fast_runs.size(), 4u);  // 1→1, 4→8, generic, 4→8: nothing adjacent to merge
}

TEST(CompileTemplate, NoFastProgramForOptionsVarlenOrSeveralStartTimes) {
  Template options = make_template(256, {{143, 4}, {34, 4}});
  options.is_options = true;
  options.scope_count = 1;
  ASSERT_EQ(detail::compile_template(options), DecodeStatus::kOk);
  EXPECT_FALSE(options.fast);
  Template varlen = make_template(257, {{8, 4}, {82, 0xFFFF}});
  ASSERT_EQ(detail::compile_template(varlen), DecodeStatus::kOk);
  EXPECT_FALSE(varlen.fast);
  // Two start times: the last one wins on the generic program, which stays in charge.
  Template two_starts = make_template(258, {{152, 8}, {150, 4}});
  ASSERT_EQ(detail::compile_template(two_starts), DecodeStatus::kOk);
  EXPECT_FALSE(two_starts.fast);
  EXPECT_TRUE(two_starts.fast_ops.empty());
}

TEST(CompileTemplate, RejectsImpossibleLayouts) {
  Template bad_addr = make_template(256, {{27, 4}});
  EXPECT_EQ(detail::compile_template(bad_addr), DecodeStatus::kBadFieldLength);
  Template wide_counter = make_template(256, {{1, 9}});
  EXPECT_EQ(detail::compile_template(wide_counter), DecodeStatus::kBadFieldLength);
  Template empty = make_template(256, {});
  EXPECT_EQ(detail::compile_template(empty), DecodeStatus::kBadTemplate);
  Template zero_len = make_template(256, {{999, 0}});
  EXPECT_EQ(detail::compile_template(zero_len), DecodeStatus::kBadTemplate);
  Template huge = make_template(256, std::vector<FieldSpec>(kMaxFieldsPerTemplate + 1, {1, 4}));
  EXPECT_EQ(detail::compile_template(huge), DecodeStatus::kTemplateTooLarge);
  Template too_wide = make_template(256, std::vector<FieldSpec>(3, {999, 30000}));
  EXPECT_EQ(detail::compile_template(too_wide), DecodeStatus::kTemplateTooLarge);
  Template v9_varlen = make_template(256, {{82, 0xFFFF}});
  v9_varlen.protocol = WireProtocol::kNetflowV9;
  EXPECT_EQ(detail::compile_template(v9_varlen), DecodeStatus::kBadFieldLength);
}

TEST(CompileTemplate, NetflowV9ScopeFieldsAreNotElements) {
  // v9 scope type 1 is "System", not octetDeltaCount (RFC 3954 §6.1).
  Template t = make_template(256, {{1, 4}, {34, 4}});
  t.protocol = WireProtocol::kNetflowV9;
  t.is_options = true;
  t.scope_count = 1;
  ASSERT_EQ(detail::compile_template(t), DecodeStatus::kOk);
  EXPECT_EQ(t.ops[0].target, Target::kSkip);
  EXPECT_EQ(t.ops[1].target, Target::kSamplingInterval);
}

TEST(TemplateCache, EvictsLeastRecentlyUsed) {
  detail::TemplateCache cache;
  uint64_t evicted = 0;
  for (uint16_t id = 256; id < 259; ++id) {
    Template t = make_template(id, {{1, 4}});
    ASSERT_EQ(detail::compile_template(t), DecodeStatus::kOk);
    cache.put(std::move(t), 3, evicted);
  }
  ASSERT_NE(cache.find(detail::template_key(WireProtocol::kIpfix, 0, 256)), nullptr);
  Template t = make_template(300, {{1, 4}});
  ASSERT_EQ(detail::compile_template(t), DecodeStatus::kOk);
  EXPECT_EQ(cache.put(std::move(t), 3, evicted), detail::TemplateCache::PutResult::kAdded);
  EXPECT_EQ(evicted, 1u);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.peek(detail::template_key(WireProtocol::kIpfix, 0, 257)), nullptr);
  EXPECT_NE(cache.peek(detail::template_key(WireProtocol::kIpfix, 0, 256)), nullptr);

  Template zero = make_template(301, {{1, 4}});
  EXPECT_EQ(cache.put(std::move(zero), 0, evicted), detail::TemplateCache::PutResult::kRefused);
}

TEST(PendingBuffer, BoundedByBytesAndExpiresByArrival) {
  detail::PendingBuffer pending;
  const std::vector<std::byte> body(100);
  detail::MessageInfo info;
  const size_t budget = 2 * (100 + detail::PendingBuffer::kOverheadBytes);
  info.arrival_ns = 10;
  EXPECT_TRUE(pending.park(1, info, body, budget));
  info.arrival_ns = 20;
  EXPECT_TRUE(pending.park(2, info, body, budget));
  EXPECT_FALSE(pending.park(3, info, body, budget));
  EXPECT_EQ(pending.bytes(), budget);
  EXPECT_EQ(pending.expire(15), 1u);
  std::vector<detail::PendingSet> taken;
  pending.take(2, taken);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].info.arrival_ns, 20);
  EXPECT_EQ(pending.bytes(), 0u);
}

std::string temp_state_path(const char* name) {
  return (std::filesystem::temp_directory_path() /
          (std::string("fathom_h1_") + name + "_" + std::to_string(::getpid())))
      .string();
}

// v9 exporter with a sampling options record, and an IPFIX exporter with a biflow template
// and softflowd-style options, learned by one decoder, saved, loaded by another.
TEST(TemplateStatePersistence, RoundTripDecodesDataOnlyPackets) {
  const std::string path = temp_state_path("roundtrip");
  {
    Decoder first;
    FlowBatch out;
    auto v9 = FlowPacket::v9(600'000, kExportSecs, 3);
    v9.options_template_set(256, {{1, 4}}, {{34, 4}, {35, 1}});
    v9.begin_set(256).w.u32(0).u32(100).u8(1).zeros(3);
    v9.end_set();
    v9.template_set(1024, {{8, 4}, {12, 4}, {1, 4}, {22, 4}, {21, 4}});
    ASSERT_EQ(testing::feed(first, v9, out), DecodeStatus::kOk);

    auto ipfix = FlowPacket::ipfix(kExportSecs, 5);
    ipfix.options_template_set(256, {{143, 4}}, {{160, 8}, {305, 4}, {306, 4}});
    ipfix.begin_set(256).w.u32(1).u64(1705320000000).u32(1).u32(9);
    ipfix.end_set();
    ipfix.template_set(1025, {{27, 16}, {82, 0xFFFF}, {1, 4}, {22, 4}, {1, 4, 29305}});
    const decode::PacketContext ctx2 = [] {
      auto c = testing::test_context();
      c.exporter = flow::IpAddress::from_v4(0xC0000202);
      return c;
    }();
    ASSERT_EQ(first.decode(ipfix.bytes(), ctx2, out), DecodeStatus::kOk);
    std::string error;
    ASSERT_TRUE(first.save_state(path, error)) << error;
  }

  Decoder second;
  std::string error;
  ASSERT_TRUE(second.load_state(path, error)) << error;
  FlowBatch out;
  auto v9 = FlowPacket::v9(600'000, kExportSecs, 3);
  v9.begin_set(1024).w.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).u32(1500).u32(599'000).u32(599'500);
  v9.end_set();
  ASSERT_EQ(testing::feed(second, v9, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].bytes, 1500u);
  EXPECT_EQ(out[0].device_sampling_rate, 100u);
  EXPECT_EQ(out[0].sampling_algorithm, flow::SamplingAlgorithm::kDeterministic);
  EXPECT_EQ(out[0].start_ns, (int64_t{kExportSecs} * 1000 - 1000) * 1'000'000);
  EXPECT_EQ(stats_of(second).templates_active, 2u);

  auto ipfix = FlowPacket::ipfix(kExportSecs, 5);
  ipfix.begin_set(1025).w.zeros(16).u8(2).text("ab").u32(7).u32(50).u32(8);
  ipfix.end_set();
  auto ctx2 = testing::test_context();
  ctx2.exporter = flow::IpAddress::from_v4(0xC0000202);
  ASSERT_EQ(second.decode(ipfix.bytes(), ctx2, out), DecodeStatus::kOk);
  ASSERT_EQ(out.size(), 3u);  // forward + reverse
  EXPECT_EQ(out[1].bytes, 7u);
  EXPECT_EQ(out[1].device_sampling_rate, 10u);
  EXPECT_EQ(out[1].start_ns, (1705320000000LL + 50) * 1'000'000);
  EXPECT_EQ(out[2].bytes, 8u);
  std::filesystem::remove(path);
}

std::vector<std::byte> valid_blob() {
  ExporterState exporter(flow::IpAddress::from_v4(1));
  FlowBatch out;
  auto p = FlowPacket::ipfix();
  p.options_template_set(256, {{143, 4}}, {{160, 8}, {305, 4}, {306, 4}});
  p.begin_set(256).w.u32(1).u64(1705320000000).u32(1).u32(9);
  p.end_set();
  p.template_set(1024, {{8, 4}, {1, 4}, {100, 4, 9}});
  detail::decode_ipfix(p.bytes(), testing::test_context(), Config{}, exporter, out);
  std::vector<std::byte> blob;
  detail::serialize_template_state(exporter, blob);
  return blob;
}

TEST(TemplateStatePersistence, BlobRoundTripsExactly) {
  const std::vector<std::byte> blob = valid_blob();
  ExporterState restored(flow::IpAddress::from_v4(1));
  ASSERT_TRUE(detail::deserialize_template_state(blob, Config{}, restored));
  EXPECT_EQ(restored.templates->cache.size(), 2u);
  EXPECT_EQ(restored.templates->samplers.size(), 1u);
  EXPECT_EQ(restored.stats.templates_active, 2u);
  std::vector<std::byte> again;
  detail::serialize_template_state(restored, again);
  EXPECT_EQ(again.size(), blob.size());
}

// Fuzzer regression: a v9 vendor field type >= 0x8000 and an IPFIX enterprise element with
// enterprise number 0 were saved in a form the loader refused.
TEST(TemplateStatePersistence, VendorAndEnterpriseFieldsRoundTrip) {
  ExporterState exporter(flow::IpAddress::from_v4(1));
  FlowBatch out;
  auto v9 = FlowPacket::v9(1000);
  v9.template_set(300, {{0x8001, 2}, {1, 4}});
  detail::decode_netflow_v9(v9.bytes(), testing::test_context(), Config{}, exporter, out);
  auto ipfix = FlowPacket::ipfix();
  ipfix.begin_set(2).w.u16(301).u16(2).u16(0x8008).u16(3).u32(0).u16(1).u16(4);
  ipfix.end_set();
  detail::decode_ipfix(ipfix.bytes(), testing::test_context(), Config{}, exporter, out);
  ASSERT_EQ(exporter.templates->cache.size(), 2u);
  std::vector<std::byte> blob;
  detail::serialize_template_state(exporter, blob);
  ExporterState restored(flow::IpAddress::from_v4(1));
  ASSERT_TRUE(detail::deserialize_template_state(blob, Config{}, restored));
  EXPECT_EQ(restored.templates->cache.size(), 2u);
}

TEST(TemplateStatePersistence, HostileBlobsAreRefused) {
  const std::vector<std::byte> blob = valid_blob();
  const Config config;
  // Every strict prefix is inconsistent.
  for (size_t len = 0; len < blob.size(); ++len) {
    ExporterState e(flow::IpAddress::from_v4(1));
    EXPECT_FALSE(detail::deserialize_template_state(std::span(blob).first(len), config, e))
        << "prefix " << len;
    EXPECT_EQ(e.templates, nullptr);
  }
  // Trailing garbage.
  std::vector<std::byte> longer = blob;
  longer.push_back(std::byte{0});
  ExporterState e1(flow::IpAddress::from_v4(1));
  EXPECT_FALSE(detail::deserialize_template_state(longer, config, e1));
  // Wrong version.
  std::vector<std::byte> version = blob;
  version[1] = std::byte{99};
  ExporterState e2(flow::IpAddress::from_v4(1));
  EXPECT_FALSE(detail::deserialize_template_state(version, config, e2));
  // More templates than this config allows.
  Config small;
  small.max_templates_per_exporter = 1;
  ExporterState e3(flow::IpAddress::from_v4(1));
  EXPECT_FALSE(detail::deserialize_template_state(blob, small, e3));
  // Every single-byte corruption either loads something consistent or is refused; never
  // crashes (run under ASan/UBSan).
  for (size_t pos = 0; pos < blob.size(); ++pos) {
    for (uint8_t v : {uint8_t{0x00}, uint8_t{0xff}, uint8_t{0x80}, uint8_t{0x03}}) {
      std::vector<std::byte> mutated = blob;
      mutated[pos] = std::byte{v};
      ExporterState e(flow::IpAddress::from_v4(1));
      if (detail::deserialize_template_state(mutated, config, e)) {
        ASSERT_NE(e.templates, nullptr);
        EXPECT_LE(e.templates->cache.size(), config.max_templates_per_exporter);
      }
    }
  }
}

TEST(TemplateStatePersistence, FieldLengthInvalidForItsElementIsRefused) {
  // A hand-built blob: one IPFIX template whose sourceIPv4Address is 3 bytes.
  testing::WireWriter w;
  w.u8('T').u8(1).u32(1);
  w.u8(10).u8(0).u32(0).u16(256).u16(0).u16(1).u16(8).u16(3).u32(0);
  w.u32(0).u32(0);
  ExporterState e(flow::IpAddress::from_v4(1));
  EXPECT_FALSE(detail::deserialize_template_state(w.span(), Config{}, e));
  // The same blob with a 4-byte address loads.
  w.patch_u16(20, 4);
  EXPECT_TRUE(detail::deserialize_template_state(w.span(), Config{}, e));
}

TEST(TemplateStatePersistence, CorruptStateFileFailsLoad) {
  const std::string path = temp_state_path("corrupt");
  {
    Decoder first;
    FlowBatch out;
    auto p = FlowPacket::ipfix();
    p.template_set(256, {{1, 4}});
    testing::feed(first, p, out);
    std::string error;
    ASSERT_TRUE(first.save_state(path, error)) << error;
  }
  // Flip the template's field length to 0xFFFF (a variable-length counter) inside the file.
  std::vector<char> raw;
  {
    std::ifstream f(path, std::ios::binary);
    raw.assign(std::istreambuf_iterator<char>(f), {});
  }
  ASSERT_GT(raw.size(), 12u);
  raw[raw.size() - 8 - 6] = static_cast<char>(0xff);
  raw[raw.size() - 8 - 5] = static_cast<char>(0xff);
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(raw.data(), static_cast<std::streamsize>(raw.size()));
  }
  Decoder second;
  std::string error;
  EXPECT_FALSE(second.load_state(path, error));
  EXPECT_NE(error.find("corrupt"), std::string::npos);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace fathom::decode
