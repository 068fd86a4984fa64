#pragma once

// Address and prefix literals for tests: `ip("192.0.2.1")`, `prefix("10.0.0.0/8")`. A bad
// literal fails the test (and yields `::` or an empty prefix) instead of crashing it.

#include <gtest/gtest.h>

#include "flow/ip_address.h"
#include "transform/ip_prefix.h"

namespace fathom::test_support {

inline flow::IpAddress ip(const char* text) {
  const auto a = flow::IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(flow::IpAddress{});
}

inline transform::IpPrefix prefix(const char* text) {
  transform::IpPrefix out;
  EXPECT_EQ(transform::parse_ip_prefix(text, out), transform::PrefixParse::kOk) << text;
  return out;
}

}  // namespace fathom::test_support
