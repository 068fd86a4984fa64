// The analysis stage, one core: AnalysisEngine::add (records → the open slide's per-host
// slots and tenant totals) and the close of a slide (level-0 ring merged into a window, the
// rules over it, higher levels' merges when their slides end), with RuleEngine::evaluate as
// the window sink, as `fathom run` wires it.
//
// Traffic (one tenant, id 7, sampling rate 100, device rate 100): records built by a
// deterministic function of their index, so expectations are recomputed exactly. 45%
// outbound (internal client → external service), 45% inbound (external → internal: mostly
// responses, some connections to internal services), 10% internal ↔ internal; 60% TCP (flags
// mostly SYN|ACK|PSH|FIN, 1% bare SYN), 35% UDP, 5% ICMP; 1–3 packets a record.
//
// BM_Ingest/hosts:N/levels:L/{closing,open}: AnalysisEngine::add on a pool of 64 pre-built
//   FlowBatches (4096 records, 262 k records): internal host = index mod N (every host in
//   every pass), external peer Zipf(1) over 100 k addresses. One iteration = one batch. The
//   caps are raised to hold every host (max_internal_hosts = N, max_external_hosts = 100 k),
//   so nothing is evicted; the levels are the default AnalyzeConfig's (L = 4) or its level 0
//   alone (L = 1).
//   closing: arrival = t0 + index µs (1 M records per simulated second, 2 M records per 2 s
//     slide). 5 slides are fed untimed first (the level-0 ring full), then timed: L = 4 2442
//     batches (10 M records): exactly 5 slide closes, one of which closes level 1 (10 s);
//     the 1-min and 5-min levels' closes (every 30 and 150 slides) are not in it; L = 1 977
//     batches (2 slide closes). Run once (Repetitions(1)): each run feeds 14–20 M records.
//   open: every arrival inside one slide, so no slide closes: the pure add cost. The
//     difference closing − open is the amortised slide close.
//   Before each add the batch's arrival times are rewritten with the timer paused (the batch
//   is then in cache, as one just decoded and enriched would be).
//
// BM_SlideClose/hosts:H/levels:L: each iteration fills one slide (untimed) with 2·H records
//   touching exactly H distinct hosts (H/2 internal, H/2 external, every host in 4 records),
//   then times AnalysisEngine::advance to the slide's end. Warm-up (untimed): 5 slides
//   (L = 1: the ring full of 5 slides of the same hosts), 25 slides for L = 4 (the level-1
//   ring full from the 6th level-1 slide on). Timed: L = 1 every slide alike; L = 4 the 10
//   slides from 50 s to 70 s: eight level-0-only closes (`ms_l0`), one with a level-1 close
//   (70 s, `ms_l1`), one with level-1 and 1-min closes (60 s, `ms_l2`; the 1-min ring holds
//   one slide); `mean_ms` = the steady mix (l0 + (l1 − l0)/5 + (l2 − l1)/30). The 5-min and
//   1-h rings are not in steady state (that takes 1800 slides), nor measured. Caps raised to
//   H. Time: thread CPU time per slide (ms); `wall_ms` (steady clock), `max_ms` (the slowest
//   slide, CPU).
//   Memory counters (after the run): `hosts` per slide; `bytes/host/bucket` = one bucket's
//   host-table memory / its hosts; `buckets` = EngineStats::memory_bytes / one bucket's;
//   `bytes/host/level` = memory_bytes / hosts / levels; `sizeof(HostSlot)`; `rss_delta_MB`
//   (resident set after the run − before the engine, /proc/self/statm); `maxrss_MB`
//   (getrusage, the process's peak so far).
//
// Checks (SkipWithError on a mismatch): records_analysed = records fed; slides and windows
// closed = expected; every level-0 window in the timed part holds the expected record count
// and a known host's estimated packets (packets_in + packets_out) equal the sum of its
// records' packets × 100 (relative error ≤ 1e-5: floats); BM_SlideClose also the host count.

#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "analyze/host_slot.h"
#include "analyze/sketch.h"
#include "analyze/window_engine.h"
#include "detect/rules.h"
#include "flow/flow_batch.h"
#include "flow/flow_record.h"

