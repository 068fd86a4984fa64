#include "analyze/window_engine.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <tuple>
#include <vector>

namespace fathom::analyze {
namespace {

constexpr int64_t kS = 1'000'000'000;
const flow::IpAddress kInside = flow::IpAddress::from_v4(0x0a000005);   // 10.0.0.5
const flow::IpAddress kOutside = flow::IpAddress::from_v4(0xcb007101);  // 203.0.113.1

flow::FlowRecord record(int64_t arrival_ns, const flow::IpAddress& src, const flow::IpAddress& dst,
                        uint64_t packets, uint64_t bytes) {
  flow::FlowRecord r;
  r.arrival_ns = arrival_ns;
  r.tenant_id = 1;
  r.src = src;
  r.dst = dst;
  r.packets = packets;
  r.bytes = bytes;
  r.ip_protocol = 6;
  r.src_port = 40000;
  r.dst_port = 443;
  r.tcp_flags = 0x1b;  // FIN PSH ACK SYN
  r.intel_flags = (src.v4() >> 24 == 10 ? flow::intel_flags::kSrcInternal : 0) |
                  (dst.v4() >> 24 == 10 ? flow::intel_flags::kDstInternal : 0);
  r.direction = src.v4() >> 24 == 10 ? flow::Direction::kOutbound : flow::Direction::kInbound;
  return r;
}

AnalyzeConfig two_levels() {
  AnalyzeConfig c;
  c.levels = {{2 * kS, 10 * kS}, {10 * kS, 30 * kS}};
  return c;
}

struct Seen {
  size_t level;
  int64_t start_ns;
  int64_t end_ns;
  double packets;
  uint64_t records;
  double host_packets_out;
};

TEST(WindowEngineTest, WindowsAreMergedFromSlidesWithoutRescanningRecords) {
  std::vector<Seen> seen;
  AnalysisEngine engine(two_levels(), [&](const TenantWindow& w) {
    double out = 0;
    w.bucket->hosts.for_each([&](const HostSlot& s) {
      if (s.host == kInside) out = s.packets_out;
    });
    seen.push_back({w.level, w.start_ns, w.end_ns, w.bucket->totals.total.packets.sum,
                    w.bucket->totals.records, out});
  });
  flow::FlowBatch batch;
  // One record of 10 packets per second for 20 s, starting at t = 100 s.
  for (int64_t t = 100; t < 120; ++t) batch.add() = record(t * kS, kInside, kOutside, 10, 1000);
  engine.add(batch);
  engine.flush();
  ASSERT_FALSE(seen.empty());
  // The first level-0 window closes at 102 s with the two records of [100, 102).
  EXPECT_EQ(seen[0].level, 0u);
  EXPECT_EQ(seen[0].end_ns, 102 * kS);
  EXPECT_EQ(seen[0].start_ns, 92 * kS);
  EXPECT_DOUBLE_EQ(seen[0].packets, 20.0);
  EXPECT_FLOAT_EQ(static_cast<float>(seen[0].host_packets_out), 20.0f);
  // A full level-0 window holds 10 records (5 slides of 2 s); level 1 holds up to 30.
  bool full0 = false;
  bool full1 = false;
  for (const Seen& s : seen) {
    if (s.level == 0 && s.end_ns == 110 * kS) {
      full0 = true;
      EXPECT_EQ(s.records, 10u);
      EXPECT_DOUBLE_EQ(s.packets, 100.0);
    }
    if (s.level == 1 && s.end_ns == 120 * kS) {
      full1 = true;
      EXPECT_EQ(s.records, 20u);
      EXPECT_EQ(s.start_ns, 90 * kS);
    }
  }
  EXPECT_TRUE(full0);
  EXPECT_TRUE(full1);
  // flush emits windows until the data has left every level, then stops.
  EXPECT_EQ(seen.back().level, 1u);
  EXPECT_LE(seen.back().end_ns, 150 * kS);
  EXPECT_EQ(engine.stats().records_analysed, 20u);
}

TEST(WindowEngineTest, HostFeaturesFromTheHostsSide) {
  AnalyzeConfig c = two_levels();
  HostWindow victim;
  HostWindow attacker;
  AnalysisEngine engine(c, [&](const TenantWindow& w) {
    if (w.level != 0 || w.end_ns != 102 * kS) return;
    w.bucket->hosts.for_each([&](const HostSlot& s) {
      if (s.host == kInside) victim = host_window(s, w.seconds(), w.history_of(s.host));
      if (s.host == kOutside) attacker = host_window(s, w.seconds(), nullptr);
    });
  });
  flow::FlowBatch batch;
  // The outside host probes 50 ports of the inside host with bare SYNs; 10 get an RST.
  for (uint16_t p = 1; p <= 50; ++p) {
    flow::FlowRecord r = record(100 * kS + p, kOutside, kInside, 1, 44);
    r.dst_port = p;
    r.tcp_flags = 0x02;
    batch.add() = r;
    if (p % 5 == 0) {
      flow::FlowRecord rst = record(100 * kS + p, kInside, kOutside, 1, 40);
      rst.src_port = p;
      rst.dst_port = 40000;
      rst.tcp_flags = 0x14;
      batch.add() = rst;
    }
  }
  engine.add(batch);
  engine.advance(103 * kS);
  EXPECT_TRUE(attacker.host == kOutside);
  EXPECT_FALSE(attacker.internal);
  EXPECT_NEAR(at(attacker.features, Feature::kDistinctRemotePorts), 50, 15);  // HLL(32): 18%
  EXPECT_NEAR(at(attacker.features, Feature::kDistinctPeers), 1, 0.05);
  EXPECT_DOUBLE_EQ(attacker.probes_out.value, 50.0);
  EXPECT_EQ(attacker.syn_only_records_out, 50u);
  EXPECT_TRUE(victim.internal);
  EXPECT_NEAR(at(victim.features, Feature::kDistinctLocalPorts), 50, 15);
  EXPECT_NEAR(at(victim.features, Feature::kSynOnlyRatio), 50.0 / 60.0, 1e-6);
  EXPECT_NEAR(at(victim.features, Feature::kRstRatio), 10.0 / 60.0, 1e-6);
  EXPECT_DOUBLE_EQ(victim.inbound[static_cast<size_t>(InboundClass::kSynOnly)].value, 50.0);
  EXPECT_NEAR(at(victim.features, Feature::kPacketsInPerS), 50.0 / 10.0, 1e-4);
  EXPECT_NEAR(at(victim.features, Feature::kMeanPacketBytes), (50 * 44 + 10 * 40) / 60.0, 1e-3);
  // Unsampled records: the estimates are exact.
  EXPECT_EQ(victim.packets_in.ci_low, victim.packets_in.value);
}

TEST(WindowEngineTest, SampledRecordsAreWeightedAndCarryIntervals) {
  HostWindow victim;
  AnalysisEngine engine(two_levels(), [&](const TenantWindow& w) {
    if (w.level != 0 || w.end_ns != 102 * kS) return;
    w.bucket->hosts.for_each([&](const HostSlot& s) {
      if (s.host == kInside) victim = host_window(s, w.seconds(), nullptr);
    });
  });
  flow::FlowBatch batch;
  for (int i = 0; i < 30; ++i) {
    flow::FlowRecord r = record(100 * kS + i, kOutside, kInside, 1, 1000);
    r.ip_protocol = 17;
    r.tcp_flags = 0;
    r.sampling_rate = 100.0;
    r.device_sampling_rate = 100;
    batch.add() = r;
  }
  engine.add(batch);
  engine.advance(103 * kS);
  const estimate::Estimate& udp = victim.inbound[static_cast<size_t>(InboundClass::kUdp)];
  EXPECT_DOUBLE_EQ(udp.value, 3000.0);
  EXPECT_LT(udp.ci_low, 3000.0);
  EXPECT_GT(udp.ci_high, 3000.0);
  EXPECT_GE(udp.ci_low, 30.0);  // never below what was sampled
  EXPECT_DOUBLE_EQ(victim.packets_in.value, 3000.0);
}

TEST(WindowEngineTest, FullHostTablesEvictOneOffsAndCountTheRest) {
  AnalyzeConfig c = two_levels();
  c.max_external_hosts = 4;
  size_t external_seen = 0;
  AnalysisEngine engine(c, [&](const TenantWindow& w) {
    if (w.level == 0 && w.end_ns == 102 * kS) external_seen = w.bucket->hosts.external_hosts();
  });
  flow::FlowBatch batch;
  for (uint32_t i = 0; i < 100; ++i) {
    batch.add() = record(100 * kS + i, flow::IpAddress::from_v4(0xc6336400 + i), kInside, 1, 44);
  }
  engine.add(batch);
  engine.advance(103 * kS);
  EXPECT_EQ(external_seen, 4u);
  EXPECT_EQ(engine.stats().hosts_evicted + engine.stats().hosts_rejected, 96u);
  EXPECT_GT(engine.stats().hosts_evicted, 0u);
  EXPECT_EQ(engine.stats().records_analysed, 100u);
}

TEST(WindowEngineTest, BadRecordsAreCountedNotAnalysed) {
  AnalysisEngine engine(two_levels(), [](const TenantWindow&) {});
  flow::FlowBatch batch;
  batch.add() = record(100 * kS, kInside, kOutside, 1, 40);
  batch[0].tenant_id = 0;
  batch.add() = record(100 * kS, kInside, kOutside, 1, 40);
  batch[1].sampling_rate = 0.5;
  batch.add() = record(100 * kS, kInside, kOutside, 1, 40);
  batch[2].flags = flow::record_flags::kNotCounted;
  engine.add(batch);
  EXPECT_EQ(engine.stats().records_no_tenant, 1u);
  EXPECT_EQ(engine.stats().records_bad_rate, 1u);
  EXPECT_EQ(engine.stats().records_not_counted, 1u);
  EXPECT_EQ(engine.stats().records_analysed, 1u);
}

TEST(WindowEngineTest, AGapInTimeFlushesAndJumpsInsteadOfClosingEverySlide) {
  size_t windows = 0;
  AnalysisEngine engine(two_levels(), [&](const TenantWindow&) { ++windows; });
  flow::FlowBatch batch;
  batch.add() = record(100 * kS, kInside, kOutside, 1, 40);
  batch.add() = record(1'000'000 * kS, kInside, kOutside, 1, 40);
  engine.add(batch);
  EXPECT_GT(engine.stats().slides_skipped, 400'000u);
  EXPECT_LT(engine.stats().slides_closed, 100u);
  EXPECT_GT(windows, 0u);
  EXPECT_EQ(engine.open_slide_end_ns(), 1'000'002 * kS);
}

TEST(WindowEngineTest, NewPeerShareComparesWithPeersBeforeTheWindow) {
  AnalyzeConfig c;
  c.levels = {{2 * kS, 4 * kS}};
  float share_late = -1;
  AnalysisEngine engine(c, [&](const TenantWindow& w) {
    if (w.end_ns != 110 * kS) return;
    w.bucket->hosts.for_each([&](const HostSlot& s) {
      if (s.host == kInside) {
        share_late =
            at(host_features(s, w.seconds(), w.history_of(s.host)), Feature::kNewPeerShare);
      }
    });
  });
  flow::FlowBatch batch;
  batch.add() = record(100 * kS, kInside, kOutside, 1, 40);  // leaves the window by 104 s
  batch.add() = record(108 * kS, kInside, kOutside, 1, 40);  // the same peer again
  batch.add() = record(109 * kS, kInside, flow::IpAddress::from_v4(0x08080808), 1, 40);
  engine.add(batch);
  engine.advance(111 * kS);
  // Two peers in [106, 110): one known from before the window, one new (unless both hash
  // into the same bit, which these two do not).
  EXPECT_FLOAT_EQ(share_late, 0.5f);
}

TEST(WindowEngineTest, ValidateRejectsMisalignedLevels) {
  AnalyzeConfig c;
  EXPECT_EQ(validate(c), "");
  c.levels = {{2 * kS, 9 * kS}};
  EXPECT_NE(validate(c).find("multiple of its slide"), std::string::npos);
  c.levels = {{2 * kS, 10 * kS}, {3 * kS, 30 * kS}};
  EXPECT_NE(validate(c).find("levels[1].slide"), std::string::npos);
  c.levels.clear();
  EXPECT_NE(validate(c), "");
}

TEST(WindowEngineTest, ATenantHandedToAnotherEngineAtASlideKeepsItsWindows) {
  // Reference: one engine sees everything. Split: engines A and B see every batch; A owns
  // both tenants until slide 60 (t = 120 s), then hands tenant 2 to B. Tenant 2's windows
  // must come out the same, from A before the cut and from B after it.
  using Key = std::tuple<uint32_t, size_t, int64_t>;
  std::map<Key, std::pair<double, uint64_t>> reference;
  std::map<Key, std::pair<double, uint64_t>> split;
  const auto sink = [](std::map<Key, std::pair<double, uint64_t>>& into) {
    return [&into](const TenantWindow& w) {
      auto& v = into[{w.tenant_id, w.level, w.end_ns}];
      v.first += w.bucket->totals.total.packets.sum;
      v.second += w.bucket->hosts.size();
    };
  };
  AnalysisEngine ref(two_levels(), sink(reference));
  AnalysisEngine a(two_levels(), sink(split));
  AnalysisEngine b(two_levels(), sink(split));
  a.set_owner_filter([](uint32_t) { return true; });
  b.set_owner_filter([](uint32_t) { return false; });
  std::unique_ptr<AnalysisEngine::TenantHandoff> mailbox;
  constexpr int64_t kCut = 60;
  a.set_slide_hook([&](int64_t index) {
    if (index == kCut) mailbox = a.export_tenant(2);
  });
  b.set_slide_hook([&](int64_t index) {
    if (index == kCut) {
      ASSERT_NE(mailbox, nullptr) << "A reaches the cut first here";
      b.import_tenant(std::move(mailbox));
    }
  });
  for (int64_t t = 100; t < 200; ++t) {
    flow::FlowBatch batch;
    for (uint32_t tenant : {1u, 2u}) {
      for (uint32_t h = 0; h < 3; ++h) {
        flow::FlowRecord r =
            record(t * kS + h, flow::IpAddress::from_v4(0x0a000000 + h), kOutside, 1 + tenant, 100);
        r.tenant_id = tenant;
        batch.add() = r;
      }
    }
    ref.add(batch);
    a.add(batch);  // A first, as if it were ahead
    b.add(batch);
  }
  ref.flush();
  a.flush();
  b.flush();
  EXPECT_FALSE(a.owns(2));
  EXPECT_TRUE(b.owns(2));
  EXPECT_EQ(a.stats().tenants_exported, 1u);
  EXPECT_EQ(b.stats().tenants_imported, 1u);
  EXPECT_EQ(a.stats().records_analysed + b.stats().records_analysed, ref.stats().records_analysed);
  EXPECT_EQ(reference.size(), split.size());
  for (const auto& [key, value] : reference) {
    const auto it = split.find(key);
    ASSERT_NE(it, split.end()) << "tenant " << std::get<0>(key) << " level " << std::get<1>(key)
                               << " end " << std::get<2>(key) / kS;
    EXPECT_DOUBLE_EQ(it->second.first, value.first);
    EXPECT_EQ(it->second.second, value.second);
  }
}

TEST(WindowEngineTest, EntropyAndIntelShareFromTheHostsSide) {
  AnalyzeConfig c = two_levels();
  HostWindow spread;
  HostWindow single;
  AnalysisEngine engine(c, [&](const TenantWindow& w) {
    if (w.level != 0 || w.end_ns != 102 * kS) return;
    w.bucket->hosts.for_each([&](const HostSlot& s) {
      if (s.host == kInside) spread = host_window(s, w.seconds(), nullptr);
      if (s.host == flow::IpAddress::from_v4(0x0a000009))
        single = host_window(s, w.seconds(), nullptr);
    });
  });
  flow::FlowBatch batch;
  // 10.0.0.5 talks to 400 peers on 400 ports, evenly; one of its peers is listed.
  for (uint32_t i = 0; i < 400; ++i) {
    flow::FlowRecord r =
        record(100 * kS + i, kInside, flow::IpAddress::from_v4(0xcb007100 + i), 1, 100);
    r.dst_port = static_cast<uint16_t>(1000 + i);
    if (i == 0) {
      r.intel_flags |= flow::intel_flags::kDstListed;
      r.packets = 400;
    }
    batch.add() = r;
  }
  // 10.0.0.9 talks to one peer on one port.
  for (int i = 0; i < 50; ++i) {
    batch.add() = record(100 * kS + i, flow::IpAddress::from_v4(0x0a000009), kOutside, 1, 100);
  }
  engine.add(batch);
  engine.advance(103 * kS);
  EXPECT_GT(at(spread.features, Feature::kPeerEntropy), 0.95f);
  EXPECT_GT(at(spread.features, Feature::kPortEntropy), 0.95f);
  EXPECT_NEAR(at(spread.features, Feature::kDistinctPeers), 400, 400 * 0.5);
  EXPECT_NEAR(at(spread.features, Feature::kIntelShare), 400.0 / 799.0, 1e-4);
  EXPECT_EQ(spread.intel_records, 1u);
  EXPECT_EQ(at(single.features, Feature::kPeerEntropy), 0.0f);
  EXPECT_EQ(at(single.features, Feature::kPortEntropy), 0.0f);
  EXPECT_EQ(at(single.features, Feature::kIntelShare), 0.0f);
  EXPECT_NEAR(at(single.features, Feature::kPacketsOutPerS), 5.0, 1e-5);  // 50 packets / 10 s
  EXPECT_NEAR(at(single.features, Feature::kBytesOutPerS), 500.0, 1e-3);
}

}  // namespace
}  // namespace fathom::analyze

namespace fathom::analyze {
namespace {

// Captures keep an incident's raw sampled flows: the subject's records (as source or
// destination) after `capture`, up to the budget and the deadline, once per capture period
// however often it is asked again; other hosts' and other tenants' records are not kept.
TEST(WindowEngineTest, CaptureKeepsTheSubjectsNextRecordsWithinBudgetAndDeadline) {
  AnalysisEngine engine(two_levels(), [](const TenantWindow&) {});
  const flow::IpAddress other = flow::IpAddress::from_v4(0x0a000009);
  flow::FlowBatch first;
  first.add() = record(100 * kS, kInside, kOutside, 1, 100);  // makes the tenant known
  engine.add(first);
  EXPECT_TRUE(engine.take_captured().empty());

  engine.capture(1, kInside, 3, 110 * kS);
  engine.capture(1, kInside, 50, 112 * kS);  // the same subject: a later deadline, no budget
  engine.capture(2, kInside, 5, 200 * kS);   // a tenant it does not have: nothing
  engine.capture(1, other, 0, 200 * kS);     // budget 0: nothing
  flow::FlowBatch batch;
  batch.add() = record(101 * kS, other, kOutside, 1, 100);
  batch.add() = record(101 * kS, kOutside, kInside, 2, 200);  // as destination
  batch.add() = record(102 * kS, kInside, kOutside, 3, 300);
  batch.add() = record(103 * kS, kInside, kOutside, 4, 400);
  batch.add() = record(104 * kS, kInside, kOutside, 5, 500);  // over budget
  engine.add(batch);
  std::vector<CapturedFlow> got = engine.take_captured();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].record.packets, 2u);
  EXPECT_EQ(got[1].record.packets, 3u);
  EXPECT_EQ(got[2].record.packets, 4u);
  for (const CapturedFlow& c : got) EXPECT_EQ(c.subject, kInside);
  EXPECT_TRUE(engine.take_captured().empty());

