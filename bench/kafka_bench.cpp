// The Kafka side of the bus (docs/performance.md "Kafka bus"), one core:
//
// BM_WireEncode: one 4,096-record message (16 distinct exporters, varied addresses, ports and
//   counters) encoded into a buffer sized once. Checked: the buffer decodes to the input.
// BM_WireDecode: the same message decoded into a reused FlowBatch. Checked every iteration:
//   the record count and a checksum of the decoded fields.
// BM_MockClusterProduceConsume/tenants:T: librdkafka's in-process mock cluster (3 brokers, a
//   6-partition topic); each iteration a KafkaProducer (lz4, idempotent) publishes 20 batches of
//   4,096 records spread over T tenants and one KafkaConsumer in a group reads them back and
//   commits each batch. Wall time (the brokers are threads of this process). Checked: exactly
//   the records published arrive, none dropped or failed. The mock broker is not a real broker (no
//   disk, no network): this measures Fathom's side plus librdkafka's, an upper bound per core.
//
// allocs/record: global operator new calls in the timed loop / records (bench/alloc_counter.h).

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "bus/kafka_consumer.h"
#include "bus/kafka_producer.h"
#include "bus/wire_format.h"
#include "flow/flow_batch.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace fathom::bus {
namespace {

constexpr size_t kRecords = 4096;

/// Flow-like records: 16 exporters, 256 hosts, ephemeral ports, realistic counters.
void fill(flow::FlowBatch& batch, uint32_t tenant_count, uint64_t seq_base) {
  batch.clear();
  uint64_t x = 0x9e3779b97f4a7c15ull ^ seq_base;
  for (size_t i = 0; i < kRecords; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    flow::FlowRecord& r = batch.add();
    r.arrival_ns = 1'705'320'000'000'000'000 + static_cast<int64_t>(i) * 1000;
    r.start_ns = r.arrival_ns - 30'000'000'000;
    r.end_ns = r.arrival_ns - 1'000'000'000;
    r.bytes = 40 + x % 1'400'000;
    r.packets = 1 + x % 1000;
    r.sampling_rate = 100.0;
    r.device_sampling_rate = 100;
    r.exporter = flow::IpAddress::from_v4(0xc0000200 + static_cast<uint32_t>(i % 16));
    r.src = flow::IpAddress::from_v4(0x0a000000 + static_cast<uint32_t>(x % 256));
    r.dst = flow::IpAddress::from_v4(0xc6336400 + static_cast<uint32_t>((x >> 8) % 4096));
    r.tenant_id = 1 + static_cast<uint32_t>(i % tenant_count);
    r.input_if = 1 + static_cast<uint32_t>(i % 4);
    r.output_if = 5;
    r.src_port = static_cast<uint16_t>(32768 + (x >> 16) % 28000);
    r.dst_port = (x >> 20) % 4 == 0 ? 53 : 443;
    r.ip_protocol = (x >> 20) % 4 == 0 ? 17 : 6;
    r.tcp_flags = r.ip_protocol == 6 ? 0x1b : 0;
    r.src_as = 64512;
    r.dst_as = 15169;
    r.source = flow::SourceProtocol::kIpfix;
    r.direction = flow::Direction::kOutbound;
    r.src_country = {'D', 'E'};
    r.dst_country = {'U', 'S'};
  }
}

uint64_t checksum(const flow::FlowBatch& batch) {
  uint64_t sum = 0;
  for (const flow::FlowRecord& r : batch.records())
    sum += r.bytes * 31 + r.packets + r.src_port + r.dst.v4() + r.tenant_id +
           static_cast<uint64_t>(r.arrival_ns) + static_cast<uint64_t>(r.sampling_rate);
  return sum;
}

void BM_WireEncode(benchmark::State& state) {
  flow::FlowBatch batch;
  fill(batch, 1, 0);
  std::vector<std::byte> out(wire::encoded_size(batch.size(), 0));
  wire::BatchHeader header;
  header.tenant_id = 1;
  const uint64_t allocs_before = bench::allocations();
  for (auto _ : state) {
    wire::encode(header, batch.records(), {}, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const uint64_t allocs = bench::allocations() - allocs_before;
  flow::FlowBatch back;
  if (wire::decode(out, back, header) != wire::WireStatus::kOk || checksum(back) != checksum(batch))
    state.SkipWithError("encoded message does not decode to the input");
  const double n = static_cast<double>(state.iterations()) * kRecords;
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
  state.counters["allocs/record"] = static_cast<double>(allocs) / n;
  state.counters["bytes/record"] = static_cast<double>(out.size()) / kRecords;
}
BENCHMARK(BM_WireEncode);

void BM_WireDecode(benchmark::State& state) {
  flow::FlowBatch batch;
  fill(batch, 1, 0);
  std::vector<std::byte> message(wire::encoded_size(batch.size(), 0));
  wire::encode(wire::BatchHeader{}, batch.records(), {}, message);
  const uint64_t expected = checksum(batch);
  flow::FlowBatch out;
  wire::BatchHeader header;
  const uint64_t allocs_before = bench::allocations();
  for (auto _ : state) {
    if (wire::decode(message, out, header) != wire::WireStatus::kOk || out.size() != kRecords) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(out.records().data());
  }
  const uint64_t allocs = bench::allocations() - allocs_before;
  if (checksum(out) != expected) state.SkipWithError("checksum differs");
  const double n = static_cast<double>(state.iterations()) * kRecords;
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * message.size()));
  state.counters["allocs/record"] = static_cast<double>(allocs) / n;
}
BENCHMARK(BM_WireDecode);

void BM_MockClusterProduceConsume(benchmark::State& state) {
  const auto tenants = static_cast<uint32_t>(state.range(0));
  constexpr int kBatches = 20;
  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof errstr);
  rd_kafka_t* host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(host, 3);
  rd_kafka_mock_topic_create(cluster, "flows", 6, 3);
  const std::string brokers = rd_kafka_mock_cluster_bootstraps(cluster);
  {
    KafkaProducerOptions po;
    po.brokers = brokers;
    po.topic = "flows";
    po.properties["log_level"] = "2";
    std::string error;
    auto producer = KafkaProducer::create(po, error);
    KafkaConsumerOptions co;
    co.brokers = brokers;
    co.topic = "flows";
    co.properties["log_level"] = "2";
    co.properties["fetch.wait.max.ms"] = "10";  // the mock answers a fetch no sooner
    auto consumer = KafkaConsumer::create(co, {}, error);
    if (producer == nullptr || consumer == nullptr) {
      state.SkipWithError(error.c_str());
    } else {
      // Join the group before timing: the first rebalance takes seconds on the mock.
      std::vector<ConsumedBatch> got;
      while (consumer->assignment().empty()) consumer->poll(std::chrono::milliseconds(100), got);
      std::vector<flow::FlowBatch> batches(kBatches);
      for (size_t i = 0; i < batches.size(); ++i) fill(batches[i], tenants, i);
      size_t records_total = 0;
      uint64_t bytes_enqueued_before = producer->stats().bytes_enqueued;
      for (auto _ : state) {
        for (const flow::FlowBatch& b : batches) producer->publish(b);
        size_t records = 0;
        while (records < kBatches * kRecords) {
          got.clear();
          consumer->poll(std::chrono::milliseconds(1000), got, 64);
          for (ConsumedBatch& c : got) {
            if (c.batch == nullptr) continue;
            records += c.batch->size();
            consumer->commit(c.partition, c.offset);
            consumer->recycle(std::move(c.batch));
          }
        }
        records_total += records;
      }
      const KafkaProducerStats ps = producer->stats();
      if (records_total != static_cast<size_t>(state.iterations()) * kBatches * kRecords ||
          ps.records_dropped_full + ps.records_failed != 0)
        state.SkipWithError("records lost or duplicated");
      state.SetItemsProcessed(static_cast<int64_t>(records_total));
      state.counters["messages/iter"] =
          static_cast<double>(ps.messages_enqueued) / static_cast<double>(state.iterations());
      state.counters["wire_bytes/record"] =
          static_cast<double>(ps.bytes_enqueued - bytes_enqueued_before) /
          static_cast<double>(records_total);
    }
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(host);
}
BENCHMARK(BM_MockClusterProduceConsume)
    ->ArgName("tenants")
    ->Arg(1)
    ->Arg(16)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace
}  // namespace fathom::bus

BENCHMARK_MAIN();
