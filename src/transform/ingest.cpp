#include "transform/ingest.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace fathom::transform {
namespace {

constexpr int64_t kMinuteNs = 60'000'000'000;

std::shared_ptr<spdlog::logger> log() {
  std::shared_ptr<spdlog::logger> logger = spdlog::get("transform");
  return logger ? logger : spdlog::default_logger();
}

std::shared_ptr<const IngestTables> tables_or_empty(std::shared_ptr<const IngestTables> tables) {
  return tables ? std::move(tables) : std::make_shared<const IngestTables>();
}

std::shared_ptr<const IngestTables> tables_of(const std::shared_ptr<const TenantMap>& tenants) {
  if (!tenants) return std::make_shared<const IngestTables>();
  return std::make_shared<const IngestTables>(IngestTables{*tenants, DedupTable()});
}

}  // namespace

std::shared_ptr<const IngestTables> IngestTables::from_config(const Config& config) {
  return std::make_shared<const IngestTables>(
      IngestTables{TenantMap::from_config(config), DedupTable::from_config(config)});
}

IngestWorker::IngestWorker(std::string name, Options options, bus::Bus& bus,
                           std::shared_ptr<const IngestTables> tables)
    : name_(std::move(name)),
      options_(options),
      bus_(bus),
      decoder_(options.decode),
      batch_(bus.acquire()),
      tables_(tables_or_empty(std::move(tables))),
      sampler_view_(options.sampler) {
  snapshot_.worker = name_;
}

IngestWorker::IngestWorker(std::string name, Options options, bus::Bus& bus,
                           std::shared_ptr<const TenantMap> tenants)
    : IngestWorker(std::move(name), std::move(options), bus, tables_of(tenants)) {}

IngestWorker::~IngestWorker() = default;

void IngestWorker::set_tenants(std::shared_ptr<const IngestTables> tables) {
  std::lock_guard lock(pending_mutex_);
  pending_tables_ = tables_or_empty(std::move(tables));
  has_pending_.store(true, std::memory_order_release);
}

void IngestWorker::set_tenants(std::shared_ptr<const TenantMap> tenants) {
  set_tenants(tables_of(tenants));
}

void IngestWorker::adopt_pending_tenants() {
  std::lock_guard lock(pending_mutex_);
  if (!has_pending_.load(std::memory_order_relaxed)) return;
  tables_ = std::move(pending_tables_);
  has_pending_.store(false, std::memory_order_relaxed);
  // A new table may claim exporters that were unknown, or drop known ones: log afresh.
  logged_unknown_.clear();
}

void IngestWorker::handle(std::span<const std::byte> payload, const decode::PacketContext& ctx) {
  if (has_pending_.load(std::memory_order_relaxed)) adopt_pending_tenants();
  ++datagrams_;
  datagram_bytes_ += payload.size();
  const size_t first_record = batch_->size();
  const size_t first_counter = batch_->counters().size();
  decoder_.decode(payload, ctx, *batch_);
  records_decoded_ += batch_->size() - first_record;
  route_and_hand_on(first_record, first_counter, ctx);
}

void IngestWorker::route_and_hand_on(size_t first_record, size_t first_counter,
                                     const decode::PacketContext& ctx) {
  route(first_record, first_counter, ctx);
  if (batch_started_ns_ == 0 && !batch_->empty()) batch_started_ns_ = ctx.arrival_ns;
  if (batch_->full()) publish_batch();
}

void IngestWorker::handle_parsed(std::span<const flow::FlowRecord> records,
                                 const decode::PacketContext& ctx) {
  if (has_pending_.load(std::memory_order_relaxed)) adopt_pending_tenants();
  const size_t first_record = batch_->size();
  const size_t first_counter = batch_->counters().size();
  for (const flow::FlowRecord& in : records) {
    flow::FlowRecord& r = batch_->add();
    r = in;
    r.exporter = ctx.exporter;
  }
  records_decoded_ += records.size();
  route_and_hand_on(first_record, first_counter, ctx);
}

