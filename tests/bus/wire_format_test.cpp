#include "bus/wire_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <vector>

namespace fathom::bus::wire {
namespace {

/// A record with every field set to a distinct non-default value, varied by `seed`.
flow::FlowRecord full_record(uint32_t seed) {
  flow::FlowRecord r;
  r.arrival_ns = 1'700'000'000'000'000'000 + seed;
  r.start_ns = -5 - static_cast<int64_t>(seed);  // negative survives the round trip
  r.end_ns = 1'700'000'000'000'000'100 + seed;
  r.bytes = 0xfedcba9876543210ull + seed;
  r.packets = 123456789012ull + seed;
  r.sampling_rate = 1234.5 + seed;
  r.exporter = flow::IpAddress::from_v4(0x0a000001 + seed);
  for (uint8_t i = 0; i < 16; ++i) {
    r.src.bytes[i] = static_cast<uint8_t>(0x20 + i + seed);
    r.dst.bytes[i] = static_cast<uint8_t>(0x40 + i + seed);
    r.next_hop.bytes[i] = static_cast<uint8_t>(0x60 + i + seed);
  }
  r.observation_domain = 11 + seed;
  r.device_sampling_rate = 1000 + seed;
  r.tenant_id = 7 + seed;
  r.input_if = 13 + seed;
  r.output_if = 14 + seed;
  r.src_as = 64512 + seed;
  r.dst_as = 4'200'000'000u + seed;
  r.intel_flags = flow::intel_flags::kSrcListed | flow::intel_flags::kDstInternal;
  r.src_intel = static_cast<uint16_t>(0x8001 + seed);
  r.dst_intel = static_cast<uint16_t>(0x4002 + seed);
  r.exporter_port = static_cast<uint16_t>(2055 + seed);
  r.src_port = static_cast<uint16_t>(443 + seed);
  r.dst_port = static_cast<uint16_t>(65535 - seed);
  r.tcp_flags = static_cast<uint16_t>(0x0112 + seed);
  r.vlan = static_cast<uint16_t>(4094 - seed);
  r.flags = static_cast<uint16_t>(flow::record_flags::kSecondarySampled | seed);
  r.sampler_id = static_cast<uint16_t>(0xabcd + seed);
  r.ip_protocol = static_cast<uint8_t>(6 + seed);
  r.tos = static_cast<uint8_t>(0xb8 + seed);
  r.icmp_type = static_cast<uint8_t>(3 + seed);
  r.icmp_code = static_cast<uint8_t>(13 + seed);
  r.src_mask = static_cast<uint8_t>(24 + seed);
  r.dst_mask = static_cast<uint8_t>(64 + seed);
  r.exporter_direction = static_cast<uint8_t>(0xff - seed);
  r.forwarding_status = static_cast<uint8_t>(0x42 + seed);
  r.end_reason = static_cast<uint8_t>(2 + seed);
  r.source = flow::SourceProtocol::kIpfix;
  r.sampling_algorithm = flow::SamplingAlgorithm::kRandom;
  r.direction = flow::Direction::kOutbound;
  r.src_reputation = static_cast<uint8_t>(90 + seed);
  r.dst_reputation = static_cast<uint8_t>(10 + seed);
  r.src_mac = {0x00, 0x1b, 0x21, 0x3c, 0x4d, static_cast<uint8_t>(seed)};
  r.dst_mac = {0xf0, 0x1f, 0xaf, 0x00, 0x01, static_cast<uint8_t>(seed)};
  r.src_country = {'D', 'E'};
  r.dst_country = {'U', static_cast<char>('A' + seed % 26)};
  return r;
}

flow::InterfaceCounters full_counters(uint32_t seed) {
  flow::InterfaceCounters c;
  c.arrival_ns = 1'700'000'000'000'000'000 + seed;
  c.exporter = flow::IpAddress::from_v4(0xc0000201 + seed);
  c.agent.bytes[15] = static_cast<uint8_t>(seed + 1);
  c.sub_agent = 1 + seed;
  c.sequence = 2 + seed;
  c.source_id = 3 + seed;
  c.if_index = 4 + seed;
  c.if_type = 6;
  c.if_speed = 10'000'000'000ull + seed;
  c.if_direction = 1;
  c.if_status = 3;
  c.in_octets = 5'000'000'000ull + seed;
  c.in_ucast_pkts = 7 + seed;
  c.in_multicast_pkts = 8 + seed;
  c.in_broadcast_pkts = 9 + seed;
  c.in_discards = 10 + seed;
  c.in_errors = 11 + seed;
  c.in_unknown_protos = 12 + seed;
  c.out_octets = 6'000'000'000ull + seed;
  c.out_ucast_pkts = 13 + seed;
  c.out_multicast_pkts = 14 + seed;
  c.out_broadcast_pkts = 15 + seed;
  c.out_discards = 16 + seed;
  c.out_errors = 17 + seed;
  c.promiscuous_mode = 1;
  c.tenant_id = 7;
  return c;
}

void expect_same(const flow::FlowRecord& a, const flow::FlowRecord& b) {
  // FlowRecord has no padding (wire_format.cpp asserts its size), so bytes compare fields.
  EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0);
  EXPECT_EQ(a.sampling_rate, b.sampling_rate);
  EXPECT_EQ(a.direction, b.direction);
  EXPECT_EQ(a.src_country, b.src_country);
}

void expect_same(const flow::InterfaceCounters& a, const flow::InterfaceCounters& b) {
  EXPECT_EQ(a.arrival_ns, b.arrival_ns);
  EXPECT_EQ(a.exporter, b.exporter);
  EXPECT_EQ(a.agent, b.agent);
  EXPECT_EQ(a.sub_agent, b.sub_agent);
  EXPECT_EQ(a.sequence, b.sequence);
  EXPECT_EQ(a.source_id, b.source_id);
  EXPECT_EQ(a.if_index, b.if_index);
  EXPECT_EQ(a.if_type, b.if_type);
  EXPECT_EQ(a.if_speed, b.if_speed);
  EXPECT_EQ(a.if_direction, b.if_direction);
  EXPECT_EQ(a.if_status, b.if_status);
  EXPECT_EQ(a.in_octets, b.in_octets);
  EXPECT_EQ(a.in_ucast_pkts, b.in_ucast_pkts);
  EXPECT_EQ(a.in_multicast_pkts, b.in_multicast_pkts);
  EXPECT_EQ(a.in_broadcast_pkts, b.in_broadcast_pkts);
  EXPECT_EQ(a.in_discards, b.in_discards);
  EXPECT_EQ(a.in_errors, b.in_errors);
  EXPECT_EQ(a.in_unknown_protos, b.in_unknown_protos);
  EXPECT_EQ(a.out_octets, b.out_octets);
  EXPECT_EQ(a.out_ucast_pkts, b.out_ucast_pkts);
  EXPECT_EQ(a.out_multicast_pkts, b.out_multicast_pkts);
  EXPECT_EQ(a.out_broadcast_pkts, b.out_broadcast_pkts);
  EXPECT_EQ(a.out_discards, b.out_discards);
  EXPECT_EQ(a.out_errors, b.out_errors);
  EXPECT_EQ(a.promiscuous_mode, b.promiscuous_mode);
  EXPECT_EQ(a.tenant_id, b.tenant_id);
}

/// A message of `records` full records and `counters` interface counters.
std::vector<std::byte> message_of(size_t records, size_t counters, uint32_t tenant = 7) {
  std::vector<flow::FlowRecord> rs;
  for (size_t i = 0; i < records; ++i) rs.push_back(full_record(static_cast<uint32_t>(i)));
  std::vector<flow::InterfaceCounters> cs;
  for (size_t i = 0; i < counters; ++i) cs.push_back(full_counters(static_cast<uint32_t>(i)));
  std::vector<std::byte> out(encoded_size(records, counters));
  BatchHeader header;
  header.tenant_id = tenant;
  header.encoded_ns = 1'700'000'000'123'456'789;
  encode(header, rs, cs, out);
  return out;
}

/// Little-endian field write into a message (the test-side builder of bad messages).
template <typename T>
void poke(std::vector<std::byte>& m, size_t offset, T value) {
  std::memcpy(m.data() + offset, &value, sizeof value);
}

WireStatus decode_status(std::span<const std::byte> m) {
  // An exact-size heap copy, so ASan (asan preset) reports a read one byte past the message.
  std::vector<std::byte> copy(m.begin(), m.end());
  flow::FlowBatch batch(4);
  BatchHeader header;
  const WireStatus status = decode(copy, batch, header);
  if (status != WireStatus::kOk) {
    EXPECT_TRUE(batch.empty()) << to_string(status);
  }
  return status;
}

TEST(WireFormat, RoundTripsEveryField) {
  const std::vector<std::byte> m = message_of(5, 3, 42);
  ASSERT_EQ(m.size(), kHeaderBytes + 5 * kRecordBytes + 3 * kCounterBytes);
  flow::FlowBatch batch;
  batch.add().tenant_id = 99;  // decode clears what was there
  BatchHeader header;
  ASSERT_EQ(decode(m, batch, header), WireStatus::kOk);
  EXPECT_EQ(header.version, kVersion);
  EXPECT_EQ(header.flags, 0);
  EXPECT_EQ(header.tenant_id, 42u);
  EXPECT_EQ(header.record_count, 5u);
  EXPECT_EQ(header.counter_count, 3u);
  EXPECT_EQ(header.encoded_ns, 1'700'000'000'123'456'789);
  ASSERT_EQ(batch.size(), 5u);
  ASSERT_EQ(batch.counters().size(), 3u);
  for (uint32_t i = 0; i < 5; ++i) expect_same(batch[i], full_record(i));
  for (uint32_t i = 0; i < 3; ++i) expect_same(batch.counters()[i], full_counters(i));
}

TEST(WireFormat, LayoutIsLittleEndianAsDocumented) {
  const std::vector<std::byte> m = message_of(1, 0, 0x01020304);
  EXPECT_EQ(std::memcmp(m.data(), "FTHB", 4), 0);
  EXPECT_EQ(m[4], std::byte{1});  // version 1, low byte first
  EXPECT_EQ(m[5], std::byte{0});
  EXPECT_EQ(m[8], std::byte{40});     // header bytes
  EXPECT_EQ(m[10], std::byte{192});   // record bytes
  EXPECT_EQ(m[12], std::byte{144});   // counter bytes
  EXPECT_EQ(m[16], std::byte{0x04});  // tenant id, little-endian
  EXPECT_EQ(m[19], std::byte{0x01});
  EXPECT_EQ(m[20], std::byte{1});  // record count
  // The first record starts with arrival_ns, little-endian.
  int64_t arrival = 0;
  std::memcpy(&arrival, m.data() + kHeaderBytes, 8);
  EXPECT_EQ(arrival, full_record(0).arrival_ns);
}

TEST(WireFormat, EmptyMessageAndCountersOnly) {
  EXPECT_EQ(decode_status(message_of(0, 0)), WireStatus::kOk);
  flow::FlowBatch batch;
  BatchHeader header;
  ASSERT_EQ(decode(message_of(0, 2), batch, header), WireStatus::kOk);
  EXPECT_EQ(batch.size(), 0u);
  EXPECT_EQ(batch.counters().size(), 2u);
}

TEST(WireFormat, EveryTruncationIsRefused) {
  const std::vector<std::byte> m = message_of(3, 2);
  for (size_t len = 0; len < m.size(); ++len) {
    const WireStatus status = decode_status(std::span(m).first(len));
    EXPECT_EQ(status, WireStatus::kTruncated) << "length " << len;
  }
  EXPECT_EQ(decode_status(m), WireStatus::kOk);
}

TEST(WireFormat, TrailingBytesAreRefused) {
  std::vector<std::byte> m = message_of(2, 0);
  m.push_back(std::byte{0});
  EXPECT_EQ(decode_status(m), WireStatus::kTrailingBytes);
}

TEST(WireFormat, BadMagicIsRefused) {
  std::vector<std::byte> m = message_of(1, 0);
  m[0] = std::byte{'X'};
  EXPECT_EQ(decode_status(m), WireStatus::kBadMagic);
  EXPECT_EQ(decode_status(std::span(m).first(4)), WireStatus::kBadMagic);
  const std::vector<std::byte> json(40, std::byte{'{'});
  EXPECT_EQ(decode_status(json), WireStatus::kBadMagic);
}

TEST(WireFormat, NewerAndZeroVersionsAreRefused) {
  std::vector<std::byte> m = message_of(1, 0);
  poke<uint16_t>(m, 4, 2);
  EXPECT_EQ(decode_status(m), WireStatus::kNewerVersion);
  // A newer writer may have a longer or shorter header: the version alone decides.
  EXPECT_EQ(decode_status(std::span(m).first(6)), WireStatus::kNewerVersion);
  poke<uint16_t>(m, 4, 0xffff);
  EXPECT_EQ(decode_status(m), WireStatus::kNewerVersion);
  poke<uint16_t>(m, 4, 0);
  EXPECT_EQ(decode_status(m), WireStatus::kBadVersion);
}

TEST(WireFormat, HugeCountsAreRefusedBeforeAnyAllocation) {
  std::vector<std::byte> m = message_of(1, 0);
  poke<uint32_t>(m, 20, 0xffffffffu);
  EXPECT_EQ(decode_status(m), WireStatus::kTooManyRecords);
  poke<uint32_t>(m, 20, kMaxRecordsPerMessage + 1);
  EXPECT_EQ(decode_status(m), WireStatus::kTooManyRecords);
  poke<uint32_t>(m, 20, 1);
  poke<uint32_t>(m, 24, 0x80000000u);
  EXPECT_EQ(decode_status(m), WireStatus::kTooManyRecords);
  // Within the caps but more than the message holds.
  poke<uint32_t>(m, 20, kMaxRecordsPerMessage);
  poke<uint32_t>(m, 24, 0);
  EXPECT_EQ(decode_status(m), WireStatus::kTruncated);
}

TEST(WireFormat, HeaderSizesAndReservedBitsMustMatchTheVersion) {
  const std::vector<std::byte> good = message_of(1, 0);
  struct Case {
    size_t offset;
    uint16_t value;
  };
  for (const Case c : {Case{6, 1}, Case{8, 48}, Case{10, 200}, Case{12, 152}, Case{14, 1}}) {
    std::vector<std::byte> m = good;
    poke<uint16_t>(m, c.offset, c.value);
    EXPECT_EQ(decode_status(m), WireStatus::kBadHeader) << "offset " << c.offset;
  }
  std::vector<std::byte> m = good;
  poke<uint32_t>(m, 28, 1);
  EXPECT_EQ(decode_status(m), WireStatus::kBadHeader);
}

TEST(WireFormat, OutOfRangeFieldsAreRefused) {
  // Byte offsets within a v1 record (docs/wire-format.md "Record").
  constexpr size_t kSource = 171;
  constexpr size_t kAlgorithm = 172;
  constexpr size_t kDirection = 173;
  constexpr size_t kSamplingRate = 40;
  const std::vector<std::byte> good = message_of(2, 0);
  ASSERT_EQ(good[kHeaderBytes + kRecordBytes + kSource],
            std::byte{static_cast<uint8_t>(flow::SourceProtocol::kIpfix)});
  ASSERT_EQ(good[kHeaderBytes + kRecordBytes + kDirection],
            std::byte{static_cast<uint8_t>(flow::Direction::kOutbound)});
  for (const size_t field : {kSource, kAlgorithm, kDirection}) {
    std::vector<std::byte> m = good;
    m[kHeaderBytes + kRecordBytes + field] = std::byte{0x7f};  // the second record
    EXPECT_EQ(decode_status(m), WireStatus::kBadField) << "offset " << field;
  }
  for (const double rate : {std::numeric_limits<double>::quiet_NaN(),
                            std::numeric_limits<double>::infinity(), 0.0, -1.0}) {
    std::vector<std::byte> m = good;
    poke<double>(m, kHeaderBytes + kSamplingRate, rate);
    EXPECT_EQ(decode_status(m), WireStatus::kBadField) << rate;
  }
}

TEST(WireFormat, GarbageNeverDecodesAndNeverCrashes) {
  std::mt19937_64 rng(20240115);  // fixed seed: failures reproduce
  const std::vector<std::byte> good = message_of(3, 1);
  size_t ok = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<std::byte> m;
    if (iter % 2 == 0) {
      m.resize(rng() % 700);
      for (std::byte& b : m) b = static_cast<std::byte>(rng());
      if (m.size() >= 6 && iter % 4 == 0) {  // past the magic, into the header checks
        std::memcpy(m.data(), "FTHB\x01\x00", 6);
      }
    } else {
      m = good;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int flip_idx = 0; flip_idx < flips; ++flip_idx)
        m[rng() % m.size()] ^= static_cast<std::byte>(1u << (rng() % 8));
    }
    const WireStatus status = decode_status(m);
    ASSERT_LT(static_cast<size_t>(status), kWireStatusCount);
    if (status == WireStatus::kOk) ++ok;
  }
  // Flips in the record bodies of a good message decode (the format has no checksum: Kafka's
  // record batches carry a CRC-32C); random bytes never do.
  EXPECT_GT(ok, 0u);
  EXPECT_LT(ok, 10000u);
}

