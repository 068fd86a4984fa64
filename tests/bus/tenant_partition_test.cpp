#include "bus/tenant_partition.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <cstring>
#include <string>

namespace fathom::bus {
namespace {

int32_t java_int(std::string_view key) {
  return static_cast<int32_t>(murmur2(std::as_bytes(std::span(key.data(), key.size()))));
}

TEST(TenantPartition, Murmur2MatchesTheJavaClient) {
  // Kafka's UtilsTest.testMurmur2 vectors (org.apache.kafka.common.utils).
  EXPECT_EQ(java_int("21"), -973932308);
  EXPECT_EQ(java_int("foobar"), -790332482);
  EXPECT_EQ(java_int("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(java_int("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(java_int("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(java_int("abc"), 479470107);
}

TEST(TenantPartition, MatchesLibrdkafkasMurmur2Partitioner) {
  // The producer sets partitioner=murmur2: the analyzer's view of which tenants a partition
  // carries must be the producer's.
  for (int32_t partitions : {1, 2, 3, 6, 12, 64}) {
    for (uint32_t tenant : {0u, 1u, 2u, 7u, 42u, 999u, 65536u, 4294967295u}) {
      std::array<char, 10> buffer;
      const std::string_view key = tenant_key(tenant, buffer);
      const int32_t expected = rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(),
                                                                partitions, nullptr, nullptr);
      EXPECT_EQ(tenant_partition(tenant, partitions), expected)
          << "tenant " << tenant << " partitions " << partitions;
    }
  }
}

TEST(TenantPartition, KeyIsTheDecimalId) {
  std::array<char, 10> buffer;
  EXPECT_EQ(tenant_key(0, buffer), "0");
  EXPECT_EQ(tenant_key(42, buffer), "42");
  EXPECT_EQ(tenant_key(4294967295u, buffer), "4294967295");
}

TEST(TenantPartition, SpreadsTenants) {
  int hits[8] = {};
  for (uint32_t tenant = 1; tenant <= 800; ++tenant) ++hits[tenant_partition(tenant, 8)];
  for (int count : hits) EXPECT_GT(count, 50);  // 100 expected each
}

}  // namespace
}  // namespace fathom::bus
