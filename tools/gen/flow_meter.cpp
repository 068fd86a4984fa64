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
      rng_(seed) {
  // Deterministic sampling starts at a random phase, as devices' counters do.
  countdown_ = config_.sampling_mode == SamplingMode::kDeterministic
                   ? 1 + rng_.below(std::max<uint32_t>(config_.sampling_rate, 1))
                   : next_gap();
}

uint64_t FlowMeter::next_gap() {
  if (config_.sampling_rate <= 1) return 1;
  if (config_.sampling_mode == SamplingMode::kDeterministic) return config_.sampling_rate;
  return rng_.geometric_skip(config_.sampling_rate);
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

void FlowMeter::emit_record(const FlowSpec& flow, const ExportRecord& r, bool ended) {
  // When the cache lets go of the entry: FIN/RST at once, idle after the inactive timeout,
  // long-lived entries at the active timeout.
  int64_t export_ns = r.last_ns + config_.inactive_timeout_ns;
  ExportRecord out = r;
  if (!ended) {
    out.end_reason = kEndActive;
    export_ns = r.first_ns + config_.active_timeout_ns;
  } else if (flow.proto == kProtoTcp && (r.tcp_flags & (kTcpFin | kTcpRst))) {
    out.end_reason = kEndOfFlow;
    export_ns = r.last_ns;
  } else {
    out.end_reason = kEndIdle;
  }
  stats_.packets_sampled += r.packets;
  stats_.bytes_sampled += r.bytes;
  ++stats_.records;
  record_pool_.push(slot_at(export_ns).records, out);
}

void FlowMeter::meter_unsampled(const FlowSpec& flow) {
  ExportRecord r;
  r.src = flow.src;
  r.dst = flow.dst;
  r.src_port = flow.src_port;
  r.dst_port = flow.dst_port;
  r.proto = flow.proto;
  r.tos = flow.tos;
  r.label = flow.label;
  const double gap = flow.packets > 1 ? static_cast<double>(flow.duration_ns) /
                                            static_cast<double>(flow.packets - 1)
                                      : 0.0;
  const bool each_alone = gap > static_cast<double>(config_.inactive_timeout_ns);
  if (!each_alone && flow.duration_ns < config_.active_timeout_ns) {
    // The common case: the whole flow fits in one cache entry.
    r.first_ns = flow.start_ns;
    r.last_ns = flow.time_at(flow.packets - 1);
    r.packets = flow.packets;
    r.bytes = flow.total_bytes();
    r.tcp_flags = flow.flags_between(0, flow.packets);
    emit_record(flow, r, true);
    return;
  }
  uint64_t lo = 0;
  while (lo < flow.packets) {
    const int64_t first = flow.time_at(lo);
    uint64_t hi =
        each_alone ? lo + 1 : flow.first_index_at_or_after(first + config_.active_timeout_ns);
    hi = std::max(hi, lo + 1);
    r.first_ns = first;
    r.last_ns = flow.time_at(hi - 1);
    r.packets = hi - lo;
    r.bytes = flow.bytes_before(hi) - flow.bytes_before(lo);
    r.tcp_flags = flow.flags_between(lo, hi);
    // Split by the active timeout only when the flow carries on past it.
    emit_record(flow, r, hi == flow.packets || each_alone);
    lo = hi;
  }
}

void FlowMeter::meter_sampled(const FlowSpec& flow) {
  ExportRecord r;
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
      PacketSample s;
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
      sample_pool_.push(slot_at(t).samples, s);
      continue;
    }
    if (open && (t - r.last_ns > config_.inactive_timeout_ns ||
                 t - r.first_ns >= config_.active_timeout_ns)) {
      const bool idle = t - r.last_ns > config_.inactive_timeout_ns;
      // emit_record counts the record's packets again; undo the per-packet count for them.
      stats_.packets_sampled -= r.packets;
      stats_.bytes_sampled -= r.bytes;
      emit_record(flow, r, idle);
      open = false;
    }
    if (!open) {
      r = ExportRecord{};
      r.src = flow.src;
      r.dst = flow.dst;
      r.src_port = flow.src_port;
      r.dst_port = flow.dst_port;
      r.proto = flow.proto;
      r.tos = flow.tos;
      r.label = flow.label;
      r.first_ns = t;
      open = true;
    }
    r.last_ns = t;
    r.packets++;
    r.bytes += size;
    r.tcp_flags |= flags;
  }
  countdown_ -= flow.packets - idx;
  if (open) {
    stats_.packets_sampled -= r.packets;
    stats_.bytes_sampled -= r.bytes;
    emit_record(flow, r, true);
  }
}

}  // namespace fathom::gen
