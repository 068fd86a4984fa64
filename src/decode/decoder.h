#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "decode/config.h"
#include "decode/decode_status.h"
#include "decode/exporter_state.h"
#include "decode/packet_context.h"
#include "flow/flow_batch.h"

namespace fathom::decode {

/// The template and sampling-rate state of one observation domain of one exporter (the
/// NetFlow v9 source id or IPFIX observation domain id): the unit the store keeps, so that
/// collectors that each hear some of an exporter's domains never overwrite each other's.
struct DomainState {
  flow::IpAddress exporter;
  uint32_t domain = 0;
  /// Arrival time of the packet that last changed this state (a template new, changed or
  /// withdrawn; a different sampling rate or clock base); 0 when unknown. Decides which of
  /// two copies is newer.
  int64_t changed_ns = 0;
  std::vector<std::byte> blob;  ///< opaque; read back by `Decoder::apply_domain_state`
};

/// Outcome of `Decoder::apply_domain_state`.
enum class ApplyStatus : uint8_t {
  kApplied,  ///< the domain's state was replaced by the blob's
  kOlder,    ///< the decoder holds a later change of that domain: kept, blob ignored
  kCorrupt,  ///< the blob is truncated, of an unknown version, or holds another domain
  kNoRoom,   ///< the exporter table is full (`max_exporters`)
};

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
  /// decoder's thread receives). The file's modification time becomes the change time of
  /// every domain loaded (`DomainState::changed_ns`).
  bool load_state(const std::string& path, std::string& error,
                  const std::function<bool(const flow::IpAddress&)>& keep = {});

  /// Appends the state of every (exporter, domain) changed since the previous call and clears
  /// their marks. Cheap when nothing changed (one pass over the exporters). Call on the
  /// decoder's own thread; hand the blobs to another thread for I/O.
  void take_changed_domains(std::vector<DomainState>& out);
  /// Appends the state of every (exporter, domain) that holds any; marks stay as they are.
  void all_domains(std::vector<DomainState>& out) const;
  /// Replaces one domain's templates, sampling rates and clock base by those in `blob` (from
  /// `take_changed_domains` or `all_domains`, possibly of another decoder or process) unless
  /// this decoder saw a change of that domain later than `changed_ns` (a template that
  /// arrived after the blob was saved wins). Never throws on bad input: a malformed blob
  /// changes nothing and returns kCorrupt. Parked data sets are not re-run.
  ApplyStatus apply_domain_state(const flow::IpAddress& exporter, uint32_t domain,
                                 std::span<const std::byte> blob, int64_t changed_ns);

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
