#include "collect/pcap_reader.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "testing/wire_writer.h"

namespace fathom::collect {
namespace {

using fathom::testing::WireWriter;
namespace fs = std::filesystem;

constexpr uint32_t kLinkEthernet = 1;
constexpr uint32_t kLinkNull = 0;
constexpr uint32_t kLinkLoop = 108;
constexpr uint32_t kLinkRaw = 101;
constexpr uint32_t kLinkIpv4 = 228;
constexpr uint32_t kLinkIpv6 = 229;
constexpr uint32_t kLinkSll = 113;
constexpr uint32_t kLinkSll2 = 276;

/// Little-endian writer for the pcap file framing (file headers are in the writer's order).
struct LeWriter {
  std::vector<std::byte> buf;
  LeWriter& u16(uint16_t v) {
    buf.push_back(std::byte(v));
    buf.push_back(std::byte(v >> 8));
    return *this;
  }
  LeWriter& u32(uint32_t v) { return u16(uint16_t(v)).u16(uint16_t(v >> 16)); }
  LeWriter& u64(uint64_t v) { return u32(uint32_t(v)).u32(uint32_t(v >> 32)); }
  LeWriter& bytes(std::span<const std::byte> b) {
    buf.insert(buf.end(), b.begin(), b.end());
    return *this;
  }
};

struct Frame {
  std::vector<std::byte> data;
  uint32_t orig_len = 0;  ///< 0: same as data.size()
  uint32_t ts_sec = 1705320000;
  uint32_t ts_frac = 0;
};

/// A classic pcap file (microsecond or nanosecond magic) holding `frames`.
std::vector<std::byte> make_pcap(uint32_t linktype, const std::vector<Frame>& frames,
                                 bool nano = false) {
  LeWriter w;
  w.u32(nano ? 0xa1b23c4d : 0xa1b2c3d4).u16(2).u16(4).u32(0).u32(0).u32(65535).u32(linktype);
  for (const Frame& f : frames) {
    const auto len = static_cast<uint32_t>(f.data.size());
    w.u32(f.ts_sec).u32(f.ts_frac).u32(len).u32(f.orig_len != 0 ? f.orig_len : len);
    w.bytes(f.data);
  }
  return w.buf;
}

/// UDP header plus payload.
void put_udp(WireWriter& w, uint16_t sport, uint16_t dport, std::span<const std::byte> payload) {
  w.u16(sport).u16(dport).u16(static_cast<uint16_t>(8 + payload.size())).u16(0).bytes(payload);
}

std::vector<std::byte> payload_bytes(std::string_view text) {
  WireWriter w;
  w.text(text);
  return w.data();
}

/// IPv4 + UDP; `flags_offset` lets a test make a fragment, `ihl` a malformed header.
void put_ipv4_udp(WireWriter& w, std::span<const std::byte> payload, uint16_t flags_offset = 0,
                  uint8_t protocol = 17, uint8_t ihl = 5) {
  const auto total = static_cast<uint16_t>(20 + 8 + payload.size());
  w.u8(static_cast<uint8_t>(0x40 | ihl)).u8(0).u16(total).u16(1).u16(flags_offset);
  w.u8(64).u8(protocol).u16(0).ipv4(192, 0, 2, 1).ipv4(198, 51, 100, 7);
  put_udp(w, 40000, 2055, payload);
}

void put_ethernet(WireWriter& w, uint16_t ethertype) {
  w.zeros(6).bytes({0x02, 0, 0, 0, 0, 1}).u16(ethertype);
}

/// IPv6 (2001:db8::1 → 2001:db8::2) with a hop-by-hop options header, then UDP.
void put_ipv6_udp(WireWriter& w, std::span<const std::byte> payload) {
  const auto payload_len = static_cast<uint16_t>(8 + 8 + payload.size());
  w.u32(0x60000000).u16(payload_len).u8(0 /* hop-by-hop */).u8(64);
  w.u16(0x2001).u16(0x0db8).zeros(11).u8(1);
  w.u16(0x2001).u16(0x0db8).zeros(11).u8(2);
  w.u8(17).u8(0).zeros(6);  // hop-by-hop: next = UDP, length 0 (8 bytes), PadN
  put_udp(w, 40001, 4739, payload);
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "fathom_pcap_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, std::span<const std::byte> data) const {
    const std::string p = (path_ / name).string();
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    return p;
  }

