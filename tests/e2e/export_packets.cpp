#include "e2e/export_packets.h"

#include <algorithm>
#include <filesystem>
#include <ostream>

#include "collect/pcap_reader.h"
#include "decode/template_packets.h"

namespace fathom::e2e {
namespace {

using testing::Field;
using testing::FlowPacket;

/// TestFlow's fields in the order ipfix_data_message writes them.
constexpr std::initializer_list<Field> kFlowFields = {
    {8, 4},    // sourceIPv4Address
    {12, 4},   // destinationIPv4Address
    {7, 2},    // sourceTransportPort
    {11, 2},   // destinationTransportPort
    {4, 1},    // protocolIdentifier
    {1, 8},    // octetDeltaCount
    {2, 8},    // packetDeltaCount
    {152, 8},  // flowStartMilliseconds
    {153, 8},  // flowEndMilliseconds
};

Payload to_payload(FlowPacket& p) {
  const std::span<const std::byte> bytes = p.bytes();
  return Payload(bytes.begin(), bytes.end());
}

}  // namespace

std::string fathom_gen_binary() {
  return std::string(FATHOM_BINARY_DIR) + "/tools/gen/fathom-gen";
}

std::string capture_path(const std::string& name) {
  return std::string(FATHOM_CAPTURES_DIR) + "/" + name;
}

bool have_captures() {
  return std::filesystem::exists(capture_path("netflow_v9_sampled100.pcap"));
}

std::optional<std::vector<CapturedPayload>> capture_datagrams(const std::string& path,
                                                              std::string& error) {
  std::unique_ptr<collect::PcapReader> reader = collect::PcapReader::open(path, error);
  if (!reader) return std::nullopt;
  std::vector<CapturedPayload> out;
  collect::CapturedDatagram d;
  while (reader->next(d)) {
    out.push_back({d.src.to_string(), Payload(d.payload.begin(), d.payload.end())});
  }
  if (!reader->error().empty()) {
    error = reader->error();
    return std::nullopt;
  }
  return out;
}

std::optional<std::vector<Payload>> capture_payloads(const std::string& path, std::string& error) {
  auto datagrams = capture_datagrams(path, error);
  if (!datagrams) return std::nullopt;
  std::vector<Payload> out;
  out.reserve(datagrams->size());
  for (CapturedPayload& d : *datagrams) out.push_back(std::move(d.payload));
  return out;
}

V5Packets netflow_v5_packets(size_t count, std::string& error) {
  V5Packets out;
  auto all = capture_payloads(capture_path("netflow_v5_sampled100.pcap"), error);
  if (!all) return out;
  all->resize(std::min(count, all->size()));
  for (const Payload& p : *all) {
    // NetFlow v5 header: version (2 bytes), then the record count (2 bytes).
    if (p.size() >= 4) {
      out.records += (std::to_integer<uint64_t>(p[2]) << 8) | std::to_integer<uint64_t>(p[3]);
    }
  }
  out.payloads = std::move(*all);
  return out;
}

std::ostream& operator<<(std::ostream& os, const RecordTotals& t) {
  return os << "{flows " << t.flows << ", if_counters " << t.if_counters << ", bytes " << t.bytes
            << ", packets " << t.packets << "}";
}

RecordTotals totals_of(const std::vector<JsonRecord>& records) {
  RecordTotals t;
  for (const JsonRecord& r : records) {
    const std::string_view type = r.at("type");
    if (type == "flow") {
      ++t.flows;
      t.bytes += r.number("bytes");
      t.packets += r.number("packets");
    } else if (type == "if_counters") {
      ++t.if_counters;
    }
  }
  return t;
}

std::optional<std::vector<JsonRecord>> fathom_decode(const std::string& capture, const TempDir& dir,
                                                     std::string& error) {
  const std::string out = dir.file(std::filesystem::path(capture).filename().string() + ".jsonl");
  std::string output;
  const std::optional<int> code =
      run_to_completion({fathom_binary(), "decode", capture}, out, seconds(60), output);
  if (code != 0) {
    error = "fathom decode " + capture + " failed: " + output;
    return std::nullopt;
  }
  return read_jsonl(out, error);
}

std::vector<std::string> comparable_records(const std::vector<JsonRecord>& records) {
  std::vector<std::string> out;
  out.reserve(records.size());
  for (const JsonRecord& r : records) {
    const bool no_times = r.at("flags").find("no_flow_times") != std::string_view::npos;
    std::string key;
    key.reserve(r.text().size());
    for (size_t idx = 0; idx < r.size(); ++idx) {
      const std::string_view name = r.key(idx);
      if (name == "frame" || name == "exporter" || name == "exporter_port" ||
          name == "arrival_ns" || name == "tenant_id") {
        continue;
      }
      if (no_times && (name == "start_ns" || name == "end_ns")) continue;
      key += name;
      key += '=';
      key += r.value(idx);
      key += ' ';
    }
    out.push_back(std::move(key));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<JsonRecord> where(const std::vector<JsonRecord>& records, const std::string& key,
                              const std::string& value) {
  std::vector<JsonRecord> out;
  for (const JsonRecord& r : records) {
    if (r.has(key) && r.at(key) == value) out.push_back(r);
  }
  return out;
}

TestFlow test_flow(uint32_t seq) {
  TestFlow f;
  f.src = 0x0a010000 + seq;          // 10.1.0.0 + seq
  f.dst = 0xc6336400 + (seq % 250);  // 198.51.100.x
  f.src_port = static_cast<uint16_t>(20000 + seq % 40000);
  f.dst_port = seq % 2 == 0 ? 443 : 53;
  f.proto = seq % 2 == 0 ? 6 : 17;
  f.bytes = 1000 + uint64_t{seq} * 7;
  f.packets = 1 + seq % 13;
  return f;
}

Payload ipfix_template_message(uint32_t domain, uint16_t template_id) {
  FlowPacket p = FlowPacket::ipfix(kExportSecs, domain);
  p.template_set(template_id, kFlowFields);
  return to_payload(p);
}

Payload ipfix_data_message(uint32_t domain, uint16_t template_id, uint32_t first_seq,
                           uint32_t count) {
  FlowPacket p = FlowPacket::ipfix(kExportSecs, domain);
  p.begin_set(template_id);
  const uint64_t end_ms = uint64_t{kExportSecs} * 1000 - 1000;
  for (uint32_t seq = first_seq; seq < first_seq + count; ++seq) {
    const TestFlow f = test_flow(seq);
    p.w.u32(f.src).u32(f.dst).u16(f.src_port).u16(f.dst_port).u8(f.proto);
    p.w.u64(f.bytes).u64(f.packets).u64(end_ms - 30'000).u64(end_ms);
  }
  p.end_set();
  return to_payload(p);
}

Payload ipfix_sampling_options_message(uint32_t domain, uint16_t template_id, uint32_t rate) {
  FlowPacket p = FlowPacket::ipfix(kExportSecs, domain);
  p.options_template_set(template_id, {{149, 4}}, {{34, 4}, {35, 1}});
  p.begin_set(template_id);
  p.w.u32(domain).u32(rate).u8(1);  // samplingAlgorithm 1: deterministic
  p.end_set();
  return to_payload(p);
}

Payload ipfix_template_flood_message(uint32_t domain, uint16_t first_id, uint16_t count) {
  FlowPacket p = FlowPacket::ipfix(kExportSecs, domain);
  p.begin_set(2);
  for (uint16_t idx = 0; idx < count; ++idx) {
    p.template_record(static_cast<uint16_t>(first_id + idx), {{8, 4}, {1, 8}});
  }
  p.end_set();
  return to_payload(p);
}

}  // namespace fathom::e2e
