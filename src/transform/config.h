#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "transform/ip_prefix.h"

namespace fathom::transform {

/// One exporter entry of a tenant: an address block and, optionally, the observation domains
/// (NetFlow v9 source id, IPFIX observation domain, sFlow sub-agent) it is limited to.
struct ExporterMatch {
  IpPrefix prefix;
  /// Sorted, no duplicates; empty = every domain.
  std::vector<uint32_t> observation_domains;
};

/// A customer network. Validated at load: `id` > 0 and unique, `name` unique, and no exporter
/// block overlaps another tenant's unless both list disjoint observation domains.
struct Tenant {
  uint32_t id = 0;   ///< > 0; 0 means "no tenant" in FlowRecord::tenant_id
  std::string name;  ///< [A-Za-z0-9_.-], used in metrics labels and the API
  std::vector<ExporterMatch> exporters;
  /// The tenant's own address space: decides inbound/outbound/internal/transit.
  std::vector<IpPrefix> internal_networks;
  /// Records/s the adaptive sampler aims at for this tenant; 0 = no limit.
  double target_ingest_rate = 0.0;
  /// Free-form detector thresholds (name → value), interpreted by later stages.
  std::map<std::string, double> thresholds;
};

/// What happens to records from an exporter that matches no tenant.
enum class UnknownExporters : uint8_t {
  kReject = 0,   ///< counted and dropped: the allowlist against spoofed UDP
  kDefault = 1,  ///< put in the default tenant (demos, labs)
};

/// Settings of the transform stage: the tenant table and the unknown-exporter policy.
struct Config {
  std::vector<Tenant> tenants;
  UnknownExporters unknown_exporters = UnknownExporters::kReject;
  /// Tenant that receives unknown exporters under `kDefault`; must not clash with a tenant.
  uint32_t default_tenant_id = 65535;
  std::string default_tenant_name = "default";
};

}  // namespace fathom::transform