TEST(WireFormat, FuzzSeedsBuiltFromTheDocumentedLayoutDecode) {
  // fuzz/make_seeds.py writes these with Python's struct from docs/wire-format.md: a second,
  // independent writer of the layout.
  const std::filesystem::path dir =
      std::filesystem::path(FATHOM_SOURCE_DIR) / "fuzz" / "seeds" / "wire_format_fuzz";
  size_t seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    flow::FlowBatch batch;
    BatchHeader header;
    EXPECT_EQ(decode(std::as_bytes(std::span(bytes.data(), bytes.size())), batch, header),
              WireStatus::kOk)
        << entry.path();
    EXPECT_EQ(header.tenant_id, 7u);
    for (const flow::FlowRecord& r : batch.records()) {
      EXPECT_EQ(r.tenant_id, 7u);
      EXPECT_EQ(r.sampling_rate, 100.0);
      EXPECT_EQ(r.exporter, flow::IpAddress::from_v4(0xc0000201));
      EXPECT_EQ(r.dst_port, 443);
      EXPECT_EQ(r.source, flow::SourceProtocol::kIpfix);
      EXPECT_EQ(r.dst_country, (std::array<char, 2>{'U', 'S'}));
    }
    for (const flow::InterfaceCounters& c : batch.counters()) EXPECT_EQ(c.tenant_id, 7u);
    ++seeds;
  }
  EXPECT_EQ(seeds, 4u);
}

TEST(WireFormat, StatusNamesAreDistinct) {
  for (size_t i = 0; i < kWireStatusCount; ++i) {
    for (size_t j = i + 1; j < kWireStatusCount; ++j)
      EXPECT_NE(to_string(static_cast<WireStatus>(i)), to_string(static_cast<WireStatus>(j)));
  }
}

}  // namespace
}  // namespace fathom::bus::wire
