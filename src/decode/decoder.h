#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>

#include "decode/config.h"
#include "decode/decode_status.h"
#include "decode/exporter_state.h"
#include "decode/packet_context.h"
#include "flow/flow_batch.h"

namespace fathom::decode {

/// Decodes export packets of any supported protocol (NetFlow v5, v9, IPFIX, sFlow v5), chosen
/// from the payload itself, straight into a FlowBatch. Owns per-exporter state (templates,
/// sampling rates, counters). Not thread-safe: one Decoder per decoding thread, and every
/// packet of one exporter must reach the same Decoder.
class Decoder {
 public:
  explicit Decoder(Config config = {});
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  /// Decodes one UDP payload. Never throws on bad input and never reads outside `packet`.
  /// Returns kOk when the whole packet decoded; otherwise the first problem met (records
  /// decoded before it stay in `out`). Every problem is counted on the exporter's stats.
  DecodeStatus decode(std::span<const std::byte> packet, const PacketContext& ctx,
                      flow::FlowBatch& out) noexcept;

  /// Expires parked data sets older than the pending timeout (counted per exporter).
  void expire(int64_t now_ns) noexcept;

  /// Writes templates and sampling rates of every exporter to `path` (atomically: a temp file
  /// renamed over it). Returns false and sets `error` on failure.
  bool save_state(const std::string& path, std::string& error) const;
  /// The state of several decoders (one per receive thread, disjoint exporters) in one file.
  static bool save_state(const std::string& path, std::span<const Decoder* const> decoders,
                         std::string& error);
  /// Loads state written by save_state. A missing file is not an error (returns true, loads
  /// nothing); a corrupt or foreign file returns false with `error` and loads nothing. With
  /// `keep`, only exporters for which it returns true are loaded (the ones whose packets this
  /// decoder's thread receives).
  bool load_state(const std::string& path, std::string& error,
                  const std::function<bool(const flow::IpAddress&)>& keep = {});

  /// Calls `fn` for each exporter (read-only view for stats output and metrics).
  void for_each_exporter(const std::function<void(const ExporterState&)>& fn) const;
  /// Stats of packets refused because the exporter table was full.
  const ExporterStats& overflow_stats() const noexcept { return overflow_; }
  const Config& config() const noexcept { return config_; }

 private:
  ExporterState* exporter_for(const flow::IpAddress& addr) noexcept;

  Config config_;
  std::unordered_map<flow::IpAddress, ExporterState, flow::IpAddressHash> exporters_;
  /// The exporter of the previous packet: consecutive packets mostly come from one exporter, so
  /// this skips the hash lookup. Elements of `exporters_` never move and are never erased.
  ExporterState* last_exporter_ = nullptr;
  ExporterStats overflow_;
};

}  // namespace fathom::decode
