// /metrics families of the Kafka bus in cluster mode: `fathom collect`'s producer and
// `fathom analyze`'s consumer group member (docs/metrics.md, docs/scaling.md).

#include <string>

#include "api/collector_metrics.h"
#include "bus/wire_format.h"

namespace fathom::api {
namespace {

constexpr MetricType kCounter = MetricType::kCounter;
constexpr MetricType kGauge = MetricType::kGauge;

/// The families of one producer, named `<prefix>_messages_total` etc.; `what` says which topic
/// the help texts are about.
void append_producer(const std::string& prefix, const char* what, const bus::KafkaProducerStats& p,
                     MetricsText& out) {
  out.family(prefix + "_messages_total",
             std::string(what) +
                 ": Kafka messages, by outcome: enqueued (into the local buffer), delivered "
                 "(acknowledged by every in-sync replica), failed (not delivered within "
                 "message_timeout_ms), dropped_full (local buffer full: Kafka slow or down), "
                 "dropped_error (refused), purged (still buffered at exit).",
             kCounter)
      .sample({{"outcome", "enqueued"}}, p.messages_enqueued)
      .sample({{"outcome", "delivered"}}, p.messages_delivered)
      .sample({{"outcome", "failed"}}, p.messages_failed)
      .sample({{"outcome", "dropped_full"}}, p.messages_dropped_full)
      .sample({{"outcome", "dropped_error"}}, p.messages_dropped_error)
      .sample({{"outcome", "purged"}}, p.messages_purged);
  out.family(prefix + "_records_total",
             std::string(what) +
                 ": flow records offered to the producer, and by outcome as for messages.",
             kCounter)
      .sample({{"outcome", "offered"}}, p.records_offered)
      .sample({{"outcome", "enqueued"}}, p.records_enqueued)
      .sample({{"outcome", "delivered"}}, p.records_delivered)
      .sample({{"outcome", "failed"}}, p.records_failed)
      .sample({{"outcome", "dropped_full"}}, p.records_dropped_full)
      .sample({{"outcome", "dropped_error"}}, p.records_dropped_error)
      .sample({{"outcome", "purged"}}, p.records_purged);
  out.family(prefix + "_batches_total", std::string(what) + ": FlowBatches handed to the producer.",
             kCounter)
      .sample({}, p.batches_offered);
  out.family(prefix + "_bytes_total",
             std::string(what) + ": encoded (uncompressed) bytes of the messages enqueued.",
             kCounter)
      .sample({}, p.bytes_enqueued);
  out.family(prefix + "_in_flight_messages",
             std::string(what) + ": messages buffered or awaiting acknowledgement now.", kGauge)
      .sample({}, p.in_flight_messages);
  out.family(prefix + "_retries_total",
             std::string(what) + ": produce requests librdkafka retried.", kCounter)
      .sample({}, p.request_retries);
  out.family(prefix + "_errors_total",
             std::string(what) +
                 ": client errors librdkafka reported (brokers down, authentication, ...).",
             kCounter)
      .sample({}, p.errors);
  out.family(prefix + "_fatal",
             std::string(what) +
                 ": 1 once the idempotent producer hit a fatal error (every publish drops; "
                 "restart the collector).",
             kGauge)
      .sample({}, p.fatal ? 1 : 0);
}

}  // namespace

void append_kafka_metrics(const CollectorSnapshot& s, MetricsText& out) {
  if (s.has_kafka_producer) {
    append_producer("fathom_kafka_producer", "The flows topic (a tenant's records per message)",
                    s.kafka_producer, out);
  }
  if (s.has_kafka_json_producer) {
    append_producer("fathom_kafka_json_producer",
                    "The JSON flows topic (kafka.flows_json_topic, one record per message)",
                    s.kafka_json_producer, out);
  }
  if (s.has_kafka_consumer) {
    const bus::KafkaConsumerStats& c = s.kafka_consumer;
    out.family("fathom_kafka_consumer_messages_total", "Kafka messages consumed (decoded or not).",
               kCounter)
        .sample({}, c.messages);
    out.family("fathom_kafka_consumer_records_total", "Flow records decoded from them.", kCounter)
        .sample({}, c.records);
    out.family("fathom_kafka_consumer_bytes_total", "Payload bytes consumed.", kCounter)
        .sample({}, c.bytes);
    auto& corrupt =
        out.family("fathom_kafka_consumer_corrupt_messages_total",
                   "Messages that did not decode, by wire-format reason (skipped and committed "
                   "past; docs/wire-format.md).",
                   kCounter);
    for (size_t reason = 1; reason < bus::wire::kWireStatusCount; ++reason) {
      if (c.corrupt_by_reason[reason] == 0) continue;
      corrupt.sample({{"reason", bus::wire::to_string(static_cast<bus::wire::WireStatus>(reason))}},
                     c.corrupt_by_reason[reason]);
    }
    out.family("fathom_kafka_consumer_commits_total",
               "Offset commits of stored results: sent, acknowledged by the group coordinator, "
               "failed.",
               kCounter)
        .sample({{"outcome", "sent"}}, c.commits)
        .sample({{"outcome", "acknowledged"}}, c.commits_acknowledged)
        .sample({{"outcome", "failed"}}, c.commit_failures);
    out.family("fathom_kafka_consumer_partitions_total",
               "Partitions moved by rebalances: assigned, revoked, lost (evicted from the "
               "group).",
               kCounter)
        .sample({{"event", "assigned"}}, c.assigned)
        .sample({{"event", "revoked"}}, c.revoked)
        .sample({{"event", "lost"}}, c.lost);
    out.family("fathom_kafka_consumer_partitions_owned",
               "Partitions this analyzer owns now (their tenants' state lives here).", kGauge)
        .sample({}, s.kafka_partitions_owned);
    out.family("fathom_kafka_consumer_errors_total",
               "Error events from the consumer (brokers down, ...).", kCounter)
        .sample({}, c.consume_errors);
  }
}

}  // namespace fathom::api
