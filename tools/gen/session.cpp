#include "gen/session.h"

#include <algorithm>

namespace fathom::gen {
namespace {

FlowSpec base_spec(const Endpoint& src, const Endpoint& dst, uint8_t proto, int64_t start_ns,
                   int64_t duration_ns, const FlowContext& ctx) {
  FlowSpec f;
  f.start_ns = start_ns;
  f.duration_ns = std::clamp<int64_t>(duration_ns, 0, kMaxFlowDurationNs);
  f.src = src.addr;
  f.dst = dst.addr;
  f.src_port = src.port;
  f.dst_port = dst.port;
  f.src_host = src.host;
  f.dst_host = dst.host;
  f.proto = proto;
  f.tos = ctx.tos;
  f.tenant = ctx.tenant;
  f.exporter = ctx.exporter;
  f.label = ctx.label;
  return f;
}

uint64_t ceil_div(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}

// One TCP direction: `data_packets` carry `payload`, `acks` are pure ACKs for the other side.
FlowSpec tcp_direction(const Endpoint& src, const Endpoint& dst, bool is_client, uint64_t payload,
                       uint64_t acks, int64_t start_ns, int64_t duration_ns,
                       const FlowContext& ctx) {
  FlowSpec f = base_spec(src, dst, kProtoTcp, start_ns, duration_ns, ctx);
  const bool v6 = f.is_v6();
  const uint16_t hdr = v6 ? 72 : 52;  // IP + TCP with the timestamp option
  const uint64_t data_packets = ceil_div(payload, kTcpMss);
  // Client: handshake ACK; both: data packets and ACKs in the middle.
  const uint64_t mid = data_packets + acks + (is_client ? 1 : 0);
  f.packets = static_cast<uint32_t>(std::min<uint64_t>(mid + 2, 0xffffffffu));
  f.size_first = static_cast<uint16_t>(hdr + 8);  // SYN carries MSS/SACK/wscale options
  f.size_last = hdr;
  f.size_mid = mid == 0 ? hdr : static_cast<uint16_t>(hdr + payload / mid);
  f.flags_first = is_client ? kTcpSyn : uint8_t(kTcpSyn | kTcpAck);
  f.flags_mid = payload > 0 ? uint8_t(kTcpAck | kTcpPsh) : kTcpAck;
  f.flags_last = kTcpFin | kTcpAck;
  return f;
}

}  // namespace

void add_tcp_session(const Endpoint& client, const Endpoint& server, uint64_t payload_up,
                     uint64_t payload_down, int64_t start_ns, int64_t duration_ns, int64_t rtt_ns,
                     const FlowContext& ctx, std::vector<FlowSpec>& out) {
  const uint64_t up_packets = ceil_div(payload_up, kTcpMss);
  const uint64_t down_packets = ceil_div(payload_down, kTcpMss);
  // Delayed ACKs: one ACK per two data segments from the other side.
  out.push_back(tcp_direction(client, server, true, payload_up, down_packets / 2, start_ns,
                              duration_ns, ctx));
  out.push_back(tcp_direction(server, client, false, payload_down, up_packets / 2,
                              start_ns + rtt_ns / 2, duration_ns, ctx));
}

void add_tcp_probe(const Endpoint& client, const Endpoint& server, bool answer, int64_t start_ns,
                   const FlowContext& ctx, std::vector<FlowSpec>& out) {
  FlowSpec syn = base_spec(client, server, kProtoTcp, start_ns, 0, ctx);
  syn.packets = 1;
  syn.size_first = syn.size_mid = syn.size_last = syn.is_v6() ? 64 : 44;  // SYN with MSS option
  syn.flags_first = syn.flags_mid = syn.flags_last = kTcpSyn;
  out.push_back(syn);
  if (!answer) return;
  FlowSpec rst = base_spec(server, client, kProtoTcp, start_ns + 500'000, 0, ctx);
  rst.packets = 1;
  rst.size_first = rst.size_mid = rst.size_last = rst.is_v6() ? 60 : 40;
  rst.flags_first = rst.flags_mid = rst.flags_last = kTcpRst | kTcpAck;
  out.push_back(rst);
}

void add_udp_exchange(const Endpoint& client, const Endpoint& server, uint32_t requests,
                      uint32_t request_size, uint32_t response_size, int64_t start_ns,
                      int64_t duration_ns, int64_t rtt_ns, const FlowContext& ctx,
                      std::vector<FlowSpec>& out) {
  if (requests == 0) return;
  FlowSpec req = base_spec(client, server, kProtoUdp, start_ns, duration_ns, ctx);
  const uint16_t hdr = req.is_v6() ? 48 : 28;
  req.packets = requests;
  req.size_first = req.size_mid = req.size_last =
      static_cast<uint16_t>(hdr + std::min<uint32_t>(request_size, 1472));
  out.push_back(req);
  if (response_size == 0) return;
  FlowSpec resp = base_spec(server, client, kProtoUdp, start_ns + rtt_ns, duration_ns, ctx);
  resp.packets = requests;
  resp.size_first = resp.size_mid = resp.size_last =
      static_cast<uint16_t>(hdr + std::min<uint32_t>(response_size, 1472));
  out.push_back(resp);
}

void add_udp_stream(const Endpoint& src, const Endpoint& dst, uint32_t packets, uint16_t l3_size,
                    int64_t start_ns, int64_t duration_ns, const FlowContext& ctx,
                    std::vector<FlowSpec>& out) {
  if (packets == 0) return;
  FlowSpec f = base_spec(src, dst, kProtoUdp, start_ns, duration_ns, ctx);
  f.packets = packets;
  const uint16_t size = std::max(l3_size, min_l3_size(kProtoUdp, f.is_v6()));
  f.size_first = f.size_mid = f.size_last = size;
  out.push_back(f);
}

void add_icmp_echo(const Endpoint& client, const Endpoint& server, uint32_t count, int64_t start_ns,
                   int64_t duration_ns, int64_t rtt_ns, const FlowContext& ctx,
                   std::vector<FlowSpec>& out) {
  if (count == 0) return;
  Endpoint c = client;
  Endpoint s = server;
  c.port = 0;
  s.port = 8 << 8;  // echo request, type << 8 | code in the destination port
  FlowSpec req = base_spec(c, s, kProtoIcmp, start_ns, duration_ns, ctx);
  req.packets = count;
  req.size_first = req.size_mid = req.size_last = req.is_v6() ? 104 : 84;
  out.push_back(req);
  s.port = 0;
  c.port = 0;  // echo reply: type 0, code 0
  FlowSpec resp = base_spec(s, c, kProtoIcmp, start_ns + rtt_ns, duration_ns, ctx);
  resp.packets = count;
  resp.size_first = resp.size_mid = resp.size_last = req.size_first;
  out.push_back(resp);
}

}  // namespace fathom::gen
