#include "collect/pcap_reader.h"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

#include <pcap/pcap.h>

#include "decode/byte_reader.h"

namespace fathom::collect {
namespace {

using decode::ByteReader;

// Ethertypes (IEEE 802.3 / IANA).
constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86DD;
constexpr uint16_t kEtherVlan = 0x8100;   // 802.1Q C-tag
constexpr uint16_t kEtherQinQ = 0x88A8;   // 802.1ad S-tag
constexpr uint16_t kEtherQinQ2 = 0x9100;  // pre-standard QinQ
constexpr int kMaxVlanTags = 4;

// LINKTYPE_ values as stored in files; libpcap maps LINKTYPE_RAW (101) to DLT_RAW, whose value
// differs between platforms (12 or 14), so both spellings are accepted.
constexpr int kLinkRaw101 = 101;
constexpr int kLinkIpv4 = 228;
constexpr int kLinkIpv6 = 229;
constexpr int kLinkLinuxSll2 = 276;

// BSD loopback address families: AF_INET is 2 everywhere; AF_INET6 is 10 on Linux, 24 on
// NetBSD/OpenBSD, 28 on FreeBSD, 30 on macOS (libpcap's pcap-linktype(7) "NULL").
constexpr uint32_t kAfInet = 2;
constexpr std::array<uint32_t, 4> kAfInet6 = {10, 24, 28, 30};

constexpr uint8_t kIpProtoUdp = 17;
// IPv6 extension headers walked before the transport header (RFC 8200 §4).
constexpr uint8_t kIp6HopByHop = 0;
constexpr uint8_t kIp6Routing = 43;
constexpr uint8_t kIp6Fragment = 44;
constexpr uint8_t kIp6Ah = 51;
constexpr uint8_t kIp6DestOpts = 60;
constexpr int kMaxIpv6ExtHeaders = 8;

/// What the network layer of one frame turned out to be.
enum class Network : uint8_t { kIpv4, kIpv6, kOther, kTruncated, kUnsupportedLink };

/// Outcome of parsing one frame down to the UDP payload.
enum class FrameResult : uint8_t { kUdp, kNotUdp, kFragment, kTruncated, kUnsupportedLink };

uint32_t byteswap32(uint32_t v) noexcept {
  return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}

/// Network protocol from an ethertype; advances `r` past nothing.
Network from_ethertype(uint16_t ethertype) noexcept {
  if (ethertype == kEtherIpv4) return Network::kIpv4;
  if (ethertype == kEtherIpv6) return Network::kIpv6;
  return Network::kOther;
}

/// Network protocol from the IP version nibble (raw IP links).
Network from_version_nibble(const ByteReader& r) noexcept {
  if (!r.has(1)) return Network::kTruncated;
  const auto version = static_cast<uint8_t>(*r.current()) >> 4;
  if (version == 4) return Network::kIpv4;
  if (version == 6) return Network::kIpv6;
  return Network::kOther;
}

/// Skips the link-layer header of `linktype`, leaving `r` at the network header.
Network skip_link_header(int linktype, ByteReader& r) noexcept {
  switch (linktype) {
    case DLT_EN10MB: {
      if (!r.skip(12)) return Network::kTruncated;  // destination + source MAC
      uint16_t ethertype = r.u16();
      for (int tag_idx = 0; tag_idx < kMaxVlanTags && r.ok(); ++tag_idx) {
        if (ethertype != kEtherVlan && ethertype != kEtherQinQ && ethertype != kEtherQinQ2) break;
        r.skip(2);  // TCI: priority, DEI, VLAN id
        ethertype = r.u16();
      }
      if (!r.ok()) return Network::kTruncated;
      return from_ethertype(ethertype);  // an 802.3 length (<= 1500) lands in kOther
    }
    case DLT_LINUX_SLL: {
      // packet type, ARPHRD type, address length, 8-byte address, then the protocol.
      if (!r.skip(14)) return Network::kTruncated;
      const uint16_t protocol = r.u16();
      if (!r.ok()) return Network::kTruncated;
      return from_ethertype(protocol);
    }
    case kLinkLinuxSll2: {
      // protocol first, then reserved, ifindex, ARPHRD, packet type, address length, address.
      const uint16_t protocol = r.u16();
      if (!r.skip(18)) return Network::kTruncated;
      return from_ethertype(protocol);
    }
    case DLT_RAW:
    case kLinkRaw101:
    case kLinkIpv4:
    case kLinkIpv6:
#if DLT_RAW != 12
    case 12:
#endif
#if DLT_RAW != 14
    case 14:
#endif
      return from_version_nibble(r);
    case DLT_NULL:
    case DLT_LOOP: {
      // DLT_NULL stores the family in the writer's byte order, DLT_LOOP in network order;
      // families are small, so a value above 0xffff means the other byte order.
      uint32_t family = r.u32();
      if (!r.ok()) return Network::kTruncated;
      if (family > 0xffff) family = byteswap32(family);
      if (family == kAfInet) return Network::kIpv4;
      for (uint32_t af6 : kAfInet6) {
        if (family == af6) return Network::kIpv6;
      }
      return Network::kOther;
    }
    default: return Network::kUnsupportedLink;
  }
}

/// Parses the IPv4 header at `r`, filling addresses; leaves `transport` bounded by the total
/// length (so Ethernet padding is not taken for payload).
FrameResult parse_ipv4(ByteReader& r, CapturedDatagram& out, ByteReader& transport,
                       uint8_t& protocol) noexcept {
  const std::span<const std::byte> header = r.rest();
  if (header.size() < 20) return FrameResult::kTruncated;
  const auto version_ihl = static_cast<uint8_t>(header[0]);
  if ((version_ihl >> 4) != 4) return FrameResult::kNotUdp;
  const size_t header_len = size_t{version_ihl & 0x0fu} * 4;
  if (header_len < 20) return FrameResult::kNotUdp;  // RFC 791: IHL >= 5; not a valid datagram
  const uint16_t total_len = ByteReader::load_be16(header.data() + 2);
  if (total_len < header_len) return FrameResult::kNotUdp;        // malformed, not ours to decode
  if (header.size() < total_len) return FrameResult::kTruncated;  // snap length cut it
  const uint16_t flags_offset = ByteReader::load_be16(header.data() + 6);
  // RFC 791: more-fragments flag (0x2000) or a non-zero offset means a fragment.
  if ((flags_offset & 0x3fff) != 0) return FrameResult::kFragment;
  protocol = static_cast<uint8_t>(header[9]);
  out.src = flow::IpAddress::from_v4_bytes(header.data() + 12);
  out.dst = flow::IpAddress::from_v4_bytes(header.data() + 16);
  transport = ByteReader(header.subspan(header_len, total_len - header_len));
  return FrameResult::kUdp;
}

/// Parses the IPv6 header and up to kMaxIpv6ExtHeaders extension headers at `r`.
FrameResult parse_ipv6(ByteReader& r, CapturedDatagram& out, ByteReader& transport,
                       uint8_t& protocol) noexcept {
  const std::span<const std::byte> header = r.rest();
  if (header.size() < 40) return FrameResult::kTruncated;
  if ((static_cast<uint8_t>(header[0]) >> 4) != 6) return FrameResult::kNotUdp;
  const uint16_t payload_len = ByteReader::load_be16(header.data() + 4);
  uint8_t next_header = static_cast<uint8_t>(header[6]);
  out.src = flow::IpAddress::from_v6_bytes(header.data() + 8);
  out.dst = flow::IpAddress::from_v6_bytes(header.data() + 24);
  std::span<const std::byte> payload = header.subspan(40);
  // A zero payload length means a jumbogram (RFC 2675); take what was captured.
  if (payload_len != 0) {
    if (payload.size() < payload_len) return FrameResult::kTruncated;
    payload = payload.first(payload_len);
  }
  ByteReader ext(payload);
  for (int ext_idx = 0; ext_idx < kMaxIpv6ExtHeaders; ++ext_idx) {
    if (next_header == kIp6HopByHop || next_header == kIp6Routing || next_header == kIp6DestOpts) {
      if (!ext.has(2)) return FrameResult::kTruncated;
      const uint8_t following = static_cast<uint8_t>(ext.current()[0]);
      const size_t len = (size_t{static_cast<uint8_t>(ext.current()[1])} + 1) * 8;
      if (!ext.skip(len)) return FrameResult::kTruncated;
      next_header = following;
    } else if (next_header == kIp6Fragment) {
      if (!ext.has(8)) return FrameResult::kTruncated;
      const uint8_t following = static_cast<uint8_t>(ext.current()[0]);
      const uint16_t offset_flags = ByteReader::load_be16(ext.current() + 2);
      // RFC 8200 §4.5: offset in the top 13 bits, M flag in bit 0. An atomic fragment
      // (offset 0, M 0) carries the whole datagram and is decoded like any other.
      if ((offset_flags & 0xfff9) != 0) return FrameResult::kFragment;
      ext.skip(8);
      next_header = following;
    } else if (next_header == kIp6Ah) {
      // RFC 4302 §2.2: AH length is in 4-byte units, minus 2.
      if (!ext.has(2)) return FrameResult::kTruncated;
      const uint8_t following = static_cast<uint8_t>(ext.current()[0]);
      const size_t len = (size_t{static_cast<uint8_t>(ext.current()[1])} + 2) * 4;
      if (!ext.skip(len)) return FrameResult::kTruncated;
      next_header = following;
    } else {
      break;
    }
  }
  protocol = next_header;
  transport = ByteReader(ext.rest());
  return FrameResult::kUdp;
}

/// Parses one frame down to its UDP payload.
FrameResult parse_frame(int linktype, std::span<const std::byte> frame,
                        CapturedDatagram& out) noexcept {
  ByteReader r(frame);
  const Network network = skip_link_header(linktype, r);
  ByteReader transport({});
  uint8_t protocol = 0;
  FrameResult result = FrameResult::kNotUdp;
  switch (network) {
    case Network::kIpv4: result = parse_ipv4(r, out, transport, protocol); break;
    case Network::kIpv6: result = parse_ipv6(r, out, transport, protocol); break;
    case Network::kOther: return FrameResult::kNotUdp;
    case Network::kTruncated: return FrameResult::kTruncated;
    case Network::kUnsupportedLink: return FrameResult::kUnsupportedLink;
  }
  if (result != FrameResult::kUdp) return result;
  if (protocol != kIpProtoUdp) return FrameResult::kNotUdp;
  // RFC 768: the UDP length covers header and data; it must fit in what IP carried.
  const std::span<const std::byte> udp = transport.rest();
  if (udp.size() < 8) return FrameResult::kTruncated;
  const uint16_t udp_len = ByteReader::load_be16(udp.data() + 4);
  if (udp_len < 8 || udp_len > udp.size()) return FrameResult::kTruncated;
  out.src_port = ByteReader::load_be16(udp.data());
  out.dst_port = ByteReader::load_be16(udp.data() + 2);
  out.payload = udp.subspan(8, udp_len - 8u);
  return FrameResult::kUdp;
}

class LibpcapReader final : public PcapReader {
 public:
  explicit LibpcapReader(pcap_t* handle)
      : handle_(handle),
        linktype_(pcap_datalink(handle)),
        nanosecond_(pcap_get_tstamp_precision(handle) == PCAP_TSTAMP_PRECISION_NANO) {}
  ~LibpcapReader() override { pcap_close(handle_); }
  LibpcapReader(const LibpcapReader&) = delete;
  LibpcapReader& operator=(const LibpcapReader&) = delete;

