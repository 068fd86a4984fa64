#include "estimate/window_estimator.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <random>
#include <vector>

#include <gtest/gtest.h>

// Counts every heap allocation in this test binary, so a test can prove that adding records
// to an open window allocates nothing (the same counter as tests/transform/tenant_map_test).
namespace {
std::atomic<uint64_t> g_allocations{0};

// Out of line so GCC, inlining operator delete, does not see free() paired with operator new.
[[gnu::noinline]] void release(void* p) noexcept {
  std::free(p);
}
}  // namespace

void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](size_t size) {
  return operator new(size);
}
void* operator new[](size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void operator delete(void* p) noexcept {
  release(p);
}
void operator delete[](void* p) noexcept {
  release(p);
}
void operator delete[](void* p, size_t) noexcept {
  release(p);
}
void operator delete(void* p, size_t) noexcept {
  release(p);
}

namespace fathom::estimate {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

flow::IpAddress v4(uint32_t a) {
  return flow::IpAddress::from_v4(a);
}

struct Rec {
  uint32_t tenant = 7;
  double at_s = 1;
  uint32_t src = 0x0a000001;
  uint32_t dst = 0x08080808;
  flow::Direction direction = flow::Direction::kOutbound;
  uint64_t packets = 1;
  uint64_t bytes = 100;
  uint32_t rate = 100;
  uint8_t proto = 17;
  uint16_t src_port = 40000;
  uint16_t dst_port = 53;
  uint16_t tcp_flags = 0;
  uint16_t flags = 0;
};

flow::FlowRecord make(const Rec& r) {
  flow::FlowRecord out;
  out.tenant_id = r.tenant;
  out.arrival_ns = static_cast<int64_t>(r.at_s * kSecond);
  out.start_ns = out.arrival_ns - kSecond;
  out.end_ns = out.arrival_ns;
  out.src = v4(r.src);
  out.dst = v4(r.dst);
  out.direction = r.direction;
  out.packets = r.packets;
  out.bytes = r.bytes;
  out.device_sampling_rate = r.rate;
  out.sampling_rate = r.rate;
  out.ip_protocol = r.proto;
  out.src_port = r.src_port;
  out.dst_port = r.dst_port;
  out.tcp_flags = r.tcp_flags;
  out.flags = r.flags;
  return out;
}

const HostTotals* find_host(const WindowResult& res, uint32_t address) {
  for (const HostTotals& h : res.hosts) {
    if (h.address == v4(address)) return &h;
  }
  return nullptr;
}

TEST(WindowEstimator, TotalsHostsPortsAndPeers) {
  WindowEstimator est;
  const std::vector<flow::FlowRecord> records = {
      // 10.0.0.1 asks 8.8.8.8 for DNS: 2 sampled packets, 200 bytes.
      make({.packets = 2, .bytes = 200}),
      // 1.2.3.4 opens HTTPS to 10.0.0.2: a SYN.
      make({.src = 0x01020304,
            .dst = 0x0a000002,
            .direction = flow::Direction::kInbound,
            .bytes = 60,
            .proto = 6,
            .src_port = 51000,
            .dst_port = 443,
            .tcp_flags = tcp_flag::kSyn}),
      // 10.0.0.1 → 10.0.0.2 SSH, internal.
      make({.src = 0x0a000001,
            .dst = 0x0a000002,
            .direction = flow::Direction::kInternal,
            .packets = 3,
            .bytes = 3000,
            .proto = 6,
            .src_port = 50000,
            .dst_port = 22,
            .tcp_flags = tcp_flag::kAck}),
  };
  est.add(records);
  EXPECT_EQ(est.open_windows(), 1u);
  EXPECT_TRUE(est.advance(64 * kSecond).empty());  // 60 s + 5 s lateness not reached
  const std::vector<WindowResult> out = est.advance(65 * kSecond);
  ASSERT_EQ(out.size(), 1u);
  const WindowResult& res = out[0];
  EXPECT_EQ(res.tenant_id, 7u);
  EXPECT_EQ(res.start_ns, 0);
  EXPECT_EQ(res.end_ns, 60 * kSecond);
  EXPECT_EQ(res.total.packets.sum, 600.0);
  EXPECT_EQ(res.total.bytes.sum, 326000.0);
  EXPECT_EQ(res.total.tcp_flows.sum, 100.0);
  EXPECT_EQ(res.counters.records_counted, 3u);
  EXPECT_EQ(res.max_sampling_rate, 100.0);
  EXPECT_EQ(res.by_direction[static_cast<size_t>(flow::Direction::kOutbound)].packets.sum, 200.0);
  EXPECT_EQ(res.by_direction[static_cast<size_t>(flow::Direction::kInbound)].tcp_flows.sum, 100.0);
  EXPECT_EQ(res.by_direction[static_cast<size_t>(flow::Direction::kInternal)].bytes.sum, 300000.0);

  ASSERT_EQ(res.hosts.size(), 2u);
  const HostTotals* h1 = find_host(res, 0x0a000001);
  const HostTotals* h2 = find_host(res, 0x0a000002);
  ASSERT_NE(h1, nullptr);
  ASSERT_NE(h2, nullptr);
  EXPECT_EQ(h1->sent_packets.sum, 500.0);
  EXPECT_EQ(h1->received_packets.sum, 0.0);
  EXPECT_EQ(h2->received_packets.sum, 400.0);
  EXPECT_EQ(h2->received_bytes.sum, 306000.0);
  EXPECT_LT(res.hosts[0].address, res.hosts[1].address);

  ASSERT_EQ(res.ports.size(), 3u);  // sorted: (6, 22), (6, 443), (17, 53)
  EXPECT_EQ(res.ports[0].protocol, 6);
  EXPECT_EQ(res.ports[0].port, 22);
  EXPECT_EQ(res.ports[1].port, 443);
  EXPECT_EQ(res.ports[1].traffic.tcp_flows.sum, 100.0);
  EXPECT_EQ(res.ports[2].protocol, 17);
  EXPECT_EQ(res.ports[2].port, 53);
  ASSERT_EQ(res.peers.size(), 2u);  // 1.2.3.4 and 8.8.8.8

  const TenantWindowSummary sum = summarize(res);
  EXPECT_EQ(sum.tenant_id, 7u);
  EXPECT_EQ(sum.total.packets.value, 600.0);
  EXPECT_LT(sum.total.packets.ci_low, 600.0);
  EXPECT_GT(sum.total.packets.ci_high, 600.0);
  EXPECT_EQ(sum.total.packets.samples, 6u);
  EXPECT_EQ(sum.external_peers.observed, 2u);
  EXPECT_EQ(sum.internal_hosts.observed, 2u);
  EXPECT_EQ(sum.service_ports.observed, 3u);
  ASSERT_EQ(sum.top_hosts.size(), 2u);
  EXPECT_EQ(sum.top_hosts[0].address, v4(0x0a000001));  // 320 kB sent beats 306 kB received
  ASSERT_EQ(sum.top_ports.size(), 3u);
  EXPECT_EQ(sum.top_ports[0].port, 22);
  // 10.0.0.2 sent nothing: still an interval, [0, 3.689 × 100] packets.
  const HostEstimate& quiet = sum.top_hosts[1];
  EXPECT_EQ(quiet.address, v4(0x0a000002));
  EXPECT_EQ(quiet.sent_packets.value, 0.0);
  EXPECT_EQ(quiet.sent_packets.ci_low, 0.0);
  EXPECT_NEAR(quiet.sent_packets.ci_high, 368.888, 1e-3);
  EXPECT_NEAR(quiet.sent_bytes.ci_high, 368.888 * 1500, 1);
  SummaryOptions top1;
  top1.top_n = 1;
  EXPECT_EQ(summarize(res, top1).top_hosts.size(), 1u);

  EXPECT_EQ(est.stats().records, 3u);
  EXPECT_EQ(est.stats().records_counted, 3u);
  EXPECT_EQ(est.stats().windows_closed, 1u);
  EXPECT_EQ(est.open_windows(), 0u);
}

TEST(WindowEstimator, NotCountedRecordsAreSkippedAndCounted) {
  WindowEstimator est;
  const std::vector<flow::FlowRecord> records = {
      make({.packets = 5}),
      make({.packets = 7, .flags = flow::record_flags::kNotCounted}),
      make({.packets = 9, .flags = flow::record_flags::kNotCounted}),
  };
  est.add(records);
  const std::vector<WindowResult> out = est.flush();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].total.packets.sum, 500.0);
  EXPECT_EQ(out[0].counters.records_counted, 1u);
  EXPECT_EQ(out[0].counters.records_not_counted, 2u);
  EXPECT_EQ(out[0].hosts.size(), 1u);
  EXPECT_EQ(est.stats().records_not_counted, 2u);
  EXPECT_EQ(summarize(out[0]).counters.records_not_counted, 2u);
}

