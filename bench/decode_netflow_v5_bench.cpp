// NetFlow v5 decode throughput on softflowd's exports of the reference trace. v5 has no
// templates: every packet is decoded in the loop.
#include <benchmark/benchmark.h>

#include "alloc_counter.h"
#include "decode_bench.h"

namespace fathom::bench {
namespace {

void BM_DecodeNetflowV5(benchmark::State& state, const char* file) {
  run_decode_benchmark(state, file, Mode::kStream);
}

BENCHMARK_CAPTURE(BM_DecodeNetflowV5, unsampled, "netflow_v5.pcap");
BENCHMARK_CAPTURE(BM_DecodeNetflowV5, sampled100, "netflow_v5_sampled100.pcap");

}  // namespace
}  // namespace fathom::bench

BENCHMARK_MAIN();
