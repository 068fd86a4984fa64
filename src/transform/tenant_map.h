#pragma once

#include <cstdint>
#include <vector>

#include "flow/ip_address.h"
#include "transform/config.h"
#include "transform/ip_prefix.h"

namespace fathom::transform {

/// One rule of a TenantMap: exporters in `prefix` (and, if `observation_domains` is not empty,
/// only those domains) belong to `tenant_id`.
struct ExporterRule {
  IpPrefix prefix;
  std::vector<uint32_t> observation_domains;  ///< any order; empty = every domain
  uint32_t tenant_id = 0;
};

/// Exporter → tenant lookup, built once per config (immutable afterwards, so one instance can
/// be shared by every transform thread). The most specific rule that matches both the
/// exporter address and its observation domain wins (longest prefix, then domain filter,
/// falling back to shorter prefixes; the rule listed first on an exact tie).
///
/// Built as a partition of the address space into intervals at every rule boundary; each
/// interval keeps the rules covering it, most specific first. A lookup is one binary search
/// over the interval starts plus a scan of that short list (its length is the nesting depth
/// at that address): O(log n), no allocation, no lock.
class TenantMap {
 public:
  TenantMap() = default;
  /// `fallback_tenant` is what `resolve` returns when no rule matches (0: reject).
  explicit TenantMap(const std::vector<ExporterRule>& rules, uint32_t fallback_tenant = 0);

  /// The rules of every tenant in `config`, with its unknown-exporter policy as fallback.
  static TenantMap from_config(const Config& config);

  /// Tenant id of the most specific matching rule, or 0 when none matches.
  uint32_t lookup(const flow::IpAddress& exporter, uint32_t observation_domain) const noexcept;

  /// `lookup`, or the fallback tenant (0 when unknown exporters are rejected).
  uint32_t resolve(const flow::IpAddress& exporter, uint32_t observation_domain) const noexcept {
    const uint32_t id = lookup(exporter, observation_domain);
    return id != 0 ? id : fallback_tenant_;
  }

  /// What `resolve` returns for an exporter no rule matches (0: rejected).
  uint32_t fallback_tenant() const noexcept { return fallback_tenant_; }
  size_t rule_count() const noexcept { return rules_.size(); }
  size_t interval_count() const noexcept { return starts_.size(); }

 private:
  struct Rule {
    uint32_t tenant_id = 0;
    uint32_t domain_begin = 0;  ///< [domain_begin, domain_end) in domains_; empty = any
    uint32_t domain_end = 0;
  };

  std::vector<flow::IpAddress> starts_;  ///< sorted interval starts; starts_[0] is ::
  std::vector<uint32_t> offsets_;        ///< interval i's rules: candidates_[offsets_[i], [i+1])
  std::vector<uint32_t> candidates_;     ///< rule indexes, longest prefix first
  std::vector<Rule> rules_;
  std::vector<uint32_t> domains_;  ///< each rule's domains, sorted
  uint32_t fallback_tenant_ = 0;
};

}  // namespace fathom::transform
