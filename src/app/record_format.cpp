#include "app/record_format.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>

#include "transform/config.h"

namespace fathom::app {
namespace {

template <typename T>
void append_int(T v, std::string& out) {
  std::array<char, 24> buf;
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), end);
}

void append_double(double v, std::string& out) {
  std::array<char, 32> buf;
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), end);
}

void append_hex(uint64_t v, std::string& out) {
  std::array<char, 24> buf;
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v, 16);
  out += "0x";
  if (end - buf.data() == 1) out += '0';  // two digits at least, like tshark's 0x00
  out.append(buf.data(), end);
}

/// Epoch nanoseconds as seconds with millisecond precision, rounded half up ("1705320000.062").
void append_epoch_ms(int64_t ns, std::string& out) {
  int64_t ms = ns >= 0 ? (ns + 500'000) / 1'000'000 : -((-ns + 500'000) / 1'000'000);
  if (ms < 0) {
    out += '-';
    ms = -ms;
  }
  append_int(ms / 1000, out);
  out += '.';
  const auto frac = static_cast<int>(ms % 1000);
  out += static_cast<char>('0' + frac / 100);
  out += static_cast<char>('0' + frac / 10 % 10);
  out += static_cast<char>('0' + frac % 10);
}

void append_mac(const std::array<uint8_t, 6>& mac, std::string& out) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  for (size_t i = 0; i < mac.size(); ++i) {
    if (i != 0) out += ':';
    out += kDigits[mac[i] >> 4];
    out += kDigits[mac[i] & 0xf];
  }
}

constexpr std::string_view kFlagNames[] = {
    "sampling_rate_unknown", "biflow_reverse", "decoded_late",      "packet_sample",
    "no_flow_times",         "not_counted",    "secondary_sampled",
};

/// JSON writer helpers: `,"key":` and values. Keys are literals without escapes.
class JsonObject {
 public:
  explicit JsonObject(std::string& out) : out_(out) { out_ += '{'; }
  ~JsonObject() { out_ += '}'; }
  JsonObject(const JsonObject&) = delete;
  JsonObject& operator=(const JsonObject&) = delete;

  template <typename T>
  void number(std::string_view key, T v) {
    this->key(key);
    append_int(v, out_);
  }
  void real(std::string_view key, double v) {
    this->key(key);
    append_double(v, out_);
  }
  /// A string value known to need no escaping (names, addresses).
  void plain(std::string_view key, std::string_view v) {
    this->key(key);
    out_ += '"';
    out_ += v;
    out_ += '"';
  }
  void address(std::string_view key, const flow::IpAddress& a) {
    this->key(key);
    out_ += '"';
    append_address(a, out_);
    out_ += '"';
  }
  void mac(std::string_view key, const std::array<uint8_t, 6>& m) {
    this->key(key);
    out_ += '"';
    append_mac(m, out_);
    out_ += '"';
  }
  /// An ISO country code, or "" when enrichment found none.
  void country(std::string_view key, const std::array<char, 2>& code) {
    this->key(key);
    out_ += '"';
    if (code[0] != 0) out_.append(code.data(), code.size());
    out_ += '"';
  }
  /// Intel category names of a `src_intel`/`dst_intel` mask.
  void categories(std::string_view key, uint16_t mask) {
    this->key(key);
    out_ += '[';
    bool first = true;
    for (unsigned bit = 0; bit < 16; ++bit) {
      if ((mask & (1u << bit)) == 0) continue;
      if (!first) out_ += ',';
      first = false;
      out_ += '"';
      out_ += transform::to_string(static_cast<transform::IntelCategory>(bit));
      out_ += '"';
    }
    out_ += ']';
  }
  /// A string value that `write` appends (text known to need no escaping).
  template <typename Write>
  void plain_with(std::string_view key, Write&& write) {
    this->key(key);
    out_ += '"';
    write(out_);
    out_ += '"';
  }
  void flags(std::string_view key, uint16_t flags) {
    this->key(key);
    out_ += '[';
    bool first = true;
    for (size_t bit = 0; bit < std::size(kFlagNames); ++bit) {
      if ((flags & (1u << bit)) == 0) continue;
      if (!first) out_ += ',';
      first = false;
      out_ += '"';
      out_ += kFlagNames[bit];
      out_ += '"';
    }
    out_ += ']';
  }

