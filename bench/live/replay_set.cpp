#include "live/replay_set.h"

#include <map>
#include <utility>

#include "collect/pcap_reader.h"
#include "decode/decode_status.h"
#include "decode/decoder.h"
#include "decode/packet_context.h"
#include "flow/flow_batch.h"

namespace fathom::bench {
namespace {

/// Where one datagram of a file came from, for the decoding passes.
struct Arrival {
  uint32_t packet_idx = 0;
  decode::PacketContext ctx;
};

/// Decodes `arrivals` in order with `decoder`; returns the records of each packet.
std::vector<uint32_t> decode_pass(decode::Decoder& decoder, const ReplaySet& set,
                                  const std::vector<Arrival>& arrivals, uint64_t& not_ok) {
  std::vector<uint32_t> records(arrivals.size());
  flow::FlowBatch batch;
  for (size_t arrival_idx = 0; arrival_idx < arrivals.size(); ++arrival_idx) {
    const Arrival& a = arrivals[arrival_idx];
    batch.clear();
    const decode::DecodeStatus status =
        decoder.decode(set.payload(set.packets[a.packet_idx]), a.ctx, batch);
    if (status != decode::DecodeStatus::kOk) ++not_ok;
    records[arrival_idx] = static_cast<uint32_t>(batch.size());
  }
  return records;
}

}  // namespace

bool load_replay_set(const std::vector<std::string>& paths, ReplaySet& out, std::string& error) {
  for (const std::string& path : paths) {
    auto reader = collect::PcapReader::open(path, error);
    if (!reader) {
      if (error.empty()) error = path + ": cannot open";
      return false;
    }
    // Streams of this file by source address: one logical exporter each.
    std::map<flow::IpAddress, size_t> stream_of;
    std::vector<Arrival> arrivals;
    collect::CapturedDatagram datagram;
    while (reader->next(datagram)) {
      if (datagram.payload.empty()) continue;
      auto [it, inserted] = stream_of.try_emplace(datagram.src, out.streams.size());
      if (inserted) {
        ExporterStream& s = out.streams.emplace_back();
        s.origin = path + " " + datagram.src.to_string();
        s.src = datagram.src;
      }
      const auto packet_idx = static_cast<uint32_t>(out.packets.size());
      ReplayPacket& p = out.packets.emplace_back();
      p.offset = out.bytes.size();
      p.size = static_cast<uint32_t>(datagram.payload.size());
      out.bytes.insert(out.bytes.end(), datagram.payload.begin(), datagram.payload.end());
      ExporterStream& s = out.streams[it->second];
      s.packets.push_back(packet_idx);
      s.bytes += p.size;
      arrivals.push_back({packet_idx, {datagram.src, datagram.src_port, datagram.timestamp_ns}});
    }
    if (!reader->error().empty()) {
      error = reader->error();
      return false;
    }
    if (arrivals.empty()) {
      error = path + ": no UDP datagrams";
      return false;
    }
    // One decoder per file: two files may carry the same exporter address (the reference
    // captures all come from 127.0.0.1) and must not share templates.
    decode::Decoder decoder;
    uint64_t first_not_ok = 0;
    const std::vector<uint32_t> first = decode_pass(decoder, out, arrivals, first_not_ok);
    const std::vector<uint32_t> steady = decode_pass(decoder, out, arrivals, out.not_ok_packets);
    for (size_t arrival_idx = 0; arrival_idx < arrivals.size(); ++arrival_idx) {
      ReplayPacket& p = out.packets[arrivals[arrival_idx].packet_idx];
      p.records_first_pass = first[arrival_idx];
      p.records_steady = steady[arrival_idx];
    }
    for (const auto& [src, stream_idx] : stream_of) {
      ExporterStream& s = out.streams[stream_idx];
      for (uint32_t packet_idx : s.packets) {
        s.records_first_pass += out.packets[packet_idx].records_first_pass;
        s.records_steady += out.packets[packet_idx].records_steady;
      }
    }
  }
  return true;
}

}  // namespace fathom::bench
