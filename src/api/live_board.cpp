#include "api/live_board.h"

#include <algorithm>
#include <climits>

namespace fathom::api {

LiveBoard::LiveBoard(size_t capacity, size_t max_tenants)
    : capacity_(std::max<size_t>(capacity, 1)), max_tenants_(std::max<size_t>(max_tenants, 1)) {}

void LiveBoard::add(std::span<const analyze::TenantSummary> windows) {
  std::lock_guard lock(mu_);
  for (const analyze::TenantSummary& w : windows) {
    auto it = tenants_.find(w.tenant_id);
    if (it == tenants_.end()) {
      if (tenants_.size() >= max_tenants_) {
        auto oldest = std::min_element(tenants_.begin(), tenants_.end(), [](auto& a, auto& b) {
          return a.second.touched < b.second.touched;
        });
        tenants_.erase(oldest);
      }
      it = tenants_.try_emplace(w.tenant_id).first;
    }
    Tenant& t = it->second;
    t.touched = ++clock_;
    if (!t.ring.empty() && w.start_ns <= t.ring.back().start_ns) continue;  // a repeat
    Point p;
    p.start_ns = w.start_ns;
    p.end_ns = w.end_ns;
    p.slices[0] = w.total;
    for (size_t i = 0; i < w.by_direction.size(); ++i) p.slices[1 + i] = w.by_direction[i];
    for (size_t i = 0; i < w.by_protocol.size(); ++i) p.slices[6 + i] = w.by_protocol[i];
    t.ring.push_back(p);
    while (t.ring.size() > capacity_) t.ring.pop_front();
    t.latest = w;
  }
}

std::vector<LiveBoard::Point> LiveBoard::points(uint32_t tenant_id, int64_t from_ns,
                                                int64_t to_ns) const {
  std::vector<Point> out;
  std::lock_guard lock(mu_);
  const auto it = tenants_.find(tenant_id);
  if (it == tenants_.end()) return out;
  for (const Point& p : it->second.ring) {
    if (p.start_ns >= from_ns && p.start_ns < to_ns) out.push_back(p);
  }
  return out;
}

std::optional<analyze::TenantSummary> LiveBoard::latest(uint32_t tenant_id) const {
  std::lock_guard lock(mu_);
  const auto it = tenants_.find(tenant_id);
  if (it == tenants_.end()) return std::nullopt;
  return it->second.latest;
}

int64_t LiveBoard::oldest_ns(uint32_t tenant_id) const {
  std::lock_guard lock(mu_);
  const auto it = tenants_.find(tenant_id);
  if (it == tenants_.end() || it->second.ring.empty()) return INT64_MAX;
  return it->second.ring.front().start_ns;
}

std::vector<uint32_t> LiveBoard::tenant_ids() const {
  std::lock_guard lock(mu_);
  std::vector<uint32_t> out;
  out.reserve(tenants_.size());
  for (const auto& [id, t] : tenants_) out.push_back(id);
  return out;
}

}  // namespace fathom::api
