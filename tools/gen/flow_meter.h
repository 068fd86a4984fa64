#pragma once

// What a device does between the wire and its encoder: 1-in-N packet sampling, then (NetFlow/
// IPFIX) a flow cache with active and inactive timeouts, or (sFlow) one sample per selected
// packet. Output is parked in per-second export buckets until the simulation clock reaches
// the moment the device would send it.

#include <cstdint>
#include <vector>

#include "gen/chunk_pool.h"
#include "gen/export_record.h"
#include "gen/flow_spec.h"
#include "gen/rng.h"
#include "gen/scenario.h"

namespace fathom::gen {

/// Everything one exporter sends during one simulated second.
struct ExportBucket {
  std::vector<ExportRecord> records;
  std::vector<PacketSample> samples;
};

/// Counters of one meter: what it saw and what it selected.
struct MeterStats {
  uint64_t packets_seen = 0;
  uint64_t bytes_seen = 0;
  uint64_t packets_sampled = 0;
  uint64_t bytes_sampled = 0;
  uint64_t records = 0;  ///< flow records or packet samples produced
};

/// Samples and meters the flows of one exporter.
///
/// Sampling is a per-exporter countdown over the packets in the order the meter observes
/// them: random mode draws geometric gaps (each packet independently selected with
/// probability 1/N), deterministic mode selects every N-th packet after a random phase.
/// Because the countdown only needs the selected packets' indices, metering costs
/// O(selected packets) per flow, not O(packets).
class FlowMeter {
 public:
  FlowMeter(const ExporterConfig& config, uint64_t seed, int64_t sim_start_ns);

  /// Meters one flow: selected packets become records or samples in future buckets.
  void observe(const FlowSpec& flow);

  /// Moves the bucket of simulated second `second` (since the scenario start) into `out`
  /// (cleared first). Seconds must be taken in increasing order.
  void take(int64_t second, ExportBucket& out);
  /// Seconds after `second` that still hold output (0 when none).
  int64_t pending_after(int64_t second) const noexcept;

  const MeterStats& stats() const noexcept { return stats_; }
  const ExporterConfig& config() const noexcept { return config_; }

 private:
  struct Slot {
    ChunkPool<ExportRecord>::Queue records;
    ChunkPool<PacketSample>::Queue samples;
  };

  /// What a flow-cache entry has counted; the rest of its record comes from the flow.
  struct CacheEntry {
    int64_t first_ns = 0;
    int64_t last_ns = 0;
    uint64_t packets = 0;
    uint64_t bytes = 0;
    uint8_t tcp_flags = 0;
  };

  uint64_t next_gap();
  Slot& slot_at(int64_t t_ns);
  void meter_unsampled(const FlowSpec& flow);
  void meter_sampled(const FlowSpec& flow);
  /// Queues the record of `entry` for when the cache lets go of it; `ended`: the flow has no
  /// more packets for this entry (otherwise the active timeout split it).
  void emit_record(const FlowSpec& flow, const CacheEntry& entry, bool ended);

  ExporterConfig config_;
  bool is_sflow_;
  int64_t sim_start_ns_;
  Rng rng_;
  double gap_scale_;        ///< Rng::geometric_scale(sampling rate), drawn with every gap
  uint64_t countdown_ = 1;  ///< packets until the next selected one (this one = 1)
  /// Ring of per-second queues: second s lives at s % size; [base_second_, base_second_ +
  /// ring size) are addressable.
  std::vector<Slot> ring_;
  ChunkPool<ExportRecord> record_pool_;
  ChunkPool<PacketSample> sample_pool_;
  int64_t base_second_ = 0;
  int64_t max_second_ = -1;  ///< highest second holding output
  MeterStats stats_;
};

}  // namespace fathom::gen
