#include "bus/kafka_producer.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "bus/detail/kafka_conf.h"
#include "bus/tenant_partition.h"
#include "bus/wire_format.h"

namespace fathom::bus {
namespace detail {

/// Counters written by librdkafka's callbacks (on the polling thread) and by `publish`.
struct ProducerCounters {
  std::atomic<uint64_t> batches_offered{0};
  std::atomic<uint64_t> records_offered{0};
  std::atomic<uint64_t> counters_offered{0};
  std::atomic<uint64_t> messages_enqueued{0};
  std::atomic<uint64_t> records_enqueued{0};
  std::atomic<uint64_t> bytes_enqueued{0};
  std::atomic<uint64_t> messages_delivered{0};
  std::atomic<uint64_t> records_delivered{0};
  std::atomic<uint64_t> messages_failed{0};
  std::atomic<uint64_t> records_failed{0};
  std::atomic<uint64_t> messages_dropped_full{0};
  std::atomic<uint64_t> records_dropped_full{0};
  std::atomic<uint64_t> messages_dropped_error{0};
  std::atomic<uint64_t> records_dropped_error{0};
  std::atomic<uint64_t> messages_purged{0};
  std::atomic<uint64_t> records_purged{0};
  std::atomic<uint64_t> request_retries{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<bool> fatal{false};
  mutable std::mutex error_mutex;
  std::string last_error;           // guarded by error_mutex
  std::string last_delivery_error;  // guarded by error_mutex

  void set_error(std::string text) {
    std::lock_guard lock(error_mutex);
    last_error = std::move(text);
  }
};

}  // namespace detail

namespace {

using Counters = detail::ProducerCounters;

constexpr auto kRelaxed = std::memory_order_relaxed;

/// The records of a message ride in its opaque pointer, so the delivery report can count them
/// without a per-message allocation.
void* records_opaque(size_t records) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(records));
}
uint64_t opaque_records(void* opaque) {
  return reinterpret_cast<uintptr_t>(opaque);
}

void on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* opaque) {
  auto& c = *static_cast<Counters*>(opaque);
  const uint64_t records = opaque_records(msg->_private);
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    c.messages_delivered.fetch_add(1, kRelaxed);
    c.records_delivered.fetch_add(records, kRelaxed);
  } else if (msg->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
             msg->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
    c.messages_purged.fetch_add(1, kRelaxed);
    c.records_purged.fetch_add(records, kRelaxed);
  } else {
    c.messages_failed.fetch_add(1, kRelaxed);
    c.records_failed.fetch_add(records, kRelaxed);
    std::string text = std::string("delivery failed: ") + rd_kafka_err2str(msg->err);
    std::lock_guard lock(c.error_mutex);
    c.last_delivery_error = text;
    c.last_error = std::move(text);
  }
}

void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto& c = *static_cast<Counters*>(opaque);
  c.errors.fetch_add(1, kRelaxed);
  std::string text = reason != nullptr ? reason : "";
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal_reason[512];
    rd_kafka_fatal_error(rk, fatal_reason, sizeof fatal_reason);
    c.fatal.store(true, kRelaxed);
    text = std::string("fatal: ") + fatal_reason;
  }
  c.set_error(std::move(text));
}

int on_stats(rd_kafka_t* /*rk*/, char* json, size_t json_len, void* opaque) {
  auto& c = *static_cast<Counters*>(opaque);
  // STATISTICS.md: `txretries` appears once per broker object only; their sum is the
  // client's total of retried requests. A scan, not a JSON parser: this runs once a second.
  constexpr std::string_view kField = "\"txretries\":";
  const std::string_view text(json, json_len);
  uint64_t sum = 0;
  for (size_t at = text.find(kField); at != std::string_view::npos;
       at = text.find(kField, at + kField.size())) {
    sum += std::strtoull(json + at + kField.size(), nullptr, 10);
  }
  c.request_retries.store(sum, kRelaxed);
  return 0;  // librdkafka frees `json`
}

}  // namespace

KafkaProducer::KafkaProducer(KafkaProducerOptions options)
    : options_(std::move(options)), counters_(std::make_unique<detail::ProducerCounters>()) {}

