#include "gen/attacks.h"

#include <algorithm>
#include <cmath>

#include "gen/session.h"

// Every random draw is its own statement: the order in which function arguments are evaluated
// differs between compilers, and --seed must give the same bytes whichever built the binary.

namespace fathom::gen {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSecond = 1'000'000'000;
constexpr size_t kMaxListedAttackers = 64;

struct TypeDefaults {
  double rate;
  double slow_rate;
  uint32_t sources;
  uint32_t targets;
  const char* unit;
};

// Indexed by AttackType.
constexpr TypeDefaults kDefaults[] = {
    {20000, 300, 0, 0, "packets/s"},     // syn_flood (spoofed: sources unused)
    {15000, 300, 200, 0, "packets/s"},   // udp_flood
    {12000, 500, 400, 0, "packets/s"},   // dns_amplification
    {10000, 400, 300, 0, "packets/s"},   // ntp_amplification
    {8000, 300, 100, 0, "packets/s"},    // memcached_amplification
    {200, 0.2, 1, 1024, "probes/s"},     // horizontal_scan
    {300, 0.2, 1, 1024, "probes/s"},     // vertical_scan
    {8, 0.05, 1, 0, "attempts/s"},       // ssh_brute_force
    {5, 0.05, 1, 0, "attempts/s"},       // rdp_brute_force
    {4e6, 30e3, 1, 0, "bytes/s"},        // exfiltration
    {60, 900, 1, 0, "seconds/beacon"},   // c2_beacon
    {0.5, 0.02, 3, 0, "connections/s"},  // intel_contact
};

flow::IpAddress random_public_v4(Rng& rng) {
  // Spoofed sources: anywhere in 1.0.0.0 - 223.255.255.255 except 10/8 and 127/8.
  for (;;) {
    const uint32_t a = static_cast<uint32_t>(rng.range(0x01000000u, 0xdfffffffu));
    const uint32_t first = a >> 24;
    if (first != 10 && first != 127) return flow::IpAddress::from_v4(a);
  }
}

// Spoofed IPv6 sources: global unicast from the ranges the RIRs allocate (2001:: .. 2c0f::).
flow::IpAddress random_public_v6(Rng& rng) {
  flow::IpAddress a;
  const uint64_t top = rng.range(0x2001, 0x2c0f);
  const uint64_t hi = rng.next();
  const uint64_t lo = rng.next();
  a.bytes[0] = static_cast<uint8_t>(top >> 8);
  a.bytes[1] = static_cast<uint8_t>(top);
  for (size_t i = 2; i < 8; ++i) a.bytes[i] = static_cast<uint8_t>(hi >> (8 * (i - 2)));
  for (size_t i = 8; i < 16; ++i) a.bytes[i] = static_cast<uint8_t>(lo >> (8 * (i - 8)));
  return a;
}

}  // namespace

double default_rate(AttackType type, bool slow) noexcept {
  const auto& d = kDefaults[size_t(type)];
  return slow ? d.slow_rate : d.rate;
}

const char* rate_unit(AttackType type) noexcept {
  return kDefaults[size_t(type)].unit;
}