 private:
  void key(std::string_view k) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += k;
    out_ += "\":";
  }

  std::string& out_;
  bool first_ = true;
};

}  // namespace

void append_address(const flow::IpAddress& addr, std::string& out) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  const char* text = addr.is_v4() ? inet_ntop(AF_INET, addr.bytes.data() + 12, buf.data(),
                                              static_cast<socklen_t>(buf.size()))
                                  : inet_ntop(AF_INET6, addr.bytes.data(), buf.data(),
                                              static_cast<socklen_t>(buf.size()));
  out += text != nullptr ? text : "?";
}

void append_flag_names(uint16_t flags, char separator, std::string& out) {
  bool first = true;
  for (size_t bit = 0; bit < std::size(kFlagNames); ++bit) {
    if ((flags & (1u << bit)) == 0) continue;
    if (!first) out += separator;
    first = false;
    out += kFlagNames[bit];
  }
}

void append_json(const flow::FlowRecord& r, uint64_t frame, std::string& out) {
  JsonObject o(out);
  o.plain("type", "flow");
  o.number("frame", frame);
  o.plain("source", flow::to_string(r.source));
  o.address("exporter", r.exporter);
  o.number("exporter_port", r.exporter_port);
  o.number("observation_domain", r.observation_domain);
  o.number("arrival_ns", r.arrival_ns);
  o.number("start_ns", r.start_ns);
  o.number("end_ns", r.end_ns);
  o.address("src", r.src);
  o.address("dst", r.dst);
  o.number("src_port", r.src_port);
  o.number("dst_port", r.dst_port);
  o.number("proto", r.ip_protocol);
  o.number("bytes", r.bytes);
  o.number("packets", r.packets);
  o.number("device_sampling_rate", r.device_sampling_rate);
  o.real("sampling_rate", r.sampling_rate);
  o.number("sampling_algorithm", static_cast<unsigned>(r.sampling_algorithm));
  o.number("sampler_id", r.sampler_id);
  o.number("tcp_flags", r.tcp_flags);
  o.number("tos", r.tos);
  o.number("icmp_type", r.icmp_type);
  o.number("icmp_code", r.icmp_code);
  o.number("input_if", r.input_if);
  o.number("output_if", r.output_if);
  o.number("src_as", r.src_as);
  o.number("dst_as", r.dst_as);
  o.number("src_mask", r.src_mask);
  o.number("dst_mask", r.dst_mask);
  o.address("next_hop", r.next_hop);
  o.number("vlan", r.vlan);
  o.mac("src_mac", r.src_mac);
  o.mac("dst_mac", r.dst_mac);
  o.number("exporter_direction", r.exporter_direction);
  o.number("forwarding_status", r.forwarding_status);
  o.number("end_reason", r.end_reason);
  o.number("tenant_id", r.tenant_id);
  o.plain("direction", flow::to_string(r.direction));
  o.country("src_country", r.src_country);
  o.country("dst_country", r.dst_country);
  o.categories("src_intel", r.src_intel);
  o.categories("dst_intel", r.dst_intel);
  o.number("src_reputation", r.src_reputation);
  o.number("dst_reputation", r.dst_reputation);
  o.flags("flags", r.flags);
}

