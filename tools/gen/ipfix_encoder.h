#pragma once

#include <span>

#include "gen/byte_writer.h"
#include "gen/encoder.h"
#include "gen/export_record.h"
#include "gen/scenario.h"

namespace fathom::gen {

/// Writes IPFIX messages (RFC 7011): IPv4 and IPv6 data templates with absolute millisecond
/// times (IEs 152/153), and an options template scoped to the metering process whose record
/// announces the sampling (RFC 5477: systematic count-based as samplingPacketInterval/Space,
/// random n-out-of-N as samplingSize/Population). Templates and the options record go in the
/// first message and again every `template_refresh_packets` messages.
class IpfixEncoder {
 public:
  explicit IpfixEncoder(const ExporterConfig& config);

  void encode(std::span<const ExportRecord> records, int64_t export_ns, const EmitFn& emit);
  const EncoderStats& stats() const noexcept { return stats_; }

 private:
  void begin(int64_t export_ns);
  void write_templates();
  void open_set(uint16_t id);
  void close_set();
  void flush(const EmitFn& emit);
  /// Writes the leading records of `records` that share the family `kV4`, flushing messages as
  /// they fill; returns how many it wrote.
  template <bool kV4>
  size_t encode_run(std::span<const ExportRecord> records, int64_t export_ns, const EmitFn& emit);

  ExporterConfig config_;
  uint32_t sequence_ = 0;  ///< data records sent before the current message (RFC 7011 §3.1)
  uint32_t since_templates_ = 0;
  bool templates_sent_ = false;
  uint32_t message_data_records_ = 0;  ///< data records (incl. options data) in this message
  uint32_t flow_records_ = 0;          ///< flow records in this message
  size_t set_start_ = 0;
  uint16_t set_id_ = 0;
  ByteWriter out_;
  EncoderStats stats_;
};

}  // namespace fathom::gen