std::unique_ptr<KafkaProducer> KafkaProducer::create(const KafkaProducerOptions& options,
                                                     std::string& error) {
  if (options.brokers.empty()) {
    error = "kafka producer: brokers is empty";
    return nullptr;
  }
  if (options.topic.empty()) {
    error = "kafka producer: topic is empty";
    return nullptr;
  }
  if (options.max_records_per_message == 0 ||
      options.max_records_per_message > wire::kMaxRecordsPerMessage) {
    error = "kafka producer: max_records_per_message must be 1.." +
            std::to_string(wire::kMaxRecordsPerMessage);
    return nullptr;
  }
  std::unique_ptr<KafkaProducer> p(new KafkaProducer(options));
  detail::KafkaConf conf;
  const std::pair<std::string, std::string> settings[] = {
      {"bootstrap.servers", options.brokers},
      {"client.id", options.client_id},
      {"enable.idempotence", "true"},
      {"partitioner", "murmur2"},
      {"compression.type", options.compression},
      {"linger.ms", std::to_string(options.linger_ms)},
      {"batch.size", std::to_string(options.batch_size_bytes)},
      {"queue.buffering.max.messages", std::to_string(options.max_buffered_messages)},
      {"queue.buffering.max.kbytes", std::to_string(options.max_buffered_kbytes)},
      {"message.timeout.ms", std::to_string(options.message_timeout_ms)},
      {"statistics.interval.ms", "1000"},
  };
  for (const auto& [name, value] : settings) {
    if (!conf.set(name, value, error)) return nullptr;
  }
  for (const auto& [name, value] : options.properties) {
    if (!conf.set(name, value, error)) return nullptr;
  }
  rd_kafka_conf_set_opaque(conf.get(), p->counters_.get());
  rd_kafka_conf_set_dr_msg_cb(conf.get(), on_delivery);
  rd_kafka_conf_set_error_cb(conf.get(), on_error);
  rd_kafka_conf_set_stats_cb(conf.get(), on_stats);
  char errstr[512];
  p->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof errstr);
  if (p->rk_ == nullptr) {
    error = std::string("kafka producer: ") + errstr;
    return nullptr;
  }
  conf.release();  // rd_kafka_new owns it now
  p->rkt_ = rd_kafka_topic_new(p->rk_, options.topic.c_str(), nullptr);
  if (p->rkt_ == nullptr) {
    error =
        "kafka producer: topic " + options.topic + ": " + rd_kafka_err2str(rd_kafka_last_error());
    return nullptr;
  }
  if (options.poll_thread) {
    p->poll_thread_ = std::thread([raw = p.get()] {
      while (!raw->stop_.load(std::memory_order_acquire)) rd_kafka_poll(raw->rk_, 100);
    });
  }
  return p;
}

KafkaProducer::~KafkaProducer() {
  if (rk_ != nullptr) {
    rd_kafka_flush(rk_, static_cast<int>(close_timeout_.count()));
    // What could not be delivered in time is purged; its delivery reports count it.
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk_, 1000);
  }
  stop_.store(true, std::memory_order_release);
  if (poll_thread_.joinable()) poll_thread_.join();
  if (rk_ != nullptr) rd_kafka_poll(rk_, 0);
  if (rkt_ != nullptr) rd_kafka_topic_destroy(rkt_);
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