TEST(WindowEstimator, LateRecordsAreCountedNotEstimated) {
  WindowEstimator est;
  est.add(std::vector{make({.at_s = 10})});
  ASSERT_EQ(est.advance(70 * kSecond).size(), 1u);  // window [0, 60) closed
  // A record for the closed window, then one for the next.
  est.add(std::vector{make({.at_s = 30, .packets = 4}), make({.at_s = 70, .packets = 2})});
  EXPECT_EQ(est.stats().records_late, 1u);
  const std::vector<WindowResult> out = est.advance(200 * kSecond);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].start_ns, 60 * kSecond);
  EXPECT_EQ(out[0].total.packets.sum, 200.0);
  EXPECT_EQ(out[0].counters.records_late, 1u);
}

TEST(WindowEstimator, RecordTimesCloseWindowsWithoutAdvance) {
  // A file replay never calls advance: the newest record time closes old windows, so only
  // a bounded number stay open.
  WindowEstimator est;
  for (int minute = 0; minute < 30; ++minute) {
    est.add(std::vector{make({.at_s = minute * 60.0 + 30})});
    EXPECT_LE(est.open_windows(), 2u);
  }
  const std::vector<WindowResult> closed = est.advance(0);  // an old clock closes nothing more
  EXPECT_EQ(closed.size(), 29u);
  for (size_t win_idx = 1; win_idx < closed.size(); ++win_idx) {
    EXPECT_LT(closed[win_idx - 1].start_ns, closed[win_idx].start_ns);
  }
  EXPECT_EQ(est.flush().size(), 1u);
  // After a flush everything up to the newest window is closed.
  est.add(std::vector{make({.at_s = 29 * 60.0 + 40})});
  EXPECT_EQ(est.stats().records_late, 1u);
}

