#pragma once

// Shared body of the decoder benchmarks (bench/decode_*_bench.cpp): loads the UDP payloads of a
// reference capture with collect::PcapReader, primes a Decoder with the packets that carry
// templates, then decodes the capture's packets over and over into a FlowBatch that is cleared
// when full. Each iteration is one pass over the packets. The output is checked every
// iteration (record count and a checksum equal to the untimed reference pass), so a fast wrong
// answer fails the benchmark instead of reporting a figure.
//
// The count is also checked once against the capture's CSV (tshark's decoding, one row per
// record with its frame number), so a decoder that drops or invents records cannot report a
// figure either.
//
// Counters: items_per_second = records/s; ns/record (thread CPU time); allocs/record (global
// operator new calls in the timed loop, via alloc_counter.h; target 0); records/iter;
// not_ok/iter (packets whose status was not kOk; should be 0 on the reference captures).

#include <benchmark/benchmark.h>
#include <time.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "alloc_counter.h"
#include "collect/pcap_reader.h"
#include "decode/byte_reader.h"
#include "decode/decode_status.h"
#include "decode/decoder.h"
#include "decode/packet_context.h"
#include "flow/flow_batch.h"
#include "flow/flow_record.h"

namespace fathom::bench {

/// Which packets of the capture the timed loop decodes.
enum class Mode {
  kDataOnly,  ///< packets without template sets, after priming ("with a known template")
  kStream,    ///< every packet as exported, template refreshes included
};

/// Whether the record count must equal the capture's CSV rows for the decoded frames.
enum class CsvCheck {
  kExact,  ///< one record per CSV row
  kNone,   ///< the decoder emits more than the CSV holds (RFC 5103 reverse records)
};

struct CapturedPacket {
  uint64_t frame_number = 0;
  std::vector<std::byte> payload;
  decode::PacketContext ctx;
  bool has_templates = false;  ///< carries a v9/IPFIX (options) template set
};

struct Capture {
  std::vector<CapturedPacket> packets;
  std::string error;  ///< non-empty when the capture could not be read
};

/// True when a NetFlow v9 (flowset id 0/1, RFC 3954 §5) or IPFIX (set id 2/3, RFC 7011 §3.3.2)
/// packet carries a template or options template set. Other payloads: false.
inline bool has_template_sets(std::span<const std::byte> payload) {
  if (payload.size() < 4) return false;
  const uint16_t version = decode::ByteReader::load_be16(payload.data());
  size_t offset = 0;
  uint16_t template_id = 0;
  uint16_t options_id = 0;
  if (version == 9) {
    offset = 20, template_id = 0, options_id = 1;
  } else if (version == 10) {
    offset = 16, template_id = 2, options_id = 3;
  } else {
    return false;
  }
  while (offset + 4 <= payload.size()) {
    const uint16_t set_id = decode::ByteReader::load_be16(payload.data() + offset);
    const uint16_t set_len = decode::ByteReader::load_be16(payload.data() + offset + 2);
    if (set_id == template_id || set_id == options_id) return true;
    if (set_len < 4) return false;
    offset += set_len;
  }
  return false;
}

/// The UDP payloads of FATHOM_CAPTURES_DIR/<file>, read once per process.
inline const Capture& load_capture(const std::string& file) {
  static std::map<std::string, Capture> cache;
  auto [it, inserted] = cache.try_emplace(file);
  Capture& capture = it->second;
  if (!inserted) return capture;
  const std::string path = std::string(FATHOM_CAPTURES_DIR) + "/" + file;
  auto reader = collect::PcapReader::open(path, capture.error);
  if (!reader) {
    if (capture.error.empty()) capture.error = path + ": cannot open";
    return capture;
  }
  collect::CapturedDatagram datagram;
  while (reader->next(datagram)) {
    CapturedPacket& packet = capture.packets.emplace_back();
    packet.frame_number = datagram.frame_number;
    packet.payload.assign(datagram.payload.begin(), datagram.payload.end());
    packet.ctx.exporter = datagram.src;
    packet.ctx.exporter_port = datagram.src_port;
    packet.ctx.arrival_ns = datagram.timestamp_ns;
    packet.has_templates = has_template_sets(packet.payload);
  }
  if (!reader->error().empty()) {
    capture.error = reader->error();
  } else if (capture.packets.empty()) {
    capture.error = path + ": no UDP datagrams";
  }
  return capture;
}

/// Rows of the gzip CSV at `path` whose first column (frame number) is in `frames`; nullopt
/// when the file cannot be read.
inline std::optional<uint64_t> csv_rows(const std::string& path,
                                        const std::unordered_set<uint64_t>& frames) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return std::nullopt;
  std::vector<char> line(1 << 16);
  uint64_t rows = 0;
  bool header = true;
  while (gzgets(file, line.data(), static_cast<int>(line.size())) != nullptr) {
    if (header) {
      header = false;
      continue;
    }
    if (frames.contains(std::strtoull(line.data(), nullptr, 10))) ++rows;
  }
  gzclose(file);
  return rows;
}

