#pragma once

#include <cstdint>
#include <string>

#include "flow/flow_record.h"

namespace fathom::app {

/// Output format of `fathom decode`.
enum class OutputFormat : uint8_t {
  kJson,  ///< one JSON object per line
  kCsv,   ///< a header line, then one row per flow record
};

/// Appends one JSON object (no newline) describing `r`: `"type":"flow"`, `frame` (the capture
/// frame or text line the record came from, 0 when unknown), every FlowRecord field, times as
/// integer nanoseconds since the epoch, addresses in text form, `flags` as an array of names.
/// Never fails; formats with std::to_chars and inet_ntop, no iostreams.
void append_json(const flow::FlowRecord& r, uint64_t frame, std::string& out);

/// Appends one JSON object (no newline) describing `r` with GoFlow2's JSON field names and
/// renderings (`type` "IPFIX", `time_received_ns`, `sampler_address`, `src_addr`, `etype`
/// "IPv4", `proto` "TCP", `src_net` "10.1.0.0/16", ...), for tools that read GoFlow2's output,
/// plus Fathom's `tenant_id`, `effective_sampling_rate`, `direction`, countries and `flags`.
/// `sampling_rate` is the device's 1-in-N (0 when not announced), as in GoFlow2; the
/// Horvitz-Thompson weight, with Fathom's own sampling, is `effective_sampling_rate`. Fields
/// FlowRecord does not carry (`sequence_num`, `ip_ttl`, MPLS, BGP) are left out. The layout is
/// docs/wire-format.md "JSON flows topic". Never fails.
void append_goflow_json(const flow::FlowRecord& r, std::string& out);

/// Appends one JSON object (no newline) for sFlow interface counters (`"type":"if_counters"`).
void append_json(const flow::InterfaceCounters& c, uint64_t frame, std::string& out);

/// Appends the CSV header line (with newline) matching `append_csv`. Columns follow the
/// reference captures' CSV where they mean the same: `first`/`last` are epoch seconds with
/// millisecond precision, `tcp_flags`/`tos` hex, `sampling_interval` the device 1-in-N rate.
void append_csv_header(std::string& out);

/// Appends one CSV row (no newline) for `r`. Fields never contain commas or quotes.
void append_csv(const flow::FlowRecord& r, uint64_t frame, std::string& out);

/// Appends `addr` in text form (dotted quad for v4-mapped, RFC 5952 otherwise).
void append_address(const flow::IpAddress& addr, std::string& out);

/// Appends the names of the set `record_flags` bits joined by `separator`.
void append_flag_names(uint16_t flags, char separator, std::string& out);

}  // namespace fathom::app
