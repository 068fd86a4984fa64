#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "transform/ip_prefix.h"

namespace fathom::transform {

/// One exporter entry of a tenant: an address block and, optionally, the observation domains
/// (NetFlow v9 source id, IPFIX observation domain, sFlow sub-agent) it is limited to.
struct ExporterMatch {
  IpPrefix prefix;
  /// Sorted, no duplicates; empty = every domain.
  std::vector<uint32_t> observation_domains;
};

/// Which records of one exporter count towards a tenant's traffic estimates, when several
/// exporters see the same traffic (docs/estimation.md "De-duplication"). Records a rule
/// excludes get `record_flags::kNotCounted`: analysis still sees them, estimates skip them.
struct DedupRule {
  IpPrefix exporter;  ///< exporters the rule applies to (the most specific rule wins)
  /// What to count from those exporters.
  enum class Count : uint8_t {
    kAll = 0,         ///< everything (a rule that only exists to override a broader one)
    kNone = 1,        ///< nothing: this exporter's view is counted elsewhere
    kIngress = 2,     ///< records the exporter marks as ingress (IE 61 = 0, or absent)
    kEgress = 3,      ///< records the exporter marks as egress (IE 61 = 1)
    kInterfaces = 4,  ///< records whose input interface is in `input_interfaces`
  } count = Count::kAll;
  std::vector<uint32_t> input_interfaces;  ///< sorted; used by kInterfaces
};

/// A customer network. Validated at load: `id` > 0 and unique, `name` unique, and no exporter
/// block overlaps another tenant's unless both list disjoint observation domains.
struct Tenant {
  uint32_t id = 0;   ///< > 0; 0 means "no tenant" in FlowRecord::tenant_id
  std::string name;  ///< [A-Za-z0-9_.-], used in metrics labels and the API
  std::vector<ExporterMatch> exporters;
  /// The tenant's own address space: decides inbound/outbound/internal/transit.
  std::vector<IpPrefix> internal_networks;
  /// Records/s the adaptive sampler aims at for this tenant; 0 = no limit.
  double target_ingest_rate = 0.0;
  /// Per-exporter de-duplication for estimates; empty = count every record.
  std::vector<DedupRule> dedup;
  /// Free-form detector thresholds (name → value), interpreted by later stages.
  std::map<std::string, double> thresholds;
};

/// What happens to records from an exporter that matches no tenant.
enum class UnknownExporters : uint8_t {
  kReject = 0,   ///< counted and dropped: the allowlist against spoofed UDP
  kDefault = 1,  ///< put in the default tenant (demos, labs)
};

/// Threat-intelligence categories. A record's `src_intel`/`dst_intel` has bit `category` set
/// for every list the address is on. At most 16 (the masks are 16 bits).
enum class IntelCategory : uint8_t {
  kMalware = 0,     ///< malware distribution
  kC2 = 1,          ///< command and control
  kBotnet = 2,      ///< botnet members
  kScanner = 3,     ///< scanners, crawlers of open services
  kBruteforce = 4,  ///< password guessing (SSH, RDP, ...)
  kSpam = 5,
  kPhishing = 6,
  kHijacked = 7,    ///< hijacked or criminal networks (Spamhaus DROP/EDROP)
  kTor = 8,         ///< Tor exit nodes
  kAnonymizer = 9,  ///< open proxies, VPN exits
  kAttacker = 10,   ///< attack sources in general (FireHOL level 1-3 and the like)
  kOther = 15,
};

/// "malware", "c2", "botnet", "scanner", "bruteforce", "spam", "phishing", "hijacked", "tor",
/// "anonymizer", "attacker", "other".
std::string_view to_string(IntelCategory category) noexcept;
/// The category named `name` (as `to_string` writes it); false when unknown.
bool parse_intel_category(std::string_view name, IntelCategory& out) noexcept;

/// File formats of intel lists.
enum class IntelFormat : uint8_t {
  kAuto = 0,      ///< decided by content: CSV when the first data line has a comma, else plain
  kPlain = 1,     ///< one address or CIDR per line; '#' comments
  kNetset = 2,    ///< FireHOL .netset/.ipset: plain with '#' headers
  kSpamhaus = 3,  ///< Spamhaus DROP/EDROP: "CIDR ; SBLnnn", ';' comments (or the JSON lines
                  ///< drop_v4.json form: {"cidr":"...","sblid":"..."})
  kCsv = 4,       ///< "address_or_cidr[,category[,score]]", optional header line
};

/// One threat-intelligence list: a file of addresses and blocks.
struct IntelList {
  std::string name;  ///< [A-Za-z0-9_.-], unique; used in metrics and incidents
  std::string path;
  IntelFormat format = IntelFormat::kAuto;
  IntelCategory category = IntelCategory::kOther;  ///< default for entries without one
  uint8_t severity = 50;                           ///< 1..100; a CSV entry's score overrides it
};

/// In-memory enrichment: geo/ASN databases and intel lists (docs/configuration.md).
struct Enrichment {
  /// MaxMind-format databases with a country (GeoLite2/GeoIP2 Country or City,
  /// ip-location-db *-country-mmdb); the first that knows an address wins.
  std::vector<std::string> geo_databases;
  /// ASN sources: MaxMind-format (GeoLite2-ASN, ip-location-db asn-mmdb) or ip-location-db
  /// range CSV ("first,last,asn[,org]"); the first that knows an address wins.
  std::vector<std::string> asn_databases;
  std::vector<IntelList> intel_lists;
  /// How often files are checked for changes (mtime and size); changed ones are reloaded
  /// in the background and swapped in atomically. 0 = never (SIGHUP still reloads).
  uint32_t reload_check_seconds = 30;
  /// Replace the AS numbers the exporter put in the record (often 0 or the peer AS) with the
  /// database's origin AS. Otherwise the database only fills zeros.
  bool asn_overrides_exporter = false;
};

/// The adaptive per-tenant sampler (docs/estimation.md "Adaptive sampling"). Tenants with a
/// `target_ingest_rate` of 0 are never sampled.
struct Sampling {
  /// The keep probability changes at most this often (a flood may lower it sooner: see
  /// `surge_factor`).
  double update_interval_seconds = 2.0;
  /// Weight of the newest arrival-rate measurement in the moving average (0 < w <= 1).
  double smoothing = 0.5;
  /// Lowest keep probability: beyond this a tenant's records are kept at min_probability.
  double min_probability = 1e-4;
  /// When a tenant's arrivals since the last update exceed `surge_factor` x what the current
  /// probability was set for, the probability is lowered at once instead of waiting.
  double surge_factor = 4.0;
  /// Seed of the flow-key hash that decides which flows are kept.
  uint64_t seed = 0x9e3779b97f4a7c15ull;
};

/// Settings of the transform stage: the tenant table and the unknown-exporter policy.
struct Config {
  std::vector<Tenant> tenants;
  UnknownExporters unknown_exporters = UnknownExporters::kReject;
  /// Tenant that receives unknown exporters under `kDefault`; must not clash with a tenant.
  uint32_t default_tenant_id = 65535;
  std::string default_tenant_name = "default";
  Enrichment enrichment;
  Sampling sampling;
};

}  // namespace fathom::transform