namespace {

using fathom::analyze::AnalysisEngine;
using fathom::analyze::AnalyzeConfig;
using fathom::analyze::HostSlot;
using fathom::analyze::TenantWindow;
using fathom::flow::FlowBatch;
using fathom::flow::FlowRecord;
using fathom::flow::IpAddress;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kSlideNs = 2 * kSecond;
constexpr int64_t kT0 = 1'705'327'200LL * kSecond;  // a whole hour: every level's slides align
constexpr uint32_t kTenant = 7;
constexpr double kRate = 100.0;
constexpr size_t kBatch = FlowBatch::kDefaultCapacity;

uint64_t splitmix(uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

IpAddress internal_host(uint32_t i) {
  return IpAddress::from_v4(0x0a000001u + i);  // 10.0.0.1 + i
}
IpAddress external_host(uint32_t i) {
  return IpAddress::from_v4(0x2d000001u + i * 7u);  // 45.0.0.1, every 7th address
}

/// Record `idx` between internal host `in` and external host `ext` (or internal `peer` for
/// internal traffic); arrival set by the caller.
FlowRecord make_record(uint64_t idx, uint32_t in, uint32_t ext, uint32_t peer) {
  const uint64_t r = splitmix(idx);
  FlowRecord rec;
  rec.tenant_id = kTenant;
  rec.sampling_rate = kRate;
  rec.device_sampling_rate = static_cast<uint32_t>(kRate);
  rec.packets = 1 + (r >> 8) % 3;
  const uint32_t dir = (r >> 12) % 100;  // < 45 outbound, < 90 inbound, else internal
  const uint32_t proto = (r >> 20) % 100;
  const uint16_t ephemeral = static_cast<uint16_t>(32768 + (r >> 28) % 28000);
  rec.ip_protocol = proto < 60 ? 6 : (proto < 95 ? 17 : 1);
  uint16_t service = 0;
  if (rec.ip_protocol == 6) {
    const uint32_t f = (r >> 44) % 100;
    rec.tcp_flags = f < 1 ? 0x02 : (f < 70 ? 0x1b : 0x18);
    const uint32_t s = (r >> 52) % 1000;
    service = s < 700 ? 443 : (s < 950 ? 80 : (s < 999 ? 25 : 22));
  } else if (rec.ip_protocol == 17) {
    const uint32_t s = (r >> 52) % 100;
    service = s < 50 ? 53 : (s < 60 ? 123 : 443);
  }
  const bool has_ports = rec.ip_protocol != 1;
  const IpAddress inside = internal_host(in);
  if (dir < 45) {  // outbound request: small packets
    rec.src = inside;
    rec.dst = external_host(ext);
    rec.src_port = has_ports ? ephemeral : 0;
    rec.dst_port = service;
    rec.intel_flags = fathom::flow::intel_flags::kSrcInternal;
    rec.direction = fathom::flow::Direction::kOutbound;
    rec.bytes = rec.packets * (60 + (r >> 36) % 200);
  } else if (dir < 90) {  // inbound: responses, some connections to internal services
    rec.src = external_host(ext);
    rec.dst = inside;
    const bool response = dir < 85;
    rec.src_port = has_ports ? (response ? service : ephemeral) : 0;
    rec.dst_port = has_ports ? (response ? ephemeral : service) : 0;
    rec.intel_flags = fathom::flow::intel_flags::kDstInternal;
    rec.direction = fathom::flow::Direction::kInbound;
    rec.bytes = rec.packets * (200 + (r >> 36) % 1300);
  } else {
    rec.src = inside;
    rec.dst = internal_host(peer);
    rec.src_port = has_ports ? ephemeral : 0;
    rec.dst_port = service;
    rec.intel_flags =
        fathom::flow::intel_flags::kSrcInternal | fathom::flow::intel_flags::kDstInternal;
    rec.direction = fathom::flow::Direction::kInternal;
    rec.bytes = rec.packets * (60 + (r >> 36) % 1400);
  }
  return rec;
}

/// Estimated packets a record contributes to `host` (as sender or receiver).
double packets_of(const FlowRecord& r, const IpAddress& host) {
  double p = 0;
  if (r.src == host) p += static_cast<double>(r.packets) * kRate;
  if (r.dst == host) p += static_cast<double>(r.packets) * kRate;
  return p;
}

/// The known host's estimated packets in a window, or -1 when it is not there.
double window_packets(const TenantWindow& w, const IpAddress& host) {
  const HostSlot* s = w.bucket->hosts.find(host, fathom::analyze::hash_address(host));
  return s == nullptr ? -1.0 : double{s->packets_in} + double{s->packets_out};
}

bool close_enough(double got, double want) {
  return std::abs(got - want) <= 1e-5 * std::max(1.0, std::abs(want));
}

double rss_bytes() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double maxrss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // kB on Linux
}

AnalyzeConfig engine_config(int levels, uint32_t internal, uint32_t external) {
  AnalyzeConfig c;
  if (levels == 1) c.levels.resize(1);
  c.max_internal_hosts = internal;
  c.max_external_hosts = external;
  return c;
}

/// Window sink: the rules, plus the checks of the level-0 windows while `checking`.
struct Sink {
  fathom::detect::RuleEngine rules{fathom::detect::RulesConfig{}};
  std::vector<fathom::detect::Detection> found;
  uint64_t detections = 0;
  uint64_t windows[8] = {};
  bool checking = false;
  IpAddress known;
  std::function<bool(const TenantWindow&)> check;  ///< false: a wrong window
  std::string error;

