#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "flow/flow_record.h"
#include "flow/ip_address.h"
#include "transform/config.h"
#include "transform/range_table.h"

namespace fathom::transform {

/// The de-duplication decision for the records of one (tenant, exporter) pair, resolved once
/// per packet by `DedupTable::lookup` and applied per record. Borrows the table it came from:
/// valid while that table lives.
class DedupFilter {
 public:
  /// Counts everything (no rule).
  DedupFilter() = default;
  DedupFilter(DedupRule::Count count, std::span<const uint32_t> input_interfaces) noexcept
      : count_(count), interfaces_(input_interfaces) {}

  /// What the rule counts; kAll when no rule applies.
  DedupRule::Count count() const noexcept { return count_; }
  /// True when every record counts, so the per-record test can be skipped.
  bool counts_all() const noexcept { return count_ == DedupRule::Count::kAll; }

  /// True when `r` counts towards traffic estimates under this rule:
  /// kAll every record; kNone none; kIngress `exporter_direction` 0 or 0xff (unknown: an
  /// exporter without IE 61 is taken to report ingress); kEgress `exporter_direction` 1;
  /// kInterfaces `input_if` in the rule's list. Unknown Count values count everything.
  bool counts(const flow::FlowRecord& r) const noexcept;

  /// Sets `record_flags::kNotCounted` on each record that does not count (and never clears
  /// it). Returns how many records it flagged.
  size_t apply(std::span<flow::FlowRecord> records) const noexcept;

 private:
  DedupRule::Count count_ = DedupRule::Count::kAll;
  std::span<const uint32_t> interfaces_;  ///< sorted, unique
};

/// Every tenant's de-dup rules (`Tenant::dedup`) compiled for lookup: per tenant, the exporter
/// blocks flattened into a RangeTable, so finding the most specific rule for an exporter is
/// one binary search, with no allocation or lock. Immutable once built; share it between
/// threads (swap a new one in on reload).
class DedupTable {
 public:
  /// No rules: every lookup counts everything.
  DedupTable() = default;
  /// The rules of every tenant in `tenants`. Within a tenant the most specific exporter block
  /// wins (longest prefix); on two rules for the same block (the loader refuses them) the
  /// first listed wins. Each rule's `input_interfaces` are sorted and de-duplicated here.
  explicit DedupTable(std::span<const Tenant> tenants);
  /// `DedupTable(config.tenants)`.
  static DedupTable from_config(const Config& config) { return DedupTable(config.tenants); }

  /// The filter for records of `tenant_id` exported by `exporter`: the tenant's most specific
  /// rule whose block holds `exporter`, or count-everything when none does (or the tenant has
  /// no rules). O(log tenants + log rules); call once per packet.
  DedupFilter lookup(uint32_t tenant_id, const flow::IpAddress& exporter) const noexcept;

  bool empty() const noexcept { return rules_.empty(); }
  size_t rule_count() const noexcept { return rules_.size(); }

 private:
  struct Rule {
    DedupRule::Count count = DedupRule::Count::kAll;
    uint8_t length = 0;            ///< prefix length in the 128-bit space (specificity)
    uint32_t interface_begin = 0;  ///< [begin, end) in interfaces_
    uint32_t interface_end = 0;
  };

  std::vector<uint32_t> tenant_ids_;   ///< sorted; tenants with at least one rule
  std::vector<RangeTable> exporters_;  ///< per tenant: exporter -> global rule index + 1
  std::vector<Rule> rules_;
  std::vector<uint32_t> interfaces_;
};

}  // namespace fathom::transform
