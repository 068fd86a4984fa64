#pragma once

#include <span>

#include "gen/byte_writer.h"
#include "gen/encoder.h"
#include "gen/export_record.h"
#include "gen/scenario.h"

namespace fathom::gen {

/// Writes NetFlow v5 datagrams (24-byte header, up to 30 48-byte records). The sampling rate
/// and mode go in the header's sampling_interval (2 bits mode, 14 bits interval). IPv4 only:
/// IPv6 records are counted in `skipped_v6()` and not written (v5 cannot carry them).
class NetflowV5Encoder {
 public:
  NetflowV5Encoder(const ExporterConfig& config, int64_t boot_ns);

  /// Encodes `records` into as many datagrams as needed, all stamped `export_ns`.
  void encode(std::span<const ExportRecord> records, int64_t export_ns, const EmitFn& emit);

  const EncoderStats& stats() const noexcept { return stats_; }
  uint64_t skipped_v6() const noexcept { return skipped_v6_; }

 private:
  void flush(int64_t export_ns, uint16_t count, const EmitFn& emit);

  ExporterConfig config_;
  int64_t boot_ns_;
  uint32_t flow_sequence_ = 0;  ///< flows exported before this datagram
  uint64_t skipped_v6_ = 0;
  ByteWriter out_;
  EncoderStats stats_;
};

}  // namespace fathom::gen