TEST(WindowEstimator, HostCapSendsTheRestToAnOverflowBucket) {
  WindowConfig cfg;
  cfg.max_hosts_per_tenant = 4;
  cfg.max_ports_per_tenant = 2;
  cfg.max_peers_per_tenant = 3;
  WindowEstimator est(cfg);
  std::vector<flow::FlowRecord> records;
  for (uint32_t host_idx = 0; host_idx < 10; ++host_idx) {
    records.push_back(make({.src = 0x0a000000 + host_idx,
                            .dst = 0x08080800 + host_idx,
                            .packets = 1 + host_idx,
                            .dst_port = static_cast<uint16_t>(100 + host_idx)}));
  }
  est.add(records);
  const std::vector<WindowResult> out = est.flush();
  ASSERT_EQ(out.size(), 1u);
  const WindowResult& res = out[0];
  EXPECT_EQ(res.hosts.size(), 4u);
  EXPECT_EQ(res.counters.hosts_overflowed, 6u);
  // The first four hosts (1..4 packets) have rows; 5..10 packets went to the bucket.
  EXPECT_EQ(res.other_hosts.sent_packets.sum, 100.0 * (5 + 6 + 7 + 8 + 9 + 10));
  EXPECT_EQ(res.other_hosts.sent_packets.records, 6u);
  double host_sum = res.other_hosts.sent_packets.sum;
  for (const HostTotals& h : res.hosts) host_sum += h.sent_packets.sum;
  EXPECT_EQ(host_sum, res.total.packets.sum);  // nothing lost from the totals
  EXPECT_EQ(res.ports.size(), 2u);
  EXPECT_EQ(res.counters.ports_overflowed, 8u);
  EXPECT_EQ(res.peers.size(), 3u);
  EXPECT_TRUE(res.peers_capped);
  EXPECT_EQ(res.counters.peers_overflowed, 7u);
  const TenantWindowSummary sum = summarize(res);
  EXPECT_TRUE(sum.internal_hosts.capped);
  EXPECT_TRUE(sum.external_peers.capped);
  EXPECT_TRUE(sum.service_ports.capped);
  EXPECT_EQ(sum.counters.hosts_overflowed, 6u);
}

