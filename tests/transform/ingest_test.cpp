#include "transform/ingest.h"

#include <gtest/gtest.h>

#include <cmath>

#include "testing/wire_writer.h"
#include "transform/tenant_networks.h"

namespace fathom::transform {
namespace {

using std::chrono::milliseconds;
using testing::WireWriter;

constexpr int64_t kNow = 1'700'000'000'000'000'000;
constexpr int64_t kMs = 1'000'000;

/// A NetFlow v5 packet with `records` identical flows of 10 packets / 1000 bytes each.
WireWriter v5_packet(uint16_t records, uint8_t engine_id = 0) {
  WireWriter w;
  w.u16(5).u16(records).u32(1000).u32(1'700'000'000).u32(0).u32(1);
  w.u8(0).u8(engine_id).u16(0);
  for (uint16_t i = 0; i < records; ++i) {
    w.ipv4(10, 0, 0, 1).ipv4(192, 0, 2, 9).ipv4(0, 0, 0, 0).u16(1).u16(2);
    w.u32(10).u32(1000).u32(0).u32(500).u16(1234).u16(443);
    w.u8(0).u8(0x1b).u8(6).u8(0).u16(0).u16(0).u8(24).u8(24).u16(0);
  }
  return w;
}

/// A NetFlow v5 packet of `records` distinct flows (source ports first_port, first_port + 1,
/// ...), each of 10 packets / 1000 bytes, exported with device sampling 1 in `device_rate`.
WireWriter v5_flows(uint16_t records, uint16_t first_port, uint16_t device_rate = 1) {
  WireWriter w;
  // Sampling interval: mode 01 (deterministic) in the top two bits, the rate in the rest.
  const uint16_t sampling = device_rate > 1 ? static_cast<uint16_t>(0x4000 | device_rate) : 0;
  w.u16(5).u16(records).u32(1000).u32(1'700'000'000).u32(0).u32(1);
  w.u8(0).u8(0).u16(sampling);
  for (uint16_t i = 0; i < records; ++i) {
    w.ipv4(10, 0, 0, 1).ipv4(192, 0, 2, 9).ipv4(0, 0, 0, 0).u16(1).u16(2);
    w.u32(10).u32(1000).u32(0).u32(500).u16(static_cast<uint16_t>(first_port + i)).u16(443);
    w.u8(0).u8(0x1b).u8(6).u8(0).u16(0).u16(0).u8(24).u8(24).u16(0);
  }
  return w;
}

decode::PacketContext from(const char* exporter, int64_t at = kNow) {
  return {*flow::IpAddress::parse(exporter), 2055, at};
}

std::shared_ptr<const TenantMap> tenants_for(const char* prefix, uint32_t tenant,
                                             uint32_t fallback = 0) {
  IpPrefix p;
  parse_ip_prefix(prefix, p);
  std::vector<ExporterRule> rules;
  rules.push_back({p, {}, tenant});
  return std::make_shared<const TenantMap>(rules, fallback);
}

std::shared_ptr<const IngestTables> tables_with_dedup(const char* exporters, uint32_t tenant,
                                                      const char* dedup_exporter,
                                                      DedupRule::Count count) {
  Config config;
  Tenant t;
  t.id = tenant;
  t.name = "t";
  ExporterMatch match;
  parse_ip_prefix(exporters, match.prefix);
  t.exporters.push_back(match);
  DedupRule rule;
  parse_ip_prefix(dedup_exporter, rule.exporter);
  rule.count = count;
  t.dedup.push_back(rule);
  config.tenants.push_back(t);
  return IngestTables::from_config(config);
}

class IngestWorkerTest : public ::testing::Test {
 protected:
  IngestWorkerTest()
      : sub_(bus_.subscribe("test", 64)), worker_("w0", {}, bus_, tenants_for("192.0.2.0/24", 7)) {}

  size_t drain_records() {
    size_t n = 0;
    while (bus::BatchRef b = sub_->pop(milliseconds(0))) n += b->size();
    return n;
  }

  bus::Bus bus_;
  std::shared_ptr<bus::Subscription> sub_;
  IngestWorker worker_;
};

TEST_F(IngestWorkerTest, MapsKnownExportersAndDropsUnknownOnes) {
  worker_.handle(v5_packet(3).span(), from("192.0.2.1"));
  worker_.handle(v5_packet(2).span(), from("203.0.113.5"));
  worker_.flush(kNow);
  bus::BatchRef batch = sub_->pop(milliseconds(0));
  ASSERT_NE(batch, nullptr);
  ASSERT_EQ(batch->size(), 3u);
  for (const flow::FlowRecord& r : batch->records()) {
    EXPECT_EQ(r.tenant_id, 7u);
    EXPECT_EQ(r.exporter, *flow::IpAddress::parse("192.0.2.1"));
  }
  const IngestSnapshot s = worker_.snapshot();
  EXPECT_EQ(s.datagrams, 2u);
  EXPECT_EQ(s.records_decoded, 5u);
  EXPECT_EQ(s.records_accepted, 3u);
  EXPECT_EQ(s.records_kept, 3u);  // no sampler: everything accepted is kept
  EXPECT_EQ(s.records_sampled_out, 0u);
  EXPECT_EQ(s.records_not_counted, 0u);
  EXPECT_EQ(s.records_rejected, 2u);
  EXPECT_EQ(s.unknown_exporters_logged, 1u);
  ASSERT_EQ(s.tenants.size(), 1u);
  EXPECT_EQ(s.tenants[0].tenant_id, 7u);
  EXPECT_EQ(s.tenants[0].records, 3u);
  EXPECT_EQ(s.tenants[0].records_kept, 3u);
  EXPECT_EQ(s.tenants[0].flow_bytes, 3000u);
  EXPECT_EQ(s.tenants[0].flow_packets, 30u);
  ASSERT_EQ(s.exporters.size(), 2u);
  for (const ExporterIngest& e : s.exporters) {
    if (e.address == *flow::IpAddress::parse("203.0.113.5")) {
      EXPECT_EQ(e.records_rejected, 2u);
      EXPECT_EQ(e.tenant_id, 0u);
      EXPECT_EQ(e.decode.records, 2u);  // the decoder still counts what it decoded
    } else {
      EXPECT_EQ(e.records_rejected, 0u);
      EXPECT_EQ(e.tenant_id, 7u);
    }
  }
}

TEST_F(IngestWorkerTest, DefaultTenantTakesUnknownExportersWhenConfigured) {
  worker_.set_tenants(tenants_for("192.0.2.0/24", 7, 65535));
  worker_.handle(v5_packet(2).span(), from("203.0.113.5"));
  worker_.flush(kNow);
  bus::BatchRef batch = sub_->pop(milliseconds(0));
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ((*batch)[0].tenant_id, 65535u);
  EXPECT_EQ(worker_.snapshot().records_rejected, 0u);
}

TEST_F(IngestWorkerTest, PublishesFullBatchesAtOnceAndPartialOnesAfterTheFlushInterval) {
  // 30 records a packet: the 137th packet takes the batch past 4096.
  for (int i = 0; i < 137; ++i) worker_.handle(v5_packet(30).span(), from("192.0.2.1"));
  bus::BatchRef full = sub_->pop(milliseconds(0));
  ASSERT_NE(full, nullptr);
  EXPECT_EQ(full->size(), 137u * 30u);
  worker_.handle(v5_packet(5).span(), from("192.0.2.1", kNow + 10 * kMs));
  worker_.tick(kNow + 100 * kMs);
  EXPECT_EQ(sub_->pop(milliseconds(0)), nullptr);  // 90 ms old: not yet
  worker_.tick(kNow + 211 * kMs);
  bus::BatchRef partial = sub_->pop(milliseconds(0));
  ASSERT_NE(partial, nullptr);
  EXPECT_EQ(partial->size(), 5u);
  worker_.flush(kNow + 300 * kMs);  // nothing left to publish; refreshes the snapshot
  EXPECT_EQ(worker_.snapshot().batches_published, 2u);
}

TEST_F(IngestWorkerTest, ReloadedTenantTableAppliesToTheNextPacket) {
  worker_.handle(v5_packet(1).span(), from("203.0.113.5"));
  worker_.set_tenants(tenants_for("203.0.113.0/24", 9));
  worker_.handle(v5_packet(1).span(), from("203.0.113.5"));
  worker_.handle(v5_packet(1).span(), from("192.0.2.1"));  // no longer claimed
  worker_.flush(kNow);
  bus::BatchRef batch = sub_->pop(milliseconds(0));
  ASSERT_NE(batch, nullptr);
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ((*batch)[0].tenant_id, 9u);
  const IngestSnapshot s = worker_.snapshot();
  EXPECT_EQ(s.records_rejected, 2u);
  EXPECT_EQ(s.unknown_exporters_logged, 2u);
}

TEST_F(IngestWorkerTest, UnknownExporterLogsAreRateLimitedButCounted) {
  for (int i = 1; i <= 30; ++i) {
    const std::string addr = "203.0.113." + std::to_string(i);
    worker_.handle(v5_packet(1).span(), from(addr.c_str()));
    worker_.handle(v5_packet(1).span(), from(addr.c_str()));  // second packet: not logged again
  }
  worker_.flush(kNow);
  const IngestSnapshot s = worker_.snapshot();
  EXPECT_EQ(s.unknown_exporters_logged, 10u);  // default: 10 a minute
  EXPECT_EQ(s.unknown_exporters_suppressed, 20u);
  EXPECT_EQ(s.records_rejected, 60u);
  EXPECT_EQ(drain_records(), 0u);
}

TEST_F(IngestWorkerTest, MalformedInputIsCountedAndNothingIsPublished) {
  // A view of the first bytes rather than WireWriter::truncate: GCC 12 at -O1 with ASan warns
  // (-Wstringop-overflow, a false positive) on the inlined vector::resize.
  const WireWriter whole = v5_packet(3);
  worker_.handle(whole.span().first(whole.size() - 10), from("192.0.2.1"));
  const std::byte junk[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
  worker_.handle(junk, from("192.0.2.1"));
  worker_.flush(kNow);
  const IngestSnapshot s = worker_.snapshot();
  EXPECT_EQ(s.datagrams, 2u);
  ASSERT_EQ(s.exporters.size(), 1u);
  EXPECT_EQ(s.exporters[0].decode.packets, 2u);
  EXPECT_EQ(s.exporters[0].decode.packets_ok, 0u);
}

TEST_F(IngestWorkerTest, DedupRuleFlagsRecordsItExcludesAndCountsThem) {
  // NetFlow v5 has no direction field: its records count as ingress, so an egress-only rule
  // for 192.0.2.1 excludes them; 192.0.2.2 has no rule.
  worker_.set_tenants(tables_with_dedup("192.0.2.0/24", 7, "192.0.2.1", DedupRule::Count::kEgress));
  worker_.handle(v5_packet(3).span(), from("192.0.2.1"));
  worker_.handle(v5_packet(2).span(), from("192.0.2.2"));
  worker_.flush(kNow);
  bus::BatchRef batch = sub_->pop(milliseconds(0));
  ASSERT_NE(batch, nullptr);
  ASSERT_EQ(batch->size(), 5u);  // flagged, not dropped: analysis still sees them
  for (const flow::FlowRecord& r : batch->records()) {
    const bool flagged = r.flags & flow::record_flags::kNotCounted;
    EXPECT_EQ(flagged, r.exporter == *flow::IpAddress::parse("192.0.2.1"));
  }
  const IngestSnapshot s = worker_.snapshot();
  EXPECT_EQ(s.records_accepted, 5u);
  EXPECT_EQ(s.records_not_counted, 3u);
  ASSERT_EQ(s.tenants.size(), 1u);
  EXPECT_EQ(s.tenants[0].records_not_counted, 3u);

  // A TenantMap alone carries no de-dup rules.
  worker_.set_tenants(tenants_for("192.0.2.0/24", 7));
  worker_.handle(v5_packet(3).span(), from("192.0.2.1"));
  worker_.flush(kNow);
  EXPECT_EQ(worker_.snapshot().records_not_counted, 3u);
}

TEST(IngestEnrichTest, EachBatchIsEnrichedOnceBeforeItIsPublished) {
  Config config;
  Tenant t;
  t.id = 7;
  t.name = "seven";
  ExporterMatch match;
  parse_ip_prefix("192.0.2.0/24", match.prefix);
  t.exporters.push_back(match);
  IpPrefix internal;
  parse_ip_prefix("10.0.0.0/8", internal);  // v5_packet's flows go 10.0.0.1 -> 192.0.2.9
  t.internal_networks.push_back(internal);
  config.tenants.push_back(t);
  Enricher enricher;
  enricher.set_tenant_networks(TenantNetworks::from_config(config));

  bus::Bus bus;
  auto sub = bus.subscribe("test", 64);
  IngestWorker::Options options;
  options.enricher = &enricher;
  IngestWorker worker("w0", options, bus, IngestTables::from_config(config));
  // 137 packets of 30: one full batch of 4110 published at once, then a partial one of 60.
  for (int i = 0; i < 139; ++i) worker.handle(v5_packet(30).span(), from("192.0.2.1"));
  worker.handle(v5_packet(4).span(), from("203.0.113.1"));  // rejected: never enriched
  worker.flush(kNow);
  size_t published = 0;
  while (bus::BatchRef b = sub->pop(milliseconds(0))) {
    for (const flow::FlowRecord& r : b->records()) {
      EXPECT_EQ(r.direction, flow::Direction::kOutbound);
      EXPECT_TRUE(r.intel_flags & flow::intel_flags::kSrcInternal);
    }
    published += b->size();
  }
  EXPECT_EQ(published, 139u * 30u);
  const IngestSnapshot s = worker.snapshot();
  EXPECT_EQ(s.batches_published, 2u);
  EXPECT_EQ(s.enrich.records, published);  // every published record, each once
  EXPECT_EQ(s.enrich.no_networks, 0u);
}

/// A worker with a sampler whose tenant 7 is held at exactly p = 0.25: a flood through the
/// sampler drives p down to min_probability, set to 0.25, where it stays.
class SampledIngestTest : public ::testing::Test {
 protected:
  SampledIngestTest() : sub_(bus_.subscribe("test", 64)) {
    Config config;
    Tenant t;
    t.id = 7;
    t.name = "seven";
    ExporterMatch match;
    parse_ip_prefix("192.0.2.0/24", match.prefix);
    t.exporters.push_back(match);
    t.target_ingest_rate = 100;
    config.tenants.push_back(t);
    config.sampling.min_probability = 0.25;
    config.sampling.seed = 42;
    sampler_ = std::make_shared<AdaptiveSampler>(config);
    IngestWorker::Options options;
    options.sampler = sampler_;
    worker_ =
        std::make_unique<IngestWorker>("w0", options, bus_, IngestTables::from_config(config));
    worker_->tick(kNow);  // starts the sampler's windows
    SamplerView view(sampler_);
    sampler_->record(*view.find(7), 1'000'000, 0, kNow + kMs);  // a surge
    p_ = view.find(7)->probability();
  }

  std::vector<flow::FlowRecord> drain() {
    std::vector<flow::FlowRecord> out;
    while (bus::BatchRef b = sub_->pop(milliseconds(0))) {
      out.insert(out.end(), b->records().begin(), b->records().end());
    }
    return out;
  }

  bus::Bus bus_;
  std::shared_ptr<bus::Subscription> sub_;
  std::shared_ptr<AdaptiveSampler> sampler_;
  std::unique_ptr<IngestWorker> worker_;
  double p_ = 0;
};

TEST_F(SampledIngestTest, SampledOutRecordsAreRemovedAndCountedAndKeptOnesScaled) {
  ASSERT_EQ(p_, 0.25);
  constexpr int kPackets = 100;
  for (int packet_idx = 0; packet_idx < kPackets; ++packet_idx) {
    worker_->handle(v5_flows(30, static_cast<uint16_t>(1000 + 30 * packet_idx), 64).span(),
                    from("192.0.2.1", kNow + 2 * kMs));
  }
  worker_->handle(v5_flows(5, 1000).span(), from("203.0.113.1", kNow + 2 * kMs));  // unknown
  worker_->flush(kNow + 3 * kMs);
  const std::vector<flow::FlowRecord> published = drain();
  const IngestSnapshot s = worker_->snapshot();

  EXPECT_EQ(s.records_accepted, 3000u);
  EXPECT_EQ(s.records_rejected, 5u);  // sampled-out records are not rejects
  EXPECT_EQ(s.records_kept + s.records_sampled_out, s.records_accepted);
  EXPECT_EQ(s.records_kept, published.size());
  EXPECT_NEAR(static_cast<double>(s.records_kept), 3000 * 0.25, 5 * std::sqrt(3000 * 0.25 * 0.75));
  ASSERT_EQ(s.tenants.size(), 1u);
  EXPECT_EQ(s.tenants[0].records, 3000u);
  EXPECT_EQ(s.tenants[0].records_kept, s.records_kept);
  EXPECT_EQ(s.tenants[0].records_sampled_out, s.records_sampled_out);

  for (const flow::FlowRecord& r : published) {
    EXPECT_EQ(r.tenant_id, 7u);
    EXPECT_EQ(r.device_sampling_rate, 64u);
    EXPECT_DOUBLE_EQ(r.sampling_rate, 64.0 / 0.25);
    EXPECT_TRUE(r.flags & flow::record_flags::kSecondarySampled);
    EXPECT_TRUE(keep_flow(42, r, 0.25));  // the decision is the flow's
  }

  // The sampler heard of every arrival and every kept record, once per packet.
  const SamplerSnapshot sampler = sampler_->snapshot();
  ASSERT_EQ(sampler.tenants.size(), 1u);
  EXPECT_EQ(sampler.tenants[0].arrivals_total, 1'000'000u + 3000u);
  EXPECT_EQ(sampler.tenants[0].kept_total, s.records_kept);
}

TEST_F(SampledIngestTest, RecordsOfOneFlowShareTheDecisionAcrossPacketsAndWorkers) {
  IngestWorker::Options options;
  options.sampler = sampler_;
  IngestWorker other("w1", options, bus_, tenants_for("192.0.2.0/24", 7));
  worker_->handle(v5_flows(30, 5000).span(), from("192.0.2.1", kNow + 2 * kMs));
  worker_->flush(kNow + 2 * kMs);
  const std::vector<flow::FlowRecord> first = drain();
  other.handle(v5_flows(30, 5000).span(), from("192.0.2.2", kNow + 2 * kMs));
  other.flush(kNow + 2 * kMs);
  const std::vector<flow::FlowRecord> second = drain();
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(first[i].src_port, second[i].src_port);
  EXPECT_GT(first.size(), 0u);
  EXPECT_LT(first.size(), 30u);
}

}  // namespace
}  // namespace fathom::transform
