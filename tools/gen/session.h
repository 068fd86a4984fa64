#pragma once

// Builds the unidirectional FlowSpecs of one conversation (a TCP connection, a UDP exchange,
// an ICMP echo) with consistent packet counts, sizes and TCP flags in both directions.

#include <cstdint>
#include <vector>

#include "flow/ip_address.h"
#include "gen/flow_spec.h"

namespace fathom::gen {

/// One end of a conversation.
struct Endpoint {
  flow::IpAddress addr;
  uint32_t host = 0xffffffffu;  ///< internal host index, or kNoHost
  uint16_t port = 0;
};

/// Who meters the conversation and how it is labelled.
struct FlowContext {
  uint16_t tenant = 0;
  uint16_t exporter = 0;
  Label label = 0;
  uint8_t tos = 0;
};

/// Largest duration of one simulated flow; longer activity is split into several flows.
inline constexpr int64_t kMaxFlowDurationNs = 300'000'000'000;

/// Largest TCP payload per packet (1500-byte MTU, 20 IP + 32 TCP with timestamps).
inline constexpr uint32_t kTcpMss = 1448;

/// Appends a complete TCP connection: SYN / SYN-ACK, data both ways with ACKs, FIN-ACK.
/// `rtt_ns` delays the server's direction. Payloads may be 0 (connection with no data).
void add_tcp_session(const Endpoint& client, const Endpoint& server, uint64_t payload_up,
                     uint64_t payload_down, int64_t start_ns, int64_t duration_ns, int64_t rtt_ns,
                     const FlowContext& ctx, std::vector<FlowSpec>& out);

/// Appends a TCP probe: a single SYN, and (when `answer`) the victim's single RST-ACK.
void add_tcp_probe(const Endpoint& client, const Endpoint& server, bool answer, int64_t start_ns,
                   const FlowContext& ctx, std::vector<FlowSpec>& out);

/// Appends `requests` UDP datagrams of `request_size` (L4 payload) from client to server and,
/// when `response_size` > 0, as many replies of that payload size.
void add_udp_exchange(const Endpoint& client, const Endpoint& server, uint32_t requests,
                      uint32_t request_size, uint32_t response_size, int64_t start_ns,
                      int64_t duration_ns, int64_t rtt_ns, const FlowContext& ctx,
                      std::vector<FlowSpec>& out);

/// Appends a one-way stream of `packets` UDP datagrams of L3 size `l3_size` (floods).
void add_udp_stream(const Endpoint& src, const Endpoint& dst, uint32_t packets, uint16_t l3_size,
                    int64_t start_ns, int64_t duration_ns, const FlowContext& ctx,
                    std::vector<FlowSpec>& out);

/// Appends an ICMP echo exchange of `count` requests and replies (84-byte IPv4 pings).
void add_icmp_echo(const Endpoint& client, const Endpoint& server, uint32_t count, int64_t start_ns,
                   int64_t duration_ns, int64_t rtt_ns, const FlowContext& ctx,
                   std::vector<FlowSpec>& out);

}  // namespace fathom::gen
