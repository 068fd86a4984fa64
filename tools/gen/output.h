#pragma once

// Where export datagrams go: a pcap file (Ethernet/IP/UDP frames from each exporter to the
// collector) and/or UDP sockets towards collectors the user named.

#include <cstdint>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "flow/ip_address.h"
#include "gen/byte_writer.h"

namespace fathom::gen {

/// One finished export datagram and where it travels.
struct DatagramInfo {
  flow::IpAddress exporter;
  uint16_t exporter_port = 0;
  flow::IpAddress collector;
  uint16_t collector_port = 0;
  uint32_t exporter_index = 0;  ///< global exporter index (selects the UDP socket)
  int64_t time_ns = 0;          ///< simulated send time (pcap timestamp)
};

/// Writes a classic pcap (microsecond, LINKTYPE_ETHERNET) to a stream.
class PcapWriter {
 public:
  explicit PcapWriter(std::ostream& out);
  void write(const DatagramInfo& info, std::span<const std::byte> payload);
  uint64_t frames() const noexcept { return frames_; }

 private:
  std::ostream& out_;
  ByteWriter frame_;
  uint16_t ip_id_ = 0;
  uint64_t frames_ = 0;
};

/// A UDP destination given as HOST:PORT (IPv4 or [IPv6]:PORT).
struct UdpTarget {
  flow::IpAddress address;
  uint16_t port = 0;
  /// Parses "127.0.0.1:2055" or "[::1]:2055"; nullopt on bad input.
  static std::optional<UdpTarget> parse(const std::string& text);
};

/// Sends datagrams to every target. One socket per exporter, bound to the exporter's address
/// when it is a local loopback address (so a collector sees distinct exporters), otherwise
/// to the wildcard address.
class UdpSender {
 public:
  /// Throws std::runtime_error when a socket cannot be created.
  UdpSender(std::vector<UdpTarget> targets, const std::vector<flow::IpAddress>& exporters);
  ~UdpSender();
  UdpSender(const UdpSender&) = delete;
  UdpSender& operator=(const UdpSender&) = delete;

  void send(const DatagramInfo& info, std::span<const std::byte> payload);
  uint64_t sent() const noexcept { return sent_; }
  uint64_t errors() const noexcept { return errors_; }

 private:
  std::vector<UdpTarget> targets_;
  std::vector<int> v4_sockets_;  ///< per exporter
  std::vector<int> v6_sockets_;  ///< per exporter (wildcard)
  uint64_t sent_ = 0;
  uint64_t errors_ = 0;
};

}  // namespace fathom::gen
