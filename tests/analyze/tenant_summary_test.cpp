#include "analyze/tenant_summary.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace fathom::analyze {
namespace {

constexpr int64_t kS = 1'000'000'000;

flow::FlowRecord record(int64_t arrival_ns, uint32_t src, uint32_t dst, uint16_t dst_port,
                        uint64_t packets, uint64_t bytes, double rate) {
  flow::FlowRecord r;
  r.arrival_ns = arrival_ns;
  r.tenant_id = 7;
  r.src = flow::IpAddress::from_v4(src);
  r.dst = flow::IpAddress::from_v4(dst);
  r.packets = packets;
  r.bytes = bytes;
  r.ip_protocol = 17;
  r.src_port = 50000;
  r.dst_port = dst_port;
  r.sampling_rate = rate;
  r.intel_flags = flow::intel_flags::kSrcInternal;
  r.direction = flow::Direction::kOutbound;
  return r;
}

TEST(TenantSummaryTest, CarriesTotalsWithIntervalsAndTopLists) {
  AnalyzeConfig config;
  config.levels = {{2 * kS, 10 * kS}};
  std::optional<TenantSummary> last;
  AnalysisEngine engine(config, [&](const TenantWindow& w) {
    if (w.end_ns == 110 * kS) last = summarise(w, 3);
  });
  flow::FlowBatch batch;
  for (int64_t t = 100; t < 110; ++t) {
    batch.add() = record(t * kS, 0x0a000001, 0x08080808, 53, 2, 200, 100.0);
    batch.add() = record(t * kS, 0x0a000002, 0x01010101, 443, 1, 1000, 100.0);
  }
  engine.add(batch);
  engine.flush();
  ASSERT_TRUE(last.has_value());
  const TenantSummary& s = *last;
  EXPECT_EQ(s.tenant_id, 7u);
  EXPECT_EQ(s.start_ns, 100 * kS);
  EXPECT_EQ(s.end_ns, 110 * kS);
  EXPECT_EQ(s.records, 20u);
  // Horvitz–Thompson: 30 sampled packets at 1 in 100.
  EXPECT_DOUBLE_EQ(s.total.packets.value, 3000.0);
  EXPECT_LT(s.total.packets.ci_low, 3000.0);
  EXPECT_GT(s.total.packets.ci_high, 3000.0);
  EXPECT_DOUBLE_EQ(s.by_direction[static_cast<size_t>(flow::Direction::kOutbound)].bytes.value,
                   1'200'000.0);
  EXPECT_DOUBLE_EQ(s.by_direction[static_cast<size_t>(flow::Direction::kInbound)].bytes.value, 0.0);
  // Nothing seen inbound is not "nothing happened": the interval still reaches above zero.
  EXPECT_GT(s.by_direction[static_cast<size_t>(flow::Direction::kInbound)].packets.ci_high, 0.0);
  ASSERT_EQ(s.top_sources.size(), 2u);
  EXPECT_EQ(s.top_sources[0].key.to_string(), "10.0.0.2");  // more bytes
  ASSERT_FALSE(s.top_ports.empty());

  const std::string json = tenant_summary_json(s);
  EXPECT_NE(json.find("\"tenant_id\":7"), std::string::npos) << json;
  EXPECT_NE(json.find("\"total\":{\"packets\":{\"value\":3000,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"outbound\":{"), std::string::npos) << json;
  EXPECT_NE(json.find("\"udp\":{"), std::string::npos) << json;
  EXPECT_NE(json.find("\"key\":\"udp/443\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"key\":\"10.0.0.2\""), std::string::npos) << json;
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
}

TEST(TenantSummaryTest, AnEmptyWindowHasNoTopsAndAValidObject) {
  TenantWindow w;
  w.tenant_id = 3;
  const TenantSummary s = summarise(w);
  EXPECT_EQ(s.records, 0u);
  EXPECT_TRUE(s.top_sources.empty());
  EXPECT_EQ(tenant_summary_json(s).find("\"top_sources\":[]") != std::string::npos, true);
}

}  // namespace
}  // namespace fathom::analyze
