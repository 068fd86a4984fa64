#include "app/decode_command.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "app/clock.h"
#include "collect/input_stream.h"
#include "collect/pcap_reader.h"
#include "decode/decoder.h"
#include "decode/vpc_flow_log.h"
#include "flow/flow_batch.h"

namespace fathom::app {
namespace {

/// Collects output in a large buffer and writes it with one fwrite per chunk.
class BufferedWriter {
 public:
  static constexpr size_t kFlushAt = 1 << 16;
  explicit BufferedWriter(std::FILE* f) : file_(f) { buf_.reserve(kFlushAt + 4096); }
  ~BufferedWriter() { flush(); }
  BufferedWriter(const BufferedWriter&) = delete;
  BufferedWriter& operator=(const BufferedWriter&) = delete;

  std::string& buffer() { return buf_; }
  /// Call after each record: writes out when the buffer is full enough.
  void maybe_flush() {
    if (buf_.size() >= kFlushAt) flush();
  }
  void flush() {
    if (!buf_.empty()) std::fwrite(buf_.data(), 1, buf_.size(), file_);
    buf_.clear();
    std::fflush(file_);
  }

 private:
  std::FILE* file_;
  std::string buf_;
};

struct FileSummary {
  std::string name;
  std::string kind;  ///< "capture" or "vpc flow log"
  collect::PcapStats pcap;
  decode::VpcFlowLogCounts vpc;
  uint64_t vpc_records = 0;
};

/// State shared by all files of one run.
class DecodeRun {
 public:
  DecodeRun(const DecodeOptions& options, std::FILE* out, std::FILE* err)
      : options_(options), writer_(out), err_(err) {
    if (options_.format == OutputFormat::kCsv) append_csv_header(writer_.buffer());
  }

  bool limit_reached() const { return options_.limit != 0 && emitted_ >= options_.limit; }

  /// Reads one file; returns false (after reporting on err) when it could not be read.
  bool run_file(const std::string& path) {
    std::string error;
    auto in = collect::InputStream::open(path, error);
    if (!in) return fail(error);
    const std::span<const std::byte> head = in->peek(512);
    if (!in->error().empty()) return fail(in->error());
    if (head.empty()) return fail(in->name() + ": empty file");
    if (collect::is_capture_magic(head)) return run_capture(path, std::move(in));
    if (collect::looks_binary(head)) {
      return fail(in->name() +
                  ": unknown format (not a pcap/pcapng capture or an AWS VPC flow log)");
    }
    return run_vpc(*in);
  }

  void print_stats() {
    writer_.flush();
    decoder_.for_each_exporter([&](const decode::ExporterState& exporter) {
      std::string line = "exporter " + exporter.address.to_string();
      append_exporter_stats(exporter.stats, line);
      std::fprintf(err_, "%s\n", line.c_str());
    });
    const decode::ExporterStats& overflow = decoder_.overflow_stats();
    if (overflow.packets != 0) {
      std::string line = "exporter table full";
      append_exporter_stats(overflow, line);
      std::fprintf(err_, "%s\n", line.c_str());
    }
    for (const FileSummary& f : files_) {
      if (f.kind == "capture") {
        std::fprintf(err_,
                     "file %s (capture): frames %llu, udp %llu, not_udp %llu, fragments %llu, "
                     "truncated %llu, unsupported_link %llu\n",
                     f.name.c_str(), ull(f.pcap.frames), ull(f.pcap.udp_datagrams),
                     ull(f.pcap.not_udp), ull(f.pcap.fragments), ull(f.pcap.truncated),
                     ull(f.pcap.unsupported_link));
      } else {
        std::fprintf(err_,
                     "file %s (vpc flow log): lines %llu, records %llu, headers %llu, nodata "
                     "%llu, skipdata %llu, bad_lines %llu, unknown_fields %llu\n",
                     f.name.c_str(), ull(f.vpc.lines), ull(f.vpc_records), ull(f.vpc.header_lines),
                     ull(f.vpc.no_data), ull(f.vpc.skip_data), ull(f.vpc.bad_lines),
                     ull(f.vpc.unknown_fields));
      }
    }
    std::fprintf(err_, "records written: %llu\n", ull(emitted_));
  }

  void finish() { writer_.flush(); }

 private:
  static unsigned long long ull(uint64_t v) { return v; }