// Compares everything but floating-point rounding.
void expect_same(const Accumulator& a, const Accumulator& b, const char* what) {
  EXPECT_EQ(a.records, b.records) << what;
  EXPECT_EQ(a.units, b.units) << what;
  EXPECT_EQ(a.min_unit_weight, b.min_unit_weight) << what;
  EXPECT_EQ(a.max_unit_weight, b.max_unit_weight) << what;
  for (auto [x, y] : {std::pair{a.raw, b.raw}, std::pair{a.sum, b.sum},
                      std::pair{a.sum_sq, b.sum_sq}, std::pair{a.variance, b.variance}}) {
    EXPECT_NEAR(x, y, 1e-12 * std::max(1.0, std::abs(y))) << what;
  }
}

TEST(WindowEstimator, MergedWindowsEqualOneLongerWindow) {
  std::mt19937_64 rng(42);
  std::vector<flow::FlowRecord> records;
  for (int rec_idx = 0; rec_idx < 3000; ++rec_idx) {
    Rec r;
    r.at_s = std::uniform_real_distribution<double>(0, 240)(rng);
    r.src = 0x0a000000 + static_cast<uint32_t>(rng() % 50);
    r.dst = 0x08000000 + static_cast<uint32_t>(rng() % 80);
    r.direction = rng() % 3 == 0 ? flow::Direction::kInbound : flow::Direction::kOutbound;
    if (r.direction == flow::Direction::kInbound) std::swap(r.src, r.dst);
    r.packets = 1 + rng() % 20;
    r.bytes = r.packets * (40 + rng() % 1460);
    r.rate = rng() % 2 == 0 ? 100 : 1000;
    r.proto = rng() % 2 == 0 ? 6 : 17;
    r.dst_port = static_cast<uint16_t>(rng() % 30);
    r.tcp_flags = rng() % 4 == 0 ? tcp_flag::kSyn : tcp_flag::kAck;
    r.flags = rng() % 10 == 0 ? flow::record_flags::kNotCounted : 0;
    records.push_back(make(r));
  }
  // Arrival order is time order (up to the allowed lateness).
  std::sort(records.begin(), records.end(),
            [](const flow::FlowRecord& a, const flow::FlowRecord& b) {
              return a.arrival_ns < b.arrival_ns;
            });
  WindowConfig minute;
  WindowConfig four_minutes;
  four_minutes.window_ns = 240 * kSecond;
  WindowEstimator short_est(minute);
  WindowEstimator long_est(four_minutes);
  // In batches, as the bus delivers them.
  for (size_t first = 0; first < records.size(); first += 500) {
    const std::span<const flow::FlowRecord> all(records);
    short_est.add(all.subspan(first, std::min<size_t>(500, records.size() - first)));
    long_est.add(all.subspan(first, std::min<size_t>(500, records.size() - first)));
  }
  const std::vector<WindowResult> minutes = short_est.flush();
  const std::vector<WindowResult> whole = long_est.flush();
  ASSERT_EQ(minutes.size(), 4u);
  ASSERT_EQ(whole.size(), 1u);
  WindowResult merged;
  for (const WindowResult& m : minutes) merged.merge(m);
  const WindowResult& w = whole[0];
  EXPECT_EQ(merged.tenant_id, w.tenant_id);
  EXPECT_EQ(merged.start_ns, w.start_ns);
  EXPECT_EQ(merged.end_ns, w.end_ns);
  EXPECT_EQ(merged.counters, w.counters);
  EXPECT_EQ(merged.max_sampling_rate, w.max_sampling_rate);
  expect_same(merged.total.packets, w.total.packets, "packets");
  expect_same(merged.total.bytes, w.total.bytes, "bytes");
  expect_same(merged.total.tcp_flows, w.total.tcp_flows, "flows");
  for (size_t dir_idx = 0; dir_idx < kDirectionCount; ++dir_idx) {
    expect_same(merged.by_direction[dir_idx].bytes, w.by_direction[dir_idx].bytes, "direction");
  }
  ASSERT_EQ(merged.hosts.size(), w.hosts.size());
  for (size_t host_idx = 0; host_idx < w.hosts.size(); ++host_idx) {
    EXPECT_EQ(merged.hosts[host_idx].address, w.hosts[host_idx].address);
    expect_same(merged.hosts[host_idx].sent_bytes, w.hosts[host_idx].sent_bytes, "host sent");
    expect_same(merged.hosts[host_idx].received_packets, w.hosts[host_idx].received_packets,
                "host received");
  }
  ASSERT_EQ(merged.ports.size(), w.ports.size());
  for (size_t port_idx = 0; port_idx < w.ports.size(); ++port_idx) {
    EXPECT_EQ(merged.ports[port_idx].port, w.ports[port_idx].port);
    expect_same(merged.ports[port_idx].traffic.tcp_flows, w.ports[port_idx].traffic.tcp_flows,
                "port flows");
  }
  ASSERT_EQ(merged.peers.size(), w.peers.size());
  for (size_t peer_idx = 0; peer_idx < w.peers.size(); ++peer_idx) {
    EXPECT_EQ(merged.peers[peer_idx].address, w.peers[peer_idx].address);
    EXPECT_NEAR(merged.peers[peer_idx].weight.packets, w.peers[peer_idx].weight.packets, 1e-6);
  }
  // And so do their summaries.
  const TenantWindowSummary a = summarize(merged);
  const TenantWindowSummary b = summarize(w);
  EXPECT_NEAR(a.total.bytes.ci_high, b.total.bytes.ci_high, 1e-9 * b.total.bytes.ci_high);
  EXPECT_EQ(a.external_peers.observed, b.external_peers.observed);
  EXPECT_NEAR(a.external_peers.estimate, b.external_peers.estimate, 1e-9);
}

