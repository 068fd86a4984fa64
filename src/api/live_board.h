#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "analyze/tenant_summary.h"

namespace fathom::api {

/// The recent traffic of every tenant, fed by the analysis stage with each closed
/// non-overlapping first-level window (10 s by default) and read by the API: the live part of
/// `/traffic` (finer than the store's minutes, and there before the first minute is stored),
/// the tenants' current traffic, and `/top` before a minute is stored. Thread-safe: one
/// writer (the analysis control thread), any number of readers.
class LiveBoard {
 public:
  /// Slices of a point: 0 total, 1..5 by `flow::Direction`, 6..9 by protocol class.
  static constexpr size_t kSlices = 10;

  /// One window of one tenant.
  struct Point {
    int64_t start_ns = 0;
    int64_t end_ns = 0;
    std::array<analyze::TrafficSummary, kSlices> slices;
  };

  /// Keeps the latest `capacity` windows per tenant, for at most `max_tenants` tenants (the
  /// least recently updated is forgotten past it).
  explicit LiveBoard(size_t capacity = 90, size_t max_tenants = 100'000);

  /// Adds the windows (any tenants; each tenant's in time order).
  void add(std::span<const analyze::TenantSummary> windows);

  /// The tenant's windows with from_ns <= start_ns < to_ns, oldest first.
  std::vector<Point> points(uint32_t tenant_id, int64_t from_ns, int64_t to_ns) const;
  /// The tenant's latest window (with its top lists), if any.
  std::optional<analyze::TenantSummary> latest(uint32_t tenant_id) const;
  /// Start of the oldest window still kept for the tenant (INT64_MAX when none).
  int64_t oldest_ns(uint32_t tenant_id) const;
  /// Every tenant with a window kept, ascending.
  std::vector<uint32_t> tenant_ids() const;

 private:
  struct Tenant {
    std::deque<Point> ring;
    analyze::TenantSummary latest;
    uint64_t touched = 0;
  };
  const size_t capacity_;
  const size_t max_tenants_;
  mutable std::mutex mu_;
  std::map<uint32_t, Tenant> tenants_;  // guarded by mu_
  uint64_t clock_ = 0;                  // guarded by mu_
};

}  // namespace fathom::api