void IngestWorker::route(size_t first_record, size_t first_counter,
                         const decode::PacketContext& ctx) {
  const TenantMap& map = tables_->tenants;
  const DedupTable& dedup = tables_->dedup;
  // Records of one packet share the exporter and nearly always the domain: cache the answer.
  uint32_t cached_domain = 0;
  uint32_t cached_tenant = 0;
  bool cached = false;
  // An unknown exporter is noted once per lookup, not per record: a spoofed flood of rejected
  // records costs no more than accepted ones.
  auto tenant_of = [&](uint32_t domain) {
    if (!cached || domain != cached_domain) {
      cached_domain = domain;
      cached_tenant = map.resolve(ctx.exporter, domain);
      cached = true;
      if (cached_tenant == 0) note_unknown(ctx.exporter, domain);
    }
    return cached_tenant;
  };

  // What depends on the tenant alone (the exporter is the packet's): resolved when the tenant
  // changes, i.e. once per packet in practice. The sampler learns the run's counts at its end.
  struct TenantRun {
    TenantIngest* counters = nullptr;
    DedupFilter dedup;
    SamplerSlot* slot = nullptr;
    double p = 1.0;
    double inv_p = 1.0;
    uint64_t arrivals = 0;
    uint64_t kept = 0;
  } run;
  AdaptiveSampler* const sampler = sampler_view_.sampler();
  const uint64_t seed = sampler != nullptr ? sampler->seed() : 0;
  auto end_run = [&] {
    if (run.slot != nullptr) sampler->record(*run.slot, run.arrivals, run.kept, ctx.arrival_ns);
    run.arrivals = 0;
    run.kept = 0;
  };

  std::span<flow::FlowRecord> records = batch_->records();
  // The packet's announced rate (its records share it), for the exporter's health view.
  uint32_t packet_rate = 0;
  if (records.size() > first_record) {
    const flow::FlowRecord& r0 = records[first_record];
    packet_rate = (r0.flags & flow::record_flags::kSamplingRateUnknown) != 0
                      ? 0
                      : std::max<uint32_t>(r0.device_sampling_rate, 1);
  }
  size_t kept = first_record;
  uint64_t rejected = 0;
  uint64_t sampled_out = 0;
  uint64_t not_counted = 0;
  for (size_t i = first_record; i < records.size(); ++i) {
    flow::FlowRecord& r = records[i];
    const uint32_t tenant = tenant_of(r.observation_domain);
    if (tenant == 0) {
      ++rejected;
      continue;
    }
    r.tenant_id = tenant;
    if (run.counters == nullptr || run.counters->tenant_id != tenant) {
      end_run();
      run.counters = &tenant_counters(tenant);
      run.dedup = dedup.lookup(tenant, ctx.exporter);
      run.slot = sampler_view_.find(tenant);
      run.p = run.slot != nullptr ? run.slot->probability() : 1.0;
      run.inv_p = 1.0 / run.p;
    }
    TenantIngest& counters = *run.counters;
    ++counters.records;
    counters.flow_bytes += r.bytes;
    counters.flow_packets += r.packets;
    if (!run.dedup.counts_all() && !run.dedup.counts(r)) {
      r.flags |= flow::record_flags::kNotCounted;
      ++counters.records_not_counted;
      ++not_counted;
    }
    if (run.slot != nullptr) {
      ++run.arrivals;
      // keep_flow returns at once for p = 1 (tenants below target or without one): no hash.
      if (!keep_flow(seed, r, run.p)) {
        ++counters.records_sampled_out;
        ++sampled_out;
        continue;
      }
      ++run.kept;
      mark_kept(r, run.p, run.inv_p);
    }
    ++counters.records_kept;
    if (kept != i) records[kept] = r;
    ++kept;
  }
  end_run();
  const size_t accepted = kept - first_record + sampled_out;
  batch_->truncate(kept);

  std::span<flow::InterfaceCounters> counter_records = batch_->counters();
  size_t kept_counters = first_counter;
  uint64_t counters_rejected = 0;
  for (size_t i = first_counter; i < counter_records.size(); ++i) {
    flow::InterfaceCounters& c = counter_records[i];
    const uint32_t tenant = tenant_of(c.sub_agent);
    if (tenant == 0) {
      ++counters_rejected;
      continue;
    }
    c.tenant_id = tenant;
    ++tenant_counters(tenant).counter_records;
    if (kept_counters != i) counter_records[kept_counters] = c;
    ++kept_counters;
  }
  batch_->truncate_counters(kept_counters);

  records_accepted_ += accepted;
  records_rejected_ += rejected;
  records_kept_ += accepted - sampled_out;
  records_sampled_out_ += sampled_out;
  records_not_counted_ += not_counted;
  if (!cached) return;  // nothing decoded from this packet
  // Per exporter (once per packet, not per record), bounded like the decoder's table.
  auto it = per_exporter_.find(ctx.exporter);
  if (it == per_exporter_.end()) {
    if (per_exporter_.size() >= options_.decode.max_exporters) return;
    it = per_exporter_.emplace(ctx.exporter, Rejected{}).first;
  }
  it->second.records += rejected;
  it->second.counters += counters_rejected;
  if (cached_tenant != 0) it->second.tenant_id = cached_tenant;
  if (records.size() > first_record) it->second.sampling_rate = packet_rate;
}

