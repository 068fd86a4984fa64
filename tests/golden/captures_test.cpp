// Golden test: every reference capture in FATHOM_CAPTURES_DIR decoded by Fathom and compared,
// record by record and field by field, with tshark's decoding of the same capture
// (`<name>.csv.gz`, described in the captures' README.md).
//
// Matching: records are matched to CSV rows per frame (the CSV's `frame` column against the
// pcap frame number of the datagram that produced the record), in order within the frame. When
// a frame's counts differ, rows are matched by flow key (src, dst, sport, dport, proto) in
// order instead, and what is left over is matched across frames by the README's full key
// (src, dst, sport, dport, proto, bytes, packets) — a record that legitimately waited for its
// template (flagged kDecodedLate) comes out in a later frame. Anything still unmatched is
// reported as missing or extra. Matched pairs are compared field by field.
//
// Every place where the CSV cannot be compared literally is handled explicitly below, with the
// reason; the report prints how many rows each such rule touched.

#include <zlib.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "collect/pcap_reader.h"
#include "decode/decoder.h"
#include "decode/packet_context.h"
#include "flow/flow_batch.h"
#include "flow/flow_record.h"

namespace fathom {
namespace {

namespace fs = std::filesystem;
using flow::FlowRecord;
using flow::IpAddress;

enum class Kind : uint8_t { kNetflowV5, kNetflowV9, kIpfix, kSflow };

struct CaptureSpec {
  const char* name;
  Kind kind;
  bool biflow = false;
};

// ------------------------------------------------------------------------------------------
// The CSV side.

/// How the CSV's first/last can be compared for one row.
enum class CsvTimes : uint8_t {
  kCompare,    ///< epoch seconds with ms precision: compare exactly (after rounding ours)
  kAbsent,     ///< sFlow: no flow times on the wire, the CSV leaves first/last empty
  kEpochZero,  ///< tshark quirk, see parse_row
};

struct ExpectedRow {
  uint64_t frame = 0;
  uint64_t line = 0;  ///< line in the CSV (1 = header), for finding the row by hand
  IpAddress exporter;
  IpAddress src;
  IpAddress dst;
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint8_t proto = 0;
  uint64_t bytes = 0;
  uint64_t packets = 0;
  CsvTimes times = CsvTimes::kCompare;
  int64_t first_ms = 0;
  int64_t last_ms = 0;
  int64_t export_ms = 0;  ///< header export time (0 for sFlow, which has none)
  uint32_t sampling = 1;
  std::optional<uint8_t> sampling_algorithm;
  uint16_t tcp_flags = 0;
  uint8_t tos = 0;
  uint32_t in_if = 0;
  uint32_t out_if = 0;
};

/// Counts of rows touched by each explicit quirk rule, printed in the report.
struct QuirkCounts {
  uint64_t ports_absent = 0;
  uint64_t tcp_flags_absent = 0;
  uint64_t v5_unsampled_zero = 0;
  uint64_t epoch_zero_times = 0;
  uint64_t sflow_no_times = 0;
};

/// Splits one CSV line into fields; double quotes protect commas ("Jan  1, 1970 ...").
void split_csv(std::string_view line, std::vector<std::string_view>& fields, std::string& scratch) {
  fields.clear();
  scratch.clear();
  // Quoted fields are copied into `scratch` (reserved so views stay valid).
  scratch.reserve(line.size());
  size_t pos = 0;
  while (true) {
    if (pos < line.size() && line[pos] == '"') {
      const size_t start = scratch.size();
      ++pos;
      while (pos < line.size()) {
        if (line[pos] == '"') {
          if (pos + 1 < line.size() && line[pos + 1] == '"') {
            scratch.push_back('"');
            pos += 2;
            continue;
          }
          ++pos;
          break;
        }
        scratch.push_back(line[pos++]);
      }
      fields.emplace_back(scratch.data() + start, scratch.size() - start);
      if (pos < line.size() && line[pos] == ',') {
        ++pos;
        continue;
      }
      break;
    }
    const size_t comma = line.find(',', pos);
    if (comma == std::string_view::npos) {
      fields.push_back(line.substr(pos));
      break;
    }
    fields.push_back(line.substr(pos, comma - pos));
    pos = comma + 1;
  }
}

template <typename T>
bool parse_uint(std::string_view s, T& out) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return false;
  if (v > std::numeric_limits<T>::max()) return false;
  out = static_cast<T>(v);
  return true;
}

/// "1705320000.062" (or more decimals) → milliseconds, rounded half up like tshark's %.3f of
/// the same value; no floating point.
bool parse_epoch_ms(std::string_view s, int64_t& out) {
  const size_t dot = s.find('.');
  uint64_t secs = 0;
  if (!parse_uint(s.substr(0, dot), secs)) return false;
  int64_t frac_us = 0;  // up to 6 decimals
  if (dot != std::string_view::npos) {
    std::string_view frac = s.substr(dot + 1);
    int digits = 0;
    for (char c : frac) {
      if (c < '0' || c > '9') return false;
      if (digits < 6) {
        frac_us = frac_us * 10 + (c - '0');
        ++digits;
      }
    }
    for (; digits < 6; ++digits) frac_us *= 10;
  }
  out = static_cast<int64_t>(secs) * 1000 + (frac_us + 500) / 1000;
  return true;
}

struct CsvColumns {
  int frame = -1, exporter = -1, export_time = -1, src = -1, dst = -1, sport = -1, dport = -1,
      proto = -1, bytes = -1, packets = -1, first_raw = -1, first = -1, last = -1, tcp_flags = -1,
      tos = -1, sampling_interval = -1, sampling_algorithm = -1, in_if = -1, out_if = -1;
  int count = 0;
};

bool find_columns(const std::vector<std::string_view>& header, CsvColumns& c, std::string& error) {
  const std::pair<const char*, int*> wanted[] = {
      {"frame", &c.frame},
      {"exporter", &c.exporter},
      {"export_time", &c.export_time},
      {"src", &c.src},
      {"dst", &c.dst},
      {"sport", &c.sport},
      {"dport", &c.dport},
      {"proto", &c.proto},
      {"bytes", &c.bytes},
      {"packets", &c.packets},
      {"first_raw", &c.first_raw},
      {"first", &c.first},
      {"last", &c.last},
      {"tcp_flags", &c.tcp_flags},
      {"tos", &c.tos},
      {"sampling_interval", &c.sampling_interval},
      {"sampling_algorithm", &c.sampling_algorithm},
      {"in_if", &c.in_if},
      {"out_if", &c.out_if},
  };
  c.count = static_cast<int>(header.size());
  for (const auto& [name, index] : wanted) {
    const auto it = std::find(header.begin(), header.end(), std::string_view(name));
    if (it == header.end()) {
      error = std::string("CSV header lacks column '") + name + "'";
      return false;
    }
    *index = static_cast<int>(it - header.begin());
  }
  return true;
}

/// Parses one data row; returns an error text naming the column on failure.
std::string parse_row(const std::vector<std::string_view>& f, const CsvColumns& c, Kind kind,
                      ExpectedRow& row, QuirkCounts& quirks) {
  if (static_cast<int>(f.size()) != c.count) {
    return "expected " + std::to_string(c.count) + " fields, got " + std::to_string(f.size());
  }
  auto bad = [&](int col, const char* what) {
    return std::string("column ") + what + " = '" + std::string(f[col]) + "' does not parse";
  };
  if (!parse_uint(f[c.frame], row.frame)) return bad(c.frame, "frame");
  const auto exporter = IpAddress::parse(f[c.exporter]);
  const auto src = IpAddress::parse(f[c.src]);
  const auto dst = IpAddress::parse(f[c.dst]);
  if (!exporter) return bad(c.exporter, "exporter");
  if (!src) return bad(c.src, "src");
  if (!dst) return bad(c.dst, "dst");
  row.exporter = *exporter;
  row.src = *src;
  row.dst = *dst;
  if (!parse_uint(f[c.proto], row.proto)) return bad(c.proto, "proto");
  if (!parse_uint(f[c.bytes], row.bytes)) return bad(c.bytes, "bytes");
  if (!parse_uint(f[c.packets], row.packets)) return bad(c.packets, "packets");

  // Quirk: ICMP flows in NetFlow v9/IPFIX (softflowd's template 1025 carries
  // icmpTypeCode, not ports) and ICMP samples in sFlow have no port fields, so tshark leaves
  // sport/dport empty. FlowRecord's contract is "0 when not TCP/UDP/SCTP", so we expect 0.
  // (NetFlow v5 has no such choice: its ICMP rows carry the wire's dport, type << 8 | code,
  // and are compared as they are.) Only ICMP/ICMPv6 rows may have empty ports.
  if (f[c.sport].empty() && f[c.dport].empty()) {
    if (row.proto != 1 && row.proto != 58) return bad(c.sport, "sport (empty, not ICMP)");
    row.sport = 0;
    row.dport = 0;
    ++quirks.ports_absent;
  } else {
    if (!parse_uint(f[c.sport], row.sport)) return bad(c.sport, "sport");
    if (!parse_uint(f[c.dport], row.dport)) return bad(c.dport, "dport");
  }

  // Quirk: tshark leaves tcp_flags empty when the record has none: v9/IPFIX's ICMP template
  // has no tcpControlBits, and an sFlow sample of a UDP/ICMP packet has no TCP header. A
  // decoder leaves tcp_flags 0 then. Only non-TCP rows may have it empty.
  if (f[c.tcp_flags].empty()) {
    if (row.proto == 6) return bad(c.tcp_flags, "tcp_flags (empty for TCP)");
    row.tcp_flags = 0;
    ++quirks.tcp_flags_absent;
  } else if (!parse_uint(f[c.tcp_flags], row.tcp_flags)) {
    return bad(c.tcp_flags, "tcp_flags");
  }
  // tshark prints IPv4 ToS as 0x00 but sFlow's IPv6 traffic class as 0x00000000: both hex.
  if (!parse_uint(f[c.tos], row.tos)) return bad(c.tos, "tos");
  if (!parse_uint(f[c.sampling_interval], row.sampling)) {
    return bad(c.sampling_interval, "sampling_interval");
  }
  // Quirk: NetFlow v5's header says 0 when the exporter does not sample; FlowRecord's
  // device_sampling_rate is 1-in-N, so "not sampled" is 1.
  if (kind == Kind::kNetflowV5 && row.sampling == 0) {
    row.sampling = 1;
    ++quirks.v5_unsampled_zero;
  }
  if (!f[c.sampling_algorithm].empty()) {
    uint8_t algorithm = 0;
    if (!parse_uint(f[c.sampling_algorithm], algorithm)) {
      return bad(c.sampling_algorithm, "sampling_algorithm");
    }
    row.sampling_algorithm = algorithm;
  }
  // sFlow prints in_if in decimal and out_if in hex (0x3fffffff, "internal"); both parse.
  if (!parse_uint(f[c.in_if], row.in_if)) return bad(c.in_if, "in_if");
  if (!parse_uint(f[c.out_if], row.out_if)) return bad(c.out_if, "out_if");

  if (!f[c.export_time].empty() && !parse_epoch_ms(f[c.export_time], row.export_ms)) {
    return bad(c.export_time, "export_time");
  }
  if (f[c.first].empty() && f[c.last].empty()) {
    // Quirk: sFlow flow samples are single packets with no flow times; tshark's first/last
    // are empty (first_raw/last_raw hold the datagram's uptime, not a flow time). Only sFlow
    // may lack them; we check instead that the record says so (kNoFlowTimes).
    if (kind != Kind::kSflow) return bad(c.first, "first (empty outside sFlow)");
    row.times = CsvTimes::kAbsent;
    ++quirks.sflow_no_times;
    return {};
  }
  if (!parse_epoch_ms(f[c.first], row.first_ms)) return bad(c.first, "first");
  if (!parse_epoch_ms(f[c.last], row.last_ms)) return bad(c.last, "last");
  // Quirk: for a v9/IPFIX flow whose start (and end) uptime is exactly 0 ms — it started the
  // instant softflowd "booted" — tshark prints first_raw as "Jan  1, 1970 ..." and, when both
  // raw times are 0, gives first = last = 0.000 instead of computing the epoch time from the
  // header. Rows where the raw start is 0 but first is non-zero were computed and are compared
  // normally. For the 0.000 rows the true time is unknown to the CSV, so we check a bound
  // instead: within the hour before the packet's export time (see compare()).
  if (row.first_ms == 0 && row.last_ms == 0 && f[c.first_raw].starts_with("Jan  1, 1970")) {
    if (row.export_ms == 0) return bad(c.export_time, "export_time (needed for epoch-0 row)");
    row.times = CsvTimes::kEpochZero;
    ++quirks.epoch_zero_times;
  }
  return {};
}

/// Reads `<name>.csv.gz` with zlib. Returns an error text on failure.
std::string read_csv(const std::string& path, Kind kind, std::vector<ExpectedRow>& rows,
                     QuirkCounts& quirks) {
  gzFile gz = gzopen(path.c_str(), "rb");
  if (gz == nullptr) return path + ": cannot open";
  gzbuffer(gz, 1 << 18);
  std::vector<char> buf(1 << 16);
  std::vector<std::string_view> fields;
  std::string scratch;
  CsvColumns columns;
  uint64_t line_no = 0;
  std::string error;
  while (gzgets(gz, buf.data(), static_cast<int>(buf.size())) != nullptr) {
    ++line_no;
    std::string_view line(buf.data());
    if (!line.empty() && line.back() != '\n' && !gzeof(gz)) {
      error = path + ":" + std::to_string(line_no) + ": line longer than the read buffer";
      break;
    }
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    split_csv(line, fields, scratch);
    if (line_no == 1) {
      if (!find_columns(fields, columns, error)) {
        error = path + ": " + error;
        break;
      }
      continue;
    }
    ExpectedRow row;
    row.line = line_no;
    const std::string row_error = parse_row(fields, columns, kind, row, quirks);
    if (!row_error.empty()) {
      error = path + ":" + std::to_string(line_no) + ": " + row_error;
      break;
    }
    // Matching groups rows by frame as contiguous runs: the CSV must be in capture order.
    if (!rows.empty() && row.frame < rows.back().frame) {
      error = path + ":" + std::to_string(line_no) + ": frame " + std::to_string(row.frame) +
              " after frame " + std::to_string(rows.back().frame) + " (rows not in frame order)";
      break;
    }
    rows.push_back(row);
  }
  int gz_err = Z_OK;
  const char* gz_msg = gzerror(gz, &gz_err);
  if (error.empty() && gz_err != Z_OK && gz_err != Z_STREAM_END) error = path + ": " + gz_msg;
  gzclose(gz);
  return error;
}

// ------------------------------------------------------------------------------------------
// Our side.

/// Counters of the RFC 5103 reverse-direction record emitted right after a forward one.
struct ReverseCounters {
  bool present = false;
  uint64_t bytes = 0;
  uint64_t packets = 0;
  uint16_t tcp_flags = 0;
  uint8_t tos = 0;
};

struct GotRecord {
  uint64_t frame = 0;
  FlowRecord record;
  ReverseCounters reverse;  ///< biflow captures only
};

struct DecodeRun {
  std::vector<GotRecord> records;  ///< forward records, in decode order
  uint64_t reverse_records = 0;    ///< records flagged kBiflowReverse (excluded)
  uint64_t unpaired_reverse = 0;   ///< reverse records not right after their mirrored forward
  uint64_t datagrams = 0;
  collect::PcapStats pcap;
  std::map<std::string, uint64_t> reasons;  ///< non-zero decoder reason counters, all exporters
  uint64_t decoder_records = 0;             ///< ExporterStats::records summed
};

std::string decode_capture(const std::string& path, DecodeRun& run) {
  std::string error;
  auto reader = collect::PcapReader::open(path, error);
  if (!reader) return error;
  decode::Decoder decoder;
  flow::FlowBatch batch;
  collect::CapturedDatagram datagram;
  while (reader->next(datagram)) {
    ++run.datagrams;
    const decode::PacketContext ctx{datagram.src, datagram.src_port, datagram.timestamp_ns};
    batch.clear();
    decoder.decode(datagram.payload, ctx, batch);
    const size_t first_of_frame = run.records.size();
    for (const FlowRecord& r : batch.records()) {
      if ((r.flags & flow::record_flags::kBiflowReverse) != 0) {
        ++run.reverse_records;
        // Pair it with the forward record just before it: same flow, directions mirrored.
        GotRecord* fwd = run.records.size() > first_of_frame ? &run.records.back() : nullptr;
        if (fwd != nullptr && !fwd->reverse.present && fwd->record.src == r.dst &&
            fwd->record.dst == r.src && fwd->record.src_port == r.dst_port &&
            fwd->record.dst_port == r.src_port && fwd->record.ip_protocol == r.ip_protocol) {
          fwd->reverse = {true, r.bytes, r.packets, r.tcp_flags, r.tos};
        } else {
          ++run.unpaired_reverse;
        }
        continue;
      }
      run.records.push_back({datagram.frame_number, r, {}});
    }
  }
  if (!reader->error().empty()) return path + ": " + reader->error();
  run.pcap = reader->stats();
  decoder.for_each_exporter([&](const decode::ExporterState& exporter) {
    run.decoder_records += exporter.stats.records;
    for (size_t i = 1; i < decode::kDecodeStatusCount; ++i) {
      if (exporter.stats.reasons[i] != 0) {
        run.reasons[std::string(decode::to_string(static_cast<decode::DecodeStatus>(i)))] +=
            exporter.stats.reasons[i];
      }
    }
  });
  return {};
}

// ------------------------------------------------------------------------------------------
// Comparison and report.

constexpr size_t kExamplesPerField = 10;

std::string format_ms(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%lld.%03lld", static_cast<long long>(ms / 1000),
                static_cast<long long>(ms % 1000));
  return buf;
}

