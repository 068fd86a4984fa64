#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "decode/decode_status.h"
#include "decode/exporter_stats.h"
#include "flow/flow_batch.h"

namespace fathom::decode {

/// A field of an AWS VPC flow log record, by its documented name (versions 2 to 8). Fields
/// Fathom has no place for are recognised (so a header using them is still a header) and
/// skipped; names AWS may add later are `kUnknown` and skipped too.
enum class VpcField : uint8_t {
  kUnknown = 0,  ///< not a documented name; the column is skipped
  kIgnored,      ///< a documented name Fathom does not keep (vpc-id, region, ecs-*, ...)
  kVersion,
  kSrcAddr,
  kDstAddr,
  kSrcPort,
  kDstPort,
  kProtocol,
  kPackets,
  kBytes,
  kStart,
  kEnd,
  kAction,
  kLogStatus,
  kTcpFlags,
  kPktSrcAddr,
  kPktDstAddr,
  kFlowDirection,
};

/// Looks a header field name up ("srcaddr", "pkt-srcaddr", ...). Accepts the CloudWatch
/// Logs spelling `${name}` too.
VpcField vpc_field_from_name(std::string_view name) noexcept;

/// What a VPC flow log parser saw, beyond the per-reason counters of `ExporterStats`.
struct VpcFlowLogCounts {
  uint64_t lines = 0;           ///< lines given to the parser, of any kind
  uint64_t header_lines = 0;    ///< format header lines (each sets the format that follows)
  uint64_t blank_lines = 0;     ///< empty or whitespace-only lines (skipped)
  uint64_t no_data = 0;         ///< log-status NODATA: no traffic in the window, no record
  uint64_t skip_data = 0;       ///< log-status SKIPDATA: records AWS skipped, no record
  uint64_t bad_lines = 0;       ///< lines counted as DecodeStatus::kBadLine (or kBadTimestamp)
  uint64_t unknown_fields = 0;  ///< header columns with an undocumented name (skipped)
};

/// Parses AWS VPC flow log text one line at a time into FlowRecords.
///
/// The format is the default version 2 one (`version account-id interface-id srcaddr dstaddr
/// srcport dstport protocol packets bytes start end action log-status`) until a header line
/// (field names separated by spaces, in any order, as S3 delivery writes it) sets a custom
/// one; a later header switches format again, so concatenated files parse. Fields are
/// separated by spaces or tabs; `-` means absent.
///
/// Mapping: `pkt-srcaddr`/`pkt-dstaddr` (the original packet addresses, behind a NAT gateway or
/// load balancer) win over `srcaddr`/`dstaddr` when present; `action` ACCEPT/REJECT becomes
/// `forwarding_status` 64 (forwarded) / 128 (dropped) as in RFC 7270 IE 89; `flow-direction`
/// ingress/egress becomes `exporter_direction` 0/1 (0xff when absent); `start`/`end` are epoch
/// seconds. Records have source kVpcFlowLog and sampling rate 1 (flow logs are unsampled).
///
/// Never throws, never allocates per line (tokens are views into the line), and every line
/// it cannot use is counted, never fatal.
class VpcFlowLogParser {
 public:
  /// Most fields one line may have; a header or line with more is refused (kBadLine).
  static constexpr size_t kMaxFields = 64;

  VpcFlowLogParser() noexcept;

  /// Parses one line (without its newline; a trailing '\r' is ignored). A header line sets the
  /// format and returns kOk; a record appends one FlowRecord to `out` stamped with
  /// `arrival_ns` and returns kOk; NODATA/SKIPDATA and blank lines are counted and return kOk.
  /// Returns kBadLine for a line whose field count differs from the format's or whose field
  /// does not parse (an address, a number, log-status), and kBadTimestamp for a start/end
  /// beyond year 2262; both are counted and add no record.
  DecodeStatus parse_line(std::string_view line, flow::FlowBatch& out,
                          int64_t arrival_ns = 0) noexcept;

  /// True when `line` is a format header: every token is a field name (letters, digits and
  /// '-', or `${...}`) and at least one is a documented name.
  static bool is_header(std::string_view line) noexcept;
  /// True when `line` looks like a default-format (version 2) record: 14 fields, the first
  /// "2". Used to recognise a flow log file by its first line.
  static bool is_default_record(std::string_view line) noexcept;

  /// Back to the default version 2 format (a new file without a header).
  void reset_format() noexcept;

  /// Per-reason counters (packets = lines, bytes = line bytes, records = records emitted).
  const ExporterStats& stats() const noexcept { return stats_; }
  const VpcFlowLogCounts& counts() const noexcept { return counts_; }

 private:
  bool set_format(std::string_view header) noexcept;
  DecodeStatus parse_record(std::string_view line, flow::FlowBatch& out,
                            int64_t arrival_ns) noexcept;
  DecodeStatus bad(DecodeStatus status) noexcept;

  std::array<VpcField, kMaxFields> fields_{};
  size_t field_count_ = 0;
  ExporterStats stats_;
  VpcFlowLogCounts counts_;
};

}  // namespace fathom::decode
