#include "transform/sampler_state.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace fathom::transform {
namespace {

SamplerTenantState example() {
  SamplerTenantState s;
  s.tenant_id = 7;
  s.probability = 0.0123;
  s.smoothed_rate = 81234.5;
  s.kept_rate = 999.25;
  s.target = 1000;
  return s;
}

TEST(SamplerStateCodec, RoundTripsExactly) {
  const std::string record = encode_sampler_state(example(), 1'765'071'917'123'456'789);
  EXPECT_EQ(record.size(), 44u);
  SamplerTenantState out;
  out.tenant_id = 3;
  int64_t saved = 0;
  ASSERT_TRUE(decode_sampler_state(record, out, saved));
  EXPECT_EQ(out.tenant_id, 3u);  // the row's, not the record's
  EXPECT_EQ(out.probability, 0.0123);
  EXPECT_EQ(out.smoothed_rate, 81234.5);
  EXPECT_EQ(out.kept_rate, 999.25);
  EXPECT_EQ(out.target, 1000);
  EXPECT_EQ(saved, 1'765'071'917'123'456'789);
}

TEST(SamplerStateCodec, RefusesDamagedRecordsAndOutOfRangeValues) {
  const std::string good = encode_sampler_state(example(), 5);
  SamplerTenantState out;
  int64_t saved = 0;
  for (size_t len = 0; len < good.size(); ++len) {
    EXPECT_FALSE(decode_sampler_state(good.substr(0, len), out, saved)) << len;
  }
  EXPECT_FALSE(decode_sampler_state(good + '\0', out, saved));
  std::string magic = good;
  magic[0] = 'X';
  EXPECT_FALSE(decode_sampler_state(magic, out, saved));
  std::string version = good;
  version[3] = 2;
  EXPECT_FALSE(decode_sampler_state(version, out, saved));
  const double nan = std::nan("");
  const double inf = std::numeric_limits<double>::infinity();
  for (const double p : {0.0, -0.5, 1.0000001, nan, inf}) {
    SamplerTenantState s = example();
    s.probability = p;
    EXPECT_FALSE(decode_sampler_state(encode_sampler_state(s, 5), out, saved)) << p;
  }
  for (const double rate : {-1.0, nan, inf}) {
    SamplerTenantState s = example();
    s.smoothed_rate = rate;
    EXPECT_FALSE(decode_sampler_state(encode_sampler_state(s, 5), out, saved)) << rate;
    s = example();
    s.kept_rate = rate;
    EXPECT_FALSE(decode_sampler_state(encode_sampler_state(s, 5), out, saved)) << rate;
    s = example();
    s.target = rate;
    EXPECT_FALSE(decode_sampler_state(encode_sampler_state(s, 5), out, saved)) << rate;
  }
  SamplerTenantState s = example();
  s.probability = 1.0;
  EXPECT_TRUE(decode_sampler_state(encode_sampler_state(s, 5), out, saved));
}

}  // namespace
}  // namespace fathom::transform
