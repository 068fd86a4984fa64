#include "bus/bus.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace fathom::bus {
namespace {

using std::chrono::milliseconds;

std::unique_ptr<flow::FlowBatch> batch_of(Bus& bus, size_t records, uint32_t tag = 0) {
  std::unique_ptr<flow::FlowBatch> batch = bus.acquire();
  for (size_t i = 0; i < records; ++i) batch->add().tenant_id = tag;
  return batch;
}

TEST(Bus, EverySubscriberGetsEachBatchInOrder) {
  Bus bus;
  auto a = bus.subscribe("a", 8);
  auto b = bus.subscribe("b", 8);
  for (uint32_t i = 1; i <= 3; ++i) bus.publish(batch_of(bus, i, i));
  for (const auto& sub : {a, b}) {
    for (uint32_t i = 1; i <= 3; ++i) {
      BatchRef got = sub->pop(milliseconds(0));
      ASSERT_NE(got, nullptr);
      EXPECT_EQ(got->size(), i);
      EXPECT_EQ((*got)[0].tenant_id, i);
    }
    EXPECT_EQ(sub->pop(milliseconds(0)), nullptr);
    EXPECT_FALSE(sub->finished());
  }
  const BusStats s = bus.stats();
  EXPECT_EQ(s.published_batches, 3u);
  EXPECT_EQ(s.published_records, 6u);
  ASSERT_EQ(s.subscribers.size(), 2u);
  EXPECT_EQ(s.subscribers[0].delivered_batches, 3u);
}

TEST(Bus, FullQueueDropsWholeBatchesAndCountsThem) {
  Bus bus;
  auto slow = bus.subscribe("slow", 2);
  auto fast = bus.subscribe("fast", 16);
  for (int i = 0; i < 5; ++i) bus.publish(batch_of(bus, 10));
  const BusStats s = bus.stats();
  const SubscriberStats& st = s.subscribers[0];
  EXPECT_EQ(st.name, "slow");
  EXPECT_EQ(st.depth, 2u);
  EXPECT_EQ(st.enqueued_batches, 2u);
  EXPECT_EQ(st.dropped_batches, 3u);
  EXPECT_EQ(st.dropped_records, 30u);
  EXPECT_EQ(s.subscribers[1].dropped_batches, 0u);
  EXPECT_EQ(s.subscribers[1].enqueued_records, 50u);
}

TEST(Bus, WaitForRoomWaitsForTheSlowestConsumer) {
  Bus bus;
  auto slow = bus.subscribe("slow", 2);
  auto fast = bus.subscribe("fast", 16);
  EXPECT_TRUE(bus.wait_for_room(milliseconds(0)));  // empty queues
  bus.publish(batch_of(bus, 1));
  bus.publish(batch_of(bus, 1));
  EXPECT_FALSE(bus.wait_for_room(milliseconds(5)));  // "slow" is full: times out
  std::thread consumer([&] { ASSERT_NE(slow->pop(milliseconds(1000)), nullptr); });
  EXPECT_TRUE(bus.wait_for_room(milliseconds(10'000)));  // room once it took one
  consumer.join();
  bus.publish(batch_of(bus, 1));
  EXPECT_EQ(bus.stats().subscribers[0].dropped_batches, 0u);
  bus.close();  // closed queues never block a producer
  EXPECT_TRUE(bus.wait_for_room(milliseconds(0)));
}

TEST(Bus, EmptyBatchesAreNotPublished) {
  Bus bus;
  auto sub = bus.subscribe("s", 4);
  bus.publish(bus.acquire());
  bus.publish(nullptr);
  EXPECT_EQ(sub->pop(milliseconds(0)), nullptr);
  EXPECT_EQ(bus.stats().published_batches, 0u);
}

TEST(Bus, CloseDrainsThenFinishes) {
  Bus bus;
  auto sub = bus.subscribe("s", 4);
  bus.publish(batch_of(bus, 1));
  bus.close();
  bus.publish(batch_of(bus, 1));  // after close: counted, not delivered
  EXPECT_EQ(bus.dropped_after_close(), 1u);
  EXPECT_FALSE(sub->finished());
  EXPECT_NE(sub->pop(milliseconds(0)), nullptr);
  EXPECT_EQ(sub->pop(milliseconds(1000)), nullptr);  // returns at once: closed
  EXPECT_TRUE(sub->finished());
  auto late = bus.subscribe("late", 4);
  EXPECT_TRUE(late->finished());
}

TEST(Bus, BatchesAreRecycledOnceEverySubscriberIsDone) {
  Bus bus;
  auto a = bus.subscribe("a", 4);
  auto b = bus.subscribe("b", 4);
  auto batch = batch_of(bus, 3);
  const flow::FlowBatch* raw = batch.get();
  bus.publish(std::move(batch));
  BatchRef from_a = a->pop(milliseconds(0));
  EXPECT_EQ(bus.stats().batches_idle, 0u);
  from_a.reset();
  EXPECT_EQ(bus.stats().batches_idle, 0u);  // b still holds it
  b->pop(milliseconds(0)).reset();
  EXPECT_EQ(bus.stats().batches_idle, 1u);
  auto again = bus.acquire();
  EXPECT_EQ(again.get(), raw);
  EXPECT_EQ(again->size(), 0u);  // cleared on return
  EXPECT_EQ(bus.stats().batches_allocated, 1u);
}

TEST(Bus, BatchMayOutliveTheBus) {
  BatchRef kept;
  {
    Bus bus;
    auto sub = bus.subscribe("s", 4);
    bus.publish(batch_of(bus, 2));
    kept = sub->pop(milliseconds(0));
  }
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->size(), 2u);
  kept.reset();  // freed, not returned to a dead pool (ASan checks this)
}

TEST(Bus, UnsubscribingByDroppingTheReference) {
  Bus bus;
  auto sub = bus.subscribe("gone", 4);
  sub.reset();
  bus.publish(batch_of(bus, 1));
  EXPECT_TRUE(bus.stats().subscribers.empty());
}

TEST(Bus, ConcurrentPublishersAccountForEveryBatch) {
  Bus bus;
  auto sub = bus.subscribe("consumer", 8);
  constexpr int kThreads = 4;
  constexpr int kBatches = 2000;
  uint64_t popped_records = 0;
  std::thread consumer([&] {
    while (!sub->finished()) {
      if (BatchRef b = sub->pop(milliseconds(50))) popped_records += b->size();
    }
  });
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&] {
      for (int i = 0; i < kBatches; ++i) bus.publish(batch_of(bus, 5));
    });
  }
  for (std::thread& p : producers) p.join();
  bus.close();
  consumer.join();
  const BusStats s = bus.stats();
  const SubscriberStats& st = s.subscribers[0];
  EXPECT_EQ(s.published_batches, uint64_t{kThreads} * kBatches);
  EXPECT_EQ(st.enqueued_batches + st.dropped_batches, s.published_batches);
  EXPECT_EQ(st.delivered_batches, st.enqueued_batches);
  EXPECT_EQ(popped_records, st.enqueued_records);
  EXPECT_LE(s.batches_allocated, 8u + kThreads + 2u);  // bounded by queue + in-flight
}

}  // namespace
}  // namespace fathom::bus