std::string format_ns(int64_t ns) {
  char buf[40];
  const long long secs = ns / 1'000'000'000;
  const long long rem = ns % 1'000'000'000;
  std::snprintf(buf, sizeof(buf), "%lld.%09lld", secs, rem < 0 ? -rem : rem);
  return buf;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string flow_key(const ExpectedRow& e) {
  return e.src.to_string() + ":" + std::to_string(e.sport) + " > " + e.dst.to_string() + ":" +
         std::to_string(e.dport) + " proto " + std::to_string(e.proto);
}

std::string flow_key(const FlowRecord& r) {
  return r.src.to_string() + ":" + std::to_string(r.src_port) + " > " + r.dst.to_string() + ":" +
         std::to_string(r.dst_port) + " proto " + std::to_string(r.ip_protocol) + " bytes " +
         std::to_string(r.bytes) + " packets " + std::to_string(r.packets);
}

/// Mismatch counts per field, with the first few examples of each.
class Report {
 public:
  void mismatch(const std::string& field, const ExpectedRow& e, const std::string& expected,
                const std::string& got) {
    Field& f = fields_[field];
    ++f.count;
    if (f.examples.size() < kExamplesPerField) {
      f.examples.push_back("frame " + std::to_string(e.frame) + " (csv line " +
                           std::to_string(e.line) + ", " + flow_key(e) + "): expected " + expected +
                           ", got " + got);
    }
  }
  uint64_t total() const {
    uint64_t n = 0;
    for (const auto& [name, f] : fields_) n += f.count;
    return n;
  }
  void print(std::ostream& os) const {
    for (const auto& [name, f] : fields_) {
      os << "  field " << name << ": " << f.count << " mismatches\n";
      for (const std::string& ex : f.examples) os << "    " << ex << "\n";
    }
  }

 private:
  struct Field {
    uint64_t count = 0;
    std::vector<std::string> examples;
  };
  std::map<std::string, Field> fields_;
};

flow::SourceProtocol expected_source(Kind kind) {
  switch (kind) {
    case Kind::kNetflowV5: return flow::SourceProtocol::kNetflowV5;
    case Kind::kNetflowV9: return flow::SourceProtocol::kNetflowV9;
    case Kind::kIpfix: return flow::SourceProtocol::kIpfix;
    case Kind::kSflow: return flow::SourceProtocol::kSflowV5;
  }
  return flow::SourceProtocol::kUnknown;
}

/// Our nanosecond time rounded half up to ms, as the CSV's %.3f rounds.
int64_t round_ms(int64_t ns) {
  return ns >= 0 ? (ns + 500'000) / 1'000'000 : -((-ns + 500'000) / 1'000'000);
}