namespace {

/// GoFlow2's `type` values (its FlowMessage.FlowType names); VPC flow logs are Fathom's own.
std::string_view goflow_type(flow::SourceProtocol p) {
  switch (p) {
    case flow::SourceProtocol::kNetflowV5: return "NETFLOW_V5";
    case flow::SourceProtocol::kNetflowV9: return "NETFLOW_V9";
    case flow::SourceProtocol::kIpfix: return "IPFIX";
    case flow::SourceProtocol::kSflowV5: return "SFLOW_5";
    case flow::SourceProtocol::kVpcFlowLog: return "VPC_FLOW_LOG";
    case flow::SourceProtocol::kUnknown: break;
  }
  return "FLOWUNKNOWN";
}

/// GoFlow2's protocol names; any other protocol number as decimal text (GoFlow2 prints "",
/// which loses it), so `proto` is always a string.
void append_proto(uint8_t proto, std::string& out) {
  switch (proto) {
    case 1: out += "ICMP"; return;
    case 6: out += "TCP"; return;
    case 17: out += "UDP"; return;
    case 58: out += "ICMPv6"; return;
    case 132: out += "SCTP"; return;
    default: append_int(static_cast<unsigned>(proto), out);
  }
}

/// `addr`'s network of `length` bits in prefix form ("10.1.0.0/16", "2001:db8::/32"), as
/// GoFlow2 renders `src_net`/`dst_net` (a length of 0 gives "0.0.0.0/0"). A length beyond
/// the family's width is clamped to it.
void append_network(const flow::IpAddress& addr, uint8_t length, std::string& out) {
  const unsigned offset = addr.is_v4() ? 96 : 0;  // IPv4 sits in the last 32 bits
  const unsigned bits = std::min<unsigned>(length, addr.is_v4() ? 32 : 128);
  flow::IpAddress net = addr;
  for (unsigned bit = offset + bits; bit < 128; ++bit) {
    net.bytes[bit / 8] = static_cast<uint8_t>(net.bytes[bit / 8] & ~(0x80u >> (bit % 8)));
  }
  append_address(net, out);
  out += '/';
  append_int(bits, out);
}

}  // namespace

void append_goflow_json(const flow::FlowRecord& r, std::string& out) {
  JsonObject o(out);
  o.plain("type", goflow_type(r.source));
  o.number("time_received_ns", r.arrival_ns);
  const bool rate_known = (r.flags & flow::record_flags::kSamplingRateUnknown) == 0;
  o.number("sampling_rate", rate_known ? r.device_sampling_rate : 0u);
  o.address("sampler_address", r.exporter);
  o.number("time_flow_start_ns", r.start_ns);
  o.number("time_flow_end_ns", r.end_ns);
  o.number("bytes", r.bytes);
  o.number("packets", r.packets);
  o.address("src_addr", r.src);
  o.address("dst_addr", r.dst);
  o.plain("etype", r.src.is_v4() ? "IPv4" : "IPv6");
  o.plain_with("proto", [&](std::string& text) { append_proto(r.ip_protocol, text); });
  o.number("src_port", r.src_port);
  o.number("dst_port", r.dst_port);
  o.number("in_if", r.input_if);
  o.number("out_if", r.output_if);
  o.mac("src_mac", r.src_mac);
  o.mac("dst_mac", r.dst_mac);
  o.number("src_vlan", r.vlan);
  o.number("vlan_id", r.vlan);
  o.number("ip_tos", r.tos);
  o.number("forwarding_status", r.forwarding_status);
  o.number("tcp_flags", r.tcp_flags);
  o.number("icmp_type", r.icmp_type);
  o.number("icmp_code", r.icmp_code);
  o.number("src_as", r.src_as);
  o.number("dst_as", r.dst_as);
  if (r.next_hop.is_unspecified()) {
    o.plain("next_hop", "");
  } else {
    o.address("next_hop", r.next_hop);
  }
  o.plain_with("src_net", [&](std::string& text) { append_network(r.src, r.src_mask, text); });
  o.plain_with("dst_net", [&](std::string& text) { append_network(r.dst, r.dst_mask, text); });
  o.number("observation_domain_id", r.observation_domain);
  o.number("flow_direction", r.exporter_direction);
  // Fathom's additions.
  o.number("tenant_id", r.tenant_id);
  o.real("effective_sampling_rate", r.sampling_rate);
  o.plain("direction", flow::to_string(r.direction));
  o.country("src_country", r.src_country);
  o.country("dst_country", r.dst_country);
  o.flags("flags", r.flags);
}