 private:
  fs::path path_;
};

/// Opens a file written into a temp dir and reads every datagram.
struct ReadAll {
  std::vector<CapturedDatagram> datagrams;
  std::vector<std::vector<std::byte>> payloads;
  PcapStats stats;
  std::string error;
};

ReadAll read_all(std::span<const std::byte> file) {
  TempDir dir;
  const std::string path = dir.write("test.pcap", file);
  ReadAll result;
  auto reader = PcapReader::open(path, result.error);
  if (!reader) return result;
  CapturedDatagram d;
  while (reader->next(d)) {
    result.datagrams.push_back(d);
    result.payloads.emplace_back(d.payload.begin(), d.payload.end());
  }
  result.stats = reader->stats();
  result.error = reader->error();
  return result;
}

std::string as_text(const std::vector<std::byte>& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

TEST(PcapReader, ReadsReferenceNetflowV5Capture) {
  const std::string path = std::string(FATHOM_CAPTURES_DIR) + "/netflow_v5.pcap";
  if (!fs::exists(path)) GTEST_SKIP() << "reference capture missing: " << path;
  std::string error;
  auto reader = PcapReader::open(path, error);
  ASSERT_NE(reader, nullptr) << error;
  CapturedDatagram d;
  uint64_t count = 0;
  uint64_t last_frame = 0;
  int64_t last_ts = 0;
  while (reader->next(d)) {
    ++count;
    EXPECT_EQ(d.frame_number, last_frame + 1);
    last_frame = d.frame_number;
    EXPECT_GE(d.timestamp_ns, last_ts);
    last_ts = d.timestamp_ns;
    if (count == 1) {
      EXPECT_EQ(d.src.to_string(), "127.0.0.1");
      EXPECT_EQ(d.dst.to_string(), "127.0.0.1");
      EXPECT_EQ(d.dst_port, 2055);
      EXPECT_EQ(d.src_port, 0x99ee);
      // 1506-byte frame: 14 Ethernet + 20 IP + 8 UDP; v5 header says version 5, 30 records.
      ASSERT_EQ(d.payload.size(), 1506u - 42u);
      EXPECT_EQ(static_cast<uint8_t>(d.payload[1]), 5);
      EXPECT_EQ(static_cast<uint8_t>(d.payload[3]), 30);
      EXPECT_EQ(d.timestamp_ns, 1795421651'901598000);
    }
  }
  EXPECT_TRUE(reader->error().empty()) << reader->error();
  EXPECT_EQ(count, 4144u);
  EXPECT_EQ(reader->stats().frames, 4144u);
  EXPECT_EQ(reader->stats().udp_datagrams, 4144u);
  EXPECT_EQ(reader->stats().not_udp, 0u);
}

TEST(PcapReader, EthernetIpv4Udp) {
  const auto payload = payload_bytes("hello");
  WireWriter w;
  put_ethernet(w, 0x0800);
  put_ipv4_udp(w, payload);
  w.zeros(10);  // Ethernet padding beyond the IP total length must not become payload
  const auto r = read_all(make_pcap(kLinkEthernet, {{w.data(), 0, 1705320001, 250000}}));
  ASSERT_EQ(r.datagrams.size(), 1u) << r.error;
  const CapturedDatagram& d = r.datagrams[0];
  EXPECT_EQ(d.frame_number, 1u);
  EXPECT_EQ(d.timestamp_ns, 1705320001'250000000);
  EXPECT_EQ(d.src.to_string(), "192.0.2.1");
  EXPECT_EQ(d.dst.to_string(), "198.51.100.7");
  EXPECT_EQ(d.src_port, 40000);
  EXPECT_EQ(d.dst_port, 2055);
  EXPECT_EQ(as_text(r.payloads[0]), "hello");
  EXPECT_TRUE(r.error.empty());
}

TEST(PcapReader, NanosecondPcapKeepsNanoseconds) {
  WireWriter w;
  put_ethernet(w, 0x0800);
  put_ipv4_udp(w, payload_bytes("x"));
  const auto r = read_all(make_pcap(kLinkEthernet, {{w.data(), 0, 10, 123456789}}, true));
  ASSERT_EQ(r.datagrams.size(), 1u) << r.error;
  EXPECT_EQ(r.datagrams[0].timestamp_ns, 10'123456789);
}

TEST(PcapReader, VlanAndQinQTags) {
  WireWriter single;
  single.zeros(12).u16(0x8100).u16(100).u16(0x0800);
  put_ipv4_udp(single, payload_bytes("vlan"));
  WireWriter qinq;
  qinq.zeros(12).u16(0x88a8).u16(10).u16(0x8100).u16(20).u16(0x86dd);
  put_ipv6_udp(qinq, payload_bytes("qinq6"));
  const auto r = read_all(make_pcap(kLinkEthernet, {{single.data()}, {qinq.data()}}));
  ASSERT_EQ(r.datagrams.size(), 2u) << r.error;
  EXPECT_EQ(as_text(r.payloads[0]), "vlan");
  EXPECT_EQ(as_text(r.payloads[1]), "qinq6");
  EXPECT_EQ(r.datagrams[1].frame_number, 2u);
  EXPECT_EQ(r.datagrams[1].src.to_string(), "2001:db8::1");
  EXPECT_EQ(r.datagrams[1].dst_port, 4739);
}

TEST(PcapReader, Ipv6WithExtensionHeader) {
  WireWriter w;
  put_ethernet(w, 0x86dd);
  put_ipv6_udp(w, payload_bytes("six"));
  const auto r = read_all(make_pcap(kLinkEthernet, {{w.data()}}));
  ASSERT_EQ(r.datagrams.size(), 1u) << r.error;
  EXPECT_EQ(r.datagrams[0].src.to_string(), "2001:db8::1");
  EXPECT_EQ(r.datagrams[0].dst.to_string(), "2001:db8::2");
  EXPECT_EQ(r.datagrams[0].src_port, 40001);
  EXPECT_EQ(as_text(r.payloads[0]), "six");
}

TEST(PcapReader, SkipsAndCountsNonUdpTruncatedAndFragments) {
  const auto payload = payload_bytes("payload-bytes");
  WireWriter tcp;  // frame 1: IPv4 protocol 6
  put_ethernet(tcp, 0x0800);
  put_ipv4_udp(tcp, payload, 0, 6);
  WireWriter arp;  // frame 2: not IP at all
  put_ethernet(arp, 0x0806);
  arp.zeros(28);
  WireWriter cut;  // frame 3: snap length cut the UDP payload short
  put_ethernet(cut, 0x0800);
  put_ipv4_udp(cut, payload);
  const auto full_len = static_cast<uint32_t>(cut.size());
  cut.truncate(cut.size() - 5);
  WireWriter frag;  // frame 4: first fragment (MF set)
  put_ethernet(frag, 0x0800);
  put_ipv4_udp(frag, payload, 0x2000);
  WireWriter bad_ihl;  // frame 5: IHL 4 is not a valid IPv4 header
  put_ethernet(bad_ihl, 0x0800);
  put_ipv4_udp(bad_ihl, payload, 0, 17, 4);
  WireWriter good;  // frame 6: a good one after all that
  put_ethernet(good, 0x0800);
  put_ipv4_udp(good, payload);
  WireWriter runt;  // frame 7: shorter than an Ethernet header
  runt.zeros(9);
  const auto r = read_all(make_pcap(kLinkEthernet, {{tcp.data()},
                                                    {arp.data()},
                                                    {cut.data(), full_len},
                                                    {frag.data()},
                                                    {bad_ihl.data()},
                                                    {good.data()},
                                                    {runt.data()}}));
  ASSERT_EQ(r.datagrams.size(), 1u) << r.error;
  EXPECT_EQ(r.datagrams[0].frame_number, 6u);
  EXPECT_EQ(as_text(r.payloads[0]), "payload-bytes");
  EXPECT_EQ(r.stats.frames, 7u);
  EXPECT_EQ(r.stats.udp_datagrams, 1u);
  EXPECT_EQ(r.stats.not_udp, 3u);  // TCP, ARP, bad IHL
  EXPECT_EQ(r.stats.truncated, 2u);
  EXPECT_EQ(r.stats.fragments, 1u);
  EXPECT_TRUE(r.error.empty()) << r.error;
}

TEST(PcapReader, OtherLinkTypes) {
  const auto payload = payload_bytes("link");
  WireWriter raw4;
  put_ipv4_udp(raw4, payload);
  WireWriter raw6;
  put_ipv6_udp(raw6, payload);
  WireWriter sll;  // packet type, ARPHRD, addr len, 8-byte addr, protocol
  sll.u16(0).u16(772).u16(6).zeros(8).u16(0x0800);
  put_ipv4_udp(sll, payload);
  WireWriter sll2;  // protocol, reserved, ifindex, ARPHRD, pkt type, addr len, 8-byte addr
  sll2.u16(0x86dd).u16(0).u32(1).u16(772).u8(0).u8(6).zeros(8);
  put_ipv6_udp(sll2, payload);
  WireWriter null_le;  // DLT_NULL: family in the writer's (here little-endian) order
  null_le.bytes({2, 0, 0, 0});
  put_ipv4_udp(null_le, payload);
  WireWriter loop6;  // DLT_LOOP: family in network order; 30 = macOS AF_INET6
  loop6.u32(30);
  put_ipv6_udp(loop6, payload);

  struct Case {
    uint32_t linktype;
    std::vector<std::byte> frame;
    const char* src;
  };
  const std::vector<Case> cases = {
      {kLinkRaw, raw4.data(), "192.0.2.1"},     {kLinkRaw, raw6.data(), "2001:db8::1"},
      {kLinkIpv4, raw4.data(), "192.0.2.1"},    {kLinkIpv6, raw6.data(), "2001:db8::1"},
      {kLinkSll, sll.data(), "192.0.2.1"},      {kLinkSll2, sll2.data(), "2001:db8::1"},
      {kLinkNull, null_le.data(), "192.0.2.1"}, {kLinkLoop, loop6.data(), "2001:db8::1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("linktype " + std::to_string(c.linktype));
    const auto r = read_all(make_pcap(c.linktype, {{c.frame}}));
    ASSERT_EQ(r.datagrams.size(), 1u) << r.error;
    EXPECT_EQ(r.datagrams[0].src.to_string(), c.src);
    EXPECT_EQ(as_text(r.payloads[0]), "link");
  }
}

TEST(PcapReader, UnsupportedLinkTypeIsCounted) {
  WireWriter w;
  put_ipv4_udp(w, payload_bytes("x"));
  const auto r = read_all(make_pcap(105 /* 802.11 */, {{w.data()}, {w.data()}}));
  EXPECT_TRUE(r.datagrams.empty());
  EXPECT_EQ(r.stats.frames, 2u);
  EXPECT_EQ(r.stats.unsupported_link, 2u);
}

TEST(PcapReader, ReadsPcapng) {
  WireWriter frame;
  put_ethernet(frame, 0x0800);
  put_ipv4_udp(frame, payload_bytes("ng"));
  frame.pad_to(4);
  LeWriter w;
  w.u32(0x0A0D0D0A).u32(28).u32(0x1A2B3C4D).u16(1).u16(0).u64(~uint64_t{0}).u32(28);  // SHB
  w.u32(1).u32(20).u16(kLinkEthernet).u16(0).u32(65535).u32(20);                      // IDB
  // EPB; default resolution is microseconds: 1705320000.5 s.
  const uint64_t ts = 1705320000'500000ULL;
  const auto block_len = static_cast<uint32_t>(32 + frame.size());
  w.u32(6).u32(block_len).u32(0).u32(uint32_t(ts >> 32)).u32(uint32_t(ts));
  w.u32(static_cast<uint32_t>(frame.size())).u32(static_cast<uint32_t>(frame.size()));
  w.bytes(frame.span()).u32(block_len);
  const auto r = read_all(w.buf);
  ASSERT_EQ(r.datagrams.size(), 1u) << r.error;
  EXPECT_EQ(r.datagrams[0].timestamp_ns, 1705320000'500000000);
  EXPECT_EQ(as_text(r.payloads[0]), "ng");
}

TEST(PcapReader, GarbageFileIsAClearError) {
  TempDir dir;
  const std::string path = dir.write("garbage.pcap", payload_bytes("this is not a capture file"));
  std::string error;
  EXPECT_EQ(PcapReader::open(path, error), nullptr);
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("format"), std::string::npos) << error;  // libpcap: "unknown file format"
}

TEST(PcapReader, MissingFileIsAClearError) {
  std::string error;
  EXPECT_EQ(PcapReader::open("/nonexistent/dir/x.pcap", error), nullptr);
  EXPECT_NE(error.find("/nonexistent/dir/x.pcap"), std::string::npos) << error;
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;
}

TEST(PcapReader, TruncatedFileEndsWithError) {
  WireWriter w;
  put_ethernet(w, 0x0800);
  put_ipv4_udp(w, payload_bytes("first"));
  auto file = make_pcap(kLinkEthernet, {{w.data()}, {w.data()}});
  file.resize(file.size() - 10);  // the second record is cut mid-frame
  const auto r = read_all(file);
  EXPECT_EQ(r.datagrams.size(), 1u);
  EXPECT_FALSE(r.error.empty());
}

TEST(PcapReader, OpenStreamReadsFromFile) {
  WireWriter w;
  put_ethernet(w, 0x0800);
  put_ipv4_udp(w, payload_bytes("stream"));
  const auto file = make_pcap(kLinkEthernet, {{w.data()}});
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  std::fwrite(file.data(), 1, file.size(), f);
  std::rewind(f);
  std::string error;
  auto reader = PcapReader::open_stream(f, "<test>", error);
  ASSERT_NE(reader, nullptr) << error;
  CapturedDatagram d;
  ASSERT_TRUE(reader->next(d));
  EXPECT_EQ(d.payload.size(), 6u);
  EXPECT_FALSE(reader->next(d));

  std::FILE* junk = std::tmpfile();
  std::fputs("garbage garbage garbage", junk);
  std::rewind(junk);
  EXPECT_EQ(PcapReader::open_stream(junk, "<junk>", error), nullptr);
  EXPECT_NE(error.find("<junk>"), std::string::npos) << error;
}

}  // namespace
}  // namespace fathom::collect
