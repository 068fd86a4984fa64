#include "bus/kafka_consumer.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstring>

#include "bus/detail/kafka_conf.h"

namespace fathom::bus {
namespace detail {

/// What librdkafka's callbacks reach through the opaque pointer. The callbacks run on the
/// thread that polls (or closes); only the counters and `last_error` are read elsewhere.
struct ConsumerState {
  KafkaConsumerCallbacks callbacks;
  std::vector<int32_t> assignment;  ///< ascending; owned by the polling thread
  bool in_rebalance = false;        ///< inside the rebalance callback: commits are synchronous

  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> records{0};
  std::atomic<uint64_t> counters{0};
  std::atomic<uint64_t> corrupt{0};
  std::array<std::atomic<uint64_t>, wire::kWireStatusCount> corrupt_by_reason{};
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> commits_acknowledged{0};
  std::atomic<uint64_t> commit_failures{0};
  std::atomic<uint64_t> assigned{0};
  std::atomic<uint64_t> revoked{0};
  std::atomic<uint64_t> lost{0};
  std::atomic<uint64_t> consume_errors{0};
  mutable std::mutex error_mutex;
  std::string last_error;               // guarded by error_mutex
  mutable std::mutex assignment_mutex;  ///< guards `assignment` against `assignment()` readers

  void set_error(std::string text) {
    std::lock_guard lock(error_mutex);
    last_error = std::move(text);
  }
};

}  // namespace detail

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;
using State = detail::ConsumerState;
constexpr size_t kMaxIdleBatches = 64;

std::vector<int32_t> partitions_of(const rd_kafka_topic_partition_list_t* list) {
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(list->cnt));
  for (int i = 0; i < list->cnt; ++i) out.push_back(list->elems[i].partition);
  std::sort(out.begin(), out.end());
  return out;
}

void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                  rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  State& s = *static_cast<State*>(opaque);
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  const std::vector<int32_t> moved = partitions_of(partitions);
  s.in_rebalance = true;
  rd_kafka_error_t* error = nullptr;
  rd_kafka_resp_err_t eager_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    // The owner restores state first: nothing of these partitions is fetched before the
    // assign call below.
    if (s.callbacks.on_assign) s.callbacks.on_assign(moved);
    s.assigned.fetch_add(moved.size(), kRelaxed);
    {
      std::lock_guard lock(s.assignment_mutex);
      if (!cooperative) s.assignment.clear();
      s.assignment.insert(s.assignment.end(), moved.begin(), moved.end());
      std::sort(s.assignment.begin(), s.assignment.end());
      s.assignment.erase(std::unique(s.assignment.begin(), s.assignment.end()), s.assignment.end());
    }
    if (cooperative) {
      error = rd_kafka_incremental_assign(rk, partitions);
    } else {
      eager_err = rd_kafka_assign(rk, partitions);
    }
  } else {
    // Revoke (or an error, which librdkafka asks to treat as losing everything).
    const bool lost = err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || rd_kafka_assignment_lost(rk);
    if (s.callbacks.on_revoke) s.callbacks.on_revoke(moved, lost);
    s.revoked.fetch_add(moved.size(), kRelaxed);
    if (lost) s.lost.fetch_add(moved.size(), kRelaxed);
    {
      std::lock_guard lock(s.assignment_mutex);
      if (!cooperative) {
        s.assignment.clear();
      } else {
        std::erase_if(s.assignment,
                      [&](int32_t p) { return std::binary_search(moved.begin(), moved.end(), p); });
      }
    }
    if (cooperative) {
      error = rd_kafka_incremental_unassign(rk, partitions);
    } else {
      eager_err = rd_kafka_assign(rk, nullptr);
    }
  }
  s.in_rebalance = false;
  if (error != nullptr) {
    s.consume_errors.fetch_add(1, kRelaxed);
    s.set_error(std::string("rebalance: ") + rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  } else if (eager_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    s.consume_errors.fetch_add(1, kRelaxed);
    s.set_error(std::string("rebalance: ") + rd_kafka_err2str(eager_err));
  }
}

