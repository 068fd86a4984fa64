#include "gen/output.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <vector>

#include "gen/byte_writer.h"
#include "gen/frame_builder.h"
#include "gen/rng.h"

namespace fathom::gen {
namespace {

TEST(UdpTargetTest, Parses) {
  auto v4 = UdpTarget::parse("127.0.0.1:2055");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->address, flow::IpAddress::from_v4(0x7f000001));
  EXPECT_EQ(v4->port, 2055);
  auto v6 = UdpTarget::parse("[::1]:4739");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->port, 4739);
  EXPECT_FALSE(v6->address.is_v4());
  EXPECT_TRUE(UdpTarget::parse("localhost:6343"));
  EXPECT_FALSE(UdpTarget::parse("127.0.0.1"));
  EXPECT_FALSE(UdpTarget::parse("127.0.0.1:0"));
  EXPECT_FALSE(UdpTarget::parse("127.0.0.1:70000"));
  EXPECT_FALSE(UdpTarget::parse("nowhere:2055"));
}

// Loopback only: a receiving socket on an ephemeral port gets the datagrams, from the
// exporter's own 127.x address.
TEST(UdpSenderTest, SendsFromTheExporterLoopbackAddress) {
  const int rx = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(rx, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(0x7f000001);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(rx, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(rx, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint16_t port = ntohs(addr.sin_port);

  const auto exporter = flow::IpAddress::from_v4(0x7f000063);  // 127.0.0.99
  UdpSender sender({UdpTarget{flow::IpAddress::from_v4(0x7f000001), port}}, {exporter});
  const std::vector<std::byte> payload(100, std::byte{0x5a});
  DatagramInfo info;
  info.exporter = exporter;
  info.exporter_index = 0;
  for (int i = 0; i < 3; ++i) sender.send(info, payload);
  EXPECT_EQ(sender.sent(), 3u);
  EXPECT_EQ(sender.errors(), 0u);

  for (int i = 0; i < 3; ++i) {
    pollfd pfd{rx, POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 5000), 1);  // bounded wait for a loopback datagram, not a sleep
    std::vector<std::byte> buf(2048);
    sockaddr_in from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n =
        ::recvfrom(rx, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    ASSERT_EQ(n, 100);
    EXPECT_EQ(ntohl(from.sin_addr.s_addr), 0x7f000063u);
    EXPECT_EQ(buf[0], std::byte{0x5a});
  }
  ::close(rx);
}

TEST(PcapWriterTest, WritesHeaderAndFramesWithValidIpChecksum) {
  std::ostringstream out;
  PcapWriter pcap(out);
  DatagramInfo info;
  info.exporter = flow::IpAddress::from_v4(0xc0000201);
  info.exporter_port = 50000;
  info.collector = flow::IpAddress::from_v4(0x7f000001);
  info.collector_port = 2055;
  info.time_ns = 1'705'320'000'123'456'789;
  const std::vector<std::byte> payload(40, std::byte{1});
  pcap.write(info, payload);
  const std::string bytes = out.str();
  ASSERT_EQ(bytes.size(), 24u + 16u + 14u + 20u + 8u + 40u);
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), 0xd4);  // little-endian magic a1b2c3d4
  const auto u32le = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v |= uint32_t(uint8_t(bytes[at + i])) << (8 * i);
    return v;
  };
  EXPECT_EQ(u32le(20), 1u);  // LINKTYPE_ETHERNET
  EXPECT_EQ(u32le(24), 1'705'320'000u);
  EXPECT_EQ(u32le(28), 123'456u);
  EXPECT_EQ(u32le(32), 82u);
  // The IPv4 header sums to 0xffff with its checksum (RFC 1071).
  const auto* ip = reinterpret_cast<const std::byte*>(bytes.data() + 40 + 14);
  EXPECT_EQ(internet_checksum(std::span<const std::byte>(ip, 20)), 0);
}

// internet_checksum sums words natively for speed; it must equal RFC 1071's big-endian
// 16-bit sum for every length (odd ones pad a zero byte) and starting sum.
TEST(FrameBuilderTest, ChecksumMatchesTheRfc1071Definition) {
  const auto reference = [](std::span<const std::byte> data, uint32_t sum) {
    for (size_t i = 0; i < data.size(); i += 2) {
      sum += uint32_t(data[i]) << 8;
      if (i + 1 < data.size()) sum += uint32_t(data[i + 1]);
    }
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
  };
  Rng rng(11);
  std::vector<std::byte> data(1500);
  for (size_t len = 0; len <= data.size(); len += 1 + len / 16) {
    for (auto& b : data) b = std::byte(rng.below(256));
    if (len % 5 == 0) std::fill(data.begin(), data.end(), std::byte{0xff});  // many carries
    const uint32_t start = static_cast<uint32_t>(rng.below(0x60000));
    const auto span = std::span<const std::byte>(data).first(len);
    ASSERT_EQ(internet_checksum(span, start), reference(span, start)) << "length " << len;
  }
}

TEST(FrameBuilderTest, SampledHeaderIsTruncatedToTheSnapLength) {
  PacketHeaderFields p;
  p.src = flow::IpAddress::from_v4(0x0a000001);
  p.dst = flow::IpAddress::from_v4(0x0a000002);
  p.l3_size = 1500;
  p.proto = 6;
  ByteWriter out;
  EXPECT_EQ(write_packet_header(out, p, {}, {}, 128), 128u);
  ByteWriter small;
  p.l3_size = 40;
  EXPECT_EQ(write_packet_header(small, p, {}, {}, 128), 54u);  // whole frame, FCS excluded
  ByteWriter v6;
  p.src = *flow::IpAddress::parse("2001:db8::1");
  p.dst = *flow::IpAddress::parse("2001:db8::2");
  p.l3_size = 1000;
  EXPECT_EQ(write_packet_header(v6, p, {}, {}, 64), 64u);
}

}  // namespace
}  // namespace fathom::gen
