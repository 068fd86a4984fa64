#include "decode/vpc_flow_log.h"

#include <charconv>
#include <limits>
#include <optional>

#include "flow/ip_address.h"

namespace fathom::decode {
namespace {

struct NamedField {
  std::string_view name;
  VpcField field;
};

// AWS VPC User Guide, "Flow log records" → "Available fields" (versions 2–8).
constexpr NamedField kFieldNames[] = {
    {"version", VpcField::kVersion},
    {"account-id", VpcField::kIgnored},
    {"interface-id", VpcField::kIgnored},
    {"srcaddr", VpcField::kSrcAddr},
    {"dstaddr", VpcField::kDstAddr},
    {"srcport", VpcField::kSrcPort},
    {"dstport", VpcField::kDstPort},
    {"protocol", VpcField::kProtocol},
    {"packets", VpcField::kPackets},
    {"bytes", VpcField::kBytes},
    {"start", VpcField::kStart},
    {"end", VpcField::kEnd},
    {"action", VpcField::kAction},
    {"log-status", VpcField::kLogStatus},
    {"vpc-id", VpcField::kIgnored},
    {"subnet-id", VpcField::kIgnored},
    {"instance-id", VpcField::kIgnored},
    {"tcp-flags", VpcField::kTcpFlags},
    {"type", VpcField::kIgnored},
    {"pkt-srcaddr", VpcField::kPktSrcAddr},
    {"pkt-dstaddr", VpcField::kPktDstAddr},
    {"region", VpcField::kIgnored},
    {"az-id", VpcField::kIgnored},
    {"sublocation-type", VpcField::kIgnored},
    {"sublocation-id", VpcField::kIgnored},
    {"pkt-src-aws-service", VpcField::kIgnored},
    {"pkt-dst-aws-service", VpcField::kIgnored},
    {"flow-direction", VpcField::kFlowDirection},
    {"traffic-path", VpcField::kIgnored},
    {"ecs-cluster-arn", VpcField::kIgnored},
    {"ecs-cluster-name", VpcField::kIgnored},
    {"ecs-container-instance-arn", VpcField::kIgnored},
    {"ecs-container-instance-id", VpcField::kIgnored},
    {"ecs-container-id", VpcField::kIgnored},
    {"ecs-second-container-id", VpcField::kIgnored},
    {"ecs-service-name", VpcField::kIgnored},
    {"ecs-task-definition-arn", VpcField::kIgnored},
    {"ecs-task-arn", VpcField::kIgnored},
    {"ecs-task-id", VpcField::kIgnored},
    {"reject-reason", VpcField::kIgnored},
};

// The default format (version 2), in order.
constexpr VpcField kDefaultFormat[] = {
    VpcField::kVersion, VpcField::kIgnored,   VpcField::kIgnored, VpcField::kSrcAddr,
    VpcField::kDstAddr, VpcField::kSrcPort,   VpcField::kDstPort, VpcField::kProtocol,
    VpcField::kPackets, VpcField::kBytes,     VpcField::kStart,   VpcField::kEnd,
    VpcField::kAction,  VpcField::kLogStatus,
};
constexpr size_t kDefaultFieldCount = sizeof(kDefaultFormat) / sizeof(kDefaultFormat[0]);

// RFC 7270 forwardingStatus: status in the top two bits, 01 forwarded, 10 dropped.
constexpr uint8_t kForwarded = 0x40;
constexpr uint8_t kDropped = 0x80;
constexpr uint8_t kDirectionUnknown = 0xff;
// Seconds that still fit in int64 nanoseconds (up to 2262-04-11).
constexpr uint64_t kMaxEpochSeconds = std::numeric_limits<int64_t>::max() / 1'000'000'000;

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t';
}

/// Splits `line` on runs of spaces/tabs into `tokens`. Returns the number of tokens, or
/// kMaxFields + 1 when there are more than fit.
size_t tokenize(std::string_view line,
                std::array<std::string_view, VpcFlowLogParser::kMaxFields>& tokens) noexcept {
  size_t count = 0;
  size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && is_space(line[pos])) ++pos;
    if (pos == line.size()) break;
    size_t end = pos;
    while (end < line.size() && !is_space(line[end])) ++end;
    if (count == tokens.size()) return tokens.size() + 1;
    tokens[count++] = line.substr(pos, end - pos);
    pos = end;
  }
  return count;
}

