#include "flow/ip_address.h"

#include <gtest/gtest.h>

namespace fathom::flow {
namespace {

TEST(IpAddress, V4IsMappedAndRoundTrips) {
  const IpAddress a = IpAddress::from_v4(0x0a0a0050);
  EXPECT_TRUE(a.is_v4());
  EXPECT_EQ(a.v4(), 0x0a0a0050u);
  EXPECT_EQ(a.to_string(), "10.10.0.80");
  EXPECT_EQ(IpAddress::parse("10.10.0.80"), a);
}

TEST(IpAddress, V6ParsesToCanonicalText) {
  const auto a = IpAddress::parse("2001:0db8:0010:0000:0000:0000:0000:0001");
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->is_v4());
  EXPECT_EQ(a->to_string(), "2001:db8:10::1");
}

TEST(IpAddress, RejectsBadText) {
  EXPECT_FALSE(IpAddress::parse("").has_value());
  EXPECT_FALSE(IpAddress::parse("10.0.0.256").has_value());
  EXPECT_FALSE(IpAddress::parse("1:2:3").has_value());
  EXPECT_FALSE(IpAddress::parse(std::string(100, '1')).has_value());
}

TEST(IpAddress, UnspecifiedIsAllZero) {
  EXPECT_TRUE(IpAddress{}.is_unspecified());
  EXPECT_FALSE(IpAddress::from_v4(1).is_unspecified());
  EXPECT_FALSE(IpAddress{}.is_v4());
}

TEST(IpAddress, IsV4ChecksEveryPrefixByte) {
  const IpAddress mapped = IpAddress::from_v4(0x01020304);
  ASSERT_TRUE(mapped.is_v4());
  for (size_t i = 0; i < 12; ++i) {
    IpAddress a = mapped;
    a.bytes[i] ^= 0x01;  // any change to the ::ffff: prefix makes it IPv6
    EXPECT_FALSE(a.is_v4()) << "byte " << i;
  }
  EXPECT_TRUE(IpAddress::parse("::ffff:1.2.3.4")->is_v4());
  EXPECT_FALSE(IpAddress::parse("::1.2.3.4")->is_v4());   // v4-compatible, not mapped
  static_assert(IpAddress::from_v4(0x0a000001).is_v4());  // the constant-evaluated path
  static_assert(!IpAddress{}.is_v4());
}

}  // namespace
}  // namespace fathom::flow