void IngestWorker::note_unknown(const flow::IpAddress& exporter, uint32_t domain) {
  if (logged_unknown_.contains(exporter)) return;
  if (logged_unknown_.size() >= options_.decode.max_exporters) {
    ++unknown_suppressed_;
    return;
  }
  logged_unknown_.insert(exporter);
  if (last_now_ns_ - log_window_start_ns_ >= kMinuteNs) {
    log_window_start_ns_ = last_now_ns_;
    logs_in_window_ = 0;
  }
  if (logs_in_window_ >= options_.unknown_exporter_logs_per_minute) {
    ++unknown_suppressed_;
    return;
  }
  ++logs_in_window_;
  ++unknown_logged_;
  log()->warn(
      "unknown exporter {} (observation domain {}): no tenant claims it, its records are "
      "dropped; add it to a tenant's exporters or set transform.unknown_exporters: default",
      exporter.to_string(), domain);
}

TenantIngest& IngestWorker::tenant_counters(uint32_t tenant_id) {
  auto [it, inserted] = per_tenant_.try_emplace(tenant_id);
  if (inserted) it->second.tenant_id = tenant_id;
  return it->second;
}

void IngestWorker::publish_batch() {
  if (batch_->empty()) return;
  // Once per batch, on the records that survived routing and sampling: enrichment never
  // spends lookups on records nobody will see.
  if (options_.enricher != nullptr) enrich_ += options_.enricher->enrich(batch_->records());
  ++batches_published_;
  bus_.publish(std::move(batch_));
  batch_ = bus_.acquire();
  batch_started_ns_ = 0;
}

void IngestWorker::tick(int64_t now_ns) {
  last_now_ns_ = now_ns;
  if (has_pending_.load(std::memory_order_relaxed)) adopt_pending_tenants();
  if (AdaptiveSampler* sampler = sampler_view_.sampler()) sampler->update(now_ns);
  if (batch_started_ns_ != 0 && now_ns - batch_started_ns_ >= options_.flush_interval_ns) {
    publish_batch();
  }
  if (now_ns - last_snapshot_ns_ >= options_.snapshot_interval_ns) {
    decoder_.expire(now_ns);
    if (unknown_suppressed_ > suppressed_reported_ && now_ns - log_window_start_ns_ >= kMinuteNs) {
      log()->warn(
          "{} further unknown exporters were not logged (rate limit); see the "
          "fathom_exporter_records_rejected_total metric",
          unknown_suppressed_ - suppressed_reported_);
      suppressed_reported_ = unknown_suppressed_;
      log_window_start_ns_ = now_ns;
      logs_in_window_ = 0;
    }
    take_snapshot(now_ns);
  }
}

void IngestWorker::flush(int64_t now_ns) {
  last_now_ns_ = now_ns;
  publish_batch();
  take_snapshot(now_ns);
}

void IngestWorker::take_snapshot(int64_t now_ns) {
  last_snapshot_ns_ = now_ns;
  IngestSnapshot s;
  s.worker = name_;
  s.taken_ns = now_ns;
  s.datagrams = datagrams_;
  s.datagram_bytes = datagram_bytes_;
  s.records_decoded = records_decoded_;
  s.records_accepted = records_accepted_;
  s.records_rejected = records_rejected_;
  s.records_kept = records_kept_;
  s.records_sampled_out = records_sampled_out_;
  s.records_not_counted = records_not_counted_;
  s.enrich = enrich_;
  s.batches_published = batches_published_;
  s.unknown_exporters_logged = unknown_logged_;
  s.unknown_exporters_suppressed = unknown_suppressed_;
  decoder_.for_each_exporter([&](const decode::ExporterState& e) {
    ExporterIngest x;
    x.address = e.address;
    x.decode = e.stats;
    if (auto it = per_exporter_.find(e.address); it != per_exporter_.end()) {
      x.records_rejected = it->second.records;
      x.counters_rejected = it->second.counters;
      x.tenant_id = it->second.tenant_id;
      x.sampling_rate = it->second.sampling_rate;
    }
    s.exporters.push_back(x);
  });
  s.overflow = decoder_.overflow_stats();
  s.tenants.reserve(per_tenant_.size());
  for (const auto& [id, t] : per_tenant_) s.tenants.push_back(t);
  std::sort(s.tenants.begin(), s.tenants.end(),
            [](const TenantIngest& a, const TenantIngest& b) { return a.tenant_id < b.tenant_id; });
  std::lock_guard lock(snapshot_mutex_);
  snapshot_ = std::move(s);
}

IngestSnapshot IngestWorker::snapshot() const {
  std::lock_guard lock(snapshot_mutex_);
  return snapshot_;
}

}  // namespace fathom::transform
