#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bus/bus.h"
#include "decode/decoder.h"
#include "decode/exporter_stats.h"
#include "decode/packet_context.h"
#include "flow/flow_batch.h"
#include "flow/ip_address.h"
#include "transform/dedup.h"
#include "transform/enricher.h"
#include "transform/sampler.h"
#include "transform/tenant_map.h"

namespace fathom::transform {

/// One exporter as the ingest stage sees it: the decoder's counters plus what tenant mapping
/// did with its records.
struct ExporterIngest {
  flow::IpAddress address;
  decode::ExporterStats decode;
  uint64_t records_rejected = 0;   ///< flow records dropped: the exporter matches no tenant
  uint64_t counters_rejected = 0;  ///< interface-counter records dropped likewise
  uint32_t tenant_id = 0;          ///< tenant of its latest accepted record (0: none yet)
  /// The device sampling rate (1-in-N) of its latest packet with flow records; 0 when that
  /// packet's rate was unknown, or before the first.
  uint32_t sampling_rate = 0;
};

/// Records accepted for one tenant. `records` counts every flow record mapped to the tenant,
/// before adaptive sampling; `records_kept + records_sampled_out == records`. Byte and packet
/// sums are over `records` and as exported (device-sampled); the estimate stage scales them.
struct TenantIngest {
  uint32_t tenant_id = 0;
  uint64_t records = 0;          ///< flow records mapped to the tenant (before sampling)
  uint64_t flow_bytes = 0;       ///< bytes those records report, as exported
  uint64_t flow_packets = 0;     ///< packets those records report, as exported
  uint64_t counter_records = 0;  ///< sFlow interface-counter records (never sampled)
  uint64_t records_kept = 0;     ///< of `records`: kept by the adaptive sampler and published
  /// Of `records`: dropped by the adaptive sampler (the tenant is above its target). Not an
  /// error: the kept records' sampling rates account for them.
  uint64_t records_sampled_out = 0;
  /// Of `records` (before sampling): flagged `kNotCounted` by a de-dup rule.
  uint64_t records_not_counted = 0;
};

/// A copy of one worker's counters, taken by its own thread and read by any other.
struct IngestSnapshot {
  std::string worker;
  int64_t taken_ns = 0;          ///< wall clock of the copy
  uint64_t datagrams = 0;        ///< datagrams handed to the decoder
  uint64_t datagram_bytes = 0;   ///< their payload bytes
  uint64_t records_decoded = 0;  ///< flow records out of the decoder
  /// Flow records mapped to a tenant (before sampling):
  /// records_accepted = records_kept + records_sampled_out.
  uint64_t records_accepted = 0;
  uint64_t records_rejected = 0;     ///< unknown exporter (or tenant rule without match)
  uint64_t records_kept = 0;         ///< accepted and kept by the sampler: what is published
  uint64_t records_sampled_out = 0;  ///< accepted, then dropped by the sampler (not an error)
  uint64_t records_not_counted = 0;  ///< accepted and flagged kNotCounted by de-dup
  /// What enrichment did to the published batches (all zero without an enricher).
  EnrichCounts enrich;
  uint64_t batches_published = 0;
  uint64_t unknown_exporters_logged = 0;
  uint64_t unknown_exporters_suppressed = 0;  ///< not logged because of the rate limit
  std::vector<ExporterIngest> exporters;      ///< one per exporter address the decoder knows
  decode::ExporterStats overflow;             ///< packets refused: exporter table full
  std::vector<TenantIngest> tenants;          ///< sorted by tenant id
};

/// The per-tenant tables a worker routes with, swapped in as one immutable snapshot so that a
/// packet never sees the tenant map of one config and the de-dup rules of another. Build one
/// per config and share it between every worker.
struct IngestTables {
  TenantMap tenants;  ///< exporter (and observation domain) -> tenant
  DedupTable dedup;   ///< per tenant and exporter: which records count towards estimates

  /// `TenantMap::from_config(config)` and `DedupTable::from_config(config)`.
  static std::shared_ptr<const IngestTables> from_config(const Config& config);
};

/// The transform stage of one receive thread: decodes each datagram into the current batch,
/// and for each record, in this order:
///  1. maps its exporter (and observation domain) to its tenant; records of exporters no
///     tenant claims are dropped (counted per exporter, logged once per exporter with a rate
///     limit);
///  2. flags it `kNotCounted` when the tenant's de-dup rule for the exporter excludes it;
///  3. asks the shared adaptive sampler (`Options::sampler`) whether its flow is kept: dropped
///     records are counted as `records_sampled_out`, kept ones get `sampling_rate` / p and
///     `kSecondarySampled` (p < 1);
///  4. counts it.
/// The tenant's de-dup rule, sampler slot and keep probability are resolved once per packet
/// (per tenant within a packet), and the sampler's counts are added once per packet. A batch is
/// enriched (`Options::enricher`, one call per batch) and published on the bus when it is full
/// or `flush_interval_ns` old.
///
/// Not thread-safe except `snapshot()` and `set_tenants()`: one thread owns a worker, and all
/// packets of one exporter address must reach the same worker (decoder state is per exporter).
class IngestWorker {
 public:
  struct Options {
    decode::Config decode;
    /// A partly filled batch is published once its first record is this old (latency bound).
    int64_t flush_interval_ns = 200'000'000;
    /// Counters are copied for `snapshot()` this often.
    int64_t snapshot_interval_ns = 1'000'000'000;
    /// New unknown exporters logged per minute (per worker); the rest are counted.
    uint32_t unknown_exporter_logs_per_minute = 10;
    /// The process's adaptive sampler, one instance shared by every worker (a tenant's
    /// exporters may be spread over several). Null: every accepted record is kept. Its
    /// tenants and settings are reloaded with `AdaptiveSampler::set_tenants`, not through the
    /// worker; `tick` drives its controller.
    std::shared_ptr<AdaptiveSampler> sampler;
    /// Enriches each batch just before it is published. Null: no enrichment. Borrowed: it
    /// must outlive the worker (it is thread-safe, so every worker may share one).
    const Enricher* enricher = nullptr;
  };