  bool next(CapturedDatagram& out) override {
    for (;;) {
      pcap_pkthdr* header = nullptr;
      const u_char* data = nullptr;
      const int rc = pcap_next_ex(handle_, &header, &data);
      if (rc == PCAP_ERROR_BREAK) return false;  // end of file
      if (rc != 1) {
        error_ = pcap_geterr(handle_);
        if (error_.empty()) error_ = "read error";
        return false;
      }
      ++frame_number_;
      ++stats_.frames;
      const std::span<const std::byte> frame(reinterpret_cast<const std::byte*>(data),
                                             header->caplen);
      out = CapturedDatagram{};
      out.frame_number = frame_number_;
      const int64_t fraction = header->ts.tv_usec;  // ns when the handle is nano-precision
      out.timestamp_ns =
          int64_t{header->ts.tv_sec} * 1'000'000'000 + (nanosecond_ ? fraction : fraction * 1000);
      switch (parse_frame(linktype_, frame, out)) {
        case FrameResult::kUdp: ++stats_.udp_datagrams; return true;
        case FrameResult::kNotUdp: ++stats_.not_udp; break;
        case FrameResult::kFragment: ++stats_.fragments; break;
        case FrameResult::kTruncated: ++stats_.truncated; break;
        case FrameResult::kUnsupportedLink: ++stats_.unsupported_link; break;
      }
    }
  }