  void operator()(const TenantWindow& w) {
    rules.evaluate(w, found);
    detections += found.size();
    found.clear();
    ++windows[std::min<size_t>(w.level, 7)];
    if (checking && w.level == 0 && error.empty() && !check(w)) {
      error = "wrong window ending at " + std::to_string((w.end_ns - kT0) / kSecond) + " s";
    }
  }
};

// --- ingest -----------------------------------------------------------------------------------

constexpr size_t kPoolBatches = 64;
constexpr size_t kPoolRecords = kPoolBatches * kBatch;
constexpr uint32_t kExternalPeers = 100'000;
constexpr int64_t kRecordNs = 1000;                         // 1 M records per simulated second
constexpr int64_t kRecordsPerSlide = kSlideNs / kRecordNs;  // 2 M
constexpr size_t kWarmupBatches = (5 * kRecordsPerSlide + kBatch - 1) / kBatch;  // 2442
/// Timed batches: 5 slide closes with 4 levels (one of them also closes level 1), 2 with one.
constexpr size_t closing_batches(int levels) {
  return ((levels == 1 ? 2 : 5) * kRecordsPerSlide + kBatch - 1) / kBatch;
}

struct Pool {
  std::vector<FlowBatch> batches;
  /// prefix[p]: the known host's packets in pool records [0, p).
  std::vector<double> prefix;
  IpAddress known = internal_host(0);
};

const Pool& ingest_pool(uint32_t hosts) {
  static std::vector<std::pair<uint32_t, std::unique_ptr<Pool>>> cache;
  for (auto& [n, p] : cache) {
    if (n == hosts) return *p;
  }
  auto pool = std::make_unique<Pool>();
  std::vector<double> cdf(kExternalPeers);
  double sum = 0;
  for (uint32_t i = 0; i < kExternalPeers; ++i) cdf[i] = sum += 1.0 / (i + 1.0);
  pool->batches.resize(kPoolBatches);
  pool->prefix.assign(kPoolRecords + 1, 0.0);
  for (size_t idx = 0; idx < kPoolRecords; ++idx) {
    const uint64_t r = splitmix(idx ^ 0x5555);
    const double u = static_cast<double>(r >> 11) * 0x1p-53 * sum;
    const auto ext = static_cast<uint32_t>(std::min<size_t>(
        static_cast<size_t>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin()),
        kExternalPeers - 1));
    const auto in = static_cast<uint32_t>(idx % hosts);
    const auto peer = static_cast<uint32_t>((in + 1 + (r >> 40) % (hosts - 1)) % hosts);
    FlowRecord rec = make_record(idx, in, ext, peer);
    pool->prefix[idx + 1] = pool->prefix[idx] + packets_of(rec, pool->known);
    pool->batches[idx / kBatch].add() = rec;
  }
  cache.emplace_back(hosts, std::move(pool));
  return *cache.back().second;
}

/// The known host's packets in stream records [first, last) (the pool repeated).
double pool_packets(const Pool& pool, uint64_t first, uint64_t last) {
  const auto at = [&](uint64_t idx) {
    return static_cast<double>(idx / kPoolRecords) * pool.prefix[kPoolRecords] +
           pool.prefix[idx % kPoolRecords];
  };
  return at(last) - at(first);
}