TEST(WindowEstimator, FlowEndTimeBasis) {
  WindowConfig cfg;
  cfg.time_basis = TimeBasis::kFlowEnd;
  cfg.allowed_lateness_ns = 30 * kSecond;
  WindowEstimator est(cfg);
  flow::FlowRecord ended_before = make({.at_s = 65, .packets = 1});
  ended_before.end_ns = 50 * kSecond;  // flow ended in [0, 60), exported at 65 s
  flow::FlowRecord skewed = make({.at_s = 65, .packets = 2});
  skewed.end_ns = 65 * kSecond - 3600 * kSecond;  // an exporter clock an hour behind
  flow::FlowRecord ahead = make({.at_s = 65, .packets = 4});
  ahead.end_ns = 65 * kSecond + 60 * kSecond;  // a minute ahead
  flow::FlowRecord no_times = make({.at_s = 65, .packets = 8});
  no_times.flags |= flow::record_flags::kNoFlowTimes;
  no_times.end_ns = 10 * kSecond;
  est.add(std::vector{ended_before, skewed, ahead, no_times});
  EXPECT_EQ(est.stats().records_time_fallback, 3u);
  const std::vector<WindowResult> out = est.flush();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].start_ns, 0);
  EXPECT_EQ(out[0].total.packets.sum, 100.0);
  EXPECT_EQ(out[1].start_ns, 60 * kSecond);
  EXPECT_EQ(out[1].total.packets.sum, 1400.0);
}

TEST(WindowEstimator, UnusableRecordsAreCounted) {
  WindowConfig cfg;
  cfg.max_tenants = 2;
  WindowEstimator est(cfg);
  flow::FlowRecord bad_rate = make({.tenant = 1});
  bad_rate.sampling_rate = 0.0;
  flow::FlowRecord unknown_rate = make({.tenant = 1, .rate = 1});
  unknown_rate.flags |= flow::record_flags::kSamplingRateUnknown;
  est.add(std::vector{make({.tenant = 0}), bad_rate, unknown_rate, make({.tenant = 2}),
                      make({.tenant = 3})});
  const EstimatorStats& s = est.stats();
  EXPECT_EQ(s.records, 5u);
  EXPECT_EQ(s.records_no_tenant, 1u);
  EXPECT_EQ(s.records_bad_rate, 1u);
  EXPECT_EQ(s.records_rate_unknown, 1u);
  EXPECT_EQ(s.records_tenant_overflow, 1u);
  EXPECT_EQ(s.records_counted, 2u);
  const std::vector<WindowResult> out = est.flush();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].tenant_id, 1u);
  EXPECT_EQ(out[0].counters.records_bad_rate, 1u);
  EXPECT_EQ(out[0].counters.records_rate_unknown, 1u);
  EXPECT_EQ(out[1].tenant_id, 2u);
}