  // Spent, it is not restarted before its deadline (112 s) ...
  engine.capture(1, kInside, 3, 120 * kS);
  flow::FlowBatch more;
  more.add() = record(105 * kS, kInside, kOutside, 6, 600);
  engine.add(more);
  EXPECT_TRUE(engine.take_captured().empty());
  // ... and after it, a new capture starts afresh.
  flow::FlowBatch late;
  late.add() = record(121 * kS, kInside, kOutside, 7, 700);
  engine.add(late);
  engine.capture(1, kInside, 2, 130 * kS);
  flow::FlowBatch again;
  again.add() = record(122 * kS, kInside, kOutside, 8, 800);
  again.add() = record(131 * kS, kInside, kOutside, 9, 900);  // past the deadline
  engine.add(again);
  got = engine.take_captured();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].record.packets, 8u);
  EXPECT_EQ(engine.stats().flows_captured, 4u);

  // At most kMaxCapturesPerTenant subjects at a time; the rest are refused and counted.
  for (uint32_t h = 0; h < AnalysisEngine::kMaxCapturesPerTenant + 3; ++h) {
    engine.capture(1, flow::IpAddress::from_v4(0x0b000000 + h), 1, 500 * kS);
  }
  EXPECT_EQ(engine.stats().captures_refused, 3u);
}

}  // namespace
}  // namespace fathom::analyze
