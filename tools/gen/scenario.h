#pragma once

// The typed description of what fathom-gen simulates: tenants, their exporters, background
// traffic and scheduled attacks. Defaults live in the structs; `load_scenario` fills them
// from YAML and `validate` checks them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "flow/ip_address.h"

namespace fathom::gen {

/// An address prefix (`10.1.0.0/16`, `2001:db8:1::/48`).
struct Prefix {
  flow::IpAddress base;  ///< network address (v4-mapped for IPv4)
  uint8_t length = 0;    ///< prefix length in the address's own family (0..32 or 0..128)

  bool is_v4() const noexcept { return base.is_v4(); }
  /// Parses `a.b.c.d/n` or `v6/n`; nullopt on bad input or host bits set beyond the length.
  static std::optional<Prefix> parse(const std::string& text);
  std::string to_string() const;
};

/// Export formats a simulated device speaks.
enum class ExportProtocol : uint8_t { kNetflowV5, kNetflowV9, kIpfix, kSflowV5 };

/// How a device picks 1 in N packets.
enum class SamplingMode : uint8_t {
  kRandom,         ///< each packet independently with probability 1/N
  kDeterministic,  ///< every N-th packet (systematic count-based)
};

/// One flow exporter (router, switch, firewall) of a tenant.
struct ExporterConfig {
  flow::IpAddress address = flow::IpAddress::from_v4(0x7f000001);  ///< UDP source in pcap
  uint16_t source_port = 0;     ///< UDP source port; 0 = 50000 + global exporter index
  uint16_t collector_port = 0;  ///< UDP destination port in pcap; 0 = protocol default
  ExportProtocol protocol = ExportProtocol::kIpfix;
  uint32_t observation_domain = 0;  ///< v9 source id / IPFIX domain / sFlow sub-agent id
  uint32_t sampling_rate = 1;       ///< 1-in-N; 1 = unsampled
  SamplingMode sampling_mode = SamplingMode::kRandom;
  int64_t active_timeout_ns = 60'000'000'000;    ///< NetFlow/IPFIX flow cache active timeout
  int64_t inactive_timeout_ns = 15'000'000'000;  ///< NetFlow/IPFIX inactive timeout
  uint32_t template_refresh_packets = 16;        ///< v9/IPFIX: templates every N datagrams
  uint32_t sflow_header_bytes = 128;             ///< sFlow: raw header bytes kept per sample
  /// sFlow: a counter sample (generic interface counters of the sampled input and the output
  /// interface) every this many ns, whole seconds; 0 = none.
  int64_t sflow_counter_interval_ns = 20'000'000'000;
};

/// Background traffic shape of one tenant.
struct BackgroundConfig {
  double sessions_per_host_per_s = 0.05;  ///< mean sessions a client starts at the daily peak
  double peak_hour = 14.0;                ///< hour of day (UTC) of the daily peak
  double trough_ratio = 0.25;             ///< activity at the daily low relative to the peak
  double noise = 0.1;                     ///< sigma of the per-second log-normal noise
  double ipv6_share = 0.05;               ///< share of sessions over IPv6 (needs v6 prefixes)
};

/// One simulated customer network.
struct TenantConfig {
  uint32_t id = 1;
  std::string name = "tenant";
  std::vector<Prefix> prefixes;  ///< internal address space (at least one IPv4 prefix)
  uint32_t hosts = 500;          ///< internal hosts (clients + servers)
  uint32_t servers = 8;          ///< internal servers (DNS, mail, file, db, web)
  uint32_t heavy_servers = 1;    ///< internet-facing servers with heavy inbound traffic
  BackgroundConfig background;
  std::vector<ExporterConfig> exporters;
};

/// Attack kinds; names in `to_string` are the ground-truth `type` column.
enum class AttackType : uint8_t {
  kSynFlood,
  kUdpFlood,
  kDnsAmplification,
  kNtpAmplification,
  kMemcachedAmplification,
  kHorizontalScan,
  kVerticalScan,
  kSshBruteForce,
  kRdpBruteForce,
  kExfiltration,
  kC2Beacon,
  kIntelContact,
};

/// One scheduled attack. `rate` is the intensity in the type's own unit (see docs/generator.md):
/// packets/s for floods and amplification, probes/s for scans, attempts/s for brute force,
/// bytes/s for exfiltration, and seconds between beacons for C2.
struct AttackConfig {
  std::string id;
  AttackType type = AttackType::kSynFlood;
  uint32_t tenant = 1;
  int64_t start_ns = 60'000'000'000;  ///< offset from the scenario start
  int64_t duration_ns = 60'000'000'000;
  double rate = 0;       ///< intensity; 0 = the type's default (or slow default)
  uint32_t sources = 0;  ///< attackers / reflectors; 0 = the type's default
  uint32_t targets = 0;  ///< scan targets (hosts or ports); 0 = the type's default
  double jitter = 0.2;   ///< C2: relative jitter of the beacon period
  bool slow = false;     ///< slow-and-low variant: default rate far lower
  /// IPv6 variant: victims, attackers, reflectors and peers are IPv6 addresses. Needs a tenant
  /// with an IPv6 prefix and a non-v5 exporter (intel_contact: IPv6 intel addresses).
  bool ipv6 = false;
  std::optional<flow::IpAddress> victim;    ///< internal victim/source; default: chosen
  std::optional<flow::IpAddress> attacker;  ///< external attacker/peer; default: chosen
};

/// A whole scenario.
struct Scenario {
  uint64_t seed = 1;
  int64_t start_ns = 1'705'320'000'000'000'000;  ///< simulated start (2024-01-15 12:00 UTC)
  int64_t duration_ns = 600'000'000'000;
  int64_t truth_window_ns = 10'000'000'000;  ///< unsampled truth CSV window
  bool truth_hosts = true;  ///< per-host lines in the truth CSV (tenant lines always)
  /// Draw each attack's start at run time from the seed, uniformly in whole seconds so that
  /// the attack ends within the duration; the configured starts are ignored.
  bool random_attack_starts = false;
  flow::IpAddress collector = flow::IpAddress::from_v4(0x7f000001);  ///< pcap destination (v4)
  /// pcap destination of exporters with an IPv6 address (default ::1).
  flow::IpAddress collector_v6 = *flow::IpAddress::parse("::1");
  std::vector<flow::IpAddress> intel;  ///< threat-intel addresses (for kIntelContact)
  std::vector<TenantConfig> tenants;
  std::vector<AttackConfig> attacks;
};

std::string to_string(ExportProtocol p);
std::string to_string(AttackType t);
std::optional<ExportProtocol> parse_export_protocol(const std::string& text);
std::optional<AttackType> parse_attack_type(const std::string& text);
/// Default UDP port of a protocol (2055 NetFlow, 4739 IPFIX, 6343 sFlow).
uint16_t default_collector_port(ExportProtocol p) noexcept;

/// Checks cross-field rules (tenants unique, attack tenants exist, v5 rate fits in 14 bits,
/// IPv6 traffic has a v6-capable exporter, ...). Throws std::invalid_argument naming the
/// offending tenant/exporter/attack.
void validate(const Scenario& scenario);

/// A small built-in scenario (one tenant, one IPFIX exporter, no attacks) for flag-only runs.
Scenario default_scenario();

}  // namespace fathom::gen
