// NetFlow v9 decode throughput on softflowd's exports of the reference trace (IPv4 + IPv6
// templates). `data_only`: the decoder is primed with the template packets, then decodes the
// packets without templates (the "known template" case); `stream`: every packet as exported,
// including the template refresh softflowd sends every 16 datagrams. Target to compare against
// (reported, never asserted): >= 20 M records/s/core with a known template.
#include <benchmark/benchmark.h>

#include "alloc_counter.h"
#include "decode_bench.h"

namespace fathom::bench {
namespace {

void BM_DecodeNetflowV9(benchmark::State& state, const char* file, Mode mode) {
  run_decode_benchmark(state, file, mode);
}

BENCHMARK_CAPTURE(BM_DecodeNetflowV9, data_only, "netflow_v9.pcap", Mode::kDataOnly);
BENCHMARK_CAPTURE(BM_DecodeNetflowV9, stream, "netflow_v9.pcap", Mode::kStream);
BENCHMARK_CAPTURE(BM_DecodeNetflowV9, sampled100_stream, "netflow_v9_sampled100.pcap",
                  Mode::kStream);

}  // namespace
}  // namespace fathom::bench

BENCHMARK_MAIN();
