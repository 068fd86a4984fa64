#include "gen/output.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "gen/frame_builder.h"

namespace fathom::gen {
namespace {

constexpr uint32_t kPcapMagic = 0xa1b2c3d4;  // microsecond timestamps
constexpr uint32_t kLinktypeEthernet = 1;
constexpr uint32_t kSnapLen = 65535;
constexpr size_t kRecordHeaderLen = 16;

void put_le32(std::ostream& out, uint32_t v) {
  const char b[4] = {char(v), char(v >> 8), char(v >> 16), char(v >> 24)};
  out.write(b, 4);
}
void put_le16(std::ostream& out, uint16_t v) {
  const char b[2] = {char(v), char(v >> 8)};
  out.write(b, 2);
}

}  // namespace

PcapWriter::PcapWriter(std::ostream& out) : out_(out), frame_(2048) {
  put_le32(out_, kPcapMagic);
  put_le16(out_, 2);  // version 2.4
  put_le16(out_, 4);
  put_le32(out_, 0);  // thiszone
  put_le32(out_, 0);  // sigfigs
  put_le32(out_, kSnapLen);
  put_le32(out_, kLinktypeEthernet);
}

void PcapWriter::write(const DatagramInfo& info, std::span<const std::byte> payload) {
  // Record header (16 bytes, little-endian) and the frame's headers in one write, the payload
  // from where it is in a second (no copy of it).
  frame_.clear();
  frame_.zeros(kRecordHeaderLen);
  write_udp_headers(frame_, info.exporter, info.exporter_port, info.collector, info.collector_port,
                    ip_id_++, payload);
  const auto frame_len = static_cast<uint32_t>(frame_.size() - kRecordHeaderLen + payload.size());
  const uint32_t header[4] = {static_cast<uint32_t>(info.time_ns / 1'000'000'000),
                              static_cast<uint32_t>((info.time_ns % 1'000'000'000) / 1000),
                              frame_len, frame_len};
  for (size_t i = 0; i < 4; ++i) {
    for (size_t b = 0; b < 4; ++b) {
      frame_.patch_u8(i * 4 + b, static_cast<uint8_t>(header[i] >> (8 * b)));
    }
  }
  out_.write(reinterpret_cast<const char*>(frame_.span().data()),
             static_cast<std::streamsize>(frame_.size()));
  out_.write(reinterpret_cast<const char*>(payload.data()),
             static_cast<std::streamsize>(payload.size()));
  ++frames_;
}

std::optional<UdpTarget> UdpTarget::parse(const std::string& text) {
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find("]:");
    if (close == std::string::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host == "localhost") host = "127.0.0.1";
  auto addr = flow::IpAddress::parse(host);
  unsigned p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (!addr || ec != std::errc() || ptr != port.data() + port.size() || p == 0 || p > 65535) {
    return std::nullopt;
  }
  return UdpTarget{*addr, static_cast<uint16_t>(p)};
}

UdpSender::UdpSender(std::vector<UdpTarget> targets, const std::vector<flow::IpAddress>& exporters)
    : targets_(std::move(targets)) {
  for (const auto& exporter : exporters) {
    const int s4 = ::socket(AF_INET, SOCK_DGRAM, 0);
    const int s6 = ::socket(AF_INET6, SOCK_DGRAM, 0);
    if (s4 < 0) throw std::runtime_error("cannot create UDP socket");
    if (exporter.is_v4() && (exporter.v4() >> 24) == 127) {
      // Bind to the exporter's loopback address so each exporter has its own source address.
      sockaddr_in local{};
      local.sin_family = AF_INET;
      local.sin_addr.s_addr = htonl(exporter.v4());
      // On failure the socket stays unbound and the kernel picks the source address.
      (void)::bind(s4, reinterpret_cast<sockaddr*>(&local), sizeof(local));
    }
    v4_sockets_.push_back(s4);
    v6_sockets_.push_back(s6);
  }
}

UdpSender::~UdpSender() {
  for (int s : v4_sockets_) ::close(s);
  for (int s : v6_sockets_) {
    if (s >= 0) ::close(s);
  }
}

void UdpSender::send(const DatagramInfo& info, std::span<const std::byte> payload) {
  for (const auto& t : targets_) {
    ssize_t rc = -1;
    if (t.address.is_v4()) {
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(t.port);
      to.sin_addr.s_addr = htonl(t.address.v4());
      rc = ::sendto(v4_sockets_[info.exporter_index], payload.data(), payload.size(), 0,
                    reinterpret_cast<sockaddr*>(&to), sizeof(to));
    } else if (v6_sockets_[info.exporter_index] >= 0) {
      sockaddr_in6 to{};
      to.sin6_family = AF_INET6;
      to.sin6_port = htons(t.port);
      std::memcpy(&to.sin6_addr, t.address.bytes.data(), 16);
      rc = ::sendto(v6_sockets_[info.exporter_index], payload.data(), payload.size(), 0,
                    reinterpret_cast<sockaddr*>(&to), sizeof(to));
    }
    if (rc < 0) {
      ++errors_;
    } else {
      ++sent_;
    }
  }
}

}  // namespace fathom::gen
