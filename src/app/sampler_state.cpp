#include "app/sampler_state.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "app/logging.h"
#include "transform/sampler_state.h"

namespace fathom::app {

std::string sampler_state_key(std::string_view node) {
  std::string key(kSamplerStateKey);
  if (!node.empty()) {
    key += '/';
    key += node;
  }
  return key;
}

std::string collector_node_id(std::string_view configured) {
  if (!configured.empty()) return std::string(configured);
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0 || host[0] == '\0') return "collector";
  std::string node(host.data(), std::min<size_t>(std::strlen(host.data()), 64));
  for (char& c : node) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) c = '_';
  }
  return node;
}

SamplerStateStats snapshot(const SamplerStateCounters& c) {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  return {c.restored.load(kRelaxed), c.stale.load(kRelaxed), c.corrupt.load(kRelaxed),
          c.skipped.load(kRelaxed),  c.saved.load(kRelaxed), c.refused.load(kRelaxed)};
}

std::vector<store::StateEntry> read_sampler_states(store::Database& db,
                                                   std::span<const uint32_t> tenant_ids,
                                                   std::string_view key) {
  std::vector<store::StateEntry> out;
  for (const uint32_t id : tenant_ids) {
    auto [status, value] = db.get_state(id, key);
    if (!status.ok) {
      logger("store")->warn("store: reading tenant {}'s sampler state: {}", id, status.error);
      continue;
    }
    if (!value) continue;
    store::StateEntry& row = out.emplace_back();
    row.tenant_id = id;
    row.key = std::string(key);
    row.value = std::move(*value);
  }
  return out;
}

void apply_sampler_states(std::span<const store::StateEntry> rows,
                          transform::AdaptiveSampler& sampler, int64_t now_ns, int64_t max_age_ns,
                          SamplerStateCounters& counters) {
  uint64_t restored = 0, stale = 0, corrupt = 0, skipped = 0;
  uint32_t first_corrupt = 0;
  for (const store::StateEntry& row : rows) {
    transform::SamplerTenantState state;
    int64_t saved_ns = 0;
    if (!transform::decode_sampler_state(row.value, state, saved_ns)) {
      if (corrupt++ == 0) first_corrupt = row.tenant_id;
      continue;
    }
    state.tenant_id = row.tenant_id;
    if (saved_ns > now_ns || now_ns - saved_ns > max_age_ns) {
      ++stale;  // a clock from the future is no better than an old one
    } else if (sampler.restore_state(state)) {
      ++restored;
    } else {
      ++skipped;
    }
  }
  counters.restored.fetch_add(restored, std::memory_order_relaxed);
  counters.stale.fetch_add(stale, std::memory_order_relaxed);
  counters.corrupt.fetch_add(corrupt, std::memory_order_relaxed);
  counters.skipped.fetch_add(skipped, std::memory_order_relaxed);
  if (corrupt > 0) {
    logger("store")->warn(
        "sampler state: {} stored tenant state(s) ignored as corrupt (first: tenant {}); those "
        "tenants start at keep probability 1",
        corrupt, first_corrupt);
  }
  if (restored + stale > 0) {
    logger("store")->info("sampler state: restored for {} tenant(s), {} too old to use", restored,
                          stale);
  }
}

std::vector<store::StateEntry> sampler_state_rows(const transform::AdaptiveSampler& sampler,
                                                  int64_t now_ns, std::string_view key) {
  std::vector<store::StateEntry> rows;
  for (const transform::SamplerTenantState& state : sampler.export_state()) {
    store::StateEntry& row = rows.emplace_back();
    row.tenant_id = state.tenant_id;
    row.key = std::string(key);
    row.value = transform::encode_sampler_state(state, now_ns);
    row.updated_ns = now_ns;
  }
  return rows;
}

void save_sampler_state(const transform::AdaptiveSampler& sampler, store::StoreWriter& writer,
                        int64_t now_ns, std::string_view key, SamplerStateCounters& counters) {
  for (store::StateEntry& row : sampler_state_rows(sampler, now_ns, key)) {
    if (writer.submit_state(std::move(row))) {
      counters.saved.fetch_add(1, std::memory_order_relaxed);
    } else {
      counters.refused.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace fathom::app
