#include "transform/enricher.h"

#include <cstring>
#include <utility>

#include "transform/geo_asn.h"
#include "transform/intel.h"
#include "transform/range_table.h"
#include "transform/tenant_networks.h"

namespace fathom::transform {
namespace {

constexpr uint32_t kEnricherFlags = flow::intel_flags::kSrcListed | flow::intel_flags::kDstListed |
                                    flow::intel_flags::kSrcInternal |
                                    flow::intel_flags::kDstInternal;

/// The geo/ASN and intel answers for one address, kept for the next record: flows of one
/// batch often repeat an end (a busy server, a scanner, a flood's target).
struct SideCache {
  flow::IpAddress address;
  GeoAsnInfo geo;
  IntelMatch intel;
  bool valid = false;
};

inline bool same_address(const flow::IpAddress& a, const flow::IpAddress& b) noexcept {
  return std::memcmp(a.bytes.data(), b.bytes.data(), a.bytes.size()) == 0;
}

inline const SideCache& look_up(const flow::IpAddress& address, const GeoAsnTable* geo,
                                const IntelSet* intel, SideCache& cache) noexcept {
  if (cache.valid && same_address(cache.address, address)) return cache;
  cache.address = address;
  cache.valid = true;
  cache.geo = geo != nullptr ? geo->find(address) : GeoAsnInfo{};
  cache.intel = intel != nullptr ? intel->find(address) : IntelMatch{};
  return cache;
}

}  // namespace

EnrichCounts& EnrichCounts::operator+=(const EnrichCounts& o) noexcept {
  records += o.records;
  geo_misses += o.geo_misses;
  asn_misses += o.asn_misses;
  intel_src += o.intel_src;
  intel_dst += o.intel_dst;
  no_networks += o.no_networks;
  return *this;
}

Enricher::Enricher() = default;
Enricher::~Enricher() = default;

void Enricher::set_tenant_networks(std::shared_ptr<const TenantNetworks> networks) {
  networks_.store(std::move(networks), std::memory_order_release);
}

void Enricher::set_geo_asn(std::shared_ptr<const GeoAsnTable> table) {
  geo_asn_.store(std::move(table), std::memory_order_release);
}

void Enricher::set_intel(std::shared_ptr<const IntelSet> intel) {
  intel_.store(std::move(intel), std::memory_order_release);
}

void Enricher::set_asn_overrides_exporter(bool on) noexcept {
  asn_overrides_exporter_.store(on, std::memory_order_relaxed);
}

std::shared_ptr<const TenantNetworks> Enricher::tenant_networks() const {
  return networks_.load(std::memory_order_acquire);
}

std::shared_ptr<const GeoAsnTable> Enricher::geo_asn() const {
  return geo_asn_.load(std::memory_order_acquire);
}

std::shared_ptr<const IntelSet> Enricher::intel() const {
  return intel_.load(std::memory_order_acquire);
}

EnrichCounts Enricher::enrich(std::span<flow::FlowRecord> records) const noexcept {
  EnrichCounts counts;
  if (records.empty()) return counts;
  // One snapshot of each source for the whole call: the batch sees one version of each, and
  // the atomic loads (a lock-bit and a reference count each) are paid once, not per record.
  const std::shared_ptr<const TenantNetworks> networks = networks_.load(std::memory_order_acquire);
  const std::shared_ptr<const GeoAsnTable> geo_asn = geo_asn_.load(std::memory_order_acquire);
  const std::shared_ptr<const IntelSet> intel_set = intel_.load(std::memory_order_acquire);
  const bool asn_override = asn_overrides_exporter_.load(std::memory_order_relaxed);
  const GeoAsnTable* geo = geo_asn.get();
  const IntelSet* intel = intel_set.get();

  // Records arrive in runs of one tenant: look its networks up once per run.
  uint32_t run_tenant = 0;
  const RangeTable* internal = nullptr;
  SideCache src_cache;
  SideCache dst_cache;

  for (flow::FlowRecord& r : records) {
    if (r.tenant_id == 0) continue;
    ++counts.records;
    if (r.tenant_id != run_tenant) {
      run_tenant = r.tenant_id;
      internal = networks != nullptr ? networks->lookup(run_tenant) : nullptr;
    }

    uint32_t flags = r.intel_flags & ~kEnricherFlags;
    bool src_internal = false;
    bool dst_internal = false;
    if (internal != nullptr) {
      src_internal = internal->find(r.src) != 0;
      dst_internal = internal->find(r.dst) != 0;
      r.direction = direction_of(src_internal, dst_internal);
      if (src_internal) flags |= flow::intel_flags::kSrcInternal;
      if (dst_internal) flags |= flow::intel_flags::kDstInternal;
    } else {
      r.direction = flow::Direction::kUnknown;
      ++counts.no_networks;
    }

    const SideCache& src = look_up(r.src, geo, intel, src_cache);
    const SideCache& dst = look_up(r.dst, geo, intel, dst_cache);
    if (geo != nullptr) {
      r.src_country = src.geo.country;
      r.dst_country = dst.geo.country;
      if (src.geo.asn != 0 && (asn_override || r.src_as == 0)) r.src_as = src.geo.asn;
      if (dst.geo.asn != 0 && (asn_override || r.dst_as == 0)) r.dst_as = dst.geo.asn;
      // Internal addresses are often private: their misses say nothing about the databases.
      if (!src_internal) {
        counts.geo_misses += src.geo.country[0] == 0 ? 1 : 0;
        counts.asn_misses += src.geo.asn == 0 ? 1 : 0;
      }
      if (!dst_internal) {
        counts.geo_misses += dst.geo.country[0] == 0 ? 1 : 0;
        counts.asn_misses += dst.geo.asn == 0 ? 1 : 0;
      }
    }
    r.src_intel = src.intel.categories;
    r.dst_intel = dst.intel.categories;
    r.src_reputation = src.intel.reputation;
    r.dst_reputation = dst.intel.reputation;
    if (src.intel.listed()) {
      flags |= flow::intel_flags::kSrcListed;
      ++counts.intel_src;
    }
    if (dst.intel.listed()) {
      flags |= flow::intel_flags::kDstListed;
      ++counts.intel_dst;
    }
    r.intel_flags = flags;
  }
  return counts;
}

}  // namespace fathom::transform