void BM_Ingest(benchmark::State& state, uint32_t hosts, int levels, bool closing) {
  const Pool& pool_ref = ingest_pool(hosts);
  Pool& pool = const_cast<Pool&>(pool_ref);  // arrival times are rewritten per add
  Sink sink;
  sink.known = pool.known;
  AnalysisEngine engine(engine_config(levels, hosts, kExternalPeers),
                        [&sink](const TenantWindow& w) { sink(w); });
  uint64_t next = 0;  // stream index of the next record
  const auto arrival = [closing](uint64_t idx) {
    // open: every record in the first second of slide 0.
    return kT0 + (closing ? static_cast<int64_t>(idx) : static_cast<int64_t>(idx % 1'000'000)) *
                     kRecordNs;
  };
  const auto feed = [&](FlowBatch& b) {
    for (FlowRecord& r : b.records()) r.arrival_ns = arrival(next++);
  };
  // Level-0 windows of the timed part: 5 full slides of 2 M records each.
  sink.check = [&](const TenantWindow& w) {
    const auto end = static_cast<uint64_t>((w.end_ns - kT0) / kRecordNs);
    const auto first = static_cast<uint64_t>((w.start_ns - kT0) / kRecordNs);
    return w.bucket->totals.records == end - first &&
           close_enough(window_packets(w, pool.known), pool_packets(pool, first, end));
  };

  const size_t warmup = closing ? kWarmupBatches : kPoolBatches;
  for (size_t i = 0; i < warmup; ++i) {
    FlowBatch& b = pool.batches[i % kPoolBatches];
    feed(b);
    engine.add(b);
  }
  const fathom::analyze::EngineStats before = engine.stats();
  const uint64_t first_timed = next;
  const uint64_t allocs_before = fathom::bench::allocations();
  sink.checking = closing;
  size_t i = warmup;
  for (auto _ : state) {
    FlowBatch& b = pool.batches[i++ % kPoolBatches];
    state.PauseTiming();
    feed(b);
    state.ResumeTiming();
    engine.add(b);
  }
  const uint64_t allocs = fathom::bench::allocations() - allocs_before;
  sink.checking = false;
  const fathom::analyze::EngineStats& after = engine.stats();
  const uint64_t fed = next - first_timed;
  if (after.records_analysed - before.records_analysed != fed) {
    state.SkipWithError("records_analysed differs from the records fed");
    return;
  }
  if (!sink.error.empty()) {
    state.SkipWithError(sink.error.c_str());
    return;
  }
  const auto slide_of = [&](uint64_t idx) { return (arrival(idx) - kT0) / kSlideNs; };
  const auto slides = static_cast<uint64_t>(slide_of(next - 1) - slide_of(first_timed - 1));
  if (after.slides_closed - before.slides_closed != slides || (closing && slides == 0)) {
    state.SkipWithError("slides closed differ from the arrival times");
    return;
  }
  if (after.hosts_evicted + after.hosts_rejected != 0) {
    state.SkipWithError("hosts evicted or rejected: the caps do not hold the population");
    return;
  }
  if (!closing) {
    // Close the one slide: its window holds every record fed.
    sink.checking = true;
    sink.check = [&](const TenantWindow& w) {
      return w.bucket->totals.records == next &&
             close_enough(window_packets(w, pool.known), pool_packets(pool, 0, next));
    };
    engine.advance(kT0 + kSlideNs);
    if (!sink.error.empty() || sink.windows[0] != 1) {
      state.SkipWithError("the open slide's window is wrong");
      return;
    }
  }
  const auto n = static_cast<int64_t>(fed);
  state.SetItemsProcessed(n);
  state.counters["ns/record"] = benchmark::Counter(
      static_cast<double>(n), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["allocs/record"] = static_cast<double>(allocs) / static_cast<double>(n);
  state.counters["slides"] = static_cast<double>(slides);
  state.counters["memory_MB"] = static_cast<double>(after.memory_bytes) / 1e6;
}

// --- slide close --------------------------------------------------------------------------

/// Record j of every slide of BM_SlideClose: H/2 internal and H/2 external hosts, 4 records
/// each (2·H records: record j pairs internal j mod H/2 with an external shifted each pass).
FlowRecord slide_record(uint64_t j, uint32_t half) {
  const auto in = static_cast<uint32_t>(j % half);
  const auto pass = static_cast<uint32_t>(j / half);
  const auto ext = static_cast<uint32_t>((j + pass * 7919ull) % half);
  // Internal traffic goes to an external host instead, so that every host count is exact.
  FlowRecord r = make_record(j, in, ext, 0);
  if (r.direction == fathom::flow::Direction::kInternal) {
    r.dst = external_host(ext);
    r.intel_flags = fathom::flow::intel_flags::kSrcInternal;
    r.direction = fathom::flow::Direction::kOutbound;
  }
  return r;
}

void BM_SlideClose(benchmark::State& state, uint32_t hosts, int levels) {
  const uint32_t half = hosts / 2;
  const uint64_t per_slide = 2ull * hosts;
  const int64_t record_ns = kSlideNs / static_cast<int64_t>(per_slide);
  const IpAddress known = internal_host(0);
  double known_packets = 0;  // per slide
  for (uint64_t j = 0; j < per_slide; j += half)
    known_packets += packets_of(slide_record(j, half), known);

  const double rss_before = rss_bytes();
  Sink sink;
  sink.known = known;
  sink.check = [&](const TenantWindow& w) {
    return w.bucket->totals.records == 5 * per_slide && w.bucket->hosts.size() == hosts &&
           close_enough(window_packets(w, known), 5 * known_packets);
  };
  size_t bucket_bytes = 0;
  const AnalyzeConfig config = engine_config(levels, half, half);
  AnalysisEngine engine(config, [&](const TenantWindow& w) {
    sink(w);
    if (w.level == 0) bucket_bytes = w.bucket->hosts.memory_bytes();
  });
  FlowBatch batch;
  int64_t slide = 0;
  const auto fill = [&] {
    const int64_t start = kT0 + slide * kSlideNs;
    for (uint64_t j = 0; j < per_slide; ++j) {
      FlowRecord& r = batch.add();
      r = slide_record(j, half);
      r.arrival_ns = start + static_cast<int64_t>(j) * record_ns;
      if (batch.full()) {
        engine.add(batch);
        batch.clear();
      }
    }
    engine.add(batch);
    batch.clear();
  };
  const int64_t warmup = levels == 1 ? 5 : 25;
  for (; slide < warmup; ++slide) {
    fill();
    engine.advance(kT0 + (slide + 1) * kSlideNs);
  }
  const fathom::analyze::EngineStats before = engine.stats();
  const int64_t first_timed = slide;
  double max_ms = 0;
  double wall_ns = 0;
  // CPU ms by the longest level that closes a window at the slide's end (0: level 0 only).
  std::array<double, 4> class_ms{};
  std::array<int, 4> class_n{};
  const auto top_level = [&](int64_t s) {
    size_t top = 0;
    for (size_t l = 0; l < config.levels.size(); ++l) {
      if ((s + 1) * kSlideNs % config.levels[l].slide_ns == 0) top = l;
    }
    return std::min<size_t>(top, 3);
  };
  sink.checking = true;
  for (auto _ : state) {
    state.PauseTiming();
    fill();
    const auto wall0 = std::chrono::steady_clock::now();
    timespec c0{}, c1{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    state.ResumeTiming();
    engine.advance(kT0 + (slide + 1) * kSlideNs);
    state.PauseTiming();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    wall_ns +=
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - wall0).count();
    const double ms = static_cast<double>(c1.tv_sec - c0.tv_sec) * 1e3 +
                      static_cast<double>(c1.tv_nsec - c0.tv_nsec) * 1e-6;
    max_ms = std::max(max_ms, ms);
    class_ms[top_level(slide)] += ms;
    ++class_n[top_level(slide)];
    ++slide;
    state.ResumeTiming();
  }
  sink.checking = false;
  const fathom::analyze::EngineStats& after = engine.stats();
  const auto timed = static_cast<uint64_t>(slide - first_timed);
  if (after.records_analysed != static_cast<uint64_t>(slide) * per_slide) {
    state.SkipWithError("records_analysed differs from the records fed");
    return;
  }
  if (!sink.error.empty()) {
    state.SkipWithError(sink.error.c_str());
    return;
  }
  uint64_t want_windows = 0;
  for (int64_t s = first_timed; s < slide; ++s) {
    const int64_t end = (s + 1) * kSlideNs;  // since kT0, a whole hour
    for (const auto& lv : config.levels) want_windows += end % lv.slide_ns == 0 ? 1 : 0;
  }
  if (after.slides_closed - before.slides_closed != timed ||
      after.windows_closed - before.windows_closed != want_windows) {
    state.SkipWithError("slides or windows closed differ from the expected count");
    return;
  }
  if (after.hosts_evicted + after.hosts_rejected != 0) {
    state.SkipWithError("hosts evicted or rejected: the caps do not hold the population");
    return;
  }
  const double mem = static_cast<double>(after.memory_bytes);
  state.counters["wall_ms"] = wall_ns / 1e6 / static_cast<double>(timed);
  state.counters["max_ms"] = max_ms;
  if (levels > 1) {
    // Per slide kind, and the steady-state mean: level 1 closes every 5th slide, level 2
    // every 30th (its own ring not yet full); the 1-h level's closes are not measured.
    for (size_t c = 0; c < 3; ++c) {
      if (class_n[c] > 0) state.counters["ms_l" + std::to_string(c)] = class_ms[c] / class_n[c];
    }
    if (class_n[0] > 0 && class_n[1] > 0 && class_n[2] > 0) {
      const double l0 = class_ms[0] / class_n[0];
      const double l1 = class_ms[1] / class_n[1];
      const double l2 = class_ms[2] / class_n[2];
      state.counters["mean_ms"] = l0 + (l1 - l0) / 5 + (l2 - l1) / 30;
    }
  }
  state.counters["hosts"] = hosts;
  state.counters["bytes/host/bucket"] = static_cast<double>(bucket_bytes) / hosts;
  state.counters["buckets"] = mem / static_cast<double>(bucket_bytes);
  state.counters["bytes/host/level"] = mem / hosts / levels;
  state.counters["sizeof(HostSlot)"] = sizeof(HostSlot);
  state.counters["memory_MB"] = mem / 1e6;
  state.counters["rss_delta_MB"] = (rss_bytes() - rss_before) / 1e6;
  state.counters["maxrss_MB"] = maxrss_mb();
  state.counters["detections/window"] =
      static_cast<double>(sink.detections) / static_cast<double>(after.windows_closed);
}

}  // namespace

