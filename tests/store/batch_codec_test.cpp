#include "store/detail/batch_codec.h"

#include <gtest/gtest.h>

#include <limits>

#include "store_test_support.h"

namespace fathom::store::detail {
namespace {

WriteBatch sample() {
  WriteBatch b;
  b.incidents.push_back(to_record(testing::make_event(3, 9, 2, 1'000, true)));
  b.incidents.push_back(b.incidents.back());
  b.incidents.back().version = 3;
  b.rollups.push_back({1, 60, {1, 0.5, std::numeric_limits<double>::infinity()}, {}, {}, "{}"});
  b.tenants.push_back({7, "acme", -5, 9});
  b.exporters.push_back({"2001:db8::1", 7, "ipfix", 1, 2, UINT64_MAX, 4, 5});
  b.state.push_back({7, "model", std::string("\0\x01\xff", 3), 42});
  b.flows.push_back({7, "2001:db8::5", -3, R"({"type":"flow","src":"2001:db8::5"})"});
  return b;
}

TEST(BatchCodec, RoundTrips) {
  const WriteBatch b = sample();
  WriteBatch back;
  ASSERT_TRUE(decode_batch(encode_batch(b), back));
  EXPECT_EQ(back, b);
  ASSERT_TRUE(decode_batch(encode_batch(WriteBatch{}), back));
  EXPECT_TRUE(back.empty());
}

// A spool written before sampled flows existed (format 1: the same sections, no flows) still
// replays after an upgrade.
TEST(BatchCodec, DecodesTheFormerVersionWithoutFlows) {
  WriteBatch b = sample();
  b.flows.clear();
  std::string record = encode_batch(b);
  ASSERT_EQ(record.substr(record.size() - 4), std::string(4, '\0'));  // the empty flows count
  record.resize(record.size() - 4);
  record[3] = 1;
  WriteBatch back;
  ASSERT_TRUE(decode_batch(record, back));
  EXPECT_EQ(back, b);
}

TEST(BatchCodec, RejectsEveryTruncationAndTrailingBytes) {
  const std::string record = encode_batch(sample());
  WriteBatch back;
  for (size_t len = 0; len < record.size(); ++len) {
    EXPECT_FALSE(decode_batch(std::string_view(record).substr(0, len), back)) << len;
  }
  EXPECT_FALSE(decode_batch(record + "x", back));
}

TEST(BatchCodec, RejectsOtherMagicOrVersion) {
  std::string record = encode_batch(sample());
  WriteBatch back;
  record[3] = static_cast<char>(kBatchFormatVersion + 1);
  EXPECT_FALSE(decode_batch(record, back));
  record[0] = 'X';
  EXPECT_FALSE(decode_batch(record, back));
}

TEST(BatchCodec, AHugeCountIsRejectedNotReserved) {
  std::string record = encode_batch(WriteBatch{});
  record[4] = record[5] = record[6] = record[7] = '\xff';  // incidents: 4 billion
  WriteBatch back;
  EXPECT_FALSE(decode_batch(record, back));
}

}  // namespace
}  // namespace fathom::store::detail
