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

namespace fathom::app {
namespace {

/// What one stage emitted over seconds [first, last) of the stream (each second's traffic
/// drawn from its own seed, so a second read twice is the same second).
struct Part {
  std::vector<detect::IncidentEvent> events;
  std::vector<detect::Incident> left_open;
  std::vector<analyze::TenantSummary> rollups;
  AnalyzeStageStats stats;
  size_t restored = 0;
};

Part run_part(int first, int last, bool final_flush, std::vector<detect::Incident> restored) {
  bus::Bus bus;
  AnalyzeStage::Options options;
  options.live = false;
  options.final_flush = final_flush;
  options.partial_first_windows = final_flush;
  options.restored_incidents = std::move(restored);
  Part out;
  options.on_incident_events = [&out](std::span<const detect::IncidentEvent> events) {
    out.events.insert(out.events.end(), events.begin(), events.end());
  };
  options.on_rollups = [&out](std::span<const analyze::TenantSummary> rollups) {
    out.rollups.insert(out.rollups.end(), rollups.begin(), rollups.end());
  };
  std::string error;
  std::unique_ptr<AnalyzeStage> stage = AnalyzeStage::start(bus, 64, options, error);
  EXPECT_NE(stage, nullptr) << error;
  if (!stage) return out;
  out.restored = stage->restored_incidents();
  for (int s = first; s < last; ++s) {
    std::mt19937_64 rng(1000 + s);
    second_of_traffic(bus, rng, s);
  }
  bus.close();
  stage->join();
  out.stats = stage->stats();
  out.left_open = stage->open_incidents();
  return out;
}

std::set<std::string> opened_ids(const std::vector<detect::IncidentEvent>& events) {
  std::set<std::string> ids;
  for (const detect::IncidentEvent& e : events) {
    if (e.kind == detect::IncidentEventKind::kOpen) ids.insert(e.incident.id);
  }
  return ids;
}

// Cluster mode: a partition's tenants move to another analyzer, which reads again from the
// last commit (10 s back here) with fresh windows and the incidents the first one left open.
// The final flush closes the windows the stream stopped inside of: a rollup of the minute it
// stopped in would hold part of a minute's traffic as if it were the whole (a chart's last
// point, the API's "current traffic", dropping to a fraction). Only whole minutes are stored.
TEST(AnalyzeStage, TheFinalFlushStoresNoPartOfAMinuteAsARollup) {
  const Part whole = run_part(0, 150, true, {});
  const int64_t stop_ns = kT0 + 150 * kS;
  std::set<int64_t> ends;
  for (const analyze::TenantSummary& r : whole.rollups) {
    EXPECT_LE(r.end_ns, stop_ns) << "a rollup ends after the stream did";
    ends.insert(r.end_ns);
  }
  // kT0 is 20 s past a minute: the stream touched the minutes ending 40, 100 and 160 s after
  // it. The first is stored (partial_first_windows), the second is whole, the third (20 s
  // of it) is not stored.
  EXPECT_EQ(ends, (std::set<int64_t>{kT0 + 40 * kS, kT0 + 100 * kS}));
}

TEST(AnalyzeStage, AStageTakingOverMidStreamContinuesTheOpenIncidents) {
  const Part whole = run_part(0, kSeconds, true, {});
  const std::set<std::string> all = opened_ids(whole.events);
  ASSERT_EQ(all.size(), kTenants) << "one SYN flood incident per tenant";

  const Part before = run_part(0, 100, false, {});
  // Without a final flush nothing is closed at the end: floods running at 100 s stay open.
  size_t closed = 0;
  for (const detect::IncidentEvent& e : before.events) {
    closed += e.kind == detect::IncidentEventKind::kClose ? 1 : 0;
  }
  EXPECT_EQ(closed + before.left_open.size(), opened_ids(before.events).size());
  EXPECT_GE(before.left_open.size(), 2u);  // tenants 3 and 4 flood across 100 s
  EXPECT_GT(before.stats.analysed_through_ns, kT0 + 90 * kS);
  EXPECT_LE(before.stats.analysed_through_ns, kT0 + 100 * kS);

  const Part after = run_part(90, kSeconds, false, before.left_open);
  EXPECT_EQ(after.restored, before.left_open.size());
  // The continuing floods merged into the incidents already open: no second id for them.
  std::set<std::string> ids = opened_ids(before.events);
  const std::set<std::string> later = opened_ids(after.events);
  for (const detect::Incident& inc : before.left_open) EXPECT_EQ(later.count(inc.id), 0u);
  ids.insert(later.begin(), later.end());
  EXPECT_EQ(ids, all);
  for (const detect::Incident& inc : before.left_open) {
    bool updated_or_closed = false;
    for (const detect::IncidentEvent& e : after.events) {
      if (e.incident.id == inc.id) {
        EXPECT_GT(e.incident.version, inc.version);
        updated_or_closed = true;
      }
    }
    EXPECT_TRUE(updated_or_closed) << inc.id;
  }
  // Rollups only of minutes the taking-over stage saw whole (its first slide starts at 90 s).
  for (const analyze::TenantSummary& r : after.rollups) EXPECT_GE(r.start_ns, kT0 + 92 * kS);
  EXPECT_FALSE(after.rollups.empty());
}

}  // namespace
}  // namespace fathom::app