int main(int argc, char** argv) {
  for (const uint32_t hosts : {10'000u, 100'000u}) {
    for (const int levels : {4, 1}) {
      for (const bool closing : {true, false}) {
        const std::string name = "BM_Ingest/hosts:" + std::to_string(hosts) +
                                 "/levels:" + std::to_string(levels) +
                                 (closing ? "/closing" : "/open");
        auto* b = benchmark::RegisterBenchmark(name.c_str(), BM_Ingest, hosts, levels, closing);
        // closing: a fixed span of simulated time (5 slide closes), so runs compare.
        if (closing) {
          b->Iterations(static_cast<int64_t>(closing_batches(levels)))->Repetitions(1);
        }
        b->Unit(benchmark::kMillisecond);
      }
    }
  }
  struct SlideCase {
    uint32_t hosts;
    int levels;
    int64_t iterations;
    int repetitions;  ///< 0: the command line's
  };
  // 4 levels at 1 M hosts would hold ~20 buckets of 2^21 slots (> 15 GB): not run.
  for (const SlideCase c :
       {SlideCase{10'000, 1, 20, 0}, SlideCase{10'000, 4, 10, 0}, SlideCase{100'000, 1, 10, 0},
        SlideCase{100'000, 4, 10, 1}, SlideCase{1'000'000, 1, 3, 1}}) {
    const std::string name =
        "BM_SlideClose/hosts:" + std::to_string(c.hosts) + "/levels:" + std::to_string(c.levels);
    auto* b = benchmark::RegisterBenchmark(name.c_str(), BM_SlideClose, c.hosts, c.levels)
                  ->Iterations(c.iterations)
                  ->Unit(benchmark::kMillisecond);
    // The large cases once: they fill 35 (10) slides of 200 k (2 M) records untimed.
    if (c.repetitions != 0) b->Repetitions(c.repetitions);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
