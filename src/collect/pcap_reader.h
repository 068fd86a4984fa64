#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>

#include "flow/ip_address.h"

namespace fathom::collect {

/// One UDP datagram found in a capture file. `payload` points into the reader's buffer and is
/// valid until the next call to `next()`.
struct CapturedDatagram {
  uint64_t frame_number = 0;  ///< 1-based frame number in the file (as Wireshark counts)
  int64_t timestamp_ns = 0;   ///< capture time, nanoseconds since the epoch
  flow::IpAddress src;
  flow::IpAddress dst;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  std::span<const std::byte> payload;
};

/// Counters of what the reader saw and skipped.
struct PcapStats {
  uint64_t frames = 0;         ///< frames read from the file
  uint64_t udp_datagrams = 0;  ///< UDP datagrams returned
  uint64_t not_udp = 0;        ///< frames that were not UDP over IPv4/IPv6 (skipped)
  uint64_t fragments = 0;      ///< IP fragments (skipped: export packets are not reassembled)
  uint64_t truncated = 0;      ///< frames shorter than their headers or snap length cut (skipped)
  uint64_t unsupported_link = 0;  ///< frames of a link type the reader does not parse
};

/// Reads pcap and pcapng files (libpcap) and yields the UDP datagrams inside, over Ethernet
/// (with 802.1Q/QinQ tags), Linux cooked capture (SLL, SLL2), raw IP and BSD loopback links.
class PcapReader {
 public:
  /// Opens `path` ("-" for stdin). Returns nullptr and sets `error` (naming the file and the
  /// reason) when the file cannot be opened or is not a capture.
  static std::unique_ptr<PcapReader> open(const std::string& path, std::string& error);
  /// Reads a capture from an already open stream (e.g. stdin after its magic bytes were
  /// peeked), taking ownership of `stream` in every case. `name` is used in error messages.
  static std::unique_ptr<PcapReader> open_stream(std::FILE* stream, const std::string& name,
                                                 std::string& error);
  virtual ~PcapReader() = default;

  /// Fills `out` with the next UDP datagram. Returns false at the end of the file or on a read
  /// error (then `error()` is non-empty). Non-UDP frames are skipped and counted.
  virtual bool next(CapturedDatagram& out) = 0;
  virtual const std::string& error() const = 0;
  virtual const PcapStats& stats() const = 0;
};

}  // namespace fathom::collect
