#include "app/run_command.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bus/bus.h"
#include "testing/wire_writer.h"
#include "transform/ingest.h"

namespace fathom::app {
namespace {

using fathom::testing::WireWriter;

constexpr int64_t kArrival = 1705320000'000000000;

/// Feeds payloads from 192.0.2.1 through an ingest worker (every exporter accepted into tenant
/// 65535) and returns the snapshot the summary line is made of.
api::CollectorSnapshot ingest(const std::vector<WireWriter>& payloads) {
  bus::Bus bus;
  transform::IngestWorker worker(
      "test", {}, bus,
      std::make_shared<const transform::TenantMap>(std::vector<transform::ExporterRule>{}, 65535));
  for (const WireWriter& w : payloads) {
    worker.handle(w.span(), {flow::IpAddress::from_v4(0xc0000201), 50000, kArrival});
  }
  worker.flush(kArrival);
  api::CollectorSnapshot s;
  s.workers.push_back(worker.snapshot());
  return s;
}

TEST(RunSummary, CountsPacketsAndErrorsByReason) {
  WireWriter garbage;
  garbage.u32(0xdeadbeef).u32(1);  // no export protocol starts like this
  WireWriter runt;
  runt.u8(0);  // shorter than any version field
  const api::CollectorSnapshot s = ingest({garbage, garbage, runt});
  RunSummary summary;
  const std::string line = summary.line(s, 2'000'000'000);
  EXPECT_NE(line.find("packets 3 (1.5/s)"), std::string::npos) << line;
  EXPECT_NE(line.find("records 0 (0.0/s)"), std::string::npos) << line;
  EXPECT_NE(line.find("exporters 1"), std::string::npos) << line;
  EXPECT_NE(line.find("unknown_protocol=2"), std::string::npos) << line;
  EXPECT_NE(line.find("truncated=1"), std::string::npos) << line;
  EXPECT_EQ(summary.total_datagrams(), 3u);
  // A new interval starts at zero; errors are totals since start.
  const std::string next = summary.line(s, 1'000'000'000);
  EXPECT_NE(next.find("packets 0 (0.0/s)"), std::string::npos) << next;
  EXPECT_NE(next.find("unknown_protocol=2"), std::string::npos) << next;
}

TEST(RunSummary, CountsRecordsPerProtocol) {
  // A one-record NetFlow v5 packet (24-byte header + 48-byte record).
  WireWriter v5;
  v5.u16(5).u16(1).u32(1000).u32(1705320000).u32(0).u32(0).u8(0).u8(0).u16(0);
  v5.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).ipv4(0, 0, 0, 0).u16(0).u16(0);
  v5.u32(3).u32(300).u32(900).u32(1000).u16(1234).u16(80).u8(0).u8(0x1b).u8(6).u8(0);
  v5.u16(0).u16(0).u8(0).u8(0).u16(0);
  RunSummary summary;
  const std::string line = summary.line(ingest({v5}), 1'000'000'000);
  EXPECT_EQ(summary.total_records(), 1u);
  EXPECT_NE(line.find("netflow_v5=1"), std::string::npos) << line;
  EXPECT_NE(line.find("accepted 1, rejected 0"), std::string::npos) << line;
  EXPECT_NE(line.find("errors since start: none"), std::string::npos) << line;
}

}  // namespace
}  // namespace fathom::app
