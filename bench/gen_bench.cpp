// fathom-gen throughput in steady state, one core: simulated tenants → sampling and flow caches
// → export encoders → Ethernet/IP/UDP frames in a pcap held in memory (no disk).
//
// Each benchmark run builds one Generator on a long scenario and first steps it through
// kWarmupSeconds of simulated time untimed, so that the flow caches hold their steady-state
// load (records wait up to the active timeout, flows last up to 300 s) and every buffer and
// pool has reached its size. Then each iteration is one more simulated second of the same
// generator: simulation, metering, encoding and pcap framing of what falls due, into an
// in-memory buffer that is reused (cleared after every second, capacity kept).
//
// Time is the benchmark thread's CPU time (Google Benchmark's default; the generator runs on
// that one thread), not wall time: the target is per core, and on a shared machine wall time
// also counts the time other processes held the core.
//
// Counters (per CPU second of the timed seconds):
//   records/s  flow records (NetFlow/IPFIX) or flow samples (sFlow) written to the pcap
//   packets/s  pcap packets, one export datagram each
//   ns/record  the inverse of records/s
//
// The output is checked, so a fast wrong answer fails: some records must be written, and the
// timed seconds' pcap bytes must equal, by checksum, those of a second generator with the same
// seed stepped through the same seconds untimed afterwards (byte-for-byte reproducibility).

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <ostream>
#include <span>
#include <streambuf>
#include <string>

#include "gen/generator.h"
#include "gen/output.h"
#include "gen/scenario.h"

namespace {

using fathom::gen::ExportProtocol;

// Simulated seconds stepped untimed before the measurement. Records per second are flat after
// about 30 s (the 15 s inactive timeout, then the 60 s active timeout's first exports); two
// active timeouts leave the pools and buffers at their working size too.
constexpr int64_t kWarmupSeconds = 120;

// One tenant of 20,000 hosts at the daily peak, four exporters of `protocol` at 1-in-`rate`.
// The scenario is longer than any run steps through, so the end-of-run flush never happens.
fathom::gen::Scenario bench_scenario(ExportProtocol protocol, uint32_t rate) {
  fathom::gen::Scenario s;
  s.seed = 7;
  s.start_ns = 1'705'327'200LL * 1'000'000'000;  // 2024-01-15 14:00 UTC, the peak
  s.duration_ns = 3600LL * 1'000'000'000;
  fathom::gen::TenantConfig t;
  t.prefixes = {*fathom::gen::Prefix::parse("10.20.0.0/16"),
                *fathom::gen::Prefix::parse("2001:db8:20::/48")};
  t.hosts = 20000;
  t.servers = 10;
  t.heavy_servers = 4;
  t.background.sessions_per_host_per_s = 0.5;
  t.background.ipv6_share = protocol == ExportProtocol::kNetflowV5 ? 0.0 : 0.1;
  for (uint32_t i = 0; i < 4; ++i) {
    fathom::gen::ExporterConfig e;
    e.address = fathom::flow::IpAddress::from_v4(0x7f000100 + i);
    e.protocol = protocol;
    e.observation_domain = i;
    e.sampling_rate = rate;
    t.exporters.push_back(e);
  }
  s.tenants.push_back(t);
  return s;
}

// An in-memory pcap "file": appends to a string whose capacity survives clear(), so after the
// warm-up the sink neither allocates nor faults in pages.
class MemoryBuf : public std::streambuf {
 public:
  explicit MemoryBuf(std::string& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.append(s, static_cast<size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) out_.push_back(static_cast<char>(c));
    return c;
  }

 private:
  std::string& out_;
};

// Folds `data` into `h` eight bytes at a time (FNV-1a's step on 64-bit words): a checksum, not
// a hash for adversaries, and cheap enough to run on every simulated second.
uint64_t fold(uint64_t h, const std::string& data) {
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t word = 0;
    std::memcpy(&word, data.data() + i, 8);
    h = (h ^ word) * 0x100000001b3ULL;
  }
  for (; i < data.size(); ++i) h = (h ^ static_cast<uint8_t>(data[i])) * 0x100000001b3ULL;
  return h;
}

// A generator writing pcap into memory, stepped one simulated second at a time.
class PcapRun {
 public:
  PcapRun(ExportProtocol protocol, uint32_t rate)
      : generator_(bench_scenario(protocol, rate)), buf_(memory_), stream_(&buf_), pcap_(stream_) {
    memory_.reserve(size_t{16} << 20);  // well above one second of output
    generator_.start();
  }

