#include "bus/kafka_consumer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bus/kafka_mock.h"
#include "bus/kafka_producer.h"
#include "bus/tenant_partition.h"

namespace fathom::bus {
namespace {

using std::chrono::milliseconds;
using testing::MockCluster;
using testing::wait_until;

KafkaConsumerOptions consumer_options(const MockCluster& cluster, const std::string& topic) {
  KafkaConsumerOptions options;
  options.brokers = cluster.bootstraps();
  options.topic = topic;
  options.group_id = "analyzers-" + topic;
  options.session_timeout_ms = 6'000;
  options.heartbeat_interval_ms = 500;
  options.properties["log_level"] = "2";
  return options;
}

std::unique_ptr<KafkaProducer> producer_for(const MockCluster& cluster, const std::string& topic) {
  KafkaProducerOptions options;
  options.brokers = cluster.bootstraps();
  options.topic = topic;
  options.linger_ms = 5;
  options.properties["log_level"] = "2";
  std::string error;
  auto producer = KafkaProducer::create(options, error);
  EXPECT_NE(producer, nullptr) << error;
  return producer;
}

/// `count` tenants, `per_partition` for each of `partitions` partitions, so every partition
/// carries data.
std::vector<uint32_t> tenants_covering(int32_t partitions, int per_partition) {
  std::vector<uint32_t> tenants;
  std::map<int32_t, int> taken;
  for (uint32_t tenant = 1; static_cast<int>(tenants.size()) < partitions * per_partition;
       ++tenant) {
    if (taken[tenant_partition(tenant, partitions)]++ < per_partition) tenants.push_back(tenant);
  }
  return tenants;
}

/// One batch of one record per tenant; `packets` carries the tenant's sequence number.
flow::FlowBatch batch_for(const std::vector<uint32_t>& tenants, uint64_t seq) {
  flow::FlowBatch batch;
  for (uint32_t tenant : tenants) {
    flow::FlowRecord& r = batch.add();
    r.tenant_id = tenant;
    r.packets = seq;
    r.direction = flow::Direction::kInbound;
  }
  return batch;
}

TEST(KafkaConsumer, CreateRejectsBadProperties) {
  MockCluster cluster(1);
  KafkaConsumerOptions options = consumer_options(cluster, "flows");
  options.properties["partition.assignment.strategy"] = "no-such-strategy";
  std::string error;
  EXPECT_EQ(KafkaConsumer::create(options, {}, error), nullptr);
  EXPECT_NE(error.find("partition.assignment.strategy"), std::string::npos) << error;
  options = consumer_options(cluster, "flows");
  options.group_id.clear();
  EXPECT_EQ(KafkaConsumer::create(options, {}, error), nullptr);
}

TEST(KafkaConsumer, RoundTripKeepsPerTenantOrderAndPartitionsByTenant) {
  constexpr int32_t kPartitions = 6;
  MockCluster cluster;
  cluster.create_topic("flows", kPartitions);
  const std::vector<uint32_t> tenants = tenants_covering(kPartitions, 2);
  auto producer = producer_for(cluster, "flows");
  ASSERT_NE(producer, nullptr);
  constexpr uint64_t kBatches = 25;
  for (uint64_t seq = 0; seq < kBatches; ++seq) producer->publish(batch_for(tenants, seq));
  ASSERT_TRUE(producer->flush(milliseconds(30'000)));

  std::vector<int32_t> assigned;
  KafkaConsumerCallbacks callbacks;
  callbacks.on_assign = [&](std::span<const int32_t> p) {
    assigned.insert(assigned.end(), p.begin(), p.end());
  };
  std::string error;
  auto consumer = KafkaConsumer::create(consumer_options(cluster, "flows"), callbacks, error);
  ASSERT_NE(consumer, nullptr) << error;

  std::map<uint32_t, std::vector<uint64_t>> seqs;  // tenant → sequence numbers in arrival order
  std::map<uint32_t, std::set<int32_t>> partitions_of;
  std::map<int32_t, int64_t> last_offset;
  size_t records = 0;
  std::vector<ConsumedBatch> got;
  ASSERT_TRUE(wait_until([&] {
    got.clear();
    consumer->poll(milliseconds(100), got);
    for (ConsumedBatch& b : got) {
      EXPECT_EQ(b.status, wire::WireStatus::kOk);
      if (b.batch == nullptr) continue;
      EXPECT_GT(b.offset, last_offset.count(b.partition) ? last_offset[b.partition] : -1);
      last_offset[b.partition] = b.offset;
      for (const flow::FlowRecord& r : b.batch->records()) {
        EXPECT_EQ(r.tenant_id, b.header.tenant_id);
        EXPECT_EQ(r.direction, flow::Direction::kInbound);
        seqs[r.tenant_id].push_back(r.packets);
        partitions_of[r.tenant_id].insert(b.partition);
        ++records;
      }
      EXPECT_TRUE(consumer->commit(b.partition, b.offset));
      consumer->recycle(std::move(b.batch));
    }
    return records >= tenants.size() * kBatches;
  }));
  EXPECT_EQ(records, tenants.size() * kBatches);
  std::sort(assigned.begin(), assigned.end());
  EXPECT_EQ(assigned, (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(consumer->assignment(), assigned);
  EXPECT_EQ(consumer->partition_count(milliseconds(10'000)), kPartitions);
  for (uint32_t tenant : tenants) {
    std::vector<uint64_t> expected(kBatches);
    for (uint64_t seq = 0; seq < kBatches; ++seq) expected[seq] = seq;
    EXPECT_EQ(seqs[tenant], expected) << "tenant " << tenant;
    ASSERT_EQ(partitions_of[tenant].size(), 1u) << "tenant " << tenant;
    EXPECT_EQ(*partitions_of[tenant].begin(), tenant_partition(tenant, kPartitions));
  }
  const KafkaConsumerStats s = consumer->stats();
  EXPECT_EQ(s.records, records);
  EXPECT_EQ(s.messages, tenants.size() * kBatches);
  EXPECT_EQ(s.corrupt, 0u);
  EXPECT_EQ(s.assigned, 6u);
}

TEST(KafkaConsumer, CorruptMessagesAreCountedSkippedAndCommittable) {
  MockCluster cluster;
  cluster.create_topic("flows", 1);
  cluster.produce_raw("flows", 0, "not a fathom batch");
  std::string newer(wire::encoded_size(0, 0), '\0');
  wire::encode_header(wire::BatchHeader{}, reinterpret_cast<std::byte*>(newer.data()));
  newer[4] = 2;  // version 2
  cluster.produce_raw("flows", 0, newer);
  cluster.produce_raw("flows", 0, newer.substr(0, 20).replace(4, 1, 1, '\1'));  // truncated v1
  auto producer = producer_for(cluster, "flows");
  ASSERT_NE(producer, nullptr);
  producer->publish(batch_for({5}, 1));
  ASSERT_TRUE(producer->flush(milliseconds(30'000)));

  std::string error;
  KafkaConsumerOptions options = consumer_options(cluster, "flows");
  auto consumer = KafkaConsumer::create(options, {}, error);
  ASSERT_NE(consumer, nullptr) << error;
  std::vector<ConsumedBatch> got;
  ASSERT_TRUE(wait_until([&] {
    consumer->poll(milliseconds(100), got);
    return got.size() >= 4;
  }));
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].status, wire::WireStatus::kBadMagic);
  EXPECT_EQ(got[1].status, wire::WireStatus::kNewerVersion);
  EXPECT_EQ(got[2].status, wire::WireStatus::kTruncated);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(got[i].batch, nullptr);
  ASSERT_EQ(got[3].status, wire::WireStatus::kOk);
  ASSERT_NE(got[3].batch, nullptr);
  EXPECT_EQ(got[3].batch->size(), 1u);
  EXPECT_EQ(got[3].offset, 3);
  KafkaConsumerStats s = consumer->stats();
  EXPECT_EQ(s.messages, 4u);
  EXPECT_EQ(s.corrupt, 3u);
  EXPECT_EQ(s.corrupt_by_reason[static_cast<size_t>(wire::WireStatus::kBadMagic)], 1u);
  EXPECT_EQ(s.corrupt_by_reason[static_cast<size_t>(wire::WireStatus::kNewerVersion)], 1u);
  EXPECT_EQ(s.corrupt_by_reason[static_cast<size_t>(wire::WireStatus::kTruncated)], 1u);
  EXPECT_EQ(s.records, 1u);

  // Committing past the corrupt messages: a new member of the group starts after them.
  ASSERT_TRUE(consumer->commit(0, 2));
  ASSERT_TRUE(wait_until([&] {
    std::vector<ConsumedBatch> more;
    consumer->poll(milliseconds(50), more);
    return consumer->stats().commits_acknowledged == 1;
  }));
  consumer.reset();
  auto next = KafkaConsumer::create(options, {}, error);
  ASSERT_NE(next, nullptr) << error;
  got.clear();
  ASSERT_TRUE(wait_until([&] {
    next->poll(milliseconds(100), got);
    return !got.empty();
  }));
  EXPECT_EQ(got[0].offset, 3);
  EXPECT_EQ(got[0].status, wire::WireStatus::kOk);
}

/// What one group member saw and committed, for the fail-over test.
struct Member {
  std::unique_ptr<KafkaConsumer> consumer;
  std::vector<int32_t> assigned_events;                ///< every on_assign partition
  std::map<int32_t, std::vector<int64_t>> processed;   ///< partition → offsets, in order
  std::map<int32_t, int64_t> committed;                ///< partition → last committed offset
  std::vector<std::pair<uint32_t, uint64_t>> records;  ///< (tenant, seq) processed

  /// Polls once; commits each batch when `commit` is true.
  void poll_once(bool commit, size_t max_batches = 4) {
    std::vector<ConsumedBatch> got;
    consumer->poll(milliseconds(50), got, max_batches);
    for (ConsumedBatch& b : got) {
      ASSERT_EQ(b.status, wire::WireStatus::kOk);
      processed[b.partition].push_back(b.offset);
      for (const flow::FlowRecord& r : b.batch->records())
        records.emplace_back(r.tenant_id, r.packets);
      if (commit) {
        ASSERT_TRUE(consumer->commit(b.partition, b.offset));
        committed[b.partition] = b.offset;
      }
      consumer->recycle(std::move(b.batch));
    }
  }
  size_t processed_count() const {
    size_t n = 0;
    for (const auto& [p, offsets] : processed) n += offsets.size();
    return n;
  }
};

std::unique_ptr<KafkaConsumer> join(const MockCluster& cluster, Member& m) {
  KafkaConsumerCallbacks callbacks;
  callbacks.on_assign = [&m](std::span<const int32_t> p) {
    m.assigned_events.insert(m.assigned_events.end(), p.begin(), p.end());
  };
  // No commit on revoke: the worst case, as after a crash between storing and committing.
  callbacks.on_revoke = [](std::span<const int32_t>, bool) {};
  std::string error;
  auto c = KafkaConsumer::create(consumer_options(cluster, "flows"), callbacks, error);
  EXPECT_NE(c, nullptr) << error;
  return c;
}

TEST(KafkaConsumer, TwoMembersSplitPartitionsAndTheSurvivorResumesAfterTheLastCommit) {
  constexpr int32_t kPartitions = 4;
  MockCluster cluster;
  cluster.create_topic("flows", kPartitions);
  Member a;
  Member b;
  a.consumer = join(cluster, a);
  b.consumer = join(cluster, b);
  ASSERT_NE(a.consumer, nullptr);
  ASSERT_NE(b.consumer, nullptr);
  // Both poll until the group has settled with two partitions each (cooperative-sticky).
  ASSERT_TRUE(wait_until([&] {
    a.poll_once(true);
    b.poll_once(true);
    return a.consumer->assignment().size() == 2 && b.consumer->assignment().size() == 2;
  }));
  std::vector<int32_t> all = a.consumer->assignment();
  const std::vector<int32_t> a_partitions = all;
  for (int32_t p : b.consumer->assignment()) all.push_back(p);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<int32_t>{0, 1, 2, 3}));

  // 2 tenants per partition, 10 batches each: 20 messages per partition.
  const std::vector<uint32_t> tenants = tenants_covering(kPartitions, 2);
  auto producer = producer_for(cluster, "flows");
  ASSERT_NE(producer, nullptr);
  constexpr uint64_t kBatches = 10;
  for (uint64_t seq = 0; seq < kBatches; ++seq) producer->publish(batch_for(tenants, seq));
  ASSERT_TRUE(producer->flush(milliseconds(30'000)));
  const size_t total = tenants.size() * kBatches;

  // A commits its first 10 batches, then processes 6 more without committing (results not
  // stored yet), while B works through its partitions committing each batch.
  ASSERT_TRUE(wait_until([&] {
    a.poll_once(a.processed_count() < 10, 1);
    b.poll_once(true);
    return a.processed_count() >= 16 && a.consumer->stats().commits_acknowledged >= 10;
  }));
  ASSERT_EQ(a.consumer->stats().commits, 10u);
  std::map<int32_t, int64_t> a_committed = a.committed;

  // A goes away mid-stream; B is assigned A's partitions and continues.
  a.consumer.reset();
  ASSERT_TRUE(wait_until([&] {
    b.poll_once(true);
    if (b.consumer->assignment().size() != 4) return false;
    std::set<std::pair<uint32_t, uint64_t>> seen(a.records.begin(), a.records.end());
    seen.insert(b.records.begin(), b.records.end());
    return seen.size() == total;
  }));

  // B resumed each of A's partitions right after A's last commit there (or at the start).
  for (int32_t p : a_partitions) {
    const std::vector<int64_t>& offsets = b.processed[p];
    ASSERT_FALSE(offsets.empty()) << "partition " << p;
    const int64_t expected_first = a_committed.count(p) ? a_committed[p] + 1 : 0;
    EXPECT_EQ(offsets.front(), expected_first) << "partition " << p;
  }
  // Nothing lost; duplicates are exactly what A processed after its last commit.
  std::map<std::pair<uint32_t, uint64_t>, int> times;
  for (const auto& r : a.records) ++times[r];
  for (const auto& r : b.records) ++times[r];
  EXPECT_EQ(times.size(), total);
  size_t duplicates = 0;
  for (const auto& [r, n] : times) {
    EXPECT_LE(n, 2);
    if (n == 2) ++duplicates;
  }
  size_t a_uncommitted = 0;
  for (const auto& [p, offsets] : a.processed) {
    const int64_t last = a_committed.count(p) ? a_committed[p] : -1;
    for (int64_t o : offsets) a_uncommitted += o > last ? 1 : 0;
  }
  EXPECT_EQ(duplicates, a_uncommitted);
  EXPECT_GE(a_uncommitted, 6u);
  // B's view of every tenant on A's former partitions is in order from where it took over.
  std::map<uint32_t, std::vector<uint64_t>> b_seqs;
  for (const auto& [tenant, seq] : b.records) b_seqs[tenant].push_back(seq);
  for (const auto& [tenant, seqs] : b_seqs)
    EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end())) << "tenant " << tenant;
  const std::set<int32_t> b_assigned(b.assigned_events.begin(), b.assigned_events.end());
  EXPECT_EQ(b_assigned, (std::set<int32_t>{0, 1, 2, 3}));
}

}  // namespace
}  // namespace fathom::bus