std::string_view trim_line(std::string_view line) noexcept {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || is_space(line.back()))) {
    line.remove_suffix(1);
  }
  return line;
}

/// Strips the CloudWatch Logs `${...}` wrapper of a header name.
std::string_view unwrap_name(std::string_view name) noexcept {
  if (name.size() > 3 && name.starts_with("${") && name.back() == '}') {
    return name.substr(2, name.size() - 3);
  }
  return name;
}

bool is_name_token(std::string_view token) noexcept {
  token = unwrap_name(token);
  if (token.empty() || token[0] < 'a' || token[0] > 'z') return false;
  for (char c : token) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool is_absent(std::string_view token) noexcept {
  return token == "-";
}

template <typename T>
bool parse_number(std::string_view token, T& out) noexcept {
  uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
  if (ec != std::errc() || ptr != token.data() + token.size() || token.empty()) return false;
  if (v > std::numeric_limits<T>::max()) return false;
  out = static_cast<T>(v);
  return true;
}

}  // namespace

VpcField vpc_field_from_name(std::string_view name) noexcept {
  name = unwrap_name(name);
  for (const NamedField& f : kFieldNames) {
    if (f.name == name) return f.field;
  }
  return VpcField::kUnknown;
}

VpcFlowLogParser::VpcFlowLogParser() noexcept {
  reset_format();
}

void VpcFlowLogParser::reset_format() noexcept {
  for (size_t i = 0; i < kDefaultFieldCount; ++i) fields_[i] = kDefaultFormat[i];
  field_count_ = kDefaultFieldCount;
}

bool VpcFlowLogParser::is_header(std::string_view line) noexcept {
  std::array<std::string_view, kMaxFields> tokens;
  const size_t count = tokenize(trim_line(line), tokens);
  if (count == 0 || count > kMaxFields) return false;
  bool any_known = false;
  for (size_t i = 0; i < count; ++i) {
    if (!is_name_token(tokens[i])) return false;
    any_known = any_known || vpc_field_from_name(tokens[i]) != VpcField::kUnknown;
  }
  return any_known;
}

bool VpcFlowLogParser::is_default_record(std::string_view line) noexcept {
  std::array<std::string_view, kMaxFields> tokens;
  return tokenize(trim_line(line), tokens) == kDefaultFieldCount && tokens[0] == "2";
}

bool VpcFlowLogParser::set_format(std::string_view header) noexcept {
  std::array<std::string_view, kMaxFields> tokens;
  const size_t count = tokenize(header, tokens);
  if (count == 0 || count > kMaxFields) return false;
  for (size_t i = 0; i < count; ++i) {
    fields_[i] = vpc_field_from_name(tokens[i]);
    if (fields_[i] == VpcField::kUnknown) ++counts_.unknown_fields;
  }
  field_count_ = count;
  return true;
}

DecodeStatus VpcFlowLogParser::bad(DecodeStatus status) noexcept {
  ++counts_.bad_lines;
  stats_.count(status);
  return status;
}

DecodeStatus VpcFlowLogParser::parse_line(std::string_view line, flow::FlowBatch& out,
                                          int64_t arrival_ns) noexcept {
  ++counts_.lines;
  ++stats_.packets;
  stats_.bytes += line.size();
  stats_.last_seen_ns = arrival_ns;
  line = trim_line(line);
  size_t first = 0;
  while (first < line.size() && is_space(line[first])) ++first;
  if (first == line.size()) {
    ++counts_.blank_lines;
    return DecodeStatus::kOk;
  }
  if (is_header(line)) {
    if (!set_format(line)) return bad(DecodeStatus::kBadLine);
    ++counts_.header_lines;
    ++stats_.packets_ok;
    return DecodeStatus::kOk;
  }
  const DecodeStatus status = parse_record(line, out, arrival_ns);
  if (status == DecodeStatus::kOk) ++stats_.packets_ok;
  return status;
}

