#include "gen/scenario.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <set>
#include <stdexcept>
#include <string_view>

namespace fathom::gen {
namespace {

constexpr std::array<std::string_view, 4> kProtocolNames = {"netflow_v5", "netflow_v9", "ipfix",
                                                            "sflow_v5"};
constexpr std::array<std::string_view, 12> kAttackNames = {"syn_flood",
                                                           "udp_flood",
                                                           "dns_amplification",
                                                           "ntp_amplification",
                                                           "memcached_amplification",
                                                           "horizontal_scan",
                                                           "vertical_scan",
                                                           "ssh_brute_force",
                                                           "rdp_brute_force",
                                                           "exfiltration",
                                                           "c2_beacon",
                                                           "intel_contact"};

// v5 header: 2 bits of mode, 14 bits of interval (Cisco NetFlow v5 format).
constexpr uint32_t kMaxV5SamplingRate = 0x3fff;

bool host_bits_zero(const flow::IpAddress& a, unsigned first_bit) {
  for (unsigned bit = first_bit; bit < 128; ++bit) {
    if (a.bytes[bit / 8] & (0x80u >> (bit % 8))) return false;
  }
  return true;
}

std::string where(const TenantConfig& t) {
  return "tenant " + std::to_string(t.id);
}

}  // namespace

std::optional<Prefix> Prefix::parse(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  auto addr = flow::IpAddress::parse(std::string_view(text).substr(0, slash));
  if (!addr) return std::nullopt;
  unsigned len = 0;
  const char* first = text.data() + slash + 1;
  const char* last = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(first, last, len);
  if (ec != std::errc() || ptr != last || first == last) return std::nullopt;
  const unsigned max = addr->is_v4() ? 32 : 128;
  if (len > max) return std::nullopt;
  const unsigned offset = addr->is_v4() ? 96 : 0;
  if (!host_bits_zero(*addr, offset + len)) return std::nullopt;
  return Prefix{*addr, static_cast<uint8_t>(len)};
}

std::string Prefix::to_string() const {
  return base.to_string() + "/" + std::to_string(length);
}

std::string to_string(ExportProtocol p) {
  return std::string(kProtocolNames[size_t(p)]);
}
std::string to_string(AttackType t) {
  return std::string(kAttackNames[size_t(t)]);
}

std::optional<ExportProtocol> parse_export_protocol(const std::string& text) {
  for (size_t i = 0; i < kProtocolNames.size(); ++i) {
    if (text == kProtocolNames[i]) return static_cast<ExportProtocol>(i);
  }
  return std::nullopt;
}

std::optional<AttackType> parse_attack_type(const std::string& text) {
  for (size_t i = 0; i < kAttackNames.size(); ++i) {
    if (text == kAttackNames[i]) return static_cast<AttackType>(i);
  }
  return std::nullopt;
}

uint16_t default_collector_port(ExportProtocol p) noexcept {
  switch (p) {
    case ExportProtocol::kNetflowV5:
    case ExportProtocol::kNetflowV9: return 2055;
    case ExportProtocol::kIpfix: return 4739;
    case ExportProtocol::kSflowV5: return 6343;
  }
  return 2055;
}

void validate(const Scenario& s) {
  if (s.duration_ns <= 0) throw std::invalid_argument("duration must be positive");
  if (s.truth_window_ns < 1'000'000'000) {
    throw std::invalid_argument("truth_window must be at least 1s");
  }
  if (s.tenants.empty()) throw std::invalid_argument("scenario has no tenants");
  if (!s.collector.is_v4()) throw std::invalid_argument("collector must be an IPv4 address");
  if (s.collector_v6.is_v4()) throw std::invalid_argument("collector_v6 must be IPv6");
  std::set<uint32_t> ids;
  for (const auto& t : s.tenants) {
    if (!ids.insert(t.id).second) throw std::invalid_argument("duplicate " + where(t));
    bool has_v4 = false;
    bool has_v6 = false;
    for (const auto& p : t.prefixes) (p.is_v4() ? has_v4 : has_v6) = true;
    if (!has_v4) throw std::invalid_argument(where(t) + ": needs an IPv4 prefix");
    if (t.hosts < 4) throw std::invalid_argument(where(t) + ": needs at least 4 hosts");
    if (t.servers + t.heavy_servers + 2 > t.hosts) {
      throw std::invalid_argument(where(t) + ": servers + heavy_servers leave no clients");
    }
    if (t.exporters.empty()) throw std::invalid_argument(where(t) + ": has no exporters");
    bool v6_capable = false;
    for (const auto& e : t.exporters) {
      if (e.sampling_rate == 0) throw std::invalid_argument(where(t) + ": sampling rate 0");
      if (e.protocol == ExportProtocol::kNetflowV5 && e.sampling_rate > kMaxV5SamplingRate) {
        throw std::invalid_argument(where(t) + ": NetFlow v5 sampling rate above 16383");
      }
      if (e.active_timeout_ns <= 0 || e.inactive_timeout_ns <= 0) {
        throw std::invalid_argument(where(t) + ": flow timeouts must be positive");
      }
      if (e.sflow_header_bytes < 64 || e.sflow_header_bytes > 256) {
        throw std::invalid_argument(where(t) + ": sflow header_bytes must be 64..256");
      }
      if (e.sflow_counter_interval_ns < 0 || e.sflow_counter_interval_ns % 1'000'000'000 != 0) {
        throw std::invalid_argument(where(t) +
                                    ": sflow_counter_interval must be whole seconds (0 = none)");
      }
      if (e.protocol != ExportProtocol::kNetflowV5) v6_capable = true;
    }
    const bool wants_v6 = has_v6 && t.background.ipv6_share > 0;
    if (wants_v6 && !v6_capable) {
      throw std::invalid_argument(where(t) + ": IPv6 traffic but only NetFlow v5 exporters");
    }
    if (t.background.ipv6_share < 0 || t.background.ipv6_share > 1) {
      throw std::invalid_argument(where(t) + ": ipv6_share must be in [0, 1]");
    }
    if (t.background.trough_ratio < 0 || t.background.trough_ratio > 1) {
      throw std::invalid_argument(where(t) + ": trough_ratio must be in [0, 1]");
    }
  }
  std::set<std::string> attack_ids;
  for (const auto& a : s.attacks) {
    if (a.id.empty() || !attack_ids.insert(a.id).second) {
      throw std::invalid_argument("attack id '" + a.id + "' empty or duplicate");
    }
    if (!ids.count(a.tenant)) {
      throw std::invalid_argument("attack " + a.id + ": unknown tenant " +
                                  std::to_string(a.tenant));
    }
    if (a.duration_ns <= 0 || a.start_ns < 0) {
      throw std::invalid_argument("attack " + a.id + ": bad start or duration");
    }
    if (a.rate < 0 || a.jitter < 0 || a.jitter >= 1) {
      throw std::invalid_argument("attack " + a.id + ": rate must be >= 0, jitter in [0, 1)");
    }
    if (a.type == AttackType::kIntelContact && s.intel.empty()) {
      throw std::invalid_argument("attack " + a.id + ": intel_contact needs an intel list");
    }
    for (const auto& given : {a.victim, a.attacker}) {
      if (given && given->is_v4() == a.ipv6) {
        throw std::invalid_argument("attack " + a.id + ": victim and attacker must be " +
                                    (a.ipv6 ? "IPv6 (ipv6: true)" : "IPv4 (or set ipv6: true)"));
      }
    }
    if (a.ipv6) {
      const TenantConfig& t =
          *std::find_if(s.tenants.begin(), s.tenants.end(),
                        [&](const TenantConfig& tc) { return tc.id == a.tenant; });
      const bool v6_prefix = std::any_of(t.prefixes.begin(), t.prefixes.end(),
                                         [](const Prefix& p) { return !p.is_v4(); });
      const bool v6_exporter = std::any_of(
          t.exporters.begin(), t.exporters.end(),
          [](const ExporterConfig& e) { return e.protocol != ExportProtocol::kNetflowV5; });
      if (!v6_prefix || !v6_exporter) {
        throw std::invalid_argument("attack " + a.id +
                                    ": ipv6 needs a tenant with an IPv6 prefix and a non-v5 "
                                    "exporter");
      }
    }
    if (a.type == AttackType::kIntelContact &&
        std::none_of(s.intel.begin(), s.intel.end(),
                     [&](const flow::IpAddress& i) { return i.is_v4() != a.ipv6; })) {
      throw std::invalid_argument("attack " + a.id + ": intel_contact needs intel addresses of " +
                                  (a.ipv6 ? "IPv6" : "IPv4"));
    }
  }
}

Scenario default_scenario() {
  Scenario s;
  TenantConfig t;
  t.id = 1;
  t.name = "default";
  t.prefixes = {*Prefix::parse("10.1.0.0/16"), *Prefix::parse("2001:db8:1::/48")};
  ExporterConfig e;
  e.address = flow::IpAddress::from_v4(0x7f000001);
  t.exporters.push_back(e);
  s.tenants.push_back(std::move(t));
  return s;
}

}  // namespace fathom::gen
