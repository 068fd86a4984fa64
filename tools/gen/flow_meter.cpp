#include "gen/flow_meter.h"

#include <algorithm>

namespace fathom::gen {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

}  // namespace

FlowMeter::FlowMeter(const ExporterConfig& config, uint64_t seed, int64_t sim_start_ns)
    : config_(config),
      is_sflow_(config.protocol == ExportProtocol::kSflowV5),
      sim_start_ns_(sim_start_ns),
      rng_(seed),
      gap_scale_(config.sampling_rate > 1 ? Rng::geometric_scale(config.sampling_rate) : 0.0) {
  // Deterministic sampling starts at a random phase, as devices' counters do.
  countdown_ = config_.sampling_mode == SamplingMode::kDeterministic
                   ? 1 + rng_.below(std::max<uint32_t>(config_.sampling_rate, 1))
                   : next_gap();
}

uint64_t FlowMeter::next_gap() {
  if (config_.sampling_rate <= 1) return 1;
  if (config_.sampling_mode == SamplingMode::kDeterministic) return config_.sampling_rate;
  return rng_.geometric_skip_scaled(gap_scale_);
}

FlowMeter::Slot& FlowMeter::slot_at(int64_t t_ns) {
  const int64_t second = std::max<int64_t>((t_ns - sim_start_ns_) / kSecond, base_second_);
  if (second - base_second_ >= static_cast<int64_t>(ring_.size())) {
    // Grow to a power of two covering the horizon, re-placing live queues.
    size_t size = std::max<size_t>(ring_.size(), 64);
    while (static_cast<int64_t>(size) <= second - base_second_) size *= 2;
    std::vector<Slot> bigger(size);
    for (int64_t s = base_second_; s <= max_second_; ++s) {
      bigger[size_t(s) % size] = ring_[size_t(s) % ring_.size()];
    }
    ring_.swap(bigger);
  }
  max_second_ = std::max(max_second_, second);
  return ring_[size_t(second) % ring_.size()];
}

void FlowMeter::take(int64_t second, ExportBucket& out) {
  out.records.clear();
  out.samples.clear();
  // Seconds must be taken in order; one skipped over is folded into this one, never lost.
  for (; base_second_ <= second && !ring_.empty(); ++base_second_) {
    Slot& slot = ring_[size_t(base_second_) % ring_.size()];
    record_pool_.drain(slot.records, out.records);
    sample_pool_.drain(slot.samples, out.samples);
  }
  base_second_ = std::max(base_second_, second + 1);
}

int64_t FlowMeter::pending_after(int64_t second) const noexcept {
  for (int64_t s = max_second_; s > second && s >= base_second_; --s) {
    const Slot& slot = ring_[size_t(s) % ring_.size()];
    if (!slot.records.empty() || !slot.samples.empty()) return s - second;
  }
  return 0;
}

void FlowMeter::observe(const FlowSpec& flow) {
  stats_.packets_seen += flow.packets;
  stats_.bytes_seen += flow.total_bytes();
  if (config_.sampling_rate <= 1 && !is_sflow_) {
    meter_unsampled(flow);
  } else {
    meter_sampled(flow);
  }
}

void FlowMeter::emit_record(const FlowSpec& flow, const CacheEntry& entry, bool ended) {
  // When the cache lets go of the entry: FIN/RST at once, idle after the inactive timeout,
  // long-lived entries at the active timeout.
  int64_t export_ns = entry.last_ns + config_.inactive_timeout_ns;
  uint8_t end_reason = kEndIdle;
  if (!ended) {
    end_reason = kEndActive;
    export_ns = entry.first_ns + config_.active_timeout_ns;
  } else if (flow.proto == kProtoTcp && (entry.tcp_flags & (kTcpFin | kTcpRst))) {
    end_reason = kEndOfFlow;
    export_ns = entry.last_ns;
  }
  stats_.packets_sampled += entry.packets;
  stats_.bytes_sampled += entry.bytes;
  ++stats_.records;
  // Written field by field into the queue's chunk: the record is never built elsewhere and
  // copied (80 bytes, twice, in a profile's hottest function).
  ExportRecord& r = record_pool_.emplace(slot_at(export_ns).records);
  r.first_ns = entry.first_ns;
  r.last_ns = entry.last_ns;
  r.src = flow.src;
  r.dst = flow.dst;
  r.bytes = entry.bytes;
  r.packets = entry.packets;
  r.src_port = flow.src_port;
  r.dst_port = flow.dst_port;
  r.proto = flow.proto;
  r.tos = flow.tos;
  r.tcp_flags = entry.tcp_flags;
  r.end_reason = end_reason;
  r.label = flow.label;
}

