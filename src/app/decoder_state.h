#pragma once

// Decoder state (NetFlow v9 / IPFIX templates, sampling rates, clock bases) in the store, so a
// restarted or replacement collector decodes at once, also when several collectors share one
// PostgreSQL (docs/storage.md "Decoder state"). One row per (exporter, observation domain) under
// the reserved tenant id 0, key "decoder/<exporter address>/<domain>"; a row is replaced only
// by a copy with a later change time, so a collector that no longer hears an exporter cannot
// overwrite what the one that does hear it saved.
//
// Use, on any collector (`fathom run`, a cluster `collect` node):
//   1. at start, `read_decoder_states(db)` once and `apply_decoder_states(rows, decoder, keep)`
//      for each decoder, before it decodes;
//   2. one `DecoderStateSaver` per decoder thread: `tick` from its loop, `save_all` when it
//      stops; both only copy into the StoreWriter's queue.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "decode/decoder.h"
#include "flow/ip_address.h"
#include "store/store.h"
#include "store/writer.h"

namespace fathom::app {

/// The store tenant id of collector-owned state: 0, which no configured tenant can have
/// (`tenants[].id` is 1..4294967295) and which flow records use for "no tenant".
inline constexpr uint32_t kCollectorTenant = 0;
/// Prefix of the decoder state keys.
inline constexpr std::string_view kDecoderKeyPrefix = "decoder/";

/// "decoder/<exporter address>/<domain>": "decoder/192.0.2.1/0", "decoder/2001:db8::1/260".
std::string decoder_state_key(const flow::IpAddress& exporter, uint32_t domain);
/// Reads a key written by decoder_state_key; false for anything else (other prefix, bad
/// address, domain not a decimal 0..4294967295, trailing text).
bool parse_decoder_state_key(std::string_view key, flow::IpAddress& exporter, uint32_t& domain);

/// Counters of decoder state moved between decoders and the store (relaxed atomics: any thread
/// adds, the metrics reader loads).
struct DecoderStateCounters {
  std::atomic<uint64_t> restored{0};  ///< rows applied to a decoder at start
  std::atomic<uint64_t> older{0};     ///< rows skipped: the decoder held a later change
  std::atomic<uint64_t> corrupt{0};   ///< rows with an unparsable key or blob, ignored
  std::atomic<uint64_t> no_room{0};   ///< rows skipped: the decoder's exporter table was full
  std::atomic<uint64_t> saved{0};     ///< domain states handed to the writer
  std::atomic<uint64_t> refused{0};   ///< hand-overs the writer's full queue refused (retried)
};

/// A plain copy of DecoderStateCounters.
struct DecoderStateStats {
  uint64_t restored = 0, older = 0, corrupt = 0, no_room = 0, saved = 0, refused = 0;
};
DecoderStateStats snapshot(const DecoderStateCounters& counters);

/// Every decoder state row of the store (tenant kCollectorTenant, keys with kDecoderKeyPrefix).
store::StoreResult<std::vector<store::StateEntry>> read_decoder_states(store::Database& db);

/// Applies `rows` to `decoder`, each row's `updated_ns` as its change time, keeping only rows
/// whose exporter `keep` accepts (empty function: all). A row whose key or blob does not parse
/// is counted in `corrupt` and ignored; rows older than what the decoder holds (e.g. from its
/// state file) in `older`. Logs one summary line when anything was applied or refused. Call
/// on the decoder's thread before it decodes (a Decoder is not thread-safe).
void apply_decoder_states(std::span<const store::StateEntry> rows, decode::Decoder& decoder,
                          const std::function<bool(const flow::IpAddress&)>& keep,
                          DecoderStateCounters& counters);

/// Saves one decoder's state changes through a StoreWriter, from that decoder's own thread
/// (it reads the decoder). `tick` is cheap enough for every loop iteration: it reads a clock
/// and compares, and serialises only the domains that changed. Nothing here does I/O: the
/// writer's thread does. A hand-over the writer refuses (queue full) is kept, replaced by any
/// newer state of the same domain, and tried again at the next check.
class DecoderStateSaver {
 public:
  struct Options {
    /// How often changed domains are looked for: a new template reaches the writer within
    /// about this long.
    int64_t check_interval_ns = 1'000'000'000;
    /// How often every domain is handed over again, unchanged ones included: repairs rows the
    /// store lost (spool over budget, a restored backup). Rows carry their change time, so a
    /// full save never overwrites a later change another collector saved.
    int64_t full_interval_ns = 300'000'000'000;
  };

  /// `writer` and `counters` must outlive the saver.
  DecoderStateSaver(store::StoreWriter& writer, DecoderStateCounters& counters, Options options);
  DecoderStateSaver(store::StoreWriter& writer, DecoderStateCounters& counters)
      : DecoderStateSaver(writer, counters, Options{}) {}

  /// Call often from the decoder's thread with a monotonic clock.
  void tick(decode::Decoder& decoder, int64_t monotonic_ns);
  /// Hands over every domain (and what was refused before): at stop, on the decoder's thread
  /// or after it stopped, before the writer is flushed.
  void save_all(decode::Decoder& decoder);
  /// Domain states waiting for room in the writer's queue.
  size_t pending() const noexcept { return pending_.size(); }

 private:
  void queue(std::vector<decode::DomainState>& states);
  void submit_pending();

  store::StoreWriter& writer_;
  DecoderStateCounters& counters_;
  const Options options_;
  int64_t next_check_ns_ = 0;
  int64_t next_full_ns_ = 0;
  std::vector<decode::DomainState> scratch_;
  std::map<std::string, store::StateEntry> pending_;  ///< by key: refused, to retry
};

}  // namespace fathom::app
