// sFlow v5 decode throughput on pmacct's exports of the reference trace: flow samples with raw
// packet headers (Ethernet/IP/L4 parsed per sample) plus counter samples. Target to compare
// against (reported, never asserted): >= 10 M records/s/core.
#include <benchmark/benchmark.h>

#include "alloc_counter.h"
#include "decode_bench.h"

namespace fathom::bench {
namespace {

void BM_DecodeSflow(benchmark::State& state, const char* file) {
  run_decode_benchmark(state, file, Mode::kStream);
}

BENCHMARK_CAPTURE(BM_DecodeSflow, sampling10, "sflow.pcap");
BENCHMARK_CAPTURE(BM_DecodeSflow, sampling100, "sflow_sampled100.pcap");

}  // namespace
}  // namespace fathom::bench

BENCHMARK_MAIN();