DecodeStatus VpcFlowLogParser::parse_record(std::string_view line, flow::FlowBatch& out,
                                            int64_t arrival_ns) noexcept {
  std::array<std::string_view, kMaxFields> tokens;
  const size_t count = tokenize(line, tokens);
  if (count != field_count_) return bad(DecodeStatus::kBadLine);

  // Parse into locals first: a bad field must not leave a half-filled record in `out`.
  std::optional<flow::IpAddress> src, dst, pkt_src, pkt_dst;
  uint16_t src_port = 0, dst_port = 0, tcp_flags = 0;
  uint8_t protocol = 0, forwarding = 0, direction = kDirectionUnknown;
  uint64_t packets = 0, bytes = 0, start = 0, end = 0;
  bool has_start = false, has_end = false;
  std::string_view log_status;

  for (size_t field_idx = 0; field_idx < count; ++field_idx) {
    const std::string_view token = tokens[field_idx];
    const VpcField field = fields_[field_idx];
    if (field == VpcField::kLogStatus) {
      log_status = token;
      continue;
    }
    if (is_absent(token)) continue;
    bool ok = true;
    switch (field) {
      case VpcField::kUnknown:
      case VpcField::kIgnored:
      case VpcField::kVersion:
      case VpcField::kLogStatus: break;
      case VpcField::kSrcAddr: ok = (src = flow::IpAddress::parse(token)).has_value(); break;
      case VpcField::kDstAddr: ok = (dst = flow::IpAddress::parse(token)).has_value(); break;
      case VpcField::kPktSrcAddr: ok = (pkt_src = flow::IpAddress::parse(token)).has_value(); break;
      case VpcField::kPktDstAddr: ok = (pkt_dst = flow::IpAddress::parse(token)).has_value(); break;
      case VpcField::kSrcPort: ok = parse_number(token, src_port); break;
      case VpcField::kDstPort: ok = parse_number(token, dst_port); break;
      case VpcField::kProtocol: ok = parse_number(token, protocol); break;
      case VpcField::kPackets: ok = parse_number(token, packets); break;
      case VpcField::kBytes: ok = parse_number(token, bytes); break;
      case VpcField::kStart: ok = has_start = parse_number(token, start); break;
      case VpcField::kEnd: ok = has_end = parse_number(token, end); break;
      case VpcField::kTcpFlags: ok = parse_number(token, tcp_flags); break;
      case VpcField::kAction:
        if (token == "ACCEPT") {
          forwarding = kForwarded;
        } else if (token == "REJECT") {
          forwarding = kDropped;
        } else {
          ok = false;
        }
        break;
      case VpcField::kFlowDirection:
        if (token == "ingress") {
          direction = 0;
        } else if (token == "egress") {
          direction = 1;
        } else {
          ok = false;
        }
        break;
    }
    if (!ok) return bad(DecodeStatus::kBadLine);
  }

  // AWS: NODATA = no traffic in the aggregation interval; SKIPDATA = records skipped (capacity
  // or an internal error). Neither carries a flow.
  if (log_status == "NODATA") {
    ++counts_.no_data;
    return DecodeStatus::kOk;
  }
  if (log_status == "SKIPDATA") {
    ++counts_.skip_data;
    return DecodeStatus::kOk;
  }
  if (!log_status.empty() && log_status != "OK" && log_status != "-") {
    return bad(DecodeStatus::kBadLine);
  }
  if (pkt_src) src = pkt_src;
  if (pkt_dst) dst = pkt_dst;
  if (!src || !dst) return bad(DecodeStatus::kBadLine);  // a flow without its addresses
  if (start > kMaxEpochSeconds || end > kMaxEpochSeconds) {
    return bad(DecodeStatus::kBadTimestamp);
  }

  flow::FlowRecord& r = out.add();
  r.arrival_ns = arrival_ns;
  r.src = *src;
  r.dst = *dst;
  r.src_port = src_port;
  r.dst_port = dst_port;
  r.ip_protocol = protocol;
  r.packets = packets;
  r.bytes = bytes;
  if (has_start || has_end) {
    r.start_ns = static_cast<int64_t>(has_start ? start : end) * 1'000'000'000;
    r.end_ns = static_cast<int64_t>(has_end ? end : start) * 1'000'000'000;
  } else {
    // FlowRecord contract for kNoFlowTimes: the times are the export (here: arrival) time.
    r.start_ns = r.end_ns = arrival_ns;
    r.flags |= flow::record_flags::kNoFlowTimes;
  }
  r.tcp_flags = tcp_flags;
  r.forwarding_status = forwarding;
  r.exporter_direction = direction;
  r.source = flow::SourceProtocol::kVpcFlowLog;
  r.device_sampling_rate = 1;
  r.sampling_rate = 1.0;
  ++stats_.records;
  return DecodeStatus::kOk;
}

}  // namespace fathom::decode