  /// Simulates one second; false if the scenario ended (it must not, see bench_scenario()).
  bool step() { return generator_.step(sink_); }
  /// Folds the pcap bytes written since the last call into `checksum`, then forgets them.
  uint64_t fold_and_clear(uint64_t checksum) {
    checksum = fold(checksum, memory_);
    memory_.clear();
    return checksum;
  }
  const fathom::gen::RunSummary& summary() const { return generator_.summary(); }

 private:
  fathom::gen::Generator generator_;
  std::string memory_;
  MemoryBuf buf_;
  std::ostream stream_;
  fathom::gen::PcapWriter pcap_;
  const fathom::gen::DatagramSink sink_ = [this](const fathom::gen::DatagramInfo& info, uint32_t,
                                                 std::span<const std::byte> data) {
    pcap_.write(info, data);
  };
};

void BM_GenerateToPcap(benchmark::State& state, ExportProtocol protocol, uint32_t rate) {
  PcapRun run(protocol, rate);
  for (int64_t s = 0; s < kWarmupSeconds; ++s) {
    run.step();
    run.fold_and_clear(0);
  }
  const fathom::gen::RunSummary before = run.summary();
  uint64_t checksum = 0xcbf29ce484222325ULL;
  for (auto _ : state) {
    if (!run.step()) {
      state.SkipWithError("the scenario ended inside the measurement");
      return;
    }
    state.PauseTiming();
    checksum = run.fold_and_clear(checksum);
    state.ResumeTiming();
  }
  const uint64_t records = run.summary().records - before.records;
  const uint64_t packets = run.summary().datagrams - before.datagrams;
  if (records == 0) {
    state.SkipWithError("no records generated");
    return;
  }

  // The same seconds again from a fresh generator with the same seed, untimed.
  PcapRun reference(protocol, rate);
  for (int64_t s = 0; s < kWarmupSeconds; ++s) {
    reference.step();
    reference.fold_and_clear(0);
  }
  uint64_t expected = 0xcbf29ce484222325ULL;
  for (int64_t s = 0; s < static_cast<int64_t>(state.iterations()); ++s) {
    reference.step();
    expected = reference.fold_and_clear(expected);
  }
  if (checksum != expected) {
    state.SkipWithError("pcap bytes differ from a second run with the same seed");
    return;
  }

  state.counters["records/s"] = benchmark::Counter(double(records), benchmark::Counter::kIsRate);
  state.counters["packets/s"] = benchmark::Counter(double(packets), benchmark::Counter::kIsRate);
  state.counters["ns/record"] = benchmark::Counter(
      double(records), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["records/iter"] = double(records) / double(state.iterations());
}

struct Config {
  const char* name;
  ExportProtocol protocol;
  uint32_t rate;
  int64_t timed_seconds;  ///< iterations: about 0.5 s of CPU each run
};

// Unsampled: one record per simulated flow (sFlow: one sample per simulated packet), the
// encoders' heaviest load. 1:100: about 100 simulated packets per record, so the simulation
// sets the pace.
constexpr Config kConfigs[] = {
    {"BM_GenerateToPcap/netflow_v5", ExportProtocol::kNetflowV5, 1, 200},
    {"BM_GenerateToPcap/netflow_v9", ExportProtocol::kNetflowV9, 1, 200},
    {"BM_GenerateToPcap/ipfix", ExportProtocol::kIpfix, 1, 200},
    {"BM_GenerateToPcap/sflow", ExportProtocol::kSflowV5, 1, 12},
    {"BM_GenerateToPcap/netflow_v5_sampled100", ExportProtocol::kNetflowV5, 100, 250},
    {"BM_GenerateToPcap/netflow_v9_sampled100", ExportProtocol::kNetflowV9, 100, 250},
    {"BM_GenerateToPcap/ipfix_sampled100", ExportProtocol::kIpfix, 100, 250},
    {"BM_GenerateToPcap/sflow_sampled100", ExportProtocol::kSflowV5, 100, 250},
};

}  // namespace

int main(int argc, char** argv) {
  for (const Config& c : kConfigs) {
    // A fixed number of iterations (--benchmark_min_time does not apply): every run times the
    // same simulated seconds, so runs and repetitions compare, and the reference run knows
    // which seconds to replay.
    benchmark::RegisterBenchmark(c.name, BM_GenerateToPcap, c.protocol, c.rate)
        ->Iterations(c.timed_seconds)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