/// What one pass over the packets produced.
struct PassResult {
  uint64_t records = 0;
  uint64_t checksum = 0;
  uint64_t not_ok = 0;  ///< packets decoded with a status other than kOk
  bool operator==(const PassResult&) const = default;
};

/// Order-independent checksum of the fields every decoder fills (cheap: the records are in
/// cache, just written).
inline void fold(const flow::FlowBatch& batch, PassResult& result) {
  for (const flow::FlowRecord& r : batch.records()) {
    uint64_t src_lo = 0;
    uint64_t dst_lo = 0;
    std::memcpy(&src_lo, r.src.bytes.data() + 8, 8);
    std::memcpy(&dst_lo, r.dst.bytes.data() + 8, 8);
    result.checksum += r.bytes + (r.packets << 24) + (uint64_t{r.src_port} << 40) +
                       (uint64_t{r.dst_port} << 48) + (uint64_t{r.ip_protocol} << 56) +
                       static_cast<uint64_t>(r.start_ns) + static_cast<uint64_t>(r.end_ns) +
                       src_lo * 3 + dst_lo * 5 + r.device_sampling_rate;
  }
  result.records += batch.size();
}

inline PassResult decode_pass(decode::Decoder& decoder, flow::FlowBatch& batch,
                              const std::vector<const CapturedPacket*>& packets) {
  PassResult result;
  for (const CapturedPacket* packet : packets) {
    if (batch.full()) {
      fold(batch, result);
      batch.clear();
    }
    if (decoder.decode(packet->payload, packet->ctx, batch) != decode::DecodeStatus::kOk) {
      ++result.not_ok;
    }
  }
  fold(batch, result);
  batch.clear();
  return result;
}

inline int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// The benchmark body: `file` is a capture in FATHOM_CAPTURES_DIR.
inline void run_decode_benchmark(benchmark::State& state, const std::string& file, Mode mode,
                                 CsvCheck csv_check = CsvCheck::kExact) {
  const Capture& capture = load_capture(file);
  if (!capture.error.empty()) {
    state.SkipWithError(("no capture: " + capture.error).c_str());
    return;
  }
  decode::Decoder decoder;
  flow::FlowBatch batch;
  std::vector<const CapturedPacket*> loop;
  uint64_t wire_bytes = 0;
  for (const CapturedPacket& packet : capture.packets) {
    if (packet.has_templates) {
      // Prime: templates and sampling options reach the decoder before any data.
      decoder.decode(packet.payload, packet.ctx, batch);
      batch.clear();
    }
    if (mode == Mode::kStream || !packet.has_templates) {
      loop.push_back(&packet);
      wire_bytes += packet.payload.size();
    }
  }
  // Reference pass, then a warm-up pass that must agree with it (and lets buffers reach their
  // steady-state size before allocations are counted).
  const PassResult reference = decode_pass(decoder, batch, loop);
  if (reference.records == 0) {
    state.SkipWithError("the decoder produced no records (placeholder decoder?)");
    return;
  }
  if (csv_check == CsvCheck::kExact) {
    std::unordered_set<uint64_t> frames;
    for (const CapturedPacket* packet : loop) frames.insert(packet->frame_number);
    const std::string csv =
        std::string(FATHOM_CAPTURES_DIR) + "/" + file.substr(0, file.rfind('.')) + ".csv.gz";
    const std::optional<uint64_t> expected = csv_rows(csv, frames);
    if (!expected) {
      state.SkipWithError(("cannot read " + csv).c_str());
      return;
    }
    if (*expected != reference.records) {
      state.SkipWithError(("decoded " + std::to_string(reference.records) + " records, " + csv +
                           " has " + std::to_string(*expected))
                              .c_str());
      return;
    }
  }
  if (!(decode_pass(decoder, batch, loop) == reference)) {
    state.SkipWithError("the second pass decoded differently from the first");
    return;
  }

  const uint64_t allocs_before = allocations();
  const int64_t cpu_before = thread_cpu_ns();
  uint64_t passes = 0;
  for (auto _ : state) {
    const PassResult result = decode_pass(decoder, batch, loop);
    ++passes;
    if (!(result == reference)) {
      state.SkipWithError("wrong output: record count or checksum differs from the reference");
      break;
    }
  }
  const int64_t cpu_ns = thread_cpu_ns() - cpu_before;
  const uint64_t allocs = allocations() - allocs_before;
  if (passes == 0) return;

  const double records = static_cast<double>(reference.records * passes);
  state.SetItemsProcessed(static_cast<int64_t>(reference.records * passes));
  state.SetBytesProcessed(static_cast<int64_t>(wire_bytes * passes));
  state.counters["ns/record"] = static_cast<double>(cpu_ns) / records;
  state.counters["allocs/record"] = static_cast<double>(allocs) / records;
  state.counters["records/iter"] = static_cast<double>(reference.records);
  state.counters["packets/iter"] = static_cast<double>(loop.size());
  state.counters["not_ok/iter"] = static_cast<double>(reference.not_ok);
}

}  // namespace fathom::bench