/// `reverse_counters`: the record's bytes/packets/tcp_flags/tos were replaced by those of its
/// reverse direction (ipfix_biflow quirk, see run_capture); the report names them so.
void compare(const ExpectedRow& e, const FlowRecord& r, Kind kind, Report& report,
             bool reverse_counters = false) {
  const char* bytes_name = reverse_counters ? "bytes (vs our reverse record)" : "bytes";
  const char* packets_name = reverse_counters ? "packets (vs our reverse record)" : "packets";
  const char* flags_name = reverse_counters ? "tcp_flags (vs our reverse record)" : "tcp_flags";
  const char* tos_name = reverse_counters ? "tos (vs our reverse record)" : "tos";
  auto check = [&](const char* field, auto expected, auto got) {
    if (expected != got) report.mismatch(field, e, std::to_string(expected), std::to_string(got));
  };
  if (e.src != r.src) report.mismatch("src", e, e.src.to_string(), r.src.to_string());
  if (e.dst != r.dst) report.mismatch("dst", e, e.dst.to_string(), r.dst.to_string());
  check("sport", e.sport, r.src_port);
  check("dport", e.dport, r.dst_port);
  check("proto", unsigned{e.proto}, unsigned{r.ip_protocol});
  check(bytes_name, e.bytes, r.bytes);
  check(packets_name, e.packets, r.packets);
  if (e.exporter != r.exporter) {
    report.mismatch("exporter", e, e.exporter.to_string(), r.exporter.to_string());
  }
  if (r.source != expected_source(kind)) {
    report.mismatch("source", e, std::string(flow::to_string(expected_source(kind))),
                    std::string(flow::to_string(r.source)));
  }
  check("device_sampling_rate", e.sampling, r.device_sampling_rate);
  if ((r.flags & flow::record_flags::kSamplingRateUnknown) != 0) {
    report.mismatch("flags.sampling_rate_unknown", e, "clear", "set");
  }
  if (e.sampling_algorithm) {
    check("sampling_algorithm", unsigned{*e.sampling_algorithm},
          static_cast<unsigned>(r.sampling_algorithm));
  }
  if (e.tcp_flags != r.tcp_flags) {
    report.mismatch(flags_name, e, hex(e.tcp_flags), hex(r.tcp_flags));
  }
  if (e.tos != r.tos) report.mismatch(tos_name, e, hex(e.tos), hex(r.tos));
  check("in_if", e.in_if, r.input_if);
  check("out_if", e.out_if, r.output_if);

  const bool no_times = (r.flags & flow::record_flags::kNoFlowTimes) != 0;
  switch (e.times) {
    case CsvTimes::kCompare:
      if (round_ms(r.start_ns) != e.first_ms) {
        report.mismatch("first", e, format_ms(e.first_ms), format_ns(r.start_ns));
      }
      if (round_ms(r.end_ns) != e.last_ms) {
        report.mismatch("last", e, format_ms(e.last_ms), format_ns(r.end_ns));
      }
      if (no_times) report.mismatch("flags.no_flow_times", e, "clear", "set");
      break;
    case CsvTimes::kAbsent:
      // sFlow: nothing to compare; the record must say its times are not flow times.
      if (!no_times) report.mismatch("flags.no_flow_times", e, "set", "clear");
      if ((r.flags & flow::record_flags::kPacketSample) == 0) {
        report.mismatch("flags.packet_sample", e, "set", "clear");
      }
      break;
    case CsvTimes::kEpochZero: {
      // tshark gave up (see parse_row): the flow started at the exporter's uptime 0, which is
      // before this packet's export time and, for these captures, well within the hour.
      const int64_t lo = e.export_ms - 3'600'000;
      const int64_t hi = e.export_ms + 1000;  // export_time is whole seconds in v9/IPFIX
      const int64_t first = round_ms(r.start_ns);
      const int64_t last = round_ms(r.end_ns);
      if (first < lo || first > hi || last < first || last > hi) {
        report.mismatch("first/last (epoch-0 row: within the hour before export)", e,
                        "[" + format_ms(lo) + ", " + format_ms(hi) + "]",
                        format_ns(r.start_ns) + " / " + format_ns(r.end_ns));
      }
      break;
    }
  }
}

