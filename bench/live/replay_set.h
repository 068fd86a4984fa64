#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "flow/ip_address.h"

namespace fathom::bench {

/// One export datagram to replay, with the flow records Fathom's decoder finds in it.
struct ReplayPacket {
  size_t offset = 0;  ///< into ReplaySet::bytes
  uint32_t size = 0;
  /// Records decoded when the capture is played from its start (a data set that arrives
  /// before its template decodes to nothing here, or later, when the template comes).
  uint32_t records_first_pass = 0;
  /// Records decoded on a second pass, every template already known: what each further loop
  /// over the capture carries.
  uint32_t records_steady = 0;
};

/// The datagrams of one exporter of one capture (one source address in one file), in capture
/// order: templates come before the data that needs them, as the exporter sent them.
struct ExporterStream {
  std::string origin;  ///< "FILE SRC" for reports
  flow::IpAddress src;
  std::vector<uint32_t> packets;  ///< indexes into ReplaySet::packets
  uint64_t records_first_pass = 0;
  uint64_t records_steady = 0;
  uint64_t bytes = 0;
};

/// Export datagrams loaded from pcap files, grouped by exporter, with record counts.
struct ReplaySet {
  std::vector<std::byte> bytes;  ///< every payload back to back
  std::vector<ReplayPacket> packets;
  std::vector<ExporterStream> streams;
  uint64_t not_ok_packets = 0;  ///< packets the steady pass decoded with a status other than kOk

  std::span<const std::byte> payload(const ReplayPacket& p) const {
    return {bytes.data() + p.offset, p.size};
  }
};

/// Reads the UDP payloads of every pcap in `paths` (collect::PcapReader), makes one stream per
/// (file, source address), and counts the records of each packet with a decode::Decoder per
/// file, run twice over the file in capture order. Returns false and sets `error` when a file
/// cannot be read or holds no datagram.
bool load_replay_set(const std::vector<std::string>& paths, ReplaySet& out, std::string& error);

}  // namespace fathom::bench
