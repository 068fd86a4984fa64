#include "gen/background.h"

#include <algorithm>
#include <cmath>

// Every random draw is its own statement: the order in which function arguments are evaluated
// differs between compilers, and --seed must give the same bytes whichever built the binary.

namespace fathom::gen {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr double kSecondsPerDay = 86400.0;
// Sessions per second an internet-facing heavy server receives at the daily peak.
constexpr double kHeavySessionsPerSecond = 25.0;
// Mail sessions per second per mail server at the peak.
constexpr double kMailSessionsPerSecond = 0.5;

int64_t ms_to_ns(double ms) {
  return static_cast<int64_t>(ms * 1e6);
}

// Duration of a transfer: a log-normal think/handshake time plus size over a heavy-tailed rate.
// Always inlined: every caller passes constants, whose logarithms then fold at compile time
// instead of costing two std::log calls per session.
[[gnu::always_inline]] inline int64_t transfer_duration(Rng& rng, uint64_t bytes, double median_s,
                                                        double mbps_median) {
  const double base = rng.lognormal(std::log(median_s), 1.0);
  const double rate = rng.lognormal(std::log(mbps_median * 125000.0), 0.8);  // bytes/s
  const double s = base + static_cast<double>(bytes) / rate;
  return std::min<int64_t>(static_cast<int64_t>(s * 1e9), kMaxFlowDurationNs);
}

uint64_t capped(double v, double cap) {
  return static_cast<uint64_t>(std::min(v, cap));
}

}  // namespace

BackgroundTraffic::BackgroundTraffic(const TenantModel& tenant, uint64_t seed)
    : tenant_(tenant), rng_(seed) {}

double BackgroundTraffic::diurnal(int64_t t_ns) const noexcept {
  const auto& bg = tenant_.config().background;
  const double day_s = std::fmod(static_cast<double>(t_ns) / 1e9, kSecondsPerDay);
  const double hour = day_s / 3600.0;
  const double phase = 2.0 * 3.141592653589793 * (hour - bg.peak_hour) / 24.0;
  const double shape = 0.5 * (1.0 + std::cos(phase));  // 1 at the peak, 0 twelve hours away
  return bg.trough_ratio + (1.0 - bg.trough_ratio) * shape;
}

Endpoint BackgroundTraffic::internal(uint32_t host, bool v6, uint16_t port) const noexcept {
  return Endpoint{tenant_.address(host, v6), host, port};
}

FlowContext BackgroundTraffic::context(uint32_t host, bool v6) const noexcept {
  FlowContext ctx;
  ctx.tenant = static_cast<uint16_t>(tenant_.index());
  ctx.exporter = tenant_.exporter(host, v6);
  return ctx;
}

void BackgroundTraffic::generate(int64_t tick_start_ns, int64_t tick_ns,
                                 std::vector<FlowSpec>& out) {
  const auto& bg = tenant_.config().background;
  const double level = diurnal(tick_start_ns) * rng_.lognormal(0.0, bg.noise);
  const double tick_s = static_cast<double>(tick_ns) / 1e9;
  const uint64_t clients =
      rng_.poisson(level * bg.sessions_per_host_per_s * tenant_.client_count() * tick_s);
  for (uint64_t i = 0; i < clients; ++i) {
    client_session(tick_start_ns + static_cast<int64_t>(rng_.below(uint64_t(tick_ns))), out);
  }
  const uint64_t heavy =
      rng_.poisson(level * kHeavySessionsPerSecond * tenant_.heavy_count() * tick_s);
  for (uint64_t i = 0; i < heavy; ++i) {
    heavy_server_session(tick_start_ns + static_cast<int64_t>(rng_.below(uint64_t(tick_ns))), out);
  }
  const uint64_t mail = rng_.poisson(level * kMailSessionsPerSecond * tick_s);
  for (uint64_t i = 0; i < mail; ++i) {
    mail_session(tick_start_ns + static_cast<int64_t>(rng_.below(uint64_t(tick_ns))), out);
  }
}

