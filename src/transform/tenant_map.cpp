#include "transform/tenant_map.h"

#include <algorithm>

namespace fathom::transform {
namespace {

/// `a + 1`; false when `a` is the highest address (nothing follows it).
bool next_address(flow::IpAddress& a) noexcept {
  for (size_t byte_idx = 16; byte_idx-- > 0;) {
    if (++a.bytes[byte_idx] != 0) return true;
  }
  return false;
}

}  // namespace

TenantMap::TenantMap(const std::vector<ExporterRule>& rules, uint32_t fallback_tenant)
    : fallback_tenant_(fallback_tenant) {
  if (rules.empty()) return;
  rules_.reserve(rules.size());
  starts_.push_back(flow::IpAddress{});
  for (const ExporterRule& rule : rules) {
    std::vector<uint32_t> domains = rule.observation_domains;
    std::sort(domains.begin(), domains.end());
    domains.erase(std::unique(domains.begin(), domains.end()), domains.end());
    Rule r;
    r.tenant_id = rule.tenant_id;
    r.domain_begin = static_cast<uint32_t>(domains_.size());
    domains_.insert(domains_.end(), domains.begin(), domains.end());
    r.domain_end = static_cast<uint32_t>(domains_.size());
    rules_.push_back(r);
    starts_.push_back(rule.prefix.address);
    flow::IpAddress after = rule.prefix.last();
    if (next_address(after)) starts_.push_back(after);
  }
  std::sort(starts_.begin(), starts_.end());
  starts_.erase(std::unique(starts_.begin(), starts_.end()), starts_.end());

  // Every rule boundary is an interval start, so a rule covers whole intervals: those from its
  // first address up to (not including) the one after its last address.
  std::vector<std::vector<uint32_t>> covering(starts_.size());
  for (uint32_t rule_idx = 0; rule_idx < rules.size(); ++rule_idx) {
    const IpPrefix& prefix = rules[rule_idx].prefix;
    const auto first = std::lower_bound(starts_.begin(), starts_.end(), prefix.address);
    flow::IpAddress after = prefix.last();
    const auto end =
        next_address(after) ? std::lower_bound(first, starts_.end(), after) : starts_.end();
    for (auto it = first; it != end; ++it) {
      covering[static_cast<size_t>(it - starts_.begin())].push_back(rule_idx);
    }
  }
  offsets_.reserve(starts_.size() + 1);
  for (std::vector<uint32_t>& list : covering) {
    std::stable_sort(list.begin(), list.end(), [&](uint32_t a, uint32_t b) {
      return rules[a].prefix.length > rules[b].prefix.length;
    });
    offsets_.push_back(static_cast<uint32_t>(candidates_.size()));
    candidates_.insert(candidates_.end(), list.begin(), list.end());
  }
  offsets_.push_back(static_cast<uint32_t>(candidates_.size()));
}

TenantMap TenantMap::from_config(const Config& config) {
  std::vector<ExporterRule> rules;
  for (const Tenant& tenant : config.tenants) {
    for (const ExporterMatch& exporter : tenant.exporters) {
      rules.push_back({exporter.prefix, exporter.observation_domains, tenant.id});
    }
  }
  const uint32_t fallback =
      config.unknown_exporters == UnknownExporters::kDefault ? config.default_tenant_id : 0;
  return TenantMap(rules, fallback);
}

uint32_t TenantMap::lookup(const flow::IpAddress& exporter,
                           uint32_t observation_domain) const noexcept {
  if (starts_.empty()) return 0;
  // starts_[0] is ::, so upper_bound never returns begin().
  const size_t interval =
      static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), exporter) -
                          starts_.begin()) -
      1;
  for (uint32_t idx = offsets_[interval]; idx < offsets_[interval + 1]; ++idx) {
    const Rule& rule = rules_[candidates_[idx]];
    if (rule.domain_begin == rule.domain_end ||
        std::binary_search(domains_.begin() + rule.domain_begin, domains_.begin() + rule.domain_end,
                           observation_domain)) {
      return rule.tenant_id;
    }
  }
  return 0;
}

}  // namespace fathom::transform