Attack::Attack(const AttackConfig& config, uint32_t index, const TenantModel& tenant,
               const std::vector<flow::IpAddress>& intel, int64_t sim_start_ns, uint64_t seed)
    : config_(config),
      index_(index),
      tenant_(tenant),
      intel_(intel),
      rng_(seed),
      start_ns_(sim_start_ns + config.start_ns),
      end_ns_(sim_start_ns + config.start_ns + config.duration_ns) {
  const auto& d = kDefaults[size_t(config.type)];
  rate_ = config.rate > 0 ? config.rate : default_rate(config.type, config.slow);
  const uint32_t n_sources = config.sources > 0 ? config.sources : std::max<uint32_t>(d.sources, 1);
  // Victim (inbound attacks) or compromised host (outbound ones).
  const bool outbound = config.type == AttackType::kExfiltration ||
                        config.type == AttackType::kC2Beacon ||
                        config.type == AttackType::kIntelContact;
  if (config.victim) {
    victim_ = *config.victim;
    victim_host_ = tenant.find(victim_);
  } else if (outbound) {
    victim_host_ = tenant.random_client(rng_);
  } else if (config.type == AttackType::kSshBruteForce ||
             config.type == AttackType::kRdpBruteForce) {
    victim_host_ = tenant.server(HostRole::kAppServer);
  } else if (tenant.heavy_count() > 0) {
    victim_host_ = tenant.first_heavy();
  } else {
    victim_host_ = tenant.random_client(rng_);
  }
  if (victim_host_ != kNoHost) {
    victim_ = tenant.address(victim_host_, config.ipv6);
  }
  // Sources.
  switch (config.type) {
    case AttackType::kSynFlood: break;  // fresh spoofed source per packet
    case AttackType::kIntelContact:
      for (size_t i = 0; sources_.size() < n_sources && i < n_sources * intel_.size(); ++i) {
        const flow::IpAddress& peer = intel_[i % intel_.size()];
        if (peer.is_v4() != config.ipv6) sources_.push_back(peer);  // the attack's family only
      }
      break;
    case AttackType::kDnsAmplification:
    case AttackType::kNtpAmplification:
    case AttackType::kMemcachedAmplification:
    case AttackType::kUdpFlood:
      for (uint32_t i = 0; i < n_sources; ++i) {
        const bool hosting = rng_.chance(0.5);
        sources_.push_back(ExternalPeers::pick(hosting ? PeerPool::kHosting : PeerPool::kEyeball,
                                               config.ipv6, rng_));
      }
      break;
    default:
      sources_.push_back(config.attacker
                             ? *config.attacker
                             : ExternalPeers::pick(PeerPool::kHosting, config.ipv6, rng_));
      break;
  }
  truth_.intensity = rate_;
  truth_.intensity_unit = rate_unit(config.type);
  truth_.attacker_count = config.type == AttackType::kSynFlood ? 0 : sources_.size();
  for (size_t i = 0; i < sources_.size() && i < kMaxListedAttackers; ++i) {
    truth_.attackers.push_back(sources_[i]);
  }
  if (outbound) {
    // The internal host is the "attacker" side of the ground truth; peers are victims/targets.
    std::swap(truth_.attackers, truth_.victims);
    truth_.attackers = {victim_};
  } else if (config.type != AttackType::kHorizontalScan) {
    truth_.victims = {victim_};
  }
  next_beacon_ns_ = start_ns_;
}

FlowContext Attack::context() const noexcept {
  FlowContext ctx;
  ctx.tenant = static_cast<uint16_t>(tenant_.index());
  if (victim_host_ != kNoHost) {
    ctx.exporter = tenant_.exporter(victim_host_, config_.ipv6);
  }
  ctx.label = index_ + 1;
  return ctx;
}

Endpoint Attack::victim_endpoint(uint16_t port) const noexcept {
  return Endpoint{victim_, victim_host_, port};
}

void Attack::account(const std::vector<FlowSpec>& out, size_t from) {
  for (size_t i = from; i < out.size(); ++i) {
    truth_.packets += out[i].packets;
    truth_.bytes += out[i].total_bytes();
    truth_.flows++;
  }
}