void BackgroundTraffic::client_session(int64_t start, std::vector<FlowSpec>& out) {
  const uint32_t client = tenant_.random_client(rng_);
  const bool v6 = tenant_.has_v6() && rng_.chance(tenant_.config().background.ipv6_share);
  const FlowContext ctx = context(client, v6);
  const Endpoint me = internal(client, v6, ephemeral_port());
  const double kind = rng_.uniform();
  // Round-trip times, right-skewed without a transcendental draw: WAN 8-58 ms, LAN 0.2-1 ms.
  const double rtt_u = rng_.uniform();
  const int64_t wan_rtt = ms_to_ns(8.0 + 50.0 * rtt_u * rtt_u);
  const int64_t lan_rtt = ms_to_ns(0.2 + 0.8 * rtt_u);
  if (kind < 0.52) {
    // Web/TLS: small request, heavy-tailed response.
    const uint16_t port = rng_.chance(0.88) ? 443 : 80;
    const Endpoint peer{ExternalPeers::pick(PeerPool::kService, v6, rng_), kNoHost, port};
    const uint64_t up = capped(rng_.lognormal(std::log(900.0), 0.9), 2e6);
    const uint64_t down = capped(rng_.pareto(3000.0, 1.15), 300e6);
    add_tcp_session(me, peer, up, down, start, transfer_duration(rng_, down, 0.8, 40.0), wan_rtt,
                    ctx, out);
  } else if (kind < 0.70) {
    // DNS to the internal resolver, which forwards a share of queries upstream.
    const uint32_t dns = tenant_.server(HostRole::kDnsServer);
    const Endpoint server = internal(dns, v6, 53);
    const uint32_t answer = static_cast<uint32_t>(rng_.range(60, 300));
    add_udp_exchange(me, server, 1, static_cast<uint32_t>(rng_.range(28, 60)), answer, start, 0,
                     lan_rtt, ctx, out);
    if (rng_.chance(0.4)) {
      const Endpoint fwd = internal(dns, v6, ephemeral_port());
      const Endpoint upstream{ExternalPeers::pick(PeerPool::kResolver, v6, rng_), kNoHost, 53};
      add_udp_exchange(fwd, upstream, 1, 40, answer, start + lan_rtt / 2, 0, wan_rtt,
                       context(dns, v6), out);
    }
  } else if (kind < 0.72) {
    // NTP: one 48-byte exchange with a public time server.
    Endpoint ntp_me = me;
    ntp_me.port = 123;
    const Endpoint server{ExternalPeers::pick(PeerPool::kResolver, v6, rng_), kNoHost, 123};
    add_udp_exchange(ntp_me, server, 1, 48, 48, start, 0, wan_rtt, ctx, out);
  } else if (kind < 0.90) {
    // Internal services: SMB file transfers, database queries, the intranet app.
    const double svc = rng_.uniform();
    if (svc < 0.4) {
      const Endpoint server = internal(tenant_.server(HostRole::kFileServer), v6, 445);
      const uint64_t down = capped(rng_.pareto(20000.0, 1.1), 500e6);
      const uint64_t up = capped(rng_.lognormal(std::log(4000.0), 1.0), 1e6);
      const int64_t dur = transfer_duration(rng_, down, 0.5, 400.0);
      add_tcp_session(me, server, up, down, start, dur, lan_rtt, ctx, out);
    } else if (svc < 0.75) {
      const Endpoint server = internal(tenant_.server(HostRole::kDbServer), v6, 5432);
      const uint64_t up = capped(rng_.lognormal(std::log(2000.0), 1.2), 1e6);
      const uint64_t down = capped(rng_.pareto(5000.0, 1.3), 50e6);
      const int64_t dur = ms_to_ns(rng_.lognormal(std::log(300.0), 1.2));
      add_tcp_session(me, server, up, down, start, dur, lan_rtt, ctx, out);
    } else {
      const Endpoint server = internal(tenant_.server(HostRole::kAppServer), v6, 8080);
      const uint64_t up = capped(rng_.lognormal(std::log(1500.0), 0.8), 1e6);
      const uint64_t down = capped(rng_.pareto(8000.0, 1.3), 20e6);
      const int64_t dur = ms_to_ns(rng_.lognormal(std::log(500.0), 1.0));
      add_tcp_session(me, server, up, down, start, dur, lan_rtt, ctx, out);
    }
  } else if (kind < 0.92 && !v6) {
    // ping
    const Endpoint peer{ExternalPeers::pick(PeerPool::kService, false, rng_), kNoHost, 0};
    add_icmp_echo(me, peer, 4, start, 3 * kSecond, wan_rtt, ctx, out);
  } else if (kind < 0.93 && client < tenant_.first_client() + 8) {
    // SSH admin session from one of the first few clients (the admins) to the app server.
    const Endpoint server = internal(tenant_.server(HostRole::kAppServer), v6, 22);
    const int64_t dur = std::min<int64_t>(
        static_cast<int64_t>(rng_.lognormal(std::log(90.0), 0.9) * 1e9), kMaxFlowDurationNs);
    const uint64_t up = capped(rng_.lognormal(std::log(20000.0), 1.0), 5e6);
    const uint64_t down = capped(rng_.lognormal(std::log(60000.0), 1.2), 50e6);
    add_tcp_session(me, server, up, down, start, dur, lan_rtt, ctx, out);
  } else {
    // Long tail of other outbound TLS (updates, SaaS APIs).
    const Endpoint peer{ExternalPeers::pick(PeerPool::kService, v6, rng_), kNoHost, 443};
    const uint64_t down = capped(rng_.lognormal(std::log(15000.0), 1.5), 100e6);
    const uint64_t up = capped(rng_.lognormal(std::log(1200.0), 1.0), 1e6);
    const int64_t dur = transfer_duration(rng_, down, 1.0, 20.0);
    add_tcp_session(me, peer, up, down, start, dur, wan_rtt, ctx, out);
  }
}

