#include "gen/network.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "gen/rng.h"

namespace fathom::gen {
namespace {

flow::IpAddress ip(const char* text) {
  return *flow::IpAddress::parse(text);
}

ExporterConfig exporter(ExportProtocol protocol) {
  ExporterConfig e;
  e.protocol = protocol;
  return e;
}

TenantConfig tenant(std::vector<const char*> prefixes, uint32_t hosts) {
  TenantConfig t;
  for (const char* p : prefixes) t.prefixes.push_back(*Prefix::parse(p));
  t.hosts = hosts;
  t.background.ipv6_share = 0.1;
  t.exporters = {exporter(ExportProtocol::kNetflowV5), exporter(ExportProtocol::kIpfix),
                 exporter(ExportProtocol::kNetflowV5), exporter(ExportProtocol::kNetflowV9)};
  return t;
}

// The byte-at-a-time addition address_in() replaced: its results must not change.
flow::IpAddress reference_address_in(const Prefix& prefix, uint64_t offset) {
  const unsigned host_bits = (prefix.is_v4() ? 32u : 128u) - prefix.length;
  offset %= host_bits >= 63 ? (uint64_t{1} << 62) : (uint64_t{1} << host_bits);
  flow::IpAddress a = prefix.base;
  uint64_t carry = offset;
  for (int i = 15; i >= 0 && carry != 0; --i) {
    const uint64_t sum = uint64_t{a.bytes[size_t(i)]} + (carry & 0xff);
    a.bytes[size_t(i)] = static_cast<uint8_t>(sum);
    carry = (carry >> 8) + (sum >> 8);
  }
  return a;
}

TEST(NetworkTest, AddressInAddsTheOffsetInsideThePrefix) {
  EXPECT_EQ(address_in(*Prefix::parse("10.0.0.0/8"), 0x1ff), ip("10.0.1.255"));
  EXPECT_EQ(address_in(*Prefix::parse("10.9.0.0/16"), 65536 + 5), ip("10.9.0.5"));  // wraps
  EXPECT_EQ(address_in(*Prefix::parse("2001:db8::/64"), 0x10001), ip("2001:db8::1:1"));
  Rng rng(5);
  for (int i = 0; i < 10'000; ++i) {
    Prefix p;
    const bool v4 = rng.chance(0.5);
    p.length = static_cast<uint8_t>(rng.below(v4 ? 33 : 129));
    for (size_t b = v4 ? 12 : 0; b < 16; ++b) p.base.bytes[b] = static_cast<uint8_t>(rng.next());
    if (v4) p.base.bytes[10] = p.base.bytes[11] = 0xff;  // v4-mapped; host bits left set
    const uint64_t offset = rng.next();
    ASSERT_EQ(address_in(p, offset), reference_address_in(p, offset))
        << p.to_string() << " + " << offset;
  }
}

TEST(NetworkTest, HostsFillThePrefixesInTurn) {
  const TenantConfig config = tenant({"10.1.0.0/16", "10.2.0.0/16", "2001:db8:1::/48"}, 1000);
  const TenantModel model(config, 0);
  EXPECT_EQ(model.address(0, false), ip("10.1.0.1"));
  EXPECT_EQ(model.address(1, false), ip("10.2.0.1"));
  EXPECT_EQ(model.address(2, false), ip("10.1.0.2"));
  EXPECT_EQ(model.address(999, false), ip("10.2.1.244"));  // offset 500
  EXPECT_EQ(model.address(0, true), ip("2001:db8:1::1"));
  EXPECT_EQ(model.address(999, true), ip("2001:db8:1::3e8"));
  for (uint32_t i : {0u, 1u, 2u, 500u, 999u}) {
    EXPECT_EQ(model.find(model.address(i, false)), i);
    EXPECT_EQ(model.find(model.address(i, true)), i);
  }
  EXPECT_EQ(model.find(ip("10.3.0.1")), kNoHost);
}

// A prefix that runs out of room hands its turn to the next one with room, which a table
// (not the arithmetic) then records.
TEST(NetworkTest, AFullPrefixPassesItsTurnOn) {
  const TenantConfig config = tenant({"10.0.0.0/24", "10.1.0.0/30"}, 200);
  const TenantModel model(config, 0);
  EXPECT_EQ(model.address(0, false), ip("10.0.0.1"));
  EXPECT_EQ(model.address(1, false), ip("10.1.0.1"));
  EXPECT_EQ(model.address(2, false), ip("10.0.0.2"));
  EXPECT_EQ(model.address(3, false), ip("10.1.0.2"));  // the /30's last usable address
  EXPECT_EQ(model.address(4, false), ip("10.0.0.3"));
  EXPECT_EQ(model.address(5, false), ip("10.0.0.4"));  // the /30 is full
  std::set<flow::IpAddress> seen;
  for (uint32_t i = 0; i < model.host_count(); ++i) {
    const flow::IpAddress a = model.address(i, false);
    EXPECT_TRUE(seen.insert(a).second) << a.to_string();
    EXPECT_NE(a.bytes[15], 0) << a.to_string();    // no network address
    EXPECT_NE(a.bytes[15], 255) << a.to_string();  // no broadcast address
  }
  EXPECT_EQ(model.address(7, true), flow::IpAddress{});  // no IPv6 prefix: ::
}

TEST(NetworkTest, ExportersTakeHostsInTurn) {
  const TenantConfig config = tenant({"10.1.0.0/16", "2001:db8:1::/48"}, 100);
  const TenantModel model(config, 0);
  for (uint32_t i = 0; i < 8; ++i) EXPECT_EQ(model.exporter(i, false), i % 4);
  // IPv6 flows go to the v6-capable exporters (IPFIX at 1, v9 at 3), in turn.
  EXPECT_EQ(model.exporter(0, true), 1);
  EXPECT_EQ(model.exporter(1, true), 3);
  EXPECT_EQ(model.exporter(2, true), 1);
}

}  // namespace
}  // namespace fathom::gen