  const std::string& error() const override { return error_; }
  const PcapStats& stats() const override { return stats_; }

 private:
  pcap_t* handle_;
  int linktype_;
  bool nanosecond_;
  uint64_t frame_number_ = 0;
  std::string error_;
  PcapStats stats_;
};

std::unique_ptr<PcapReader> finish_open(pcap_t* handle, const std::string& name, const char* errbuf,
                                        std::string& error) {
  if (handle == nullptr) {
    error = name + ": " + (errbuf[0] != '\0' ? errbuf : "cannot open capture");
    return nullptr;
  }
  return std::make_unique<LibpcapReader>(handle);
}

}  // namespace

std::unique_ptr<PcapReader> PcapReader::open(const std::string& path, std::string& error) {
  std::array<char, PCAP_ERRBUF_SIZE> errbuf{};
  // libpcap itself treats "-" as stdin.
  pcap_t* handle = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO,
                                                           errbuf.data());
  return finish_open(handle, path == "-" ? std::string("<stdin>") : path, errbuf.data(), error);
}

std::unique_ptr<PcapReader> PcapReader::open_stream(std::FILE* stream, const std::string& name,
                                                    std::string& error) {
  std::array<char, PCAP_ERRBUF_SIZE> errbuf{};
  pcap_t* handle =
      pcap_fopen_offline_with_tstamp_precision(stream, PCAP_TSTAMP_PRECISION_NANO, errbuf.data());
  if (handle == nullptr) std::fclose(stream);  // on success libpcap owns and closes it
  return finish_open(handle, name, errbuf.data(), error);
}

}  // namespace fathom::collect
