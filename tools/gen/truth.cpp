#include "gen/truth.h"

#include <iomanip>
#include <sstream>

#include "gen/session.h"

namespace fathom::gen {
namespace {

std::string iso_time(int64_t ns) {
  const int64_t s = ns / 1'000'000'000;
  const int64_t ms = (ns / 1'000'000) % 1000;
  std::time_t t = static_cast<std::time_t>(s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::ostringstream os;
  os << std::put_time(&tm, "%Y-%m-%dT%H:%M:%S") << '.' << std::setw(3) << std::setfill('0') << ms
     << 'Z';
  return os.str();
}

std::string join(const std::vector<flow::IpAddress>& addrs) {
  std::string s;
  for (const auto& a : addrs) {
    if (!s.empty()) s += ' ';
    s += a.to_string();
  }
  return s;
}

}  // namespace

WindowTruth::WindowTruth(std::span<const TenantModel> tenants, int64_t sim_start_ns,
                         int64_t window_ns, std::ostream* out, bool hosts)
    : tenants_(tenants),
      sim_start_ns_(sim_start_ns),
      window_ns_(window_ns),
      out_(out),
      hosts_(hosts),
      totals_(tenants.size()) {
  if (out_) *out_ << header() << '\n';
}

const char* WindowTruth::header() noexcept {
  return "window_start,window_end,tenant,host,packets,bytes,packets_in,bytes_in";
}

WindowTruth::Window& WindowTruth::window(int64_t index) {
  auto [it, inserted] = windows_.try_emplace(index);
  if (inserted) {
    it->second.tenants.resize(tenants_.size());
    for (size_t t = 0; t < tenants_.size(); ++t) {
      if (!out_ || !hosts_) break;
      it->second.tenants[t].host_out.resize(tenants_[t].host_count());
      it->second.tenants[t].host_in.resize(tenants_[t].host_count());
    }
  }
  return it->second;
}

void WindowTruth::add(const FlowSpec& flow) {
  totals_[flow.tenant].packets += flow.packets;
  totals_[flow.tenant].bytes += flow.total_bytes();
  if (!out_) return;
  const int64_t first = (flow.start_ns - sim_start_ns_) / window_ns_;
  const int64_t last = (flow.time_at(flow.packets - 1) - sim_start_ns_) / window_ns_;
  for (int64_t w = first; w <= last; ++w) {
    const int64_t w_start = sim_start_ns_ + w * window_ns_;
    const uint64_t lo = w == first ? 0 : flow.first_index_at_or_after(w_start);
    const uint64_t hi =
        w == last ? flow.packets : flow.first_index_at_or_after(w_start + window_ns_);
    if (lo >= hi) continue;
    const TrafficCounters c{hi - lo, flow.bytes_before(hi) - flow.bytes_before(lo)};
    TenantWindow& tw = window(w).tenants[flow.tenant];
    tw.total.packets += c.packets;
    tw.total.bytes += c.bytes;
    if (!hosts_) continue;
    if (flow.src_host != kNoHost) {
      tw.host_out[flow.src_host].packets += c.packets;
      tw.host_out[flow.src_host].bytes += c.bytes;
    }
    if (flow.dst_host != kNoHost) {
      tw.host_in[flow.dst_host].packets += c.packets;
      tw.host_in[flow.dst_host].bytes += c.bytes;
    }
  }
}

void WindowTruth::write(int64_t index, const Window& w) {
  const std::string start = iso_time(sim_start_ns_ + index * window_ns_);
  const std::string end = iso_time(sim_start_ns_ + (index + 1) * window_ns_);
  for (size_t t = 0; t < tenants_.size(); ++t) {
    const TenantWindow& tw = w.tenants[t];
    const uint32_t id = tenants_[t].config().id;
    // Tenant total line: host column empty; packets/bytes are all traffic of the tenant.
    *out_ << start << ',' << end << ',' << id << ",," << tw.total.packets << ',' << tw.total.bytes
          << ",,\n";
    for (uint32_t h = 0; h < tw.host_out.size(); ++h) {
      const auto& o = tw.host_out[h];
      const auto& i = tw.host_in[h];
      if (o.packets == 0 && i.packets == 0) continue;
      *out_ << start << ',' << end << ',' << id << ',' << tenants_[t].address(h, false).to_string()
            << ',' << o.packets << ',' << o.bytes << ',' << i.packets << ',' << i.bytes << '\n';
    }
  }
}

void WindowTruth::flush_before(int64_t now_ns) {
  if (!out_) return;
  while (!windows_.empty()) {
    auto it = windows_.begin();
    const int64_t end = sim_start_ns_ + (it->first + 1) * window_ns_;
    if (end + kMaxFlowDurationNs >= now_ns) break;
    write(it->first, it->second);
    windows_.erase(it);
  }
}

void WindowTruth::finish() {
  if (!out_) return;
  for (const auto& [index, w] : windows_) write(index, w);
  windows_.clear();
  out_->flush();
}

void write_ground_truth(std::ostream& out, std::span<const Attack> attacks,
                        std::span<const TenantModel> tenants) {
  out << "tenant,attack_id,type,slow,attackers,attacker_count,victims,start,end,intensity,"
         "intensity_unit,packets,bytes,flows,distinct_targets\n";
  for (const Attack& a : attacks) {
    const auto& c = a.config();
    uint32_t tenant_id = c.tenant;
    for (const auto& t : tenants) {
      if (t.config().id == c.tenant) tenant_id = t.config().id;
    }
    const AttackTruth& t = a.truth();
    out << tenant_id << ',' << c.id << ',' << to_string(c.type) << ',' << (c.slow ? 1 : 0) << ','
        << join(t.attackers) << ',' << t.attacker_count << ',' << join(t.victims) << ','
        << iso_time(a.start_ns()) << ',' << iso_time(a.end_ns()) << ',' << t.intensity << ','
        << t.intensity_unit << ',' << t.packets << ',' << t.bytes << ',' << t.flows << ','
        << t.distinct_targets << '\n';
  }
}

}  // namespace fathom::gen
