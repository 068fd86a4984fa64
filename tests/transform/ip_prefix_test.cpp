#include "transform/ip_prefix.h"

#include <gtest/gtest.h>

#include "testing/addresses.h"

namespace fathom::transform {
namespace {

using test_support::ip;

TEST(IpPrefix, ParsesIpv4AndIpv6BlocksAndSingleAddresses) {
  IpPrefix p;
  ASSERT_EQ(parse_ip_prefix("10.1.0.0/16", p), PrefixParse::kOk);
  EXPECT_EQ(p.length, 96 + 16);
  EXPECT_TRUE(p.is_v4());
  EXPECT_EQ(p.to_string(), "10.1.0.0/16");
  EXPECT_TRUE(p.contains(ip("10.1.255.255")));
  EXPECT_FALSE(p.contains(ip("10.2.0.0")));
  EXPECT_EQ(p.last(), ip("10.1.255.255"));

  ASSERT_EQ(parse_ip_prefix("2001:db8::/32", p), PrefixParse::kOk);
  EXPECT_EQ(p.length, 32);
  EXPECT_EQ(p.to_string(), "2001:db8::/32");
  EXPECT_TRUE(p.contains(ip("2001:db8:ffff::1")));
  EXPECT_FALSE(p.contains(ip("2001:db9::")));

  ASSERT_EQ(parse_ip_prefix("192.0.2.7", p), PrefixParse::kOk);
  EXPECT_EQ(p.to_string(), "192.0.2.7/32");
  EXPECT_TRUE(p.contains(ip("192.0.2.7")));
  EXPECT_FALSE(p.contains(ip("192.0.2.8")));

  ASSERT_EQ(parse_ip_prefix("0.0.0.0/0", p), PrefixParse::kOk);
  EXPECT_TRUE(p.contains(ip("255.255.255.255")));
  EXPECT_FALSE(p.contains(ip("::1")));  // IPv4's whole space is ::ffff:0:0/96 only
  ASSERT_EQ(parse_ip_prefix("::/0", p), PrefixParse::kOk);
  EXPECT_TRUE(p.contains(ip("10.0.0.1")));
}

TEST(IpPrefix, RejectsBadText) {
  IpPrefix p;
  EXPECT_EQ(parse_ip_prefix("10.0.0.300", p), PrefixParse::kBadAddress);
  EXPECT_EQ(parse_ip_prefix("", p), PrefixParse::kBadAddress);
  EXPECT_EQ(parse_ip_prefix("/8", p), PrefixParse::kBadAddress);
  EXPECT_EQ(parse_ip_prefix("10.0.0.0/33", p), PrefixParse::kBadLength);
  EXPECT_EQ(parse_ip_prefix("10.0.0.0/", p), PrefixParse::kBadLength);
  EXPECT_EQ(parse_ip_prefix("10.0.0.0/-1", p), PrefixParse::kBadLength);
  EXPECT_EQ(parse_ip_prefix("10.0.0.0/8x", p), PrefixParse::kBadLength);
  EXPECT_EQ(parse_ip_prefix("::/129", p), PrefixParse::kBadLength);
  ASSERT_EQ(parse_ip_prefix("10.1.2.3/8", p), PrefixParse::kHostBits);
  EXPECT_EQ(p.to_string(), "10.0.0.0/8");  // the likely intent, for the error message
}

TEST(IpPrefix, OverlapIsNesting) {
  IpPrefix a, b, c;
  ASSERT_EQ(parse_ip_prefix("10.0.0.0/8", a), PrefixParse::kOk);
  ASSERT_EQ(parse_ip_prefix("10.20.0.1", b), PrefixParse::kOk);
  ASSERT_EQ(parse_ip_prefix("11.0.0.0/8", c), PrefixParse::kOk);
  EXPECT_TRUE(overlaps(a, b));
  EXPECT_TRUE(overlaps(b, a));
  EXPECT_TRUE(overlaps(a, a));
  EXPECT_FALSE(overlaps(a, c));
  EXPECT_FALSE(overlaps(b, c));
}

}  // namespace
}  // namespace fathom::transform
