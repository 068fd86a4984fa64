#pragma once

// Benign traffic of one tenant: client sessions (web/TLS, DNS, NTP, internal services, ping),
// mail to and from the internet, SSH administration, and internet users of the tenant's heavy
// servers. Session counts follow a diurnal curve with log-normal noise; sizes and durations
// are heavy-tailed.

#include <cstdint>
#include <vector>

#include "gen/flow_spec.h"
#include "gen/network.h"
#include "gen/rng.h"
#include "gen/session.h"

namespace fathom::gen {

class BackgroundTraffic {
 public:
  BackgroundTraffic(const TenantModel& tenant, uint64_t seed);

  /// Appends the flows of sessions starting in [tick_start_ns, tick_start_ns + tick_ns).
  void generate(int64_t tick_start_ns, int64_t tick_ns, std::vector<FlowSpec>& out);

  /// Activity multiplier in [trough_ratio, 1] for a UTC time (1 at the peak hour).
  double diurnal(int64_t t_ns) const noexcept;

 private:
  void client_session(int64_t start_ns, std::vector<FlowSpec>& out);
  void heavy_server_session(int64_t start_ns, std::vector<FlowSpec>& out);
  void mail_session(int64_t start_ns, std::vector<FlowSpec>& out);
  Endpoint internal(uint32_t host, bool v6, uint16_t port) const noexcept;
  FlowContext context(uint32_t host, bool v6) const noexcept;
  uint16_t ephemeral_port() noexcept { return static_cast<uint16_t>(rng_.range(32768, 60999)); }

  const TenantModel& tenant_;
  Rng rng_;
};

}  // namespace fathom::gen
