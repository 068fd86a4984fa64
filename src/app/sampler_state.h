#pragma once

// Adaptive-sampler state in the store (docs/adaptive-sampling.md "Across restarts"): each
// tenant's keep probability and smoothed arrival rate, saved every 30 s and at exit, restored
// at start, so a restart does not send a tenant that is sampled at 1% back to 100% (and its
// flood into the queues) until the controller has measured it again. One row per tenant,
// `tenant_state (tenant id, "sampler")`, the value `transform::encode_sampler_state`.

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"
#include "store/writer.h"
#include "transform/sampler.h"

namespace fathom::app {

/// The key of `fathom run`'s sampler rows.
inline constexpr std::string_view kSamplerStateKey = "sampler";
/// `kSamplerStateKey`, or "sampler/<node>" for a collector of a cluster, where every collector
/// samples its share of a tenant with a sampler of its own: give each a stable node name
/// (host or pod name) so they do not overwrite each other's rows.
std::string sampler_state_key(std::string_view node);

/// The node name of a collector: `configured` (`collect.node_id`) when not empty, else the host
/// name (gethostname; in Kubernetes the pod name), with characters outside `A-Z a-z 0-9 _ . -`
/// replaced by '_' and cut at 64; "collector" when the host has no name.
std::string collector_node_id(std::string_view configured);

/// How old a saved state may be and still be restored: older, the tenant's traffic has
/// likely changed, and starting at p = 1 (the surge rule lowers it within a quarter
/// interval) is the better guess.
inline constexpr int64_t kSamplerStateMaxAgeNs = 3600'000'000'000;

/// Counters of sampler state moved between the sampler and the store (relaxed atomics).
struct SamplerStateCounters {
  std::atomic<uint64_t> restored{0};  ///< tenants whose state was restored at start
  std::atomic<uint64_t> stale{0};     ///< rows older than the maximum age, not restored
  std::atomic<uint64_t> corrupt{0};   ///< rows that did not decode, ignored (logged)
  std::atomic<uint64_t> skipped{0};   ///< rows of tenants not configured or without a target
  std::atomic<uint64_t> saved{0};     ///< rows handed to the writer
  std::atomic<uint64_t> refused{0};   ///< rows the writer's full queue refused (next save)
};

/// A plain copy of SamplerStateCounters.
struct SamplerStateStats {
  uint64_t restored = 0, stale = 0, corrupt = 0, skipped = 0, saved = 0, refused = 0;
};
SamplerStateStats snapshot(const SamplerStateCounters& counters);

/// The rows of `tenant_ids` under `key` in `db` (a read error is logged, that tenant skipped).
std::vector<store::StateEntry> read_sampler_states(store::Database& db,
                                                   std::span<const uint32_t> tenant_ids,
                                                   std::string_view key);

/// Restores `rows` into `sampler` (before traffic): rows saved more than `max_age_ns` before
/// `now_ns` (wall clock) count as stale; rows that do not decode as corrupt (one log line);
/// rows of tenants the sampler does not control as skipped.
void apply_sampler_states(std::span<const store::StateEntry> rows,
                          transform::AdaptiveSampler& sampler, int64_t now_ns, int64_t max_age_ns,
                          SamplerStateCounters& counters);

/// The rows to save now: every tenant the sampler controls and has measured, `updated_ns` =
/// `now_ns` (wall clock).
std::vector<store::StateEntry> sampler_state_rows(const transform::AdaptiveSampler& sampler,
                                                  int64_t now_ns, std::string_view key);

/// Hands `sampler_state_rows` to `writer` (copies into its queue only), counting each row as
/// saved or refused.
void save_sampler_state(const transform::AdaptiveSampler& sampler, store::StoreWriter& writer,
                        int64_t now_ns, std::string_view key, SamplerStateCounters& counters);

}  // namespace fathom::app
