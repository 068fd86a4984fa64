#include "transform/dedup.h"

#include <algorithm>

namespace fathom::transform {

bool DedupFilter::counts(const flow::FlowRecord& r) const noexcept {
  switch (count_) {
    case DedupRule::Count::kAll: return true;
    case DedupRule::Count::kNone: return false;
    case DedupRule::Count::kIngress:
      return r.exporter_direction == 0 || r.exporter_direction == 0xff;
    case DedupRule::Count::kEgress: return r.exporter_direction == 1;
    case DedupRule::Count::kInterfaces:
      return std::binary_search(interfaces_.begin(), interfaces_.end(), r.input_if);
  }
  return true;
}

size_t DedupFilter::apply(std::span<flow::FlowRecord> records) const noexcept {
  if (counts_all()) return 0;
  size_t flagged = 0;
  for (flow::FlowRecord& r : records) {
    if (counts(r)) continue;
    r.flags |= flow::record_flags::kNotCounted;
    ++flagged;
  }
  return flagged;
}

DedupTable::DedupTable(std::span<const Tenant> tenants) {
  std::vector<const Tenant*> with_rules;
  for (const Tenant& t : tenants) {
    if (!t.dedup.empty()) with_rules.push_back(&t);
  }
  // By id; a duplicate id (the loader refuses them) keeps the first listed tenant's rules.
  std::stable_sort(with_rules.begin(), with_rules.end(),
                   [](const Tenant* a, const Tenant* b) { return a->id < b->id; });
  for (const Tenant* t : with_rules) {
    if (!tenant_ids_.empty() && tenant_ids_.back() == t->id) continue;
    std::vector<PrefixValue> prefixes;
    prefixes.reserve(t->dedup.size());
    for (const DedupRule& rule : t->dedup) {
      Rule r;
      r.count = rule.count;
      r.length = rule.exporter.length;
      r.interface_begin = static_cast<uint32_t>(interfaces_.size());
      std::vector<uint32_t> ifs = rule.input_interfaces;
      std::sort(ifs.begin(), ifs.end());
      ifs.erase(std::unique(ifs.begin(), ifs.end()), ifs.end());
      interfaces_.insert(interfaces_.end(), ifs.begin(), ifs.end());
      r.interface_end = static_cast<uint32_t>(interfaces_.size());
      rules_.push_back(r);
      prefixes.push_back({rule.exporter, static_cast<uint32_t>(rules_.size())});  // index + 1
    }
    // Each elementary range takes the longest covering block; equal blocks: the first listed
    // (lowest value).
    const std::vector<AddressRange> ranges =
        flatten_prefixes(std::move(prefixes), [&](std::span<const uint32_t> covering) {
          uint32_t best = 0;
          for (const uint32_t value : covering) {
            if (best == 0 || rules_[value - 1].length > rules_[best - 1].length ||
                (rules_[value - 1].length == rules_[best - 1].length && value < best)) {
              best = value;
            }
          }
          return best;
        });
    RangeTable table;
    // flatten_prefixes produces what from_sorted accepts; were it ever refused, the tenant
    // would count everything, which is what having no rule means.
    RangeTable::from_sorted(ranges, table);
    tenant_ids_.push_back(t->id);
    exporters_.push_back(std::move(table));
  }
}

DedupFilter DedupTable::lookup(uint32_t tenant_id, const flow::IpAddress& exporter) const noexcept {
  const auto it = std::lower_bound(tenant_ids_.begin(), tenant_ids_.end(), tenant_id);
  if (it == tenant_ids_.end() || *it != tenant_id) return {};
  const uint32_t value = exporters_[static_cast<size_t>(it - tenant_ids_.begin())].find(exporter);
  if (value == 0) return {};
  const Rule& rule = rules_[value - 1];
  return DedupFilter(rule.count,
                     std::span<const uint32_t>(interfaces_.data() + rule.interface_begin,
                                               rule.interface_end - rule.interface_begin));
}

}  // namespace fathom::transform
