#include "analyze/window_engine.h"

#include <algorithm>
#include <cmath>

namespace fathom::analyze {
namespace {

constexpr size_t kContactFilterSlots = 4096;  // power of two
constexpr size_t kMaxSpareBuckets = 64;

size_t protocol_class(uint8_t protocol) noexcept {
  switch (protocol) {
    case 6: return 0;
    case 17: return 1;
    case 1:
    case 58: return 2;
    default: return 3;
  }
}

bool has_data(const TenantBucket& b) noexcept {
  return b.totals.records != 0 || b.hosts.size() != 0;
}

}  // namespace

std::string validate(const AnalyzeConfig& config) {
  if (config.levels.empty()) return "analyze.levels must name at least one level";
  for (size_t l = 0; l < config.levels.size(); ++l) {
    const WindowLevel& lv = config.levels[l];
    const std::string at = "analyze.levels[" + std::to_string(l) + "]";
    if (lv.slide_ns < 100'000'000) return at + ".slide must be at least 100ms";
    if (lv.window_ns < lv.slide_ns || lv.window_ns % lv.slide_ns != 0) {
      return at + ".window must be a whole multiple of its slide";
    }
    if (lv.window_ns / lv.slide_ns > 1024) return at + ".window may hold at most 1024 slides";
    if (l > 0) {
      const WindowLevel& prev = config.levels[l - 1];
      if (lv.slide_ns % prev.slide_ns != 0) {
        return at + ".slide must be a whole multiple of levels[" + std::to_string(l - 1) +
               "].slide";
      }
    }
  }
  if (config.max_internal_hosts == 0) return "analyze.max_internal_hosts must be at least 1";
  if (config.max_tenants == 0) return "analyze.max_tenants must be at least 1";
  if (config.heavy_hitters == 0) return "analyze.heavy_hitters must be at least 1";
  return {};
}

void TenantTotals::merge(const TenantTotals& other) noexcept {
  total.merge(other.total);
  for (size_t i = 0; i < by_direction.size(); ++i) by_direction[i].merge(other.by_direction[i]);
  for (size_t i = 0; i < by_protocol.size(); ++i) by_protocol[i].merge(other.by_protocol[i]);
  records += other.records;
  if (first_arrival_ns == 0 ||
      (other.first_arrival_ns != 0 && other.first_arrival_ns < first_arrival_ns)) {
    first_arrival_ns = other.first_arrival_ns;
  }
}

void accumulate(EngineStats& into, const EngineStats& from) noexcept {
  into.records += from.records;
  into.records_analysed += from.records_analysed;
  into.records_no_tenant += from.records_no_tenant;
  into.records_bad_rate += from.records_bad_rate;
  into.records_tenant_overflow += from.records_tenant_overflow;
  into.records_late += from.records_late;
  into.records_not_counted += from.records_not_counted;
  into.hosts_evicted += from.hosts_evicted;
  into.hosts_rejected += from.hosts_rejected;
  into.contacts += from.contacts;
  into.contacts_dropped += from.contacts_dropped;
  into.slides_closed += from.slides_closed;
  into.windows_closed += from.windows_closed;
  into.slides_skipped += from.slides_skipped;
  into.tenants += from.tenants;
  into.history_hosts += from.history_hosts;
  into.memory_bytes += from.memory_bytes;
  into.records_other_worker += from.records_other_worker;
  into.tenants_exported += from.tenants_exported;
  into.tenants_imported += from.tenants_imported;
  into.flows_captured += from.flows_captured;
  into.captures_refused += from.captures_refused;
}

std::string_view protocol_class_name(size_t idx) noexcept {
  static constexpr std::string_view kNames[4] = {"tcp", "udp", "icmp", "other"};
  return idx < 4 ? kNames[idx] : std::string_view{"other"};
}

flow::IpAddress port_key(uint8_t protocol, uint16_t port) noexcept {
  return flow::IpAddress::from_v4(uint32_t{protocol} << 16 | port);
}

TenantBucket::TenantBucket(const AnalyzeConfig& config)
    : top_sources(config.heavy_hitters),
      top_destinations(config.heavy_hitters),
      top_ports(config.heavy_hitters),
      hosts(config.max_internal_hosts, config.max_external_hosts),
      top_countries(config.heavy_hitters),
      top_asns(config.heavy_hitters) {}

void TenantBucket::add_port(uint8_t protocol, uint16_t port, double bytes, double var) noexcept {
  const uint32_t key = (uint32_t{protocol} << 16 | port) + 1;
  const size_t slot = (key * 0x9E3779B1u) >> 24;
  if (port_keys[slot] != key) {
    if (port_keys[slot] != 0) {
      const uint32_t old = port_keys[slot] - 1;
      top_ports.add(port_key(static_cast<uint8_t>(old >> 16), static_cast<uint16_t>(old)),
                    port_bytes[slot], port_var[slot]);
    }
    port_keys[slot] = key;
    port_bytes[slot] = 0.0;
    port_var[slot] = 0.0;
  }
  port_bytes[slot] += bytes;
  port_var[slot] += var;
}

namespace {

/// Adds `bytes` under `key` in a direct-mapped cache, flushing the slot's previous key to
/// `sketch` when another key takes it.
void cache_add(std::array<uint64_t, 64>& keys, std::array<double, 64>& sums,
               std::array<double, 64>& vars, SpaceSaving& sketch, uint64_t key, double bytes,
               double var) noexcept {
  const uint64_t stored = key + 1;
  const size_t slot = (stored * 0x9E3779B97F4A7C15ull) >> 58;
  if (keys[slot] != stored) {
    if (keys[slot] != 0) {
      sketch.add(flow::IpAddress::from_v4(static_cast<uint32_t>(keys[slot] - 1)), sums[slot],
                 vars[slot]);
    }
    keys[slot] = stored;
    sums[slot] = 0.0;
    vars[slot] = 0.0;
  }
  sums[slot] += bytes;
  vars[slot] += var;
}

void cache_flush(std::array<uint64_t, 64>& keys, std::array<double, 64>& sums,
                 const std::array<double, 64>& vars, SpaceSaving& sketch) noexcept {
  for (size_t slot = 0; slot < keys.size(); ++slot) {
    if (keys[slot] == 0) continue;
    sketch.add(flow::IpAddress::from_v4(static_cast<uint32_t>(keys[slot] - 1)), sums[slot],
               vars[slot]);
    keys[slot] = 0;
  }
}

}  // namespace

void TenantBucket::add_geo(const flow::FlowRecord& r, double bytes, double var) noexcept {
  const std::array<char, 2>* country = nullptr;
  uint32_t asn = 0;
  if (r.direction == flow::Direction::kInbound) {
    country = &r.src_country;
    asn = r.src_as;
  } else if (r.direction == flow::Direction::kOutbound) {
    country = &r.dst_country;
    asn = r.dst_as;
  } else {
    return;
  }
  const bool known = (*country)[0] != 0 && (*country)[1] != 0;
  const uint32_t code = known ? uint32_t{static_cast<uint8_t>((*country)[0])} << 8 |
                                    static_cast<uint8_t>((*country)[1])
                              : uint32_t{'Z'} << 8 | 'Z';
  cache_add(country_keys, country_bytes, country_var, top_countries, code, bytes, var);
  cache_add(asn_keys, asn_bytes, asn_var, top_asns, asn, bytes, var);
}

void TenantBucket::seal() {
  cache_flush(country_keys, country_bytes, country_var, top_countries);
  cache_flush(asn_keys, asn_bytes, asn_var, top_asns);
  for (size_t slot = 0; slot < port_keys.size(); ++slot) {
    if (port_keys[slot] == 0) continue;
    const uint32_t key = port_keys[slot] - 1;
    top_ports.add(port_key(static_cast<uint8_t>(key >> 16), static_cast<uint16_t>(key)),
                  port_bytes[slot], port_var[slot]);
    port_keys[slot] = 0;
  }
  hosts.for_each([&](const HostSlot& s) {
    if (s.bytes_out > 0) top_sources.add(s.host, s.bytes_out, s.var_bytes_out);
    if (s.bytes_in > 0) top_destinations.add(s.host, s.bytes_in, s.var_bytes_in);
  });
}

void TenantBucket::merge(const TenantBucket& other) {
  totals.merge(other.totals);
  top_sources.merge(other.top_sources);
  top_destinations.merge(other.top_destinations);
  top_ports.merge(other.top_ports);
  top_countries.merge(other.top_countries);
  top_asns.merge(other.top_asns);
  hosts.merge(other.hosts);
}

void TenantBucket::pack_from(const TenantBucket& src) {
  totals = src.totals;
  top_sources = src.top_sources;
  top_destinations = src.top_destinations;
  top_ports = src.top_ports;
  top_countries = src.top_countries;
  top_asns = src.top_asns;
  port_keys.fill(0);
  country_keys.fill(0);
  asn_keys.fill(0);
  hosts.pack_from(src.hosts);
}

void TenantBucket::clear() noexcept {
  totals = TenantTotals{};
  top_sources.clear();
  top_destinations.clear();
  top_ports.clear();
  top_countries.clear();
  top_asns.clear();
  port_keys.fill(0);
  country_keys.fill(0);
  asn_keys.fill(0);
  hosts.clear();
}

const PeerBits* TenantWindow::history_of(const flow::IpAddress& host) const {
  if (history == nullptr) return nullptr;
  const auto it = history->find(host);
  return it == history->end() ? nullptr : &it->second;
}

/// One level's buckets of one tenant.
struct LevelState {
  std::deque<std::unique_ptr<TenantBucket>> ring;  ///< closed slides, oldest first
  std::unique_ptr<TenantBucket> partial;           ///< levels > 0: the slide being merged
};

struct AnalysisEngine::TenantState {
  uint32_t tenant_id = 0;
  bool owned = true;  ///< false: another engine analyses this tenant (a placeholder, no buckets)
  std::unique_ptr<TenantBucket> current;  ///< the open level-0 slide
  std::vector<LevelState> levels;
  std::unordered_map<flow::IpAddress, PeerBits, flow::IpAddressHash> history;
  /// Subjects whose records are kept (`capture`); empty nearly always.
  struct Capture {
    flow::IpAddress subject;
    uint32_t left = 0;  ///< records still to keep
    int64_t until_ns = 0;
  };
  std::vector<Capture> captures;
};

AnalysisEngine::AnalysisEngine(const AnalyzeConfig& config, WindowSink on_window,
                               ContactSink on_contacts)
    : config_(config),
      on_window_(std::move(on_window)),
      on_contacts_(std::move(on_contacts)),
      contact_filter_(kContactFilterSlots, 0) {
  for (size_t l = 0; l < config_.levels.size(); ++l) {
    scratch_.push_back(std::make_unique<TenantBucket>(config_));
  }
}

AnalysisEngine::~AnalysisEngine() = default;

std::unique_ptr<TenantBucket> AnalysisEngine::acquire(bool packed) {
  auto& pool = packed ? spare_packed_ : spare_;
  if (pool.empty()) return std::make_unique<TenantBucket>(config_);
  std::unique_ptr<TenantBucket> b = std::move(pool.back());
  pool.pop_back();
  return b;
}

void AnalysisEngine::recycle(std::unique_ptr<TenantBucket> bucket) {
  if (!bucket) return;
  auto& pool = bucket->hosts.packed() ? spare_packed_ : spare_;
  if (pool.size() >= kMaxSpareBuckets) return;
  bucket->clear();
  pool.push_back(std::move(bucket));
}

std::unique_ptr<TenantBucket> AnalysisEngine::pack(TenantBucket& table) {
  std::unique_ptr<TenantBucket> out = acquire(true);
  out->pack_from(table);
  table.clear();
  return out;
}

AnalysisEngine::TenantHandoff::TenantHandoff(std::unique_ptr<TenantState> state)
    : state_(std::move(state)) {}
AnalysisEngine::TenantHandoff::~TenantHandoff() = default;

std::unique_ptr<AnalysisEngine::TenantState> AnalysisEngine::new_tenant_state(uint32_t tenant_id,
                                                                              bool owned) {
  auto state = std::make_unique<TenantState>();
  state->tenant_id = tenant_id;
  state->owned = owned;
  if (owned) {
    state->current = acquire();
    state->levels.resize(config_.levels.size());
    for (size_t l = 1; l < state->levels.size(); ++l) state->levels[l].partial = acquire();
  }
  return state;
}

AnalysisEngine::TenantState* AnalysisEngine::tenant(uint32_t tenant_id) {
  if (tenant_id == last_tenant_id_ && last_tenant_ != nullptr) return last_tenant_;
  auto it = tenants_.find(tenant_id);
  if (it == tenants_.end()) {
    if (tenants_.size() >= config_.max_tenants) return nullptr;
    const bool owned = !owns_ || owns_(tenant_id);
    it = tenants_.emplace(tenant_id, new_tenant_state(tenant_id, owned)).first;
  }
  last_tenant_id_ = tenant_id;
  last_tenant_ = it->second.get();
  return last_tenant_;
}

bool AnalysisEngine::owns(uint32_t tenant_id) const {
  const auto it = tenants_.find(tenant_id);
  return it != tenants_.end() ? it->second->owned : (!owns_ || owns_(tenant_id));
}

std::unique_ptr<AnalysisEngine::TenantHandoff> AnalysisEngine::export_tenant(uint32_t tenant_id) {
  const auto it = tenants_.find(tenant_id);
  if (it == tenants_.end() || !it->second->owned) return nullptr;
  auto out = std::make_unique<TenantHandoff>(std::move(it->second));
  it->second = new_tenant_state(tenant_id, false);
  last_tenant_ = nullptr;
  ++stats_.tenants_exported;
  return out;
}

void AnalysisEngine::import_tenant(std::unique_ptr<TenantHandoff> handoff) {
  if (!handoff || !handoff->state_) return;
  const uint32_t id = handoff->state_->tenant_id;
  // The exporter used the same levels (one config): the rings line up with ours.
  tenants_[id] = std::move(handoff->state_);
  last_tenant_ = nullptr;
  ++stats_.tenants_imported;
}

void AnalysisEngine::adopt_tenant(uint32_t tenant_id) {
  auto it = tenants_.find(tenant_id);
  if (it != tenants_.end() && it->second->owned) return;
  if (it == tenants_.end()) {
    tenants_.emplace(tenant_id, new_tenant_state(tenant_id, true));
  } else {
    it->second = new_tenant_state(tenant_id, true);
  }
  last_tenant_ = nullptr;
}

int64_t AnalysisEngine::open_slide_end_ns() const noexcept {
  return started_ ? (slide_index_ + 1) * config_.levels[0].slide_ns : 0;
}

std::vector<uint32_t> AnalysisEngine::tenants() const {
  std::vector<uint32_t> ids;
  ids.reserve(tenants_.size());
  for (const auto& [id, state] : tenants_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

int64_t AnalysisEngine::max_pending_slides() const noexcept {
  // Slides until the longest level has emitted its last window over data now held.
  const WindowLevel& last = config_.levels.back();
  return (last.window_ns + last.slide_ns) / config_.levels[0].slide_ns + 1;
}

void AnalysisEngine::move_to_slide(int64_t index) {
  if (!started_) {
    started_ = true;
    slide_index_ = index;
    if (slide_hook_) slide_hook_(slide_index_);
    return;
  }
  if (index <= slide_index_) return;
  if (index - slide_index_ > max_pending_slides()) {
    // A gap longer than every window: emit what is held, then jump without closing the
    // empty slides one by one.
    flush();
    stats_.slides_skipped += static_cast<uint64_t>(index - slide_index_);
    slide_index_ = index;
    if (slide_hook_) slide_hook_(slide_index_);
    return;
  }
  while (slide_index_ < index) {
    close_slide();
    if (slide_hook_) slide_hook_(slide_index_);
  }
}

void AnalysisEngine::add(const flow::FlowBatch& batch) {
  const int64_t slide_ns = config_.levels[0].slide_ns;
  const std::span<const flow::FlowRecord> records = batch.records();
  // The two host-table lookups per record miss the cache on large tenants: the hashes of the
  // record kAhead places on are computed now and their slots prefetched, so the loads overlap
  // with the work on the records in between.
  constexpr size_t kAhead = 8;
  std::array<uint64_t, 2 * kAhead> src_hash{};
  std::array<uint64_t, 2 * kAhead> dst_hash{};
  const auto look_ahead = [&](size_t idx) {
    const flow::FlowRecord& ahead = records[idx];
    const size_t slot = idx % (2 * kAhead);
    src_hash[slot] = hash_address(ahead.src);
    dst_hash[slot] = hash_address(ahead.dst);
    if (last_tenant_ != nullptr && ahead.tenant_id == last_tenant_id_ && last_tenant_->owned) {
      const HostTable& hosts = last_tenant_->current->hosts;
      hosts.prefetch(src_hash[slot]);
      hosts.prefetch(dst_hash[slot]);
    }
  };
  for (size_t idx = 0; idx < kAhead && idx < records.size(); ++idx) look_ahead(idx);
  for (size_t idx = 0; idx < records.size(); ++idx) {
    if (idx + kAhead < records.size()) look_ahead(idx + kAhead);
    const flow::FlowRecord& r = records[idx];
    ++stats_.records;
    if (r.tenant_id == 0) {
      ++stats_.records_no_tenant;
      continue;
    }
    const int64_t index = r.arrival_ns >= 0 ? r.arrival_ns / slide_ns : 0;
    if (!started_ || index > slide_index_) {
      move_to_slide(index);
    } else if (index < slide_index_) {
      ++stats_.records_late;
    }
    TenantState* state = tenant(r.tenant_id);
    if (state == nullptr) {
      ++stats_.records_tenant_overflow;
      continue;
    }
    if (!state->owned) {
      ++stats_.records_other_worker;
      continue;
    }
    const size_t slot = idx % (2 * kAhead);
    add_record(*state, r, src_hash[slot], dst_hash[slot]);
    if (!state->captures.empty()) capture_record(*state, r);
  }
}

void AnalysisEngine::capture(uint32_t tenant_id, const flow::IpAddress& subject, uint32_t budget,
                             int64_t until_ns) {
  if (budget == 0) return;
  TenantState* state = tenant(tenant_id);
  if (state == nullptr || !state->owned) return;
  for (TenantState::Capture& c : state->captures) {
    if (c.subject == subject) {
      c.until_ns = std::max(c.until_ns, until_ns);
      return;
    }
  }
  // A spent capture keeps its entry until `until_ns`; a subject is captured afresh only after
  // that: at most `budget` records per subject and capture period.
  if (state->captures.size() >= kMaxCapturesPerTenant) {
    ++stats_.captures_refused;
    return;
  }
  state->captures.push_back({subject, budget, until_ns});
}

void AnalysisEngine::capture_record(TenantState& state, const flow::FlowRecord& r) {
  auto& captures = state.captures;
  for (size_t idx = 0; idx < captures.size();) {
    TenantState::Capture& c = captures[idx];
    if (r.arrival_ns > c.until_ns) {
      captures[idx] = captures.back();
      captures.pop_back();
      continue;
    }
    // A spent capture stays until it expires, so the detections that keep coming for the
    // same subject do not start it again.
    if (c.left > 0 && (r.src == c.subject || r.dst == c.subject)) {
      captured_.push_back({c.subject, r});
      ++stats_.flows_captured;
      --c.left;
    }
    ++idx;
  }
}

std::vector<CapturedFlow> AnalysisEngine::take_captured() {
  std::vector<CapturedFlow> out;
  out.swap(captured_);
  return out;
}

void AnalysisEngine::add_record(TenantState& state, const flow::FlowRecord& r, uint64_t hs,
                                uint64_t hd) {
  const estimate::RecordTerms terms = estimate::record_terms(r, config_.model);
  if (!terms.valid) {
    ++stats_.records_bad_rate;
    return;
  }
  ++stats_.records_analysed;
  TenantBucket& b = *state.current;
  TenantTotals& t = b.totals;
  // A record a de-duplication rule excludes (the same traffic is counted from another
  // exporter) adds no volume anywhere, but still shows who talked to whom: peers, ports,
  // flags and intel contacts.
  const bool counted = (r.flags & flow::record_flags::kNotCounted) == 0;
  const float scale = counted ? 1.0f : 0.0f;
  if (counted) {
    t.total.add(terms);
    t.by_direction[static_cast<size_t>(r.direction) % 5].add(terms);
    t.by_protocol[protocol_class(r.ip_protocol)].add(terms);
  } else {
    ++stats_.records_not_counted;
  }
  ++t.records;
  if (t.first_arrival_ns == 0 || r.arrival_ns < t.first_arrival_ns)
    t.first_arrival_ns = r.arrival_ns;
  const double bytes = terms.bytes.weighted;
  if (counted) {
    b.add_port(r.ip_protocol, estimate::service_port(r), bytes, terms.bytes.variance);
    b.add_geo(r, bytes, terms.bytes.variance);
  }

  const bool src_internal = (r.intel_flags & flow::intel_flags::kSrcInternal) != 0;
  const bool dst_internal = (r.intel_flags & flow::intel_flags::kDstInternal) != 0;
  if (!src_internal && !dst_internal) return;  // transit: tenant totals only

  const uint64_t sport = hash_port(r.src_port);
  const uint64_t dport = hash_port(r.dst_port);
  const float weight = static_cast<float>(terms.weight);
  const float w = weight * scale;
  const bool tcp = r.ip_protocol == 6;
  const uint16_t flags = r.tcp_flags;
  const bool syn_only =
      tcp && (flags & estimate::tcp_flag::kSyn) != 0 && (flags & estimate::tcp_flag::kAck) == 0;
  const bool rst = tcp && (flags & 0x04) != 0;
  const float pkts = static_cast<float>(terms.packets.weighted) * scale;
  const float byts = static_cast<float>(bytes) * scale;
  const float flow_w =
      terms.tcp_flow_arrival ? static_cast<float>(terms.flows.weighted) * scale : 0.0f;
  const float var_pkts = static_cast<float>(terms.packets.variance) * scale;
  const float var_bytes = static_cast<float>(terms.bytes.variance) * scale;
  const bool auth = tcp && !auth_service(r.dst_port).empty();

  const auto common = [&](HostSlot& s) {
    ++s.records;
    s.tcp_records += tcp ? 1 : 0;
    s.syn_only_records += syn_only ? 1 : 0;
    s.rst_records += rst ? 1 : 0;
    if (weight > s.max_weight) s.max_weight = weight;
    if (s.first_arrival_ns == 0 || r.arrival_ns < s.first_arrival_ns) {
      s.first_arrival_ns = r.arrival_ns;
    }
  };
  // The heaviest peer by bytes: a one-counter Misra–Gries summary (finds a majority peer).
  const auto top_peer = [&](HostSlot& s, const flow::IpAddress& peer, uint16_t remote_port,
                            bool sent) {
    if (s.top_peer == peer) {
      s.top_peer_bytes += byts;
      if (sent) s.top_peer_bytes_out += byts;
    } else if (s.top_peer_bytes > byts) {
      s.top_peer_bytes -= byts;
      s.top_peer_bytes_out = std::min(s.top_peer_bytes_out, s.top_peer_bytes);
    } else {
      s.top_peer = peer;
      s.top_peer_bytes = byts - s.top_peer_bytes;
      s.top_peer_bytes_out = sent ? s.top_peer_bytes : 0.0f;
      s.top_remote_port = remote_port;
    }
  };
  const bool dst_listed = (r.intel_flags & flow::intel_flags::kDstListed) != 0;
  const bool src_listed = (r.intel_flags & flow::intel_flags::kSrcListed) != 0;

  // The source, as sender.
  if (HostSlot* s = b.hosts.find_or_insert(r.src, hs, src_internal)) {
    common(*s);
    s->packets_out += pkts;
    s->bytes_out += byts;
    s->var_packets_out += var_pkts;
    s->var_bytes_out += var_bytes;
    s->flows_out += flow_w;
    if (syn_only) {
      s->probes_out += w;
      ++s->syn_only_out;
    }
    if (auth && flow_w > 0) {
      s->auth_out += flow_w;
      s->auth_port_out = r.dst_port;
    }
    s->peers.add(hd);
    s->remote_ports.add(dport);
    s->local_ports.add(sport);
    s->peer_histogram.add(hd);
    s->port_histogram.add(dport);
    s->peer_bits.add(hd);
    // Bytes the host sends outside as the *client* of the conversation (the peer's port is
    // the service port): uploads. A server's responses to its clients are not.
    if (!dst_internal && estimate::service_port(r) == r.dst_port) {
      s->bytes_out_external += byts;
      top_peer(*s, r.dst, r.dst_port, true);
    }
    // Contact with a listed address counts when the host reached out to it (an inbound
    // probe from a listed scanner is not a contact the host made).
    if (dst_listed && src_internal) {
      s->intel_packets += pkts;
      ++s->intel_records;
      s->intel_categories |= r.dst_intel;
      s->intel_peer = r.dst;
    }
  }
  // The destination, as receiver.
  if (HostSlot* d = b.hosts.find_or_insert(r.dst, hd, dst_internal)) {
    common(*d);
    d->packets_in += pkts;
    d->bytes_in += byts;
    d->var_packets_in += var_pkts;
    d->var_bytes_in += var_bytes;
    d->flows_in += flow_w;
    if (syn_only) {
      d->inbound[static_cast<size_t>(InboundClass::kSynOnly)] += pkts;
    } else if (r.ip_protocol == 17) {
      if (!amplification_service(r.src_port).empty()) {
        d->inbound[static_cast<size_t>(InboundClass::kAmplification)] += pkts;
        if (pkts > d->amp_port_packets || d->amp_port == r.src_port) {
          d->amp_port = r.src_port;
          d->amp_port_packets = pkts;
        }
      } else {
        d->inbound[static_cast<size_t>(InboundClass::kUdp)] += pkts;
      }
    } else if (r.ip_protocol == 1 || r.ip_protocol == 58) {
      d->inbound[static_cast<size_t>(InboundClass::kIcmp)] += pkts;
    }
    if (auth) {
      // Each connection comes from its own client port: distinct client ports are distinct
      // sessions, a fact under any sampling (a lower bound of the true number).
      d->auth_sessions.add(sport);
      const size_t service = r.dst_port == 22 ? 0 : (r.dst_port == 23 ? 1 : 2);
      if (d->auth_records[service] < 0xffff) ++d->auth_records[service];
      d->auth_in += flow_w;
    }
    d->peers.add(hs);
    d->remote_ports.add(sport);
    d->local_ports.add(dport);
    d->peer_histogram.add(hs);
    d->port_histogram.add(sport);
    d->peer_bits.add(hs);
    // The conversation's service port, not the peer's: for a flood's victim the attackers'
    // source ports are random, the port under attack is the one to show.
    if (!src_internal) top_peer(*d, r.src, estimate::service_port(r), false);
    // A listed peer's packets to an internal host count unless they are bare SYNs (probes):
    // replies and established sessions are contact.
    if (src_listed && dst_internal && !syn_only) {
      d->intel_packets += pkts;
      ++d->intel_records;
      d->intel_categories |= r.src_intel;
      d->intel_peer = r.src;
    }
  }

  // Outbound contacts for the beaconing detector, one per (host, peer) and slide at most.
  if (on_contacts_ && src_internal && !dst_internal && (tcp || r.ip_protocol == 17)) {
    // Keyed by the client port too, so that a new connection within the slide is not
    // hidden behind an earlier one.
    const uint64_t pair = ((hs * 0x9E3779B97F4A7C15ULL) ^ hd) + sport;
    uint64_t& seen = contact_filter_[pair & (kContactFilterSlots - 1)];
    if (seen != pair) {
      seen = pair;
      if (contacts_.size() < config_.max_contacts_per_slide) {
        contacts_.push_back({r.tenant_id, r.dst_port, r.src_port, r.src, r.dst, r.arrival_ns});
        ++stats_.contacts;
      } else {
        ++stats_.contacts_dropped;
      }
    }
  }
}

void AnalysisEngine::push_slide(TenantState& state, size_t level,
                                std::unique_ptr<TenantBucket> slide, int64_t end_ns) {
  const WindowLevel& cfg = config_.levels[level];
  LevelState& ls = state.levels[level];
  if (level + 1 < state.levels.size()) state.levels[level + 1].partial->merge(*slide);
  ls.ring.push_back(std::move(slide));
  const size_t keep = static_cast<size_t>(cfg.window_ns / cfg.slide_ns);
  while (ls.ring.size() > keep) {
    if (level == 0) remember_peers(state, *ls.ring.front());
    recycle(std::move(ls.ring.front()));
    ls.ring.pop_front();
  }
  bool any = false;
  for (const auto& b : ls.ring) any = any || has_data(*b);
  if (any && on_window_) {
    TenantBucket& merged = *scratch_[level];
    merged.clear();
    for (const auto& b : ls.ring) {
      if (has_data(*b)) merged.merge(*b);
    }
    TenantWindow window;
    window.tenant_id = state.tenant_id;
    window.level = level;
    window.start_ns = end_ns - cfg.window_ns;
    window.end_ns = end_ns;
    window.slide_ns = cfg.slide_ns;
    window.bucket = &merged;
    window.history = level == 0 ? &state.history : nullptr;
    ++stats_.windows_closed;
    on_window_(window);
    stats_.hosts_evicted += merged.hosts.stats().evicted;
    stats_.hosts_rejected += merged.hosts.stats().rejected;
  }
  if (level + 1 < state.levels.size() && end_ns % config_.levels[level + 1].slide_ns == 0) {
    push_slide(state, level + 1, pack(*state.levels[level + 1].partial), end_ns);
  }
}

void AnalysisEngine::remember_peers(TenantState& state, const TenantBucket& bucket) {
  bucket.hosts.for_each([&](const HostSlot& s) {
    if (s.internal == 0 || s.peer_bits.empty()) return;
    auto it = state.history.find(s.host);
    if (it == state.history.end()) {
      if (state.history.size() >= config_.max_history_hosts) return;
      it = state.history.emplace(s.host, PeerBits{}).first;
    }
    it->second.merge(s.peer_bits);
  });
}

void AnalysisEngine::close_slide() {
  const int64_t end_ns = (slide_index_ + 1) * config_.levels[0].slide_ns;
  // Tenants in id order, so that windows (and the incidents they raise) come out in the
  // same order on every run.
  for (uint32_t id : tenants()) {
    TenantState& state = *tenants_.at(id);
    if (!state.owned) continue;
    stats_.hosts_evicted += state.current->hosts.stats().evicted;
    stats_.hosts_rejected += state.current->hosts.stats().rejected;
    // The slide goes to the ring packed; its table, cleared, takes the next slide (it keeps
    // its size, so the next slide does not grow it again).
    state.current->seal();
    push_slide(state, 0, pack(*state.current), end_ns);
  }
  if (on_contacts_ && !contacts_.empty()) on_contacts_(contacts_, end_ns);
  contacts_.clear();
  std::fill(contact_filter_.begin(), contact_filter_.end(), 0);
  ++slide_index_;
  ++stats_.slides_closed;
  update_memory_stats();
}

void AnalysisEngine::advance(int64_t now_ns) {
  if (!started_) return;
  const int64_t index = now_ns / config_.levels[0].slide_ns;
  move_to_slide(index);
}

bool AnalysisEngine::holds_data() const noexcept {
  for (const auto& [id, state] : tenants_) {
    if (!state->owned) continue;
    if (has_data(*state->current)) return true;
    for (const LevelState& ls : state->levels) {
      if (ls.partial && has_data(*ls.partial)) return true;
      for (const auto& b : ls.ring) {
        if (has_data(*b)) return true;
      }
    }
  }
  return false;
}

void AnalysisEngine::flush() {
  if (!started_) return;
  const int64_t limit = max_pending_slides();
  for (int64_t n = 0; n < limit && holds_data(); ++n) close_slide();
}

void AnalysisEngine::update_memory_stats() {
  uint64_t bytes = 0;
  uint64_t history = 0;
  uint64_t owned = 0;
  const auto add = [&](const TenantBucket& b) { bytes += b.hosts.memory_bytes(); };
  for (const auto& [id, state] : tenants_) {
    if (!state->owned) continue;
    ++owned;
    add(*state->current);
    for (const LevelState& ls : state->levels) {
      if (ls.partial) add(*ls.partial);
      for (const auto& b : ls.ring) add(*b);
    }
    history += state->history.size();
  }
  for (const auto& b : scratch_) add(*b);
  for (const auto& b : spare_) add(*b);
  for (const auto& b : spare_packed_) add(*b);
  stats_.memory_bytes = bytes;
  stats_.tenants = owned;
  stats_.history_hosts = history;
}

}  // namespace fathom::analyze
