#pragma once

#include <span>

#include "gen/byte_writer.h"
#include "gen/encoder.h"
#include "gen/export_record.h"
#include "gen/scenario.h"

namespace fathom::gen {

/// Writes NetFlow v9 datagrams (RFC 3954): one IPv4 and one IPv6 data template, and an options
/// template whose record announces the sampling interval and algorithm (IEs 34/35, scoped to
/// interface 0, as softflowd does). Templates and the options record go in the first datagram
/// and again every `template_refresh_packets` datagrams.
class NetflowV9Encoder {
 public:
  NetflowV9Encoder(const ExporterConfig& config, int64_t boot_ns);

  void encode(std::span<const ExportRecord> records, int64_t export_ns, const EmitFn& emit);
  const EncoderStats& stats() const noexcept { return stats_; }

 private:
  void begin(int64_t export_ns);
  void write_templates();
  void open_flowset(uint16_t id);
  void close_flowset();
  void flush(const EmitFn& emit);

  ExporterConfig config_;
  int64_t boot_ns_;
  uint32_t packet_sequence_ = 0;
  uint32_t since_templates_ = 0;  ///< datagrams since templates were last sent
  bool templates_sent_ = false;
  uint16_t count_ = 0;         ///< records (all kinds) in the current datagram
  uint16_t data_records_ = 0;  ///< flow records in the current datagram
  size_t flowset_start_ = 0;
  uint16_t flowset_id_ = 0;  ///< 0xffff = none open
  ByteWriter out_;
  EncoderStats stats_;
};

}  // namespace fathom::gen
