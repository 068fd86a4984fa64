// IPFIX decode throughput on softflowd's exports of the reference trace. `data_only`: primed
// with the template packets, then the packets without templates (the "known template" case);
// `stream`: every message as exported, template refreshes included; `biflow`: RFC 5103
// bidirectional records (the reverse direction emitted as a record of its own). Target to
// compare against (reported, never asserted): >= 20 M records/s/core with a known template.
#include <benchmark/benchmark.h>

#include "alloc_counter.h"
#include "decode_bench.h"

namespace fathom::bench {
namespace {

void BM_DecodeIpfix(benchmark::State& state, const char* file, Mode mode,
                    CsvCheck csv_check = CsvCheck::kExact) {
  run_decode_benchmark(state, file, mode, csv_check);
}

BENCHMARK_CAPTURE(BM_DecodeIpfix, data_only, "ipfix.pcap", Mode::kDataOnly);
BENCHMARK_CAPTURE(BM_DecodeIpfix, stream, "ipfix.pcap", Mode::kStream);
// The CSV holds the forward direction only; the reverse records come on top.
BENCHMARK_CAPTURE(BM_DecodeIpfix, biflow_data_only, "ipfix_biflow.pcap", Mode::kDataOnly,
                  CsvCheck::kNone);
BENCHMARK_CAPTURE(BM_DecodeIpfix, sampled100_stream, "ipfix_sampled100.pcap", Mode::kStream);

}  // namespace
}  // namespace fathom::bench

BENCHMARK_MAIN();