  static void append_exporter_stats(const decode::ExporterStats& s, std::string& line) {
    line += ": packets " + std::to_string(s.packets) + " (ok " + std::to_string(s.packets_ok) +
            "), bytes " + std::to_string(s.bytes) + ", records " + std::to_string(s.records) +
            ", counter_records " + std::to_string(s.counter_records) + ", templates " +
            std::to_string(s.templates_active) + " (added " + std::to_string(s.templates_added) +
            ", withdrawn " + std::to_string(s.templates_withdrawn) + "), pending parked " +
            std::to_string(s.pending_parked) + " decoded " + std::to_string(s.pending_decoded) +
            ", sampling_unknown " + std::to_string(s.sampling_unknown);
    for (size_t i = 1; i < decode::kDecodeStatusCount; ++i) {
      if (s.reasons[i] == 0) continue;
      line += ", ";
      line += decode::to_string(static_cast<decode::DecodeStatus>(i));
      line += ' ';
      line += std::to_string(s.reasons[i]);
    }
  }

  bool fail(const std::string& message) {
    writer_.flush();  // keep stdout and stderr in a sensible order on a terminal
    std::fprintf(err_, "fathom decode: %s\n", message.c_str());
    return false;
  }

  void emit(const flow::FlowRecord& r, uint64_t frame) {
    if (limit_reached()) return;
    if (options_.no_reverse && (r.flags & flow::record_flags::kBiflowReverse) != 0) return;
    std::string& buf = writer_.buffer();
    if (options_.format == OutputFormat::kJson) {
      append_json(r, frame, buf);
    } else {
      append_csv(r, frame, buf);
    }
    buf += '\n';
    ++emitted_;
    writer_.maybe_flush();
  }

  bool run_capture(const std::string& path, std::unique_ptr<collect::InputStream> in) {
    std::string error;
    std::unique_ptr<collect::PcapReader> reader;
    const std::string name = in->name();
    if (!in->is_stream() && !in->gzip()) {
      in.reset();  // a plain file: libpcap reads it directly, faster than through a cookie
      reader = collect::PcapReader::open(path, error);
    } else {
      std::FILE* f = in->as_file();
      if (f == nullptr) return fail(name + ": cannot create a stream");
      reader = collect::PcapReader::open_stream(f, name, error);
    }
    if (!reader) return fail(error);
    collect::CapturedDatagram datagram;
    while (!limit_reached() && reader->next(datagram)) {
      const decode::PacketContext ctx{datagram.src, datagram.src_port, datagram.timestamp_ns};
      batch_.clear();
      decoder_.decode(datagram.payload, ctx, batch_);
      for (const flow::FlowRecord& r : batch_.records()) emit(r, datagram.frame_number);
      if (options_.format == OutputFormat::kJson && !limit_reached()) {
        // Interface counters have no CSV schema of their own; JSON carries them.
        for (const flow::InterfaceCounters& c : batch_.counters()) {
          append_json(c, datagram.frame_number, writer_.buffer());
          writer_.buffer() += '\n';
          writer_.maybe_flush();
        }
      }
    }
    files_.push_back({name, "capture", reader->stats(), {}, 0});
    if (!reader->error().empty()) return fail(name + ": " + reader->error());
    return true;
  }

  bool run_vpc(collect::InputStream& in) {
    collect::LineReader lines(in);
    decode::VpcFlowLogParser parser;
    const int64_t arrival = wall_clock_ns();
    std::string_view line;
    bool first = true;
    while (!limit_reached() && lines.next(line)) {
      if (first) {
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        first = false;
        if (!decode::VpcFlowLogParser::is_header(line) &&
            !decode::VpcFlowLogParser::is_default_record(line)) {
          return fail(in.name() +
                      ": unknown format (not a pcap/pcapng capture or an AWS VPC flow log: the "
                      "first line is neither a flow log header nor a version 2 record)");
        }
      }
      batch_.clear();
      parser.parse_line(line, batch_, arrival);
      for (const flow::FlowRecord& r : batch_.records()) emit(r, lines.line_number());
    }
    files_.push_back({in.name(), "vpc flow log", {}, parser.counts(), parser.stats().records});
    if (!in.error().empty()) return fail(in.error());
    if (first) return fail(in.name() + ": no flow log lines");
    return true;
  }

  const DecodeOptions& options_;
  BufferedWriter writer_;
  std::FILE* err_;
  decode::Decoder decoder_;
  flow::FlowBatch batch_;
  uint64_t emitted_ = 0;
  std::vector<FileSummary> files_;
};

}  // namespace

int run_decode(const DecodeOptions& options, std::FILE* out, std::FILE* err) {
  DecodeRun run(options, out, err);
  int rc = 0;
  for (const std::string& path : options.files) {
    if (run.limit_reached()) break;
    if (!run.run_file(path)) rc = 1;
  }
  run.finish();
  if (options.stats) run.print_stats();
  return rc;
}

}  // namespace fathom::app