  /// A worker routing with `tables` (null: no tenant claims anything).
  IngestWorker(std::string name, Options options, bus::Bus& bus,
               std::shared_ptr<const IngestTables> tables);
  /// A worker routing with `tenants` and no de-dup rules (null: no tenant claims anything).
  IngestWorker(std::string name, Options options, bus::Bus& bus,
               std::shared_ptr<const TenantMap> tenants);
  ~IngestWorker();
  IngestWorker(const IngestWorker&) = delete;
  IngestWorker& operator=(const IngestWorker&) = delete;

  /// Decodes one datagram and routes its records (owner thread).
  void handle(std::span<const std::byte> payload, const decode::PacketContext& ctx);
  /// Routes records parsed outside the decoder (VPC flow logs): each is copied into the batch
  /// with `ctx.exporter` as its exporter, then tenant-mapped like decoded ones (owner thread).
  void handle_parsed(std::span<const flow::FlowRecord> records, const decode::PacketContext& ctx);
  /// Housekeeping, called by the owner at least every flush interval: publishes a batch that
  /// is old enough, expires parked data sets, runs the sampler's controller (when due),
  /// refreshes the snapshot. `now_ns` is wall clock (the clock of `PacketContext::arrival_ns`).
  void tick(int64_t now_ns);
  /// Publishes what the current batch holds and refreshes the snapshot (shutdown).
  void flush(int64_t now_ns);
  /// Swaps in new tenant and de-dup tables (any thread); the owner picks them up at its next
  /// packet. Null: no tenant claims anything.
  void set_tenants(std::shared_ptr<const IngestTables> tables);
  /// Swaps in a new tenant map *without de-dup rules* (any thread; copies the map). Prefer the
  /// IngestTables overload, which carries the de-dup rules along.
  void set_tenants(std::shared_ptr<const TenantMap> tenants);

  /// Batches published so far (owner thread): a replay compares it to wait for consumers.
  uint64_t batches_published() const noexcept { return batches_published_; }
  decode::Decoder& decoder() noexcept { return decoder_; }
  const decode::Decoder& decoder() const noexcept { return decoder_; }
  /// The counters as of the latest tick (any thread).
  IngestSnapshot snapshot() const;

 private:
  /// Tenant-maps, de-dups and samples records [first, end) of the current batch in place,
  /// compacting out rejected and sampled-out records.
  void route(size_t first_record, size_t first_counter, const decode::PacketContext& ctx);
  /// `route`, then publishes the batch if it is full.
  void route_and_hand_on(size_t first_record, size_t first_counter,
                         const decode::PacketContext& ctx);
  void note_unknown(const flow::IpAddress& exporter, uint32_t domain);
  TenantIngest& tenant_counters(uint32_t tenant_id);
  void publish_batch();
  void take_snapshot(int64_t now_ns);
  void adopt_pending_tenants();

  const std::string name_;
  const Options options_;
  bus::Bus& bus_;
  decode::Decoder decoder_;
  std::unique_ptr<flow::FlowBatch> batch_;
  int64_t batch_started_ns_ = 0;  ///< wall clock of the batch's first record; 0 when empty

  std::shared_ptr<const IngestTables> tables_;
  std::mutex pending_mutex_;
  std::shared_ptr<const IngestTables> pending_tables_;  ///< set by set_tenants, taken by owner
  std::atomic<bool> has_pending_{false};  ///< written under pending_mutex_; peeked without

  // Owner-thread counters.
  uint64_t datagrams_ = 0;
  uint64_t datagram_bytes_ = 0;
  uint64_t records_decoded_ = 0;
  uint64_t records_accepted_ = 0;
  uint64_t records_rejected_ = 0;
  uint64_t records_kept_ = 0;
  uint64_t records_sampled_out_ = 0;
  uint64_t records_not_counted_ = 0;
  uint64_t batches_published_ = 0;
  EnrichCounts enrich_;
  SamplerView sampler_view_;
  struct Rejected {
    uint64_t records = 0;
    uint64_t counters = 0;
    uint32_t tenant_id = 0;
    uint32_t sampling_rate = 0;
  };
  /// Per exporter address; bounded like the decoder's exporter table.
  std::unordered_map<flow::IpAddress, Rejected, flow::IpAddressHash> per_exporter_;
  std::unordered_map<uint32_t, TenantIngest> per_tenant_;

  // Unknown-exporter logging: each address once, at most N new ones a minute.
  std::unordered_set<flow::IpAddress, flow::IpAddressHash> logged_unknown_;
  int64_t log_window_start_ns_ = 0;
  uint32_t logs_in_window_ = 0;
  uint64_t unknown_logged_ = 0;
  uint64_t unknown_suppressed_ = 0;
  uint64_t suppressed_reported_ = 0;
  int64_t last_now_ns_ = 0;

  int64_t last_snapshot_ns_ = 0;
  mutable std::mutex snapshot_mutex_;
  IngestSnapshot snapshot_;
};

}  // namespace fathom::transform