void FlowMeter::meter_unsampled(const FlowSpec& flow) {
  const double gap = flow.packets > 1 ? static_cast<double>(flow.duration_ns) /
                                            static_cast<double>(flow.packets - 1)
                                      : 0.0;
  const bool each_alone = gap > static_cast<double>(config_.inactive_timeout_ns);
  if (!each_alone && flow.duration_ns < config_.active_timeout_ns) {
    // The common case: the whole flow fits in one cache entry.
    const CacheEntry whole{flow.start_ns, flow.time_at(flow.packets - 1), flow.packets,
                           flow.total_bytes(), flow.flags_between(0, flow.packets)};
    emit_record(flow, whole, true);
    return;
  }
  uint64_t lo = 0;
  while (lo < flow.packets) {
    const int64_t first = flow.time_at(lo);
    uint64_t hi =
        each_alone ? lo + 1 : flow.first_index_at_or_after(first + config_.active_timeout_ns);
    hi = std::max(hi, lo + 1);
    const CacheEntry part{first, flow.time_at(hi - 1), hi - lo,
                          flow.bytes_before(hi) - flow.bytes_before(lo),
                          flow.flags_between(lo, hi)};
    // Split by the active timeout only when the flow carries on past it.
    emit_record(flow, part, hi == flow.packets || each_alone);
    lo = hi;
  }
}

void FlowMeter::meter_sampled(const FlowSpec& flow) {
  CacheEntry entry;
  bool open = false;
  uint64_t idx = 0;  // next packet of the flow not yet passed by the countdown
  while (flow.packets - idx >= countdown_) {
    const uint64_t pool_delta = countdown_;
    idx += countdown_ - 1;
    const uint64_t sel = idx++;
    countdown_ = next_gap();
    const int64_t t = flow.time_at(sel);
    const uint16_t size = flow.size_at(sel);
    const uint8_t flags = flow.flags_at(sel);
    stats_.packets_sampled++;
    stats_.bytes_sampled += size;
    if (is_sflow_) {
      PacketSample& s = sample_pool_.emplace(slot_at(t).samples);
      s.time_ns = t;
      s.src = flow.src;
      s.dst = flow.dst;
      s.pool_delta = static_cast<uint32_t>(pool_delta);
      s.tcp_seq = static_cast<uint32_t>(flow.start_ns) + static_cast<uint32_t>(sel) * 1448u;
      s.src_port = flow.src_port;
      s.dst_port = flow.dst_port;
      s.size = size;
      s.proto = flow.proto;
      s.tos = flow.tos;
      s.tcp_flags = flags;
      s.label = flow.label;
      ++stats_.records;
      continue;
    }
    if (open && (t - entry.last_ns > config_.inactive_timeout_ns ||
                 t - entry.first_ns >= config_.active_timeout_ns)) {
      const bool idle = t - entry.last_ns > config_.inactive_timeout_ns;
      // emit_record counts the record's packets again; undo the per-packet count for them.
      stats_.packets_sampled -= entry.packets;
      stats_.bytes_sampled -= entry.bytes;
      emit_record(flow, entry, idle);
      open = false;
    }
    if (!open) {
      entry = CacheEntry{};
      entry.first_ns = t;
      open = true;
    }
    entry.last_ns = t;
    entry.packets++;
    entry.bytes += size;
    entry.tcp_flags |= flags;
  }
  countdown_ -= flow.packets - idx;
  if (open) {
    stats_.packets_sampled -= entry.packets;
    stats_.bytes_sampled -= entry.bytes;
    emit_record(flow, entry, true);
  }
}

}  // namespace fathom::gen
