// The analysis stage with several workers: tenants partitioned over threads, and a change of
// the worker count in the middle of a stream. Whatever the workers do, the incidents must be
// those of one worker: one per attack, none lost or doubled by a hand-over.

#include "app/analyze_stage.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <span>
#include <thread>
#include <tuple>
#include <vector>

namespace fathom::app {
namespace {

constexpr int64_t kS = 1'000'000'000;
constexpr int64_t kT0 = 1'700'000'000 * kS;
constexpr uint32_t kTenants = 6;
constexpr int kSeconds = 240;

flow::IpAddress internal(uint32_t tenant, uint32_t host) {
  return flow::IpAddress::from_v4(0x0a000000 | tenant << 16 | host);
}

/// One second of traffic: every tenant's clients talk to the internet; tenant T's victim
/// takes a SYN flood from second 20·T to 20·T + 60, so floods run across the rebalancing
/// points at 80 s and 160 s.
void second_of_traffic(bus::Bus& bus, std::mt19937_64& rng, int second) {
  std::unique_ptr<flow::FlowBatch> batch = bus.acquire();
  for (uint32_t t = 1; t <= kTenants; ++t) {
    const bool flood = second >= 20 * static_cast<int>(t) && second < 20 * static_cast<int>(t) + 60;
    const int records = 200 + (flood ? 300 : 0);
    for (int i = 0; i < records; ++i) {
      flow::FlowRecord& r = batch->add();
      r.arrival_ns = kT0 + second * kS + i * (kS / records);
      r.tenant_id = t;
      r.sampling_rate = 100;
      r.device_sampling_rate = 100;
      r.ip_protocol = 6;
      r.packets = 1;
      if (flood && i >= 200) {
        r.src = flow::IpAddress::from_v4(static_cast<uint32_t>(rng()) | 0x01000000);
        r.dst = internal(t, 7);
        r.src_port = static_cast<uint16_t>(1024 + rng() % 60000);
        r.dst_port = 443;
        r.tcp_flags = 0x02;
        r.bytes = 44;
        r.intel_flags = flow::intel_flags::kDstInternal;
        r.direction = flow::Direction::kInbound;
      } else {
        r.src = internal(t, 100 + static_cast<uint32_t>(rng() % 50));
        r.dst = flow::IpAddress::from_v4(0x5db80000 + static_cast<uint32_t>(rng() % 5000));
        r.src_port = static_cast<uint16_t>(40000 + rng() % 20000);
        r.dst_port = 443;
        r.tcp_flags = 0x10;
        r.bytes = 600;
        r.intel_flags = flow::intel_flags::kSrcInternal;
        r.direction = flow::Direction::kOutbound;
      }
      if (batch->full()) {
        bus.publish(std::move(batch));
        ASSERT_TRUE(bus.wait_for_room(std::chrono::seconds(30)));
        batch = bus.acquire();
      }
    }
  }
  bus.publish(std::move(batch));
  ASSERT_TRUE(bus.wait_for_room(std::chrono::seconds(30)));
}

using Key = std::tuple<uint32_t, std::string, std::string>;

struct RunResult {
  std::multiset<Key> opened;
  AnalyzeStageStats stats;
  size_t events_seen = 0;  ///< through on_incident_events
  /// Through on_rollups: (tenant, end) → estimated packets.
  std::multimap<std::pair<uint32_t, int64_t>, double> rollups;
};

/// Feeds the same stream to a stage; `changes` maps a second to the worker count asked for
/// from then on.
RunResult run(uint32_t start_workers, const std::vector<std::pair<int, uint32_t>>& changes) {
  bus::Bus bus;
  AnalyzeStage::Options options;
  options.live = false;
  options.autoscale.min_workers = start_workers;
  options.autoscale.max_workers = 4;
  RunResult out;
  options.on_incident_events = [&out](std::span<const detect::IncidentEvent> events) {
    out.events_seen += events.size();
  };
  options.on_rollups = [&out](std::span<const analyze::TenantSummary> rollups) {
    for (const analyze::TenantSummary& r : rollups) {
      EXPECT_EQ(r.end_ns - r.start_ns, 60 * kS);
      out.rollups.emplace(std::make_pair(r.tenant_id, r.end_ns), r.total.packets.value);
    }
  };
  std::string error;
  std::unique_ptr<AnalyzeStage> stage = AnalyzeStage::start(bus, 64, options, error);
  EXPECT_NE(stage, nullptr) << error;
  if (!stage) return {};
  std::mt19937_64 rng(5);
  size_t next_change = 0;
  uint64_t rebalances = 0;
  for (int s = 0; s < kSeconds; ++s) {
    if (next_change < changes.size() && changes[next_change].first == s) {
      stage->request_workers(changes[next_change].second);
      ++next_change;
      ++rebalances;
      // The control thread plans the change once new workers have seen records: feed one
      // second at a time until it has, so that the cut falls inside the stream.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (stage->stats().rebalances < rebalances && s < kSeconds - 20 &&
             std::chrono::steady_clock::now() < deadline) {
        second_of_traffic(bus, rng, s++);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      EXPECT_EQ(stage->stats().rebalances, rebalances) << "the change asked for before " << s;
    }
    second_of_traffic(bus, rng, s);
  }
  bus.close();
  stage->join();
  out.stats = stage->stats();
  for (const detect::IncidentEvent& e : stage->recent_events()) {
    if (e.kind != detect::IncidentEventKind::kOpen) continue;
    out.opened.insert({e.incident.tenant_id, std::string(detect::to_string(e.incident.type)),
                       e.incident.subject.to_string()});
  }
  return out;
}

TEST(AnalyzeStage, OwnerOfSpreadsTenantsAndMovesFewWhenAWorkerIsAdded) {
  std::vector<int> load(3, 0);
  int moved = 0;
  for (uint32_t t = 1; t <= 3000; ++t) {
    const uint32_t w3 = AnalyzeStage::owner_of(t, 3);
    ASSERT_LT(w3, 3u);
    ++load[w3];
    const uint32_t w4 = AnalyzeStage::owner_of(t, 4);
    if (w4 != w3) {
      ++moved;
      EXPECT_EQ(w4, 3u) << "a tenant only ever moves to the new worker";
    }
    EXPECT_EQ(AnalyzeStage::owner_of(t, 1), 0u);
  }
  for (int n : load) EXPECT_NEAR(n, 1000, 150);
  EXPECT_NEAR(moved, 750, 150);  // about a quarter
}

TEST(AnalyzeStage, RebalancingMidStreamGivesTheIncidentsOfOneWorker) {
  const RunResult one = run(1, {});
  ASSERT_EQ(one.opened.size(), kTenants) << "one SYN flood incident per tenant";
  for (uint32_t t = 1; t <= kTenants; ++t) {
    EXPECT_EQ(one.opened.count({t, "syn_flood", internal(t, 7).to_string()}), 1u) << t;
  }
  const RunResult many = run(2, {{80, 3}, {160, 1}});
  EXPECT_EQ(many.opened, one.opened);
  EXPECT_EQ(many.stats.rebalances, 2u);
  EXPECT_GT(many.stats.engine.tenants_exported, 0u);
  EXPECT_EQ(many.stats.engine.tenants_exported, many.stats.engine.tenants_imported);
  EXPECT_EQ(many.stats.handoff_timeouts, 0u);
  EXPECT_EQ(many.stats.engine.records_analysed, one.stats.engine.records_analysed)
      << "other " << many.stats.engine.records_other_worker << " late "
      << many.stats.engine.records_late << " records " << many.stats.engine.records << " exported "
      << many.stats.engine.tenants_exported << " slides " << many.stats.engine.slides_closed
      << " one: records " << one.stats.engine.records;
  EXPECT_EQ(many.stats.incidents.opened, one.stats.incidents.opened);
  // The store sees every incident event, and the same per-minute rollups whoever computed them.
  EXPECT_EQ(one.events_seen,
            one.stats.incidents.opened + one.stats.incidents.updated + one.stats.incidents.closed);
  EXPECT_EQ(many.events_seen, many.stats.incidents.opened + many.stats.incidents.updated +
                                  many.stats.incidents.closed);
  EXPECT_GE(one.rollups.size(), kTenants * 3) << "a rollup per tenant per minute";
  for (const auto& [key, packets] : one.rollups) EXPECT_EQ(key.second % (60 * kS), 0);
  EXPECT_EQ(many.rollups, one.rollups);
}

}  // namespace
}  // namespace fathom::app
