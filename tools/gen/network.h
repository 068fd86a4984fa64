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

/// Runtime view of one tenant: hosts laid out servers first, then heavy servers, then clients.
///
/// A host's addresses and exporters are computed from its index rather than stored: sessions
/// start at random hosts, and a per-host table (38 bytes a host, 760 kB for 20,000 hosts) missed
/// the cache on most sessions, about a sixth of the generator's time.
class TenantModel {
 public:
  /// Builds the hosts; throws std::invalid_argument when a prefix is too small for them.
  TenantModel(const TenantConfig& config, uint32_t index);

  const TenantConfig& config() const noexcept { return *config_; }
  uint32_t index() const noexcept { return index_; }
  bool has_v6() const noexcept { return has_v6_; }
  uint32_t host_count() const noexcept { return host_count_; }
  /// Host `i`'s IPv6 address when `v6` (`::` when the tenant has no IPv6 prefix), otherwise
  /// its IPv4 address. IPv4 hosts fill the IPv4 prefixes in turn from offset 1; IPv6 host i is
  /// at offset i + 1 of IPv6 prefix i % (IPv6 prefixes).
  flow::IpAddress address(uint32_t i, bool v6) const noexcept;
  /// The exporter (index within the tenant) that meters host `i`'s IPv6 or IPv4 flows: IPv4
  /// flows go to exporter i % (exporters), IPv6 flows to the v6-capable ones in turn.
  uint16_t exporter(uint32_t i, bool v6) const noexcept {
    return v6 ? v6_exporters_[i % static_cast<uint32_t>(v6_exporters_.size())]
              : static_cast<uint16_t>(i % exporter_count_);
  }

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
  uint32_t host_count_ = 0;
  uint32_t exporter_count_ = 1;
  std::vector<uint16_t> v6_exporters_;  ///< v6-capable exporters ({0} when none)
  std::vector<Prefix> v4_prefixes_;
  std::vector<Prefix> v6_prefixes_;
  /// IPv4 address (host order) of each host when a prefix fills up before the others, which
  /// breaks the arithmetic of address(); empty otherwise (the usual case).
  std::vector<uint32_t> v4_table_;
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
