#pragma once

// The simulated address plan: each tenant's hosts with their roles and exporters, and the
// external internet they talk to (addresses drawn from real, well-known public prefixes).

#include <cstdint>
#include <span>
#include <vector>

#include "flow/ip_address.h"
#include "gen/rng.h"
#include "gen/scenario.h"

namespace fathom::gen {

inline constexpr uint32_t kNoHost = 0xffffffffu;

/// What a host does; decides the traffic it starts and answers.
enum class HostRole : uint8_t {
  kDnsServer,    ///< internal resolver (UDP 53), forwards to public resolvers
  kMailServer,   ///< SMTP to and from the internet
  kFileServer,   ///< SMB (445) for clients
  kDbServer,     ///< PostgreSQL (5432) for clients
  kAppServer,    ///< internal web app (8080), SSH admin target
  kHeavyServer,  ///< internet-facing HTTPS server with heavy inbound load
  kClient,       ///< workstation
};

struct Host {
  flow::IpAddress v4;
  flow::IpAddress v6;  ///< `::` when the tenant has no IPv6 prefix
  HostRole role = HostRole::kClient;
  uint16_t v4_exporter = 0;  ///< index into the tenant's exporters for IPv4 flows
  uint16_t v6_exporter = 0;  ///< index of a v6-capable exporter for IPv6 flows
};

/// Runtime view of one tenant: hosts laid out servers first, then heavy servers, then clients.
class TenantModel {
 public:
  /// Builds the hosts; throws std::invalid_argument when a prefix is too small for them.
  TenantModel(const TenantConfig& config, uint32_t index);

  const TenantConfig& config() const noexcept { return *config_; }
  uint32_t index() const noexcept { return index_; }
  bool has_v6() const noexcept { return has_v6_; }
  std::span<const Host> hosts() const noexcept { return hosts_; }
  const Host& host(uint32_t i) const noexcept { return hosts_[i]; }
  uint32_t host_count() const noexcept { return static_cast<uint32_t>(hosts_.size()); }

  /// First host of a role group; servers of kind k (k < servers) are at index k % servers.
  uint32_t server(HostRole role) const noexcept;
  uint32_t first_heavy() const noexcept { return first_heavy_; }
  uint32_t heavy_count() const noexcept { return first_client_ - first_heavy_; }
  uint32_t first_client() const noexcept { return first_client_; }
  uint32_t client_count() const noexcept { return host_count() - first_client_; }
  uint32_t random_client(Rng& rng) const noexcept {
    return first_client_ + static_cast<uint32_t>(rng.below(client_count()));
  }
  /// Host index of an internal address, or kNoHost.
  uint32_t find(const flow::IpAddress& addr) const noexcept;

 private:
  const TenantConfig* config_;
  uint32_t index_;
  bool has_v6_ = false;
  uint32_t first_heavy_ = 0;
  uint32_t first_client_ = 0;
  std::vector<Host> hosts_;
  std::vector<Prefix> v4_prefixes_;
  std::vector<Prefix> v6_prefixes_;
};

/// Pools of external addresses, each drawn from a table of real public prefixes.
enum class PeerPool : uint8_t {
  kService,   ///< popular services: CDNs, clouds, search, social (few hot addresses)
  kResolver,  ///< public DNS and NTP servers
  kEyeball,   ///< residential/mobile ISP space: users of a tenant's public servers
  kHosting,   ///< hosting and VPS space: scanners, botnets, reflectors, C2, drop sites
};

/// Draws external peer addresses. Stateless apart from the tables; all randomness from `rng`.
class ExternalPeers {
 public:
  /// One address from `pool`; IPv6 when `v6` (a pool with no v6 prefixes falls back to v4).
  static flow::IpAddress pick(PeerPool pool, bool v6, Rng& rng) noexcept;
};

/// `base` plus `offset` inside the prefix (offset wraps modulo the prefix size).
flow::IpAddress address_in(const Prefix& prefix, uint64_t offset) noexcept;

}  // namespace fathom::gen