bool KafkaProducer::produce_message(uint32_t tenant_id, size_t records_begin, size_t records_end,
                                    size_t counters_begin, size_t counters_end,
                                    const flow::FlowBatch& batch, int64_t now_ns) {
  Counters& c = *counters_;
  const size_t n_records = records_end - records_begin;
  const size_t n_counters = counters_end - counters_begin;
  if (c.fatal.load(kRelaxed)) {
    c.messages_dropped_error.fetch_add(1, kRelaxed);
    c.records_dropped_error.fetch_add(n_records, kRelaxed);
    return false;
  }
  const size_t size = wire::encoded_size(n_records, n_counters);
  // librdkafka takes ownership of a malloc'd payload (RD_KAFKA_MSG_F_FREE): one allocation per
  // message and no copy of the encoded bytes.
  auto* payload = static_cast<std::byte*>(std::malloc(size));
  if (payload == nullptr) {
    c.messages_dropped_error.fetch_add(1, kRelaxed);
    c.records_dropped_error.fetch_add(n_records, kRelaxed);
    c.set_error("out of memory encoding a message");
    return false;
  }
  wire::BatchHeader header;
  header.tenant_id = tenant_id;
  header.record_count = static_cast<uint32_t>(n_records);
  header.counter_count = static_cast<uint32_t>(n_counters);
  header.encoded_ns = now_ns;
  wire::encode_header(header, payload);
  std::byte* out = payload + wire::kHeaderBytes;
  const std::span<const flow::FlowRecord> records = batch.records();
  for (size_t i = records_begin; i < records_end; ++i, out += wire::kRecordBytes)
    wire::encode_record(records[record_order_[i].second], out);
  const std::span<const flow::InterfaceCounters> counters = batch.counters();
  for (size_t i = counters_begin; i < counters_end; ++i, out += wire::kCounterBytes)
    wire::encode_counters(counters[counter_order_[i].second], out);

  return enqueue(tenant_id, payload, size, true, n_records);
}

bool KafkaProducer::enqueue(uint32_t tenant_id, void* payload, size_t size, bool owned,
                            size_t n_records) {
  Counters& c = *counters_;
  std::array<char, 10> key_buffer;
  const std::string_view key = tenant_key(tenant_id, key_buffer);
  // librdkafka's RD_KAFKA_V_* macros type-check with GNU statement expressions.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wgnu-statement-expression"
#endif
  const rd_kafka_resp_err_t err =
      rd_kafka_producev(rk_, RD_KAFKA_V_RKT(rkt_), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
                        RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(payload, size),
                        RD_KAFKA_V_MSGFLAGS(owned ? RD_KAFKA_MSG_F_FREE : RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_OPAQUE(records_opaque(n_records)), RD_KAFKA_V_END);
#if defined(__clang__)
#pragma clang diagnostic pop
#endif
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    c.messages_enqueued.fetch_add(1, kRelaxed);
    c.records_enqueued.fetch_add(n_records, kRelaxed);
    c.bytes_enqueued.fetch_add(size, kRelaxed);
    return true;
  }
  if (owned) std::free(payload);  // on failure the payload stays ours
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    c.messages_dropped_full.fetch_add(1, kRelaxed);
    c.records_dropped_full.fetch_add(n_records, kRelaxed);
  } else {
    c.messages_dropped_error.fetch_add(1, kRelaxed);
    c.records_dropped_error.fetch_add(n_records, kRelaxed);
    c.set_error(std::string("produce refused: ") + rd_kafka_err2str(err));
  }
  return false;
}

size_t KafkaProducer::publish(const flow::FlowBatch& batch) {
  if (batch.empty()) return 0;
  Counters& c = *counters_;
  const std::span<const flow::FlowRecord> records = batch.records();
  const std::span<const flow::InterfaceCounters> counters = batch.counters();
  c.batches_offered.fetch_add(1, kRelaxed);
  c.records_offered.fetch_add(records.size(), kRelaxed);
  c.counters_offered.fetch_add(counters.size(), kRelaxed);
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();

  std::lock_guard lock(publish_mutex_);
  // Group by tenant, keeping record order within a tenant: sort (tenant, index) pairs. The
  // vectors keep their capacity, so a steady stream of batches allocates nothing here.
  record_order_.clear();
  for (size_t i = 0; i < records.size(); ++i)
    record_order_.emplace_back(records[i].tenant_id, static_cast<uint32_t>(i));
  std::sort(record_order_.begin(), record_order_.end());
  counter_order_.clear();
  for (size_t i = 0; i < counters.size(); ++i)
    counter_order_.emplace_back(counters[i].tenant_id, static_cast<uint32_t>(i));
  std::sort(counter_order_.begin(), counter_order_.end());

  const size_t max = options_.max_records_per_message;
  size_t enqueued = 0;
  size_t r = 0;
  size_t k = 0;
  while (r < record_order_.size() || k < counter_order_.size()) {
    // The next tenant in order: the smaller of the two heads.
    uint32_t tenant = UINT32_MAX;
    if (r < record_order_.size()) tenant = record_order_[r].first;
    if (k < counter_order_.size()) tenant = std::min(tenant, counter_order_[k].first);
    size_t r_end = r;
    while (r_end < record_order_.size() && record_order_[r_end].first == tenant) ++r_end;
    size_t k_end = k;
    while (k_end < counter_order_.size() && counter_order_[k_end].first == tenant) ++k_end;
    // Records in chunks of `max`; the tenant's counters ride with its last chunk (or alone).
    while (r < r_end || k < k_end) {
      const size_t chunk_end = std::min(r_end, r + max);
      size_t counters_end = k;
      if (chunk_end == r_end) counters_end = std::min(k_end, k + max);
      if (produce_message(tenant, r, chunk_end, k, counters_end, batch, now_ns))
        enqueued += chunk_end - r;
      r = chunk_end;
      k = counters_end;
    }
  }
  return enqueued;
}