void Attack::generate(int64_t tick_start_ns, int64_t tick_ns, std::vector<FlowSpec>& out) {
  const int64_t lo = std::max(tick_start_ns, start_ns_);
  const int64_t hi = std::min(tick_start_ns + tick_ns, end_ns_);
  if (lo >= hi) return;
  const size_t first = out.size();
  const FlowContext ctx = context();
  const auto port = [&] { return static_cast<uint16_t>(rng_.range(1024, 65535)); };
  switch (config_.type) {
    case AttackType::kSynFlood: {
      const uint64_t n = events(rate_, lo, hi);
      const uint16_t dport = 443;
      for (uint64_t i = 0; i < n; ++i) {
        const Endpoint spoofed{config_.ipv6 ? random_public_v6(rng_) : random_public_v4(rng_),
                               kNoHost, port()};
        const int64_t t = when(lo, hi);
        add_tcp_probe(spoofed, victim_endpoint(dport), false, t, ctx, out);
      }
      truth_.attacker_count += n;  // every packet has its own spoofed source
      break;
    }
    case AttackType::kUdpFlood:
    case AttackType::kDnsAmplification:
    case AttackType::kNtpAmplification:
    case AttackType::kMemcachedAmplification: {
      // Each source sends one stream per tick; its packet count is Poisson.
      const double per_source = rate_ / static_cast<double>(sources_.size());
      for (size_t s = 0; s < sources_.size(); ++s) {
        const uint64_t n = events(per_source, lo, hi);
        if (n == 0) continue;
        uint16_t sport = port();
        uint16_t size = static_cast<uint16_t>(rng_.range(512, 1500));
        if (config_.type == AttackType::kDnsAmplification) {
          sport = 53;
          size = static_cast<uint16_t>(rng_.range(1200, 1500));  // large ANY/DNSSEC answers
        } else if (config_.type == AttackType::kNtpAmplification) {
          sport = 123;
          size = 468;  // monlist response: 6 entries of 72 bytes + headers
        } else if (config_.type == AttackType::kMemcachedAmplification) {
          sport = 11211;
          size = 1428;
        }
        add_udp_stream(Endpoint{sources_[s], kNoHost, sport}, victim_endpoint(port()),
                       static_cast<uint32_t>(n), size, lo, hi - lo - 1, ctx, out);
      }
      break;
    }
    case AttackType::kHorizontalScan:
    case AttackType::kVerticalScan: {
      const bool horizontal = config_.type == AttackType::kHorizontalScan;
      const uint32_t targets = config_.targets > 0 ? config_.targets
                               : horizontal        ? std::min<uint32_t>(1024, tenant_.host_count())
                                                   : 1024;
      const uint64_t n = events(rate_, lo, hi);
      for (uint64_t i = 0; i < n; ++i, ++probe_) {
        const uint32_t t = static_cast<uint32_t>(probe_ % targets);
        const uint32_t host = t % tenant_.host_count();
        Endpoint target = horizontal ? Endpoint{tenant_.address(host, config_.ipv6), host, 445}
                                     : victim_endpoint(static_cast<uint16_t>(1 + t));
        Endpoint me{sources_[0], kNoHost, port()};
        FlowContext c = ctx;
        if (target.host != kNoHost) {
          c.exporter = tenant_.exporter(target.host, config_.ipv6);
        }
        // Closed ports answer with RST; some hosts are firewalled and stay silent.
        const bool answers = rng_.chance(0.6);
        const int64_t at = when(lo, hi);
        add_tcp_probe(me, target, answers, at, c, out);
        if (probed_.emplace(target.addr, target.port).second && horizontal &&
            truth_.victims.size() < kMaxListedAttackers) {
          truth_.victims.push_back(target.addr);
        }
      }
      truth_.distinct_targets = probed_.size();
      break;
    }
    case AttackType::kSshBruteForce:
    case AttackType::kRdpBruteForce: {
      const bool ssh = config_.type == AttackType::kSshBruteForce;
      const uint64_t n = events(rate_, lo, hi);
      for (uint64_t i = 0; i < n; ++i) {
        const int64_t dur = static_cast<int64_t>(rng_.lognormal(std::log(1.5), 0.4) * 1e9);
        const Endpoint attacker{sources_[0], kNoHost, port()};
        const uint64_t up = rng_.range(ssh ? 1800 : 3000, ssh ? 2600 : 5000);
        const uint64_t down = rng_.range(ssh ? 2200 : 4000, ssh ? 3200 : 7000);
        const int64_t t = when(lo, hi);
        add_tcp_session(attacker, victim_endpoint(ssh ? 22 : 3389), up, down, t, dur, 60 * kMs, ctx,
                        out);
      }
      break;
    }
    case AttackType::kExfiltration: {
      // One upload connection per 60 s chunk, started at the chunk boundary.
      constexpr int64_t kChunk = 60 * kSecond;
      for (int64_t t = start_ns_; t < end_ns_; t += kChunk) {
        if (t < lo || t >= hi) continue;
        const int64_t dur = std::min(kChunk, end_ns_ - t) - kSecond / 10;
        const uint64_t payload = static_cast<uint64_t>(rate_ * static_cast<double>(dur) / 1e9);
        add_tcp_session(victim_endpoint(port()), Endpoint{sources_[0], kNoHost, 443}, payload, 4000,
                        t, dur, 80 * kMs, ctx, out);
      }
      break;
    }
    case AttackType::kC2Beacon: {
      while (next_beacon_ns_ < hi) {
        if (next_beacon_ns_ >= lo) {
          const Endpoint implant = victim_endpoint(port());
          const uint64_t up = rng_.range(300, 800);
          const uint64_t down = rng_.range(200, 2000);
          const int64_t dur = static_cast<int64_t>(rng_.range(200, 900)) * kMs;
          add_tcp_session(implant, Endpoint{sources_[0], kNoHost, 443}, up, down, next_beacon_ns_,
                          dur, 90 * kMs, ctx, out);
        }
        const double jitter = 1.0 + config_.jitter * (2.0 * rng_.uniform() - 1.0);
        next_beacon_ns_ +=
            std::max<int64_t>(kSecond / 10, static_cast<int64_t>(rate_ * jitter * 1e9));
      }
      break;
    }
    case AttackType::kIntelContact: {
      const uint64_t n = events(rate_, lo, hi);
      for (uint64_t i = 0; i < n; ++i) {
        const auto& peer = sources_[rng_.below(sources_.size())];
        const Endpoint host = victim_endpoint(port());
        const uint64_t up = rng_.range(400, 2000);
        const uint64_t down = rng_.range(1000, 40000);
        const int64_t t = when(lo, hi);
        const int64_t dur = static_cast<int64_t>(rng_.range(300, 3000)) * kMs;
        add_tcp_session(host, Endpoint{peer, kNoHost, 443}, up, down, t, dur, 70 * kMs, ctx, out);
      }
      break;
    }
  }
  account(out, first);
}

}  // namespace fathom::gen
