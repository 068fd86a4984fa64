#include "transform/tenant_networks.h"

#include <algorithm>

namespace fathom::transform {

TenantNetworks::TenantNetworks(const std::vector<Tenant>& tenants) {
  std::vector<size_t> order;
  for (size_t tenant_idx = 0; tenant_idx < tenants.size(); ++tenant_idx) {
    if (!tenants[tenant_idx].internal_networks.empty()) order.push_back(tenant_idx);
  }
  // Config validation makes ids unique; should one repeat anyway, the first tenant keeps it.
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return tenants[a].id < tenants[b].id; });
  for (const size_t tenant_idx : order) {
    const Tenant& tenant = tenants[tenant_idx];
    if (!ids_.empty() && ids_.back() == tenant.id) continue;
    std::vector<PrefixValue> prefixes;
    prefixes.reserve(tenant.internal_networks.size());
    for (const IpPrefix& prefix : tenant.internal_networks) prefixes.push_back({prefix, 1});
    const std::vector<AddressRange> ranges =
        flatten_prefixes(std::move(prefixes), [](std::span<const uint32_t>) { return 1u; });
    RangeTable table;
    if (!RangeTable::from_sorted(ranges, table)) continue;  // cannot happen: flatten's output
    ids_.push_back(tenant.id);
    tables_.push_back(std::move(table));
  }
}

const RangeTable* TenantNetworks::lookup(uint32_t tenant_id) const noexcept {
  const auto it = std::lower_bound(ids_.begin(), ids_.end(), tenant_id);
  if (it == ids_.end() || *it != tenant_id) return nullptr;
  return &tables_[static_cast<size_t>(it - ids_.begin())];
}

size_t TenantNetworks::memory_bytes() const noexcept {
  size_t bytes = ids_.capacity() * sizeof(uint32_t) + tables_.capacity() * sizeof(RangeTable);
  for (const RangeTable& table : tables_) bytes += table.memory_bytes();
  return bytes;
}

}  // namespace fathom::transform