void on_commit(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
               rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  State& s = *static_cast<State*>(opaque);
  // _NO_OFFSET: nothing to commit, not a failure.
  if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
  bool failed = err != RD_KAFKA_RESP_ERR_NO_ERROR;
  rd_kafka_resp_err_t why = err;
  for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
    if (offsets->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      failed = true;
      why = offsets->elems[i].err;
    }
  }
  if (failed) {
    s.commit_failures.fetch_add(1, kRelaxed);
    s.set_error(std::string("commit failed: ") + rd_kafka_err2str(why));
  } else {
    s.commits_acknowledged.fetch_add(1, kRelaxed);
  }
}

void on_error(rd_kafka_t* /*rk*/, int err, const char* reason, void* opaque) {
  State& s = *static_cast<State*>(opaque);
  s.consume_errors.fetch_add(1, kRelaxed);
  s.set_error(std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))) + ": " +
              (reason != nullptr ? reason : ""));
}

}  // namespace

KafkaConsumer::KafkaConsumer(KafkaConsumerOptions options, KafkaConsumerCallbacks callbacks)
    : options_(std::move(options)), state_(std::make_unique<State>()) {
  state_->callbacks = std::move(callbacks);
}

std::unique_ptr<KafkaConsumer> KafkaConsumer::create(const KafkaConsumerOptions& options,
                                                     KafkaConsumerCallbacks callbacks,
                                                     std::string& error) {
  if (options.brokers.empty() || options.topic.empty() || options.group_id.empty()) {
    error = "kafka consumer: brokers, topic and group_id are required";
    return nullptr;
  }
  std::unique_ptr<KafkaConsumer> c(new KafkaConsumer(options, std::move(callbacks)));
  detail::KafkaConf conf;
  const std::pair<std::string, std::string> settings[] = {
      {"bootstrap.servers", options.brokers},
      {"client.id", options.client_id},
      {"group.id", options.group_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"partition.assignment.strategy", "cooperative-sticky"},
      {"session.timeout.ms", std::to_string(options.session_timeout_ms)},
      {"heartbeat.interval.ms", std::to_string(options.heartbeat_interval_ms)},
      {"max.poll.interval.ms", std::to_string(options.max_poll_interval_ms)},
  };
  for (const auto& [name, value] : settings) {
    if (!conf.set(name, value, error)) return nullptr;
  }
  for (const auto& [name, value] : options.properties) {
    if (!conf.set(name, value, error)) return nullptr;
  }
  rd_kafka_conf_set_opaque(conf.get(), c->state_.get());
  rd_kafka_conf_set_rebalance_cb(conf.get(), on_rebalance);
  rd_kafka_conf_set_offset_commit_cb(conf.get(), on_commit);
  rd_kafka_conf_set_error_cb(conf.get(), on_error);
  char errstr[512];
  c->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof errstr);
  if (c->rk_ == nullptr) {
    error = std::string("kafka consumer: ") + errstr;
    return nullptr;
  }
  conf.release();
  // Every callback (rebalance, commit, error) is served by rd_kafka_consumer_poll.
  rd_kafka_poll_set_consumer(c->rk_);
  c->rkt_ = rd_kafka_topic_new(c->rk_, options.topic.c_str(), nullptr);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, options.topic.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = "kafka consumer: subscribe " + options.topic + ": " + rd_kafka_err2str(err);
    return nullptr;
  }
  return c;
}