TEST(WindowEstimator, ConversationsKeptWholeAddTheirCovariance) {
  // Secondary sampling p = 0.5 on top of 1 in 10 (w = 20). The sampler keeps or drops both
  // directions of a conversation together.
  const uint32_t a = 0x0a000001;
  const uint32_t b = 0x08080808;
  auto rec = [](uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, flow::Direction d,
                uint64_t packets) {
    flow::FlowRecord r = make({.src = src,
                               .dst = dst,
                               .direction = d,
                               .packets = packets,
                               .bytes = packets * 100,
                               .rate = 10,
                               .proto = 6,
                               .src_port = sport,
                               .dst_port = dport});
    r.sampling_rate = 20;
    r.flags |= flow::record_flags::kSecondarySampled;
    return r;
  };
  WindowEstimator est;
  est.add(std::vector{rec(a, b, 50000, 443, flow::Direction::kOutbound, 3),
                      rec(b, a, 443, 50000, flow::Direction::kInbound, 2),
                      rec(a, b, 50000, 443, flow::Direction::kOutbound, 1),
                      // Another conversation (another client port): independent of the first.
                      rec(a, b, 50001, 443, flow::Direction::kOutbound, 1)});
  const std::vector<WindowResult> out = est.flush();
  ASSERT_EQ(out.size(), 1u);
  const WindowResult& res = out[0];
  // Weighted packets 60, 40, 20 (one conversation) and 20. First stage: 20·9 per packet.
  // Second stage per conversation: 0.5 × (60 + 40 + 20)² and 0.5 × 20², not the sum of
  // each record's 0.5 × x².
  EXPECT_DOUBLE_EQ(res.total.packets.variance, 180.0 * 7 + 0.5 * 120 * 120 + 0.5 * 20 * 20);
  ASSERT_EQ(res.ports.size(), 1u);
  EXPECT_DOUBLE_EQ(res.ports[0].traffic.packets.variance, res.total.packets.variance);
  // One side only: what a sent (80 within the first conversation, 20 in the second) and
  // what it received (40).
  const HostTotals* host = find_host(res, a);
  ASSERT_NE(host, nullptr);
  EXPECT_DOUBLE_EQ(host->sent_packets.variance, 180.0 * 5 + 0.5 * 80 * 80 + 0.5 * 20 * 20);
  EXPECT_DOUBLE_EQ(host->received_packets.variance, 180.0 * 2 + 0.5 * 40 * 40);
  EXPECT_DOUBLE_EQ(
      res.by_direction[static_cast<size_t>(flow::Direction::kOutbound)].packets.variance,
      host->sent_packets.variance);
  // Bytes likewise. Σsize² of the 3- and 2-packet records is bounded by 220² + 2·40² and
  // 160² + 40² (record_model_test), exact (100²) for the 1-packet ones.
  EXPECT_DOUBLE_EQ(res.total.bytes.variance, 180.0 * (51600.0 + 27200.0 + 10000.0 * 2) +
                                                 0.5 * (12000.0 * 12000 + 2000.0 * 2000));
  EXPECT_EQ(res.counters.conversations_overflowed, 0u);

  // Capped: the records are then taken as independent, and counted.
  WindowConfig cfg;
  cfg.max_conversations_per_tenant = 0;
  WindowEstimator capped(cfg);
  capped.add(std::vector{rec(a, b, 50000, 443, flow::Direction::kOutbound, 3),
                         rec(b, a, 443, 50000, flow::Direction::kInbound, 2)});
  const std::vector<WindowResult> capped_out = capped.flush();
  EXPECT_DOUBLE_EQ(capped_out[0].total.packets.variance, 180.0 * 5 + 0.5 * 3600 + 0.5 * 1600);
  EXPECT_EQ(capped_out[0].counters.conversations_overflowed, 2u);
}

TEST(WindowEstimator, NoAllocationPerRecordOnceWarm) {
  WindowEstimator est;
  std::vector<flow::FlowRecord> batch;
  for (uint32_t rec_idx = 0; rec_idx < 2000; ++rec_idx) {
    batch.push_back(make({.at_s = 5,
                          .src = 0x0a000000 + rec_idx % 300,
                          .dst = 0x08000000 + rec_idx % 700,
                          .dst_port = static_cast<uint16_t>(rec_idx % 100)}));
  }
  est.add(batch);  // the tables grow to their working size
  const uint64_t before = g_allocations.load();
  est.add(batch);
  est.add(batch);
  EXPECT_EQ(g_allocations.load() - before, 0u);
  // The next window reuses the closed window's tables: a handful of allocations (the tenant
  // entry), not one per record.
  for (flow::FlowRecord& r : batch) r.arrival_ns += 60 * kSecond;
  EXPECT_EQ(est.advance(65 * kSecond).size(), 1u);
  const uint64_t next = g_allocations.load();
  est.add(batch);
  EXPECT_LE(g_allocations.load() - next, 4u);
}

}  // namespace
}  // namespace fathom::estimate
