#pragma once

// Helpers shared by the fathom-gen tests: small scenarios built in code, and a run that keeps
// every datagram in memory.

#include <cstddef>
#include <cstdint>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "gen/generator.h"
#include "gen/scenario.h"

namespace fathom::gen::testing {

struct CapturedDatagram {
  DatagramInfo info;
  uint32_t records = 0;
  std::vector<std::byte> payload;
};

struct CapturedRun {
  RunSummary summary;
  std::vector<CapturedDatagram> datagrams;
  std::string pcap;   ///< the same datagrams as a pcap file image
  std::string truth;  ///< window truth CSV
  std::string ground_truth;
};

/// One tenant with one exporter of `protocol` at `rate`, `hosts` hosts, no attacks.
inline Scenario one_tenant(ExportProtocol protocol, uint32_t rate,
                           SamplingMode mode = SamplingMode::kRandom, uint32_t hosts = 300,
                           int64_t duration_s = 30) {
  Scenario s;
  s.seed = 7;
  s.duration_ns = duration_s * 1'000'000'000;
  TenantConfig t;
  t.id = 1;
  t.name = "t1";
  t.prefixes = {*Prefix::parse("10.9.0.0/16"), *Prefix::parse("2001:db8:9::/48")};
  t.hosts = hosts;
  t.background.sessions_per_host_per_s = 0.2;
  t.background.ipv6_share = protocol == ExportProtocol::kNetflowV5 ? 0.0 : 0.1;
  ExporterConfig e;
  e.address = flow::IpAddress::from_v4(0x7f000009);
  e.protocol = protocol;
  e.observation_domain = 5;
  e.sampling_rate = rate;
  e.sampling_mode = mode;
  t.exporters.push_back(e);
  s.tenants.push_back(t);
  return s;
}

/// Runs `generator` and keeps everything it wrote.
inline CapturedRun capture(Generator& generator) {
  CapturedRun run;
  std::ostringstream pcap_stream;
  std::ostringstream truth_stream;
  PcapWriter pcap(pcap_stream);
  run.summary = generator.run(
      [&](const DatagramInfo& info, uint32_t records, std::span<const std::byte> payload) {
        run.datagrams.push_back({info, records, {payload.begin(), payload.end()}});
        pcap.write(info, payload);
      },
      &truth_stream);
  std::ostringstream gt;
  generator.write_ground_truth(gt);
  run.pcap = pcap_stream.str();
  run.truth = truth_stream.str();
  run.ground_truth = gt.str();
  return run;
}

inline CapturedRun capture(Scenario scenario) {
  Generator generator(std::move(scenario));
  return capture(generator);
}

}  // namespace fathom::gen::testing
