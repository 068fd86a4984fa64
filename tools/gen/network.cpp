#include "gen/network.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <stdexcept>
#include <string>

namespace fathom::gen {
namespace {

// Real public prefixes grouped by what lives there. Weights are rough popularity.
struct PoolPrefix {
  const char* cidr;
  uint32_t weight;
};

constexpr std::array<PoolPrefix, 14> kServiceV4 = {{
    {"142.250.0.0/15", 20},   // Google
    {"172.217.0.0/16", 10},   // Google
    {"104.16.0.0/13", 14},    // Cloudflare
    {"151.101.0.0/16", 8},    // Fastly
    {"13.32.0.0/15", 8},      // Amazon CloudFront
    {"52.0.0.0/11", 10},      // Amazon AWS
    {"20.0.0.0/11", 8},       // Microsoft Azure
    {"40.64.0.0/10", 6},      // Microsoft
    {"157.240.0.0/16", 6},    // Meta
    {"31.13.64.0/18", 4},     // Meta
    {"23.0.0.0/12", 8},       // Akamai
    {"17.0.0.0/8", 4},        // Apple
    {"185.199.108.0/22", 2},  // GitHub
    {"140.82.112.0/20", 2},   // GitHub
}};
constexpr std::array<PoolPrefix, 5> kServiceV6 = {{
    {"2a00:1450::/32", 30},  // Google
    {"2606:4700::/32", 25},  // Cloudflare
    {"2a03:2880::/32", 15},  // Meta
    {"2600:1f00::/24", 20},  // AWS
    {"2620:1ec::/36", 10},   // Microsoft
}};
constexpr std::array<PoolPrefix, 6> kResolverV4 = {{
    {"8.8.8.0/24", 30},        // Google Public DNS
    {"1.1.1.0/24", 25},        // Cloudflare DNS
    {"9.9.9.0/24", 10},        // Quad9
    {"208.67.222.0/24", 10},   // OpenDNS
    {"162.159.200.0/24", 15},  // time.cloudflare.com
    {"216.239.35.0/24", 10},   // time.google.com
}};
constexpr std::array<PoolPrefix, 2> kResolverV6 = {{
    {"2001:4860:4860::/48", 60},  // Google Public DNS
    {"2606:4700:4700::/48", 40},  // Cloudflare DNS
}};
constexpr std::array<PoolPrefix, 9> kEyeballV4 = {{
    {"73.0.0.0/8", 14},     // Comcast
    {"24.0.0.0/8", 8},      // Charter and others
    {"81.0.0.0/8", 10},     // European ISPs
    {"86.0.0.0/8", 8},      // European ISPs
    {"92.0.0.0/8", 8},      // European ISPs
    {"177.0.0.0/8", 6},     // Brazilian ISPs
    {"182.0.0.0/8", 6},     // Asian ISPs
    {"49.0.0.0/8", 6},      // Asian mobile
    {"174.192.0.0/10", 6},  // US mobile
}};
constexpr std::array<PoolPrefix, 3> kEyeballV6 = {{
    {"2a01::/16", 40},       // European ISPs
    {"2600:1700::/24", 30},  // US ISP
    {"2409::/16", 30},       // Asian mobile
}};
constexpr std::array<PoolPrefix, 8> kHostingV4 = {{
    {"45.0.0.0/8", 14},    // hosting/VPS
    {"185.0.0.0/8", 16},   // European hosting
    {"193.0.0.0/8", 8},    // European hosting
    {"103.0.0.0/8", 12},   // APAC hosting
    {"91.0.0.0/8", 10},    // Eastern European hosting
    {"61.0.0.0/8", 8},     // APAC
    {"167.99.0.0/16", 6},  // DigitalOcean
    {"139.59.0.0/16", 6},  // DigitalOcean
}};
constexpr std::array<PoolPrefix, 2> kHostingV6 = {{
    {"2a01:4f8::/32", 50},   // Hetzner
    {"2604:a880::/32", 50},  // DigitalOcean
}};

struct ParsedPool {
  std::vector<Prefix> prefixes;
  /// Prefix index for each unit of weight: a uniform draw below the total weight picks a
  /// prefix in one lookup (weights are small integers; the tables sum to about a hundred).
  std::vector<uint8_t> by_weight;
};

template <size_t N>
ParsedPool parse_pool(const std::array<PoolPrefix, N>& table) {
  static_assert(N <= 256, "prefix index must fit by_weight's uint8_t");
  ParsedPool pool;
  for (const auto& entry : table) {
    auto p = Prefix::parse(entry.cidr);
    if (!p) throw std::logic_error(std::string("bad built-in prefix ") + entry.cidr);
    pool.by_weight.insert(pool.by_weight.end(), entry.weight,
                          static_cast<uint8_t>(pool.prefixes.size()));
    pool.prefixes.push_back(*p);
  }
  return pool;
}

struct Pools {
  std::array<ParsedPool, 4> v4;
  std::array<ParsedPool, 4> v6;
};

const Pools& pools() {
  // Immutable after construction (function-local static, thread-safe init).
  static const Pools kPools = [] {
    Pools p;
    p.v4 = {parse_pool(kServiceV4), parse_pool(kResolverV4), parse_pool(kEyeballV4),
            parse_pool(kHostingV4)};
    p.v6 = {parse_pool(kServiceV6), parse_pool(kResolverV6), parse_pool(kEyeballV6),
            parse_pool(kHostingV6)};
    return p;
  }();
  return kPools;
}

uint64_t be64(uint64_t v) {
  return std::endian::native == std::endian::little ? __builtin_bswap64(v) : v;
}

uint64_t prefix_size(const Prefix& p) {
  const unsigned host_bits = (p.is_v4() ? 32u : 128u) - p.length;
  return host_bits >= 63 ? (uint64_t{1} << 62) : (uint64_t{1} << host_bits);
}

// Hosts that a server of this role would be; servers cycle through the roles.
constexpr std::array<HostRole, 5> kServerRoles = {HostRole::kDnsServer, HostRole::kMailServer,
                                                  HostRole::kFileServer, HostRole::kDbServer,
                                                  HostRole::kAppServer};

}  // namespace

flow::IpAddress address_in(const Prefix& prefix, uint64_t offset) noexcept {
  const uint64_t size = prefix_size(prefix);
  offset %= size;
  // A 128-bit big-endian addition as two 64-bit halves (offset < 2^62: at most one carry).
  uint64_t hi = 0;
  uint64_t lo = 0;
  std::memcpy(&hi, prefix.base.bytes.data(), 8);
  std::memcpy(&lo, prefix.base.bytes.data() + 8, 8);
  hi = be64(hi);
  lo = be64(lo);
  const uint64_t sum = lo + offset;
  hi += sum < lo ? 1 : 0;
  hi = be64(hi);
  lo = be64(sum);
  flow::IpAddress a;
  std::memcpy(a.bytes.data(), &hi, 8);
  std::memcpy(a.bytes.data() + 8, &lo, 8);
  return a;
}

TenantModel::TenantModel(const TenantConfig& config, uint32_t index)
    : config_(&config), index_(index) {
  for (const auto& p : config.prefixes) (p.is_v4() ? v4_prefixes_ : v6_prefixes_).push_back(p);
  has_v6_ = !v6_prefixes_.empty() && config.background.ipv6_share > 0;
  uint64_t v4_room = 0;
  for (const auto& p : v4_prefixes_) v4_room += prefix_size(p) - 2;  // no network/broadcast
  if (v4_room < config.hosts) {
    throw std::invalid_argument("tenant " + std::to_string(config.id) +
                                ": IPv4 prefixes too small for " + std::to_string(config.hosts) +
                                " hosts");
  }
  host_count_ = config.hosts;
  exporter_count_ = static_cast<uint32_t>(std::max<size_t>(config.exporters.size(), 1));
  for (size_t i = 0; i < config.exporters.size(); ++i) {
    if (config.exporters[i].protocol != ExportProtocol::kNetflowV5) {
      v6_exporters_.push_back(static_cast<uint16_t>(i));
    }
  }
  if (v6_exporters_.empty()) v6_exporters_.push_back(0);
  first_heavy_ = config.servers;
  first_client_ = config.servers + config.heavy_servers;
  // Host i takes the next free offset (from 1, skipping the network address) of IPv4 prefix
  // i % n, or of the next prefix with room once that one is full. While none is full, that
  // is offset i / n + 1 of prefix i % n, which address() computes; otherwise keep a table.
  const size_t n = v4_prefixes_.size();
  bool fills_up = false;
  for (size_t k = 0; k < n; ++k) {
    const uint64_t size = prefix_size(v4_prefixes_[k]);
    const uint64_t room = size >= 2 ? size - 2 : 0;
    fills_up = fills_up || (config.hosts + n - 1 - k) / n > room;
  }
  if (!fills_up) return;
  v4_table_.resize(config.hosts);
  std::vector<uint64_t> next_offset(n, 1);
  for (uint32_t i = 0; i < config.hosts; ++i) {
    size_t prefix_idx = i % n;
    while (next_offset[prefix_idx] >= prefix_size(v4_prefixes_[prefix_idx]) - 1) {
      prefix_idx = (prefix_idx + 1) % n;
    }
    v4_table_[i] = address_in(v4_prefixes_[prefix_idx], next_offset[prefix_idx]++).v4();
  }
}

flow::IpAddress TenantModel::address(uint32_t i, bool v6) const noexcept {
  if (v6) {
    if (v6_prefixes_.empty()) return flow::IpAddress{};
    return address_in(v6_prefixes_[i % static_cast<uint32_t>(v6_prefixes_.size())], i + 1);
  }
  if (!v4_table_.empty()) return flow::IpAddress::from_v4(v4_table_[i]);
  const auto n = static_cast<uint32_t>(v4_prefixes_.size());
  return flow::IpAddress::from_v4(v4_prefixes_[i % n].base.v4() + i / n + 1);
}

uint32_t TenantModel::server(HostRole role) const noexcept {
  // Servers cycle through kServerRoles, so a role's first server is its index in that list.
  for (uint32_t i = 0; i < first_heavy_ && i < kServerRoles.size(); ++i) {
    if (kServerRoles[i] == role) return i;
  }
  // No server of that role (few servers): fall back to the first server, or a client.
  return first_heavy_ > 0 ? 0 : first_client_;
}

uint32_t TenantModel::find(const flow::IpAddress& addr) const noexcept {
  const bool v6 = !addr.is_v4();
  if (v6 && !has_v6_) return kNoHost;
  for (uint32_t i = 0; i < host_count_; ++i) {
    if (address(i, v6) == addr) return i;
  }
  return kNoHost;
}

flow::IpAddress ExternalPeers::pick(PeerPool pool, bool v6, Rng& rng) noexcept {
  const Pools& all = pools();
  const ParsedPool& p = (v6 ? all.v6 : all.v4)[size_t(pool)];
  const Prefix& prefix = p.prefixes[p.by_weight[rng.below(p.by_weight.size())]];
  uint64_t offset = 0;
  switch (pool) {
    case PeerPool::kService:
    case PeerPool::kResolver:
      // Few hot front-end addresses per prefix: Pareto-distributed rank.
      offset = 1 + static_cast<uint64_t>(std::min(rng.pareto(1.0, 1.2), 0x1.0p62)) % 512;
      break;
    case PeerPool::kEyeball:
    case PeerPool::kHosting: offset = 1 + rng.below(prefix_size(prefix) - 2); break;
  }
  return address_in(prefix, offset);
}

}  // namespace fathom::gen
