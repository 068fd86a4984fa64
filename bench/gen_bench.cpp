// fathom-gen throughput: simulated tenants to export datagrams to an in-memory pcap, reported
// as records/s (flow records + sFlow samples) and datagrams/s. The output is checked: every
// iteration of a configuration must write the same bytes (same seed), and some records.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <ostream>
#include <streambuf>
#include <string>

#include "gen/generator.h"
#include "gen/output.h"
#include "gen/scenario.h"

namespace {

using fathom::gen::ExportProtocol;

// One tenant of `hosts` hosts at the daily peak, four unsampled exporters of `protocol`.
fathom::gen::Scenario bench_scenario(ExportProtocol protocol, uint32_t rate) {
  fathom::gen::Scenario s;
  s.seed = 7;
  s.start_ns = 1'705'327'200LL * 1'000'000'000;  // 2024-01-15 14:00 UTC, the peak
  s.duration_ns = 30'000'000'000;
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

// An in-memory "file": appends to a string whose capacity survives between iterations, so the
// benchmark measures the generator, not page faults of a growing buffer.
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

uint64_t fnv1a(const std::string& data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : data) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
  return h;
}

void BM_GenerateToPcap(benchmark::State& state) {
  const auto protocol = static_cast<ExportProtocol>(state.range(0));
  const auto rate = static_cast<uint32_t>(state.range(1));
  uint64_t records = 0;
  uint64_t datagrams = 0;
  uint64_t checksum = 0;
  std::string memory;
  memory.reserve(size_t{256} << 20);
  for (auto _ : state) {
    memory.clear();
    MemoryBuf buf(memory);
    std::ostream pcap_stream(&buf);
    fathom::gen::PcapWriter pcap(pcap_stream);
    fathom::gen::Generator generator(bench_scenario(protocol, rate));
    const auto summary =
        generator.run([&](const fathom::gen::DatagramInfo& info, uint32_t,
                          std::span<const std::byte> data) { pcap.write(info, data); });
    state.PauseTiming();
    const uint64_t sum = fnv1a(memory);
    state.ResumeTiming();
    if (checksum != 0 && sum != checksum) {
      state.SkipWithError("output differs between iterations with the same seed");
      break;
    }
    if (summary.records == 0) {
      state.SkipWithError("no records generated");
      break;
    }
    checksum = sum;
    records += summary.records;
    datagrams += summary.datagrams;
  }
  state.counters["records/s"] = benchmark::Counter(double(records), benchmark::Counter::kIsRate);
  state.counters["datagrams/s"] =
      benchmark::Counter(double(datagrams), benchmark::Counter::kIsRate);
  state.counters["ns/record"] = benchmark::Counter(
      double(records), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK(BM_GenerateToPcap)
    ->ArgNames({"protocol", "rate"})
    ->Args({static_cast<int>(ExportProtocol::kNetflowV5), 1})
    ->Args({static_cast<int>(ExportProtocol::kNetflowV9), 1})
    ->Args({static_cast<int>(ExportProtocol::kIpfix), 1})
    ->Args({static_cast<int>(ExportProtocol::kIpfix), 100})
    ->Args({static_cast<int>(ExportProtocol::kSflowV5), 100})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