KafkaConsumer::~KafkaConsumer() {
  close();
  if (rkt_ != nullptr) rd_kafka_topic_destroy(rkt_);
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

void KafkaConsumer::close() {
  if (closed_ || rk_ == nullptr) return;
  closed_ = true;
  // Runs the revoke callback for what is assigned, then leaves the group, so the other
  // members get these partitions without waiting for the session timeout.
  rd_kafka_consumer_close(rk_);
}

size_t KafkaConsumer::poll(std::chrono::milliseconds timeout, std::vector<ConsumedBatch>& out,
                           size_t max_batches) {
  if (closed_) return 0;
  State& s = *state_;
  size_t appended = 0;
  int wait_ms = static_cast<int>(timeout.count());
  while (appended < max_batches) {
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk_, wait_ms);
    if (msg == nullptr) break;
    wait_ms = 0;  // the first message waited; take only what is already fetched after it
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        s.consume_errors.fetch_add(1, kRelaxed);
        s.set_error(rd_kafka_message_errstr(msg));
      }
      rd_kafka_message_destroy(msg);
      continue;
    }
    ConsumedBatch& got = out.emplace_back();
    got.partition = msg->partition;
    got.offset = msg->offset;
    if (idle_.empty()) {
      got.batch = std::make_unique<flow::FlowBatch>();
    } else {
      got.batch = std::move(idle_.back());
      idle_.pop_back();
    }
    const std::span<const std::byte> payload(static_cast<const std::byte*>(msg->payload), msg->len);
    got.status = wire::decode(payload, *got.batch, got.header);
    s.messages.fetch_add(1, kRelaxed);
    s.bytes.fetch_add(msg->len, kRelaxed);
    if (got.status == wire::WireStatus::kOk) {
      s.records.fetch_add(got.batch->size(), kRelaxed);
      s.counters.fetch_add(got.batch->counters().size(), kRelaxed);
    } else {
      s.corrupt.fetch_add(1, kRelaxed);
      s.corrupt_by_reason[static_cast<size_t>(got.status)].fetch_add(1, kRelaxed);
      recycle(std::move(got.batch));
    }
    rd_kafka_message_destroy(msg);
    ++appended;
  }
  return appended;
}

bool KafkaConsumer::commit(int32_t partition, int64_t offset) {
  if (closed_ && !state_->in_rebalance) return false;
  State& s = *state_;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), partition)->offset = offset + 1;
  // Inside a revoke the commit must land before the partition moves on: synchronous.
  const bool async = !s.in_rebalance;
  const rd_kafka_resp_err_t err = rd_kafka_commit(rk_, list, async ? 1 : 0);
  rd_kafka_topic_partition_list_destroy(list);
  s.commits.fetch_add(1, kRelaxed);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // A synchronous commit's result is returned here, and on_commit also sees it: count once.
    if (async) {
      s.commit_failures.fetch_add(1, kRelaxed);
      s.set_error(std::string("commit failed: ") + rd_kafka_err2str(err));
    }
    return false;
  }
  return true;
}

void KafkaConsumer::recycle(std::unique_ptr<flow::FlowBatch> batch) {
  if (batch == nullptr || idle_.size() >= kMaxIdleBatches) return;
  batch->clear();
  idle_.push_back(std::move(batch));
}

std::vector<int32_t> KafkaConsumer::assignment() const {
  std::lock_guard lock(state_->assignment_mutex);
  return state_->assignment;
}

int32_t KafkaConsumer::partition_count(std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk_, 0, rkt_, &md, static_cast<int>(timeout.count())) !=
      RD_KAFKA_RESP_ERR_NO_ERROR)
    return -1;
  int32_t count = -1;
  if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
    count = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  return count;
}

KafkaConsumerStats KafkaConsumer::stats() const {
  const State& s = *state_;
  KafkaConsumerStats out;
  out.messages = s.messages.load(kRelaxed);
  out.bytes = s.bytes.load(kRelaxed);
  out.records = s.records.load(kRelaxed);
  out.counters = s.counters.load(kRelaxed);
  out.corrupt = s.corrupt.load(kRelaxed);
  for (size_t i = 0; i < wire::kWireStatusCount; ++i)
    out.corrupt_by_reason[i] = s.corrupt_by_reason[i].load(kRelaxed);
  out.commits = s.commits.load(kRelaxed);
  out.commits_acknowledged = s.commits_acknowledged.load(kRelaxed);
  out.commit_failures = s.commit_failures.load(kRelaxed);
  out.assigned = s.assigned.load(kRelaxed);
  out.revoked = s.revoked.load(kRelaxed);
  out.lost = s.lost.load(kRelaxed);
  out.consume_errors = s.consume_errors.load(kRelaxed);
  std::lock_guard lock(s.error_mutex);
  out.last_error = s.last_error;
  return out;
}

}  // namespace fathom::bus
