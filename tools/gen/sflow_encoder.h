#pragma once

#include <array>
#include <span>

#include "gen/byte_writer.h"
#include "gen/encoder.h"
#include "gen/export_record.h"
#include "gen/scenario.h"

namespace fathom::gen {

/// Writes sFlow v5 datagrams of flow samples (enterprise 0, format 1), each with one raw
/// packet header record (Ethernet + IP + L4, truncated to `sflow_header_bytes`). The sampling
/// rate, the running sample pool and sequence numbers are in each sample, as the sFlow v5
/// specification places them; the agent address is the exporter address and the sub-agent id
/// the observation domain.
/// What an sFlow agent's interface counters say: the traffic its sampler saw (unsampled), in
/// on the input interface and out on the output interface.
struct InterfaceTotals {
  uint64_t packets = 0;
  uint64_t l3_bytes = 0;
};

class SflowEncoder {
 public:
  SflowEncoder(const ExporterConfig& config, int64_t boot_ns);

  void encode(std::span<const PacketSample> samples, int64_t export_ns, const EmitFn& emit);
  /// Writes one datagram with two counter samples (sFlow v5 §5, compact format): generic
  /// interface counters of the input interface (`totals` in) and of the output interface
  /// (`totals` out). Octets count Ethernet framing (14-byte header + 4-byte FCS per packet, as
  /// ifInOctets does); 32-bit packet counters wrap.
  void encode_counters(const InterfaceTotals& totals, int64_t export_ns, const EmitFn& emit);
  /// Counter samples written so far.
  uint64_t counter_samples() const noexcept { return counter_samples_; }
  const EncoderStats& stats() const noexcept { return stats_; }
  /// Packets the sampler has seen so far (the sample pool of the last sample written).
  uint32_t sample_pool() const noexcept { return sample_pool_; }

 private:
  void begin(int64_t export_ns);
  void flush(const EmitFn& emit);
  void write_counter_sample(uint32_t if_index, const InterfaceTotals& in,
                            const InterfaceTotals& out);

  ExporterConfig config_;
  int64_t boot_ns_;
  uint32_t datagram_sequence_ = 0;
  uint32_t sample_sequence_ = 0;
  uint32_t sample_pool_ = 0;
  uint16_t ip_id_ = 0;
  uint32_t samples_in_datagram_ = 0;
  uint32_t counters_in_datagram_ = 0;           ///< of samples_in_datagram_: not flow records
  std::array<uint32_t, 2> counter_sequence_{};  ///< per data source (input, output ifIndex)
  uint64_t counter_samples_ = 0;
  size_t count_offset_ = 0;
  ByteWriter out_;
  ByteWriter header_;
  EncoderStats stats_;
};

}  // namespace fathom::gen
