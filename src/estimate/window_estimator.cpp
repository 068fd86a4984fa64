#include "estimate/window_estimator.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "estimate/detail/flat_table.h"

namespace fathom::estimate {
namespace {

constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();

int64_t floor_div(int64_t t, int64_t w) noexcept {
  int64_t q = t / w;
  if (t % w != 0 && t < 0) --q;
  return q;
}

struct PortHash {
  size_t operator()(uint32_t key) const noexcept { return detail::IntegerHash{}(key); }
};

// 64-bit key of a record's conversation: protocol and the two endpoints (address, port) in a
// canonical order, as the adaptive sampler groups its keep decisions (docs/adaptive-sampling.md
// "The selection hash"). `forward` tells which side of the conversation the record is.
uint64_t conversation_key(const flow::FlowRecord& r, bool& forward) noexcept {
  forward = r.src != r.dst ? r.src < r.dst : r.src_port <= r.dst_port;
  const flow::IpAddress& a = forward ? r.src : r.dst;
  const flow::IpAddress& b = forward ? r.dst : r.src;
  const uint64_t ports = forward ? (uint64_t{r.src_port} << 16) | r.dst_port
                                 : (uint64_t{r.dst_port} << 16) | r.src_port;
  const flow::IpAddressHash hash;
  uint64_t h = hash(a);
  h = detail::IntegerHash{}(h ^ (hash(b) * 0x9E3779B97F4A7C15ULL));
  return detail::IntegerHash{}(h ^ (ports << 8) ^ r.ip_protocol);
}

}  // namespace

/// One tenant's window while records still arrive: the sums of its result plus bounded hash
/// tables that become the result's sorted vectors when it closes. Reused through the pool.
struct WindowEstimator::OpenWindow {
  int64_t index = 0;
  WindowResult result;
  detail::FlatTable<flow::IpAddress, HostTotals, flow::IpAddressHash> hosts;
  detail::FlatTable<uint32_t, PortTotals, PortHash> ports;
  detail::FlatTable<flow::IpAddress, ItemWeight, flow::IpAddressHash> peers;
  /// Weighted sums so far of each secondary-sampled conversation, per side (0: the side
  /// whose endpoint sorts first), for the covariance of records kept or dropped together.
  struct ConversationSums {
    double packets[2];
    double bytes[2];
    double flows[2];
  };
  detail::FlatTable<uint64_t, ConversationSums, detail::IntegerHash> conversations;
};

WindowEstimator::WindowEstimator(const WindowConfig& config)
    : config_(config), first_open_index_(kNoTime), newest_time_(kNoTime) {
  // A window of 0 or less would divide by zero; the config loader rejects it, this keeps a
  // direct caller safe too.
  if (config_.window_ns <= 0) config_.window_ns = 60'000'000'000;
  if (config_.allowed_lateness_ns < 0) config_.allowed_lateness_ns = 0;
}

WindowEstimator::~WindowEstimator() = default;

size_t WindowEstimator::open_windows() const noexcept {
  size_t n = 0;
  for (const auto& [id, state] : tenants_) n += state.windows.size();
  return n;
}

void WindowEstimator::add(std::span<const flow::FlowRecord> records) {
  for (const flow::FlowRecord& record : records) add_record(record);
  // Event time moves the watermark too, so replaying a file (or a caller that never calls
  // `advance`) keeps a bounded number of windows open.
  if (newest_time_ != kNoTime) {
    close_before(floor_div(newest_time_ - config_.allowed_lateness_ns, config_.window_ns));
  }
}

std::vector<WindowResult> WindowEstimator::advance(int64_t now_ns) {
  close_before(floor_div(now_ns - config_.allowed_lateness_ns, config_.window_ns));
  return take_closed();
}

std::vector<WindowResult> WindowEstimator::flush() {
  std::vector<uint32_t> ids;
  ids.reserve(tenants_.size());
  for (const auto& [id, state] : tenants_) ids.push_back(id);
  for (uint32_t id : ids) {
    TenantState& state = tenants_[id];
    while (!state.windows.empty()) {
      std::unique_ptr<OpenWindow> win = std::move(state.windows.back());
      state.windows.pop_back();
      close_window(id, state, std::move(win));
    }
  }
  // Nothing is open any more; a record older than the newest window seen is late from now.
  if (newest_time_ != kNoTime) {
    first_open_index_ = std::max(first_open_index_, floor_div(newest_time_, config_.window_ns) + 1);
  }
  tenants_.clear();
  cached_tenant_ = nullptr;
  return take_closed();
}

int64_t WindowEstimator::record_time(const flow::FlowRecord& record) noexcept {
  if (config_.time_basis == TimeBasis::kArrival) return record.arrival_ns;
  if (record.arrival_ns == 0) return record.end_ns;  // no arrival clock (a synthetic stream)
  const bool absent = (record.flags & flow::record_flags::kNoFlowTimes) != 0 || record.end_ns == 0;
  if (absent || record.end_ns < record.arrival_ns - config_.max_export_delay_ns ||
      record.end_ns > record.arrival_ns + config_.max_clock_ahead_ns) {
    ++stats_.records_time_fallback;
    return record.arrival_ns;
  }
  return record.end_ns;
}

WindowEstimator::TenantState* WindowEstimator::tenant(uint32_t tenant_id) {
  if (cached_tenant_ != nullptr && cached_tenant_id_ == tenant_id) return cached_tenant_;
  auto it = tenants_.find(tenant_id);
  if (it == tenants_.end()) {
    if (tenants_.size() >= config_.max_tenants) return nullptr;
    it = tenants_.emplace(tenant_id, TenantState{}).first;
  }
  cached_tenant_id_ = tenant_id;
  cached_tenant_ = &it->second;  // stable: unordered_map nodes do not move on rehash
  return cached_tenant_;
}

WindowEstimator::OpenWindow& WindowEstimator::window(uint32_t tenant_id, TenantState& state,
                                                     int64_t index) {
  for (const std::unique_ptr<OpenWindow>& win : state.windows) {
    if (win->index == index) return *win;
  }
  std::unique_ptr<OpenWindow> win;
  if (!pool_.empty()) {
    win = std::move(pool_.back());
    pool_.pop_back();
  } else {
    win = std::make_unique<OpenWindow>();
  }
  win->index = index;
  win->result = WindowResult{};
  win->result.tenant_id = tenant_id;
  win->result.start_ns = index * config_.window_ns;
  win->result.end_ns = win->result.start_ns + config_.window_ns;
  win->hosts.set_max_entries(config_.max_hosts_per_tenant);
  win->ports.set_max_entries(config_.max_ports_per_tenant);
  win->peers.set_max_entries(config_.max_peers_per_tenant);
  win->conversations.set_max_entries(config_.max_conversations_per_tenant);
  state.windows.push_back(std::move(win));
  return *state.windows.back();
}

void WindowEstimator::add_record(const flow::FlowRecord& record) {
  ++stats_.records;
  if (record.tenant_id == 0) {
    ++stats_.records_no_tenant;
    return;
  }
  const int64_t t = record_time(record);
  const int64_t index = floor_div(t, config_.window_ns);
  TenantState* state = tenant(record.tenant_id);
  if (state == nullptr) {
    ++stats_.records_tenant_overflow;
    return;
  }
  if (index < first_open_index_) {
    ++stats_.records_late;
    ++state->late_pending;
    return;
  }
  if (newest_time_ == kNoTime || t > newest_time_) newest_time_ = t;
  OpenWindow& win = window(record.tenant_id, *state, index);
  WindowResult& res = win.result;

  if ((record.flags & flow::record_flags::kNotCounted) != 0) {
    ++stats_.records_not_counted;
    ++res.counters.records_not_counted;
    return;
  }
  const RecordTerms terms = record_terms(record, config_.model);
  if (!terms.valid) {
    ++stats_.records_bad_rate;
    ++res.counters.records_bad_rate;
    return;
  }
  ++stats_.records_counted;
  ++res.counters.records_counted;
  if ((record.flags & flow::record_flags::kSamplingRateUnknown) != 0) {
    ++stats_.records_rate_unknown;
    ++res.counters.records_rate_unknown;
  }
  const double w = terms.weight;
  res.max_sampling_rate = std::max(res.max_sampling_rate, w);

  // The adaptive sampler keeps or drops a conversation whole (both directions, every record),
  // so the second-stage variance is (1−p)(Σ w·y)² per conversation, not Σ (1−p)(w·y)² per
  // record: each record adds the cross term 2(1−p)·w·y·S with the S its conversation already
  // put into the same accumulator. Totals, ports and two-sided directions see both sides of
  // a conversation; hosts and inbound/outbound only one (docs/estimation.md "Conversations").
  RecordTerms both_sides = terms;
  RecordTerms one_side = terms;
  if (terms.keep_probability < 1.0) {
    bool forward = true;
    const uint64_t key = conversation_key(record, forward);
    if (OpenWindow::ConversationSums* conv = win.conversations.find_or_insert(key)) {
      const int side = forward ? 0 : 1;
      const double k = 2.0 * (1.0 - terms.keep_probability);
      auto cross = [&](double x, double* sums, double& both_var, double& side_var) {
        both_var += k * x * (sums[0] + sums[1]);
        side_var += k * x * sums[side];
        sums[side] += x;
      };
      cross(terms.packets.weighted, conv->packets, both_sides.packets.variance,
            one_side.packets.variance);
      cross(terms.bytes.weighted, conv->bytes, both_sides.bytes.variance, one_side.bytes.variance);
      if (terms.tcp_flow_arrival) {
        cross(terms.flows.weighted, conv->flows, both_sides.flows.variance,
              one_side.flows.variance);
      }
    } else {
      ++res.counters.conversations_overflowed;
    }
  }
  res.total.add(both_sides);
  const auto dir = static_cast<size_t>(record.direction);
  const bool one_sided = record.direction == flow::Direction::kInbound ||
                         record.direction == flow::Direction::kOutbound;
  res.by_direction[dir < kDirectionCount ? dir : 0].add(one_sided ? one_side : both_sides);

  // Hosts: the internal end(s) of the record.
  auto host = [&](const flow::IpAddress& address) -> HostTotals& {
    HostTotals* h = win.hosts.find_or_insert(address);
    if (h == nullptr) {
      ++res.counters.hosts_overflowed;
      h = &res.other_hosts;
    } else {
      h->address = address;
    }
    h->max_sampling_rate = std::max(h->max_sampling_rate, w);
    return *h;
  };
  auto sent = [&](const flow::IpAddress& address) {
    HostTotals& h = host(address);
    h.sent_packets.add(one_side.packets);
    h.sent_bytes.add(one_side.bytes);
  };
  auto received = [&](const flow::IpAddress& address) {
    HostTotals& h = host(address);
    h.received_packets.add(one_side.packets);
    h.received_bytes.add(one_side.bytes);
  };
  auto peer = [&](const flow::IpAddress& address) {
    if (ItemWeight* item = win.peers.find_or_insert(address)) {
      item->add(terms.packets.weighted, w);
    } else {
      ++res.counters.peers_overflowed;
      res.peers_capped = true;
    }
  };
  switch (record.direction) {
    case flow::Direction::kOutbound:
      sent(record.src);
      peer(record.dst);
      break;
    case flow::Direction::kInbound:
      received(record.dst);
      peer(record.src);
      break;
    case flow::Direction::kInternal:
      sent(record.src);
      received(record.dst);
      break;
    case flow::Direction::kTransit:
    case flow::Direction::kUnknown: break;
  }

  // (protocol, service port).
  const uint16_t port = service_port(record);
  const uint32_t key = (uint32_t{record.ip_protocol} << 16) | port;
  PortTotals* p = win.ports.find_or_insert(key);
  if (p == nullptr) {
    ++res.counters.ports_overflowed;
    p = &res.other_ports;
  } else {
    p->protocol = record.ip_protocol;
    p->port = port;
  }
  p->traffic.add(both_sides);  // both sides of a conversation share its service port
  p->max_sampling_rate = std::max(p->max_sampling_rate, w);
}

void WindowEstimator::close_before(int64_t first_open) {
  if (first_open <= first_open_index_) return;
  first_open_index_ = first_open;
  for (auto it = tenants_.begin(); it != tenants_.end();) {
    TenantState& state = it->second;
    for (size_t win_idx = 0; win_idx < state.windows.size();) {
      if (state.windows[win_idx]->index < first_open) {
        std::unique_ptr<OpenWindow> win = std::move(state.windows[win_idx]);
        state.windows.erase(state.windows.begin() + static_cast<std::ptrdiff_t>(win_idx));
        close_window(it->first, state, std::move(win));
      } else {
        ++win_idx;
      }
    }
    // Forget tenants with nothing open and nothing to report, so `max_tenants` bounds the
    // tenants active now, not every tenant ever seen.
    if (state.windows.empty() && state.late_pending == 0) {
      it = tenants_.erase(it);
    } else {
      ++it;
    }
  }
  cached_tenant_ = nullptr;
}

void WindowEstimator::close_window(uint32_t tenant_id, TenantState& state,
                                   std::unique_ptr<OpenWindow> win) {
  WindowResult& res = win->result;
  res.tenant_id = tenant_id;
  res.counters.records_late += state.late_pending;
  state.late_pending = 0;

  res.hosts.reserve(win->hosts.size());
  win->hosts.for_each([&](const flow::IpAddress&, const HostTotals& h) { res.hosts.push_back(h); });
  std::sort(res.hosts.begin(), res.hosts.end(),
            [](const HostTotals& a, const HostTotals& b) { return a.address < b.address; });
  res.ports.reserve(win->ports.size());
  win->ports.for_each([&](uint32_t, const PortTotals& p) { res.ports.push_back(p); });
  std::sort(res.ports.begin(), res.ports.end(), [](const PortTotals& a, const PortTotals& b) {
    return a.protocol != b.protocol ? a.protocol < b.protocol : a.port < b.port;
  });
  res.peers.reserve(win->peers.size());
  win->peers.for_each([&](const flow::IpAddress& address, const ItemWeight& weight) {
    res.peers.push_back(PeerItem{address, weight});
  });
  std::sort(res.peers.begin(), res.peers.end(),
            [](const PeerItem& a, const PeerItem& b) { return a.address < b.address; });

  closed_.push_back(std::move(res));
  ++stats_.windows_closed;
  win->hosts.clear();
  win->ports.clear();
  win->peers.clear();
  win->conversations.clear();
  pool_.push_back(std::move(win));
}

std::vector<WindowResult> WindowEstimator::take_closed() {
  std::sort(closed_.begin(), closed_.end(), [](const WindowResult& a, const WindowResult& b) {
    return a.start_ns != b.start_ns ? a.start_ns < b.start_ns : a.tenant_id < b.tenant_id;
  });
  std::vector<WindowResult> out;
  out.swap(closed_);
  return out;
}

}  // namespace fathom::estimate
