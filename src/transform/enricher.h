#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "flow/flow_record.h"
#include "transform/config.h"

namespace fathom::transform {

class GeoAsnTable;     // transform/geo_asn.h
class IntelSet;        // transform/intel.h
class TenantNetworks;  // transform/tenant_networks.h

/// What one `Enricher::enrich` call did, added up by the caller (no atomics in the hot path).
struct EnrichCounts {
  uint64_t records = 0;
  uint64_t geo_misses = 0;   ///< addresses (src or dst, external only) with no country
  uint64_t asn_misses = 0;   ///< addresses (src or dst, external only) with no AS number
  uint64_t intel_src = 0;    ///< records whose source is on an intel list
  uint64_t intel_dst = 0;    ///< records whose destination is on an intel list
  uint64_t no_networks = 0;  ///< records of tenants without internal networks (direction unknown)

  EnrichCounts& operator+=(const EnrichCounts& o) noexcept;
};

/// Enrichment of tenant-mapped records, all in memory: direction and "our side" from the
/// tenant's internal networks, country and ASN from the geo/ASN table, intel categories,
/// flags and reputation from the intel set. Each source is an immutable snapshot swapped in
/// atomically (`set_*`, any thread); `enrich` takes each snapshot once per call, so a batch is
/// enriched against one consistent version and readers never see half a list.
class Enricher {
 public:
  Enricher();
  ~Enricher();
  Enricher(const Enricher&) = delete;
  Enricher& operator=(const Enricher&) = delete;

  void set_tenant_networks(std::shared_ptr<const TenantNetworks> networks);
  void set_geo_asn(std::shared_ptr<const GeoAsnTable> table);
  void set_intel(std::shared_ptr<const IntelSet> intel);
  /// Whether `asn_overrides_exporter` is set (see Enrichment).
  void set_asn_overrides_exporter(bool on) noexcept;

  std::shared_ptr<const TenantNetworks> tenant_networks() const;
  std::shared_ptr<const GeoAsnTable> geo_asn() const;
  std::shared_ptr<const IntelSet> intel() const;

  /// Enriches `records` in place (any thread, concurrently with other calls and with `set_*`).
  /// Records with tenant_id 0 are left alone. Sets `direction`, `intel_flags`, countries,
  /// `src_as`/`dst_as` (see Enrichment::asn_overrides_exporter), `src_intel`/`dst_intel` and
  /// reputations. Returns what it did.
  ///
  /// Without tenant networks for the record's tenant: direction kUnknown, no internal bits, and
  /// both ends count as external for the miss counters. Without a geo/ASN table: countries and
  /// AS numbers are left as they are and no miss is counted. Without an intel set: intel
  /// categories, reputations and listed bits are cleared. No allocation, lock or virtual call
  /// per record; a one-entry cache per side skips the lookups of a repeated address.
  EnrichCounts enrich(std::span<flow::FlowRecord> records) const noexcept;

 private:
  std::atomic<std::shared_ptr<const TenantNetworks>> networks_;
  std::atomic<std::shared_ptr<const GeoAsnTable>> geo_asn_;
  std::atomic<std::shared_ptr<const IntelSet>> intel_;
  std::atomic<bool> asn_overrides_exporter_{false};
};

}  // namespace fathom::transform