/// The README's full key: (src, dst, sport, dport, proto, bytes, packets).
struct FullKey {
  IpAddress src, dst;
  uint16_t sport, dport;
  uint8_t proto;
  uint64_t bytes, packets;
  auto operator<=>(const FullKey&) const = default;
};

FullKey full_key(const ExpectedRow& e) {
  return {e.src, e.dst, e.sport, e.dport, e.proto, e.bytes, e.packets};
}
FullKey full_key(const FlowRecord& r) {
  return {r.src, r.dst, r.src_port, r.dst_port, r.ip_protocol, r.bytes, r.packets};
}
bool same_flow(const ExpectedRow& e, const FlowRecord& r) {
  return e.src == r.src && e.dst == r.dst && e.sport == r.src_port && e.dport == r.dst_port &&
         e.proto == r.ip_protocol;
}

void run_capture(const CaptureSpec& spec) {
  const std::string dir = FATHOM_CAPTURES_DIR;
  const std::string pcap_path = dir + "/" + spec.name + ".pcap";
  const std::string csv_path = dir + "/" + spec.name + ".csv.gz";
  if (!fs::exists(pcap_path) || !fs::exists(csv_path)) {
    GTEST_SKIP() << "REFERENCE CAPTURE MISSING: " << pcap_path << " / " << csv_path
                 << " — the golden test did not run";
  }

  std::vector<ExpectedRow> expected;
  expected.reserve(130'000);
  QuirkCounts quirks;
  const std::string csv_error = read_csv(csv_path, spec.kind, expected, quirks);
  ASSERT_TRUE(csv_error.empty()) << "CSV (test input) problem: " << csv_error;
  ASSERT_FALSE(expected.empty()) << csv_path << " has no rows";

  DecodeRun run;
  run.records.reserve(expected.size() + 1024);
  const std::string decode_error = decode_capture(pcap_path, run);
  ASSERT_TRUE(decode_error.empty()) << decode_error;

  // Quirk (ipfix_biflow): the README says the CSV holds the forward direction's counters, but
  // its bytes/packets/tcp_flags/tos columns hold the *reverse* direction's (RFC 5103 IEs with
  // PEN 29305): tshark names both occurrences alike and the CSV kept the last. Checked on the
  // wire: frame 1's first record (10.10.3.165:56469 > 198.18.0.53:53) carries octetDeltaCount
  // 63 and reverse octetDeltaCount 96, and the CSV says 96; v5 of the same trace says 63 for
  // this direction. So for this capture the CSV's counters are compared with the counters of
  // our reverse record paired with each forward one, and with zeros where the decoder emitted
  // no reverse record (the CSV's 0-byte, 0-packet rows: nothing came back). The forward
  // counters have no reference in this CSV; keys, times and rates are compared as usual.
  uint64_t biflow_paired = 0;
  uint64_t biflow_zero = 0;
  if (spec.biflow) {
    for (GotRecord& got : run.records) {
      got.record.bytes = got.reverse.bytes;
      got.record.packets = got.reverse.packets;
      got.record.tcp_flags = got.reverse.tcp_flags;
      got.record.tos = got.reverse.tos;
      ++(got.reverse.present ? biflow_paired : biflow_zero);
    }
  }

  // Group both sides by frame (both are already in frame order).
  std::unordered_map<uint64_t, std::pair<size_t, size_t>> exp_ranges;  // frame → [begin, end)
  for (size_t i = 0; i < expected.size(); ++i) {
    auto [it, inserted] = exp_ranges.try_emplace(expected[i].frame, i, i + 1);
    if (!inserted) it->second.second = i + 1;
  }
  std::unordered_map<uint64_t, std::pair<size_t, size_t>> got_ranges;
  for (size_t i = 0; i < run.records.size(); ++i) {
    auto [it, inserted] = got_ranges.try_emplace(run.records[i].frame, i, i + 1);
    if (!inserted) it->second.second = i + 1;
  }

  Report report;
  std::vector<bool> exp_used(expected.size(), false);
  std::vector<bool> got_used(run.records.size(), false);
  uint64_t matched = 0;
  uint64_t frames_matched_by_key = 0;
  // Walk frames in capture order so the report's first examples are the earliest ones.
  std::vector<uint64_t> frames;
  frames.reserve(exp_ranges.size());
  for (const ExpectedRow& e : expected) {
    if (frames.empty() || frames.back() != e.frame) frames.push_back(e.frame);
  }
  for (const uint64_t frame : frames) {
    const auto er = exp_ranges.at(frame);
    const auto git = got_ranges.find(frame);
    if (git == got_ranges.end()) continue;
    const auto [eb, ee] = er;
    const auto [gb, ge] = git->second;
    if (ee - eb == ge - gb) {
      // Same count: pair in order, as the exporter wrote them.
      for (size_t k = 0; k < ee - eb; ++k) {
        compare(expected[eb + k], run.records[gb + k].record, spec.kind, report, spec.biflow);
        exp_used[eb + k] = got_used[gb + k] = true;
        ++matched;
      }
      continue;
    }
    ++frames_matched_by_key;
    for (size_t ei = eb; ei < ee; ++ei) {
      for (size_t gi = gb; gi < ge; ++gi) {
        if (got_used[gi] || !same_flow(expected[ei], run.records[gi].record)) continue;
        compare(expected[ei], run.records[gi].record, spec.kind, report, spec.biflow);
        exp_used[ei] = got_used[gi] = true;
        ++matched;
        break;
      }
    }
  }

  // Leftovers: match across frames by the full key (a record decoded late from the pending
  // buffer appears in the frame that brought its template).
  std::multimap<FullKey, size_t> leftover_got;
  for (size_t gi = 0; gi < run.records.size(); ++gi) {
    if (!got_used[gi]) leftover_got.emplace(full_key(run.records[gi].record), gi);
  }
  uint64_t moved = 0;
  std::vector<size_t> missing;
  for (size_t ei = 0; ei < expected.size(); ++ei) {
    if (exp_used[ei]) continue;
    const auto it = leftover_got.find(full_key(expected[ei]));
    if (it == leftover_got.end()) {
      missing.push_back(ei);
      continue;
    }
    const GotRecord& got = run.records[it->second];
    ++moved;
    ++matched;
    compare(expected[ei], got.record, spec.kind, report, spec.biflow);
    if ((got.record.flags & flow::record_flags::kDecodedLate) == 0 ||
        got.frame < expected[ei].frame) {
      report.mismatch("frame (record emitted in another frame, not flagged decoded-late)",
                      expected[ei], std::to_string(expected[ei].frame), std::to_string(got.frame));
    }
    got_used[it->second] = true;
    exp_used[ei] = true;
    leftover_got.erase(it);
  }
  std::vector<size_t> extra;
  for (size_t gi = 0; gi < run.records.size(); ++gi) {
    if (!got_used[gi]) extra.push_back(gi);
  }

  // Biflow: the reverse direction must be there for ipfix_biflow and nowhere else.
  const bool reverse_ok =
      spec.biflow ? run.reverse_records > 0 && run.unpaired_reverse == 0 : run.reverse_records == 0;
  // A clean capture from a real exporter should decode without a single problem counted.
  uint64_t problem_reasons = 0;
  for (const auto& [name, count] : run.reasons) {
    if (name != "template_evicted") problem_reasons += count;
  }

  std::ostringstream os;
  os << "[golden " << spec.name << "] frames " << run.pcap.frames << ", UDP datagrams "
     << run.datagrams << "; CSV rows " << expected.size() << ", our forward records "
     << run.records.size() << " (+" << run.reverse_records
     << " biflow-reverse excluded); decoder stats records " << run.decoder_records << "\n";
  os << "  matched " << matched
     << " (in frames with differing counts, by flow key: " << frames_matched_by_key
     << " frames; across frames: " << moved << "), missing " << missing.size() << ", extra "
     << extra.size() << ", field mismatches " << report.total() << "\n";
  os << "  CSV quirk rules applied: ports_absent(ICMP)=" << quirks.ports_absent
     << " tcp_flags_absent=" << quirks.tcp_flags_absent
     << " v5_sampling_0_means_1=" << quirks.v5_unsampled_zero
     << " epoch_zero_times=" << quirks.epoch_zero_times
     << " sflow_no_times=" << quirks.sflow_no_times;
  if (spec.biflow) {
    os << " biflow_counters_from_reverse=" << biflow_paired
       << " biflow_no_reverse_record(zero)=" << biflow_zero;
  }
  os << "\n";
  os << "  decoder reasons:";
  if (run.reasons.empty()) os << " none";
  for (const auto& [name, count] : run.reasons) os << " " << name << "=" << count;
  os << "\n";
  if (!reverse_ok) {
    os << "  biflow reverse records: " << run.reverse_records << ", unpaired "
       << run.unpaired_reverse
       << (spec.biflow ? " (expected > 0, each right after its mirrored forward record)"
                       : " (expected 0 in a unidirectional capture)")
       << "\n";
  }
  report.print(os);
  if (!missing.empty()) {
    os << "  missing (in CSV, not decoded): " << missing.size() << "; first "
       << std::min(missing.size(), kExamplesPerField) << ":\n";
    for (size_t k = 0; k < missing.size() && k < kExamplesPerField; ++k) {
      const ExpectedRow& e = expected[missing[k]];
      os << "    frame " << e.frame << " (csv line " << e.line << "): " << flow_key(e) << " bytes "
         << e.bytes << " packets " << e.packets << "\n";
    }
  }
  if (!extra.empty()) {
    os << "  extra (decoded, not in CSV): " << extra.size() << "; first "
       << std::min(extra.size(), kExamplesPerField) << ":\n";
    for (size_t k = 0; k < extra.size() && k < kExamplesPerField; ++k) {
      const GotRecord& g = run.records[extra[k]];
      os << "    frame " << g.frame << ": " << flow_key(g.record) << "\n";
    }
  }

  const bool ok =
      missing.empty() && extra.empty() && report.total() == 0 && reverse_ok && problem_reasons == 0;
  if (ok) {
    std::cout << os.str();
  } else {
    ADD_FAILURE() << os.str();
  }
}

TEST(GoldenCaptures, NetflowV5) {
  run_capture({"netflow_v5", Kind::kNetflowV5});
}
TEST(GoldenCaptures, NetflowV5Sampled100) {
  run_capture({"netflow_v5_sampled100", Kind::kNetflowV5});
}
TEST(GoldenCaptures, NetflowV9) {
  run_capture({"netflow_v9", Kind::kNetflowV9});
}
TEST(GoldenCaptures, NetflowV9Sampled100) {
  run_capture({"netflow_v9_sampled100", Kind::kNetflowV9});
}
TEST(GoldenCaptures, Ipfix) {
  run_capture({"ipfix", Kind::kIpfix});
}
TEST(GoldenCaptures, IpfixSampled100) {
  run_capture({"ipfix_sampled100", Kind::kIpfix});
}
TEST(GoldenCaptures, IpfixBiflow) {
  run_capture({"ipfix_biflow", Kind::kIpfix, true});
}
TEST(GoldenCaptures, Sflow) {
  run_capture({"sflow", Kind::kSflow});
}
TEST(GoldenCaptures, SflowSampled100) {
  run_capture({"sflow_sampled100", Kind::kSflow});
}

// The comparison itself must be able to fail: a record that differs from its row in one field
// is reported under that field's name.
TEST(GoldenCompare, ReportsEachDifferingField) {
  ExpectedRow e;
  e.frame = 7;
  e.src = IpAddress::from_v4(0x0a000001);
  e.dst = IpAddress::from_v4(0x0a000002);
  e.sport = 1234;
  e.dport = 80;
  e.proto = 6;
  e.bytes = 100;
  e.packets = 2;
  e.first_ms = 1705320000'062;
  e.last_ms = 1705320001'000;
  e.exporter = IpAddress::from_v4(0x7f000001);
  FlowRecord r;
  r.src = e.src;
  r.dst = e.dst;
  r.src_port = e.sport;
  r.dst_port = e.dport;
  r.ip_protocol = e.proto;
  r.bytes = e.bytes;
  r.packets = e.packets;
  r.exporter = e.exporter;
  r.source = flow::SourceProtocol::kNetflowV5;
  r.start_ns = 1705320000'061'600'000;  // rounds to .062
  r.end_ns = 1705320001'000'400'000;    // rounds to .000
  {
    Report report;
    compare(e, r, Kind::kNetflowV5, report);
    EXPECT_EQ(report.total(), 0u);
  }
  r.bytes = 101;
  r.end_ns = 1705320001'000'500'000;  // rounds to .001
  Report report;
  compare(e, r, Kind::kNetflowV5, report);
  EXPECT_EQ(report.total(), 2u);
  std::ostringstream os;
  report.print(os);
  EXPECT_NE(os.str().find("field bytes: 1 mismatches"), std::string::npos) << os.str();
  EXPECT_NE(os.str().find("field last: 1 mismatches"), std::string::npos) << os.str();
  EXPECT_NE(os.str().find("expected 100, got 101"), std::string::npos) << os.str();
}

TEST(GoldenCompare, CsvRowQuirks) {
  std::vector<std::string_view> header;
  std::string scratch;
  const std::string header_line =
      "frame,exporter,version,export_time,sequence,source_id,template_id,src,dst,sport,dport,"
      "proto,bytes,packets,first_raw,last_raw,first,last,tcp_flags,tos,sampling_interval,"
      "sampling_algorithm,sampling_source,sample_pool,drops,frame_length,in_if,out_if";
  split_csv(header_line, header, scratch);
  CsvColumns columns;
  std::string error;
  ASSERT_TRUE(find_columns(header, columns, error)) << error;

  std::vector<std::string_view> fields;
  QuirkCounts quirks;
  ExpectedRow row;
  const std::string epoch0 =
      "1,127.0.0.1,9,1705320603.000000,1,0,1024,10.10.3.165,198.18.0.53,56469,53,17,63,1,"
      "\"Jan  1, 1970 00:00:00.000000000 UTC\",\"Jan  1, 1970 00:00:00.000000000 UTC\",0.000,"
      "0.000,0x00,0x00,100,1,options,,,,0,0";
  split_csv(epoch0, fields, scratch);
  EXPECT_EQ(parse_row(fields, columns, Kind::kNetflowV9, row, quirks), "");
  EXPECT_EQ(row.times, CsvTimes::kEpochZero);
  EXPECT_EQ(row.export_ms, 1705320603'000);
  EXPECT_EQ(row.sampling, 100u);

  const std::string sflow_icmp =
      "6,127.0.0.1,5,,6,127.0.0.1:0,38,198.19.234.47,10.10.5.104,,,1,94,1,0,0,,,,0x00000000,10,,"
      "sflow,333,0,94,1073741823,0x3fffffff";
  split_csv(sflow_icmp, fields, scratch);
  row = {};
  EXPECT_EQ(parse_row(fields, columns, Kind::kSflow, row, quirks), "");
  EXPECT_EQ(row.times, CsvTimes::kAbsent);
  EXPECT_EQ(row.in_if, 0x3fffffffu);
  EXPECT_EQ(row.out_if, 0x3fffffffu);
  EXPECT_EQ(row.sport, 0);

  // The same empty first/last outside sFlow is a CSV problem, not a quirk to skip.
  split_csv(sflow_icmp, fields, scratch);
  row = {};
  EXPECT_NE(parse_row(fields, columns, Kind::kIpfix, row, quirks), "");
  // Empty ports on a TCP row are not the ICMP quirk either.
  const std::string tcp_no_ports =
      "1,127.0.0.1,10,1705320183.000000,17,0,1024,10.10.5.110,198.19.67.24,,,6,14518,18,0.003,"
      "0.992,1705320000.064,1705320001.053,0x1b,0x00,1,,options,,,,0,0";
  split_csv(tcp_no_ports, fields, scratch);
  EXPECT_NE(parse_row(fields, columns, Kind::kIpfix, row, quirks), "");
}

}  // namespace
}  // namespace fathom