void BackgroundTraffic::heavy_server_session(int64_t start, std::vector<FlowSpec>& out) {
  if (tenant_.heavy_count() == 0) return;
  const uint32_t server =
      tenant_.first_heavy() + static_cast<uint32_t>(rng_.below(tenant_.heavy_count()));
  const bool v6 = tenant_.has_v6() && rng_.chance(tenant_.config().background.ipv6_share * 2);
  const Endpoint user{ExternalPeers::pick(PeerPool::kEyeball, v6, rng_), kNoHost, ephemeral_port()};
  const uint64_t down = capped(rng_.pareto(8000.0, 1.2), 200e6);
  const uint64_t up = capped(rng_.lognormal(std::log(700.0), 0.7), 1e6);
  const int64_t dur = transfer_duration(rng_, down, 0.5, 15.0);
  const int64_t rtt = ms_to_ns(rng_.lognormal(std::log(40.0), 0.6));
  add_tcp_session(user, internal(server, v6, 443), up, down, start, dur, rtt, context(server, v6),
                  out);
}

void BackgroundTraffic::mail_session(int64_t start, std::vector<FlowSpec>& out) {
  const uint32_t mail = tenant_.server(HostRole::kMailServer);
  const Endpoint peer{ExternalPeers::pick(PeerPool::kHosting, false, rng_), kNoHost,
                      ephemeral_port()};
  const uint64_t message = capped(rng_.lognormal(std::log(30000.0), 1.4), 40e6);
  const int64_t dur = transfer_duration(rng_, message, 1.5, 10.0);
  const int64_t rtt = ms_to_ns(rng_.lognormal(std::log(50.0), 0.5));
  if (rng_.chance(0.5)) {  // inbound: the internet delivers to our MX
    add_tcp_session(peer, internal(mail, false, 25), message, 600, start, dur, rtt,
                    context(mail, false), out);
  } else {  // outbound: our server delivers to a remote MX
    const Endpoint me = internal(mail, false, ephemeral_port());
    const Endpoint mx{peer.addr, kNoHost, 25};
    add_tcp_session(me, mx, message, 600, start, dur, rtt, context(mail, false), out);
  }
}

}  // namespace fathom::gen
