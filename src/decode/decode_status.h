#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fathom::decode {

/// Outcome of decoding one packet, set or record. Every value except kOk is a counted reason
/// (per exporter) in `ExporterStats::reasons`; the names are metric labels, so never rename one.
enum class DecodeStatus : uint8_t {
  kOk = 0,
  kTruncated,          ///< fewer bytes than a header or length field promised
  kBadVersion,         ///< not a version this decoder handles
  kUnknownProtocol,    ///< payload matches no supported export format
  kBadSetLength,       ///< v9/IPFIX set length smaller than its header or past the packet
  kBadMessageLength,   ///< IPFIX message length disagrees with the datagram
  kBadRecordCount,     ///< v5 count, sFlow sample count out of range
  kBadTemplate,        ///< template/options template malformed (zero fields, bad scope)
  kTemplateTooLarge,   ///< more fields than kMaxFieldsPerTemplate, or record wider than a set
  kTooManyTemplates,   ///< per-exporter template budget reached; the template was refused
  kUnknownTemplate,    ///< data set for a template not (yet) known
  kPendingOverflow,    ///< data set could not be parked: per-exporter pending budget full
  kPendingExpired,     ///< parked data set expired before its template arrived
  kTemplateEvicted,    ///< a template was evicted to make room (counted, not an error)
  kBadFieldLength,     ///< a field length not valid for its element (e.g. 3-byte address)
  kBadSample,          ///< sFlow sample/record length inconsistent
  kUnsupportedHeader,  ///< sFlow raw header of a link/network type we cannot parse
  kBadTimestamp,       ///< a time field that cannot be represented
  kTooManyExporters,   ///< exporter table full; the packet was counted and dropped
  kBadLine,            ///< VPC flow log line with the wrong number or form of fields
  kCount               ///< number of values; not a status
};

inline constexpr size_t kDecodeStatusCount = static_cast<size_t>(DecodeStatus::kCount);

/// Stable snake_case name of a status ("truncated", "bad_set_length", ...).
std::string_view to_string(DecodeStatus s) noexcept;

}  // namespace fathom::decode