void append_json(const flow::InterfaceCounters& c, uint64_t frame, std::string& out) {
  JsonObject o(out);
  o.plain("type", "if_counters");
  o.number("frame", frame);
  o.address("exporter", c.exporter);
  o.address("agent", c.agent);
  o.number("sub_agent", c.sub_agent);
  o.number("arrival_ns", c.arrival_ns);
  o.number("sequence", c.sequence);
  o.number("source_id", c.source_id);
  o.number("if_index", c.if_index);
  o.number("if_type", c.if_type);
  o.number("if_speed", c.if_speed);
  o.number("if_direction", c.if_direction);
  o.number("if_status", c.if_status);
  o.number("in_octets", c.in_octets);
  o.number("in_ucast_pkts", c.in_ucast_pkts);
  o.number("in_multicast_pkts", c.in_multicast_pkts);
  o.number("in_broadcast_pkts", c.in_broadcast_pkts);
  o.number("in_discards", c.in_discards);
  o.number("in_errors", c.in_errors);
  o.number("in_unknown_protos", c.in_unknown_protos);
  o.number("out_octets", c.out_octets);
  o.number("out_ucast_pkts", c.out_ucast_pkts);
  o.number("out_multicast_pkts", c.out_multicast_pkts);
  o.number("out_broadcast_pkts", c.out_broadcast_pkts);
  o.number("out_discards", c.out_discards);
  o.number("out_errors", c.out_errors);
  o.number("promiscuous_mode", c.promiscuous_mode);
  o.number("tenant_id", c.tenant_id);
}

void append_csv_header(std::string& out) {
  out +=
      "frame,exporter,source,source_id,src,dst,sport,dport,proto,bytes,packets,first,last,"
      "tcp_flags,tos,sampling_interval,sampling_algorithm,in_if,out_if,src_as,dst_as,next_hop,"
      "vlan,icmp_type,icmp_code,flags\n";
}

void append_csv(const flow::FlowRecord& r, uint64_t frame, std::string& out) {
  append_int(frame, out);
  out += ',';
  append_address(r.exporter, out);
  out += ',';
  out += flow::to_string(r.source);
  out += ',';
  append_int(r.observation_domain, out);
  out += ',';
  append_address(r.src, out);
  out += ',';
  append_address(r.dst, out);
  out += ',';
  append_int(r.src_port, out);
  out += ',';
  append_int(r.dst_port, out);
  out += ',';
  append_int(r.ip_protocol, out);
  out += ',';
  append_int(r.bytes, out);
  out += ',';
  append_int(r.packets, out);
  out += ',';
  append_epoch_ms(r.start_ns, out);
  out += ',';
  append_epoch_ms(r.end_ns, out);
  out += ',';
  append_hex(r.tcp_flags, out);
  out += ',';
  append_hex(r.tos, out);
  out += ',';
  append_int(r.device_sampling_rate, out);
  out += ',';
  append_int(static_cast<unsigned>(r.sampling_algorithm), out);
  out += ',';
  append_int(r.input_if, out);
  out += ',';
  append_int(r.output_if, out);
  out += ',';
  append_int(r.src_as, out);
  out += ',';
  append_int(r.dst_as, out);
  out += ',';
  if (!r.next_hop.is_unspecified()) append_address(r.next_hop, out);
  out += ',';
  append_int(r.vlan, out);
  out += ',';
  append_int(r.icmp_type, out);
  out += ',';
  append_int(r.icmp_code, out);
  out += ',';
  append_flag_names(r.flags, '|', out);
}

}  // namespace fathom::app
