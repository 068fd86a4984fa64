#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "flow/flow_record.h"
#include "transform/config.h"
#include "transform/range_table.h"

namespace fathom::transform {

/// The direction of a flow from which of its ends are inside the tenant's internal networks:
/// both → kInternal, source only → kOutbound, destination only → kInbound, neither → kTransit.
constexpr flow::Direction direction_of(bool src_internal, bool dst_internal) noexcept {
  if (src_internal) return dst_internal ? flow::Direction::kInternal : flow::Direction::kOutbound;
  return dst_internal ? flow::Direction::kInbound : flow::Direction::kTransit;
}

/// Every tenant's internal networks (`Tenant::internal_networks`), each as a small RangeTable,
/// found by tenant id. Immutable once built; replaced as a whole on a config reload.
class TenantNetworks {
 public:
  TenantNetworks() = default;  ///< no tenant has networks
  /// From the tenants' `internal_networks` (nested or repeated blocks are fine). Tenants
  /// without networks are left out: `lookup` returns null for them.
  explicit TenantNetworks(const std::vector<Tenant>& tenants);

  static std::shared_ptr<const TenantNetworks> from_config(const Config& config) {
    return std::make_shared<const TenantNetworks>(config.tenants);
  }

  /// The internal networks of `tenant_id` (`find` != 0 means internal), or null when the
  /// tenant is unknown or has none. Binary search over the tenant ids: O(log tenants).
  const RangeTable* lookup(uint32_t tenant_id) const noexcept;

  /// Tenants with internal networks.
  size_t tenant_count() const noexcept { return ids_.size(); }
  /// Heap bytes held.
  size_t memory_bytes() const noexcept;

 private:
  std::vector<uint32_t> ids_;       ///< ascending
  std::vector<RangeTable> tables_;  ///< tables_[i] belongs to ids_[i]
};

}  // namespace fathom::transform
