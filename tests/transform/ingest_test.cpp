#include "transform/ingest.h"

#include <gtest/gtest.h>

#include "testing/wire_writer.h"

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
  EXPECT_EQ(s.records_rejected, 2u);
  EXPECT_EQ(s.unknown_exporters_logged, 1u);
  ASSERT_EQ(s.tenants.size(), 1u);
  EXPECT_EQ(s.tenants[0].tenant_id, 7u);
  EXPECT_EQ(s.tenants[0].records, 3u);
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
  WireWriter bad = v5_packet(3);
  bad.truncate(bad.size() - 10);
  worker_.handle(bad.span(), from("192.0.2.1"));
  const std::byte junk[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
  worker_.handle(junk, from("192.0.2.1"));
  worker_.flush(kNow);
  const IngestSnapshot s = worker_.snapshot();
  EXPECT_EQ(s.datagrams, 2u);
  ASSERT_EQ(s.exporters.size(), 1u);
  EXPECT_EQ(s.exporters[0].decode.packets, 2u);
  EXPECT_EQ(s.exporters[0].decode.packets_ok, 0u);
}

}  // namespace
}  // namespace fathom::transform