size_t KafkaProducer::publish_each(const flow::FlowBatch& batch, const RecordEncoder& encode) {
  const std::span<const flow::FlowRecord> records = batch.records();
  if (records.empty()) return 0;
  Counters& c = *counters_;
  c.batches_offered.fetch_add(1, kRelaxed);
  c.records_offered.fetch_add(records.size(), kRelaxed);
  std::lock_guard lock(publish_mutex_);
  size_t enqueued = 0;
  for (const flow::FlowRecord& r : records) {
    if (c.fatal.load(kRelaxed)) {
      c.messages_dropped_error.fetch_add(1, kRelaxed);
      c.records_dropped_error.fetch_add(1, kRelaxed);
      continue;
    }
    encoded_.clear();
    encode(r, encoded_);
    if (enqueue(r.tenant_id, encoded_.data(), encoded_.size(), false, 1)) ++enqueued;
  }
  return enqueued;
}

void KafkaProducer::poll(std::chrono::milliseconds timeout) {
  rd_kafka_poll(rk_, static_cast<int>(timeout.count()));
}

bool KafkaProducer::flush(std::chrono::milliseconds timeout) {
  return rd_kafka_flush(rk_, static_cast<int>(timeout.count())) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

KafkaProducerStats KafkaProducer::stats() const {
  const Counters& c = *counters_;
  KafkaProducerStats s;
  s.batches_offered = c.batches_offered.load(kRelaxed);
  s.records_offered = c.records_offered.load(kRelaxed);
  s.counters_offered = c.counters_offered.load(kRelaxed);
  s.messages_enqueued = c.messages_enqueued.load(kRelaxed);
  s.records_enqueued = c.records_enqueued.load(kRelaxed);
  s.bytes_enqueued = c.bytes_enqueued.load(kRelaxed);
  s.messages_delivered = c.messages_delivered.load(kRelaxed);
  s.records_delivered = c.records_delivered.load(kRelaxed);
  s.messages_failed = c.messages_failed.load(kRelaxed);
  s.records_failed = c.records_failed.load(kRelaxed);
  s.messages_dropped_full = c.messages_dropped_full.load(kRelaxed);
  s.records_dropped_full = c.records_dropped_full.load(kRelaxed);
  s.messages_dropped_error = c.messages_dropped_error.load(kRelaxed);
  s.records_dropped_error = c.records_dropped_error.load(kRelaxed);
  s.messages_purged = c.messages_purged.load(kRelaxed);
  s.records_purged = c.records_purged.load(kRelaxed);
  s.request_retries = c.request_retries.load(kRelaxed);
  s.errors = c.errors.load(kRelaxed);
  s.fatal = c.fatal.load(kRelaxed);
  // Loaded at slightly different moments: clamp rather than wrap.
  const uint64_t done = s.messages_delivered + s.messages_failed + s.messages_purged;
  s.in_flight_messages = s.messages_enqueued > done ? s.messages_enqueued - done : 0;
  std::lock_guard lock(c.error_mutex);
  s.last_error = c.last_error;
  s.last_delivery_error = c.last_delivery_error;
  return s;
}

}  // namespace fathom::bus
