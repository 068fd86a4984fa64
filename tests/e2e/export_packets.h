#pragma once

// What the end-to-end tests send: the export payloads of the reference captures (and what
// `fathom decode` makes of them), and small IPFIX messages built field by field.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "e2e/fathom_process.h"

namespace fathom::e2e {

using Payload = std::vector<std::byte>;

/// Path of the `fathom-gen` binary of this build tree.
std::string fathom_gen_binary();

/// `FATHOM_CAPTURES_DIR/name`.
std::string capture_path(const std::string& name);
/// True when the reference captures are there (tests skip, loudly, without them).
bool have_captures();

/// One export datagram of a capture and the exporter that sent it.
struct CapturedPayload {
  std::string exporter;  ///< source address as text ("127.0.0.1")
  Payload payload;
};
/// The UDP datagrams of a capture, in file order (read with collect::PcapReader). Returns
/// nullopt and sets `error` when the file cannot be read.
std::optional<std::vector<CapturedPayload>> capture_datagrams(const std::string& path,
                                                              std::string& error);
/// `capture_datagrams`, payloads only.
std::optional<std::vector<Payload>> capture_payloads(const std::string& path, std::string& error);

/// Datagrams of the NetFlow v5 reference capture (stateless: any of them decodes alone).
struct V5Packets {
  std::vector<Payload> payloads;
  uint64_t records = 0;  ///< flow records they hold
};
/// The first `count` datagrams of netflow_v5_sampled100.pcap; empty payloads and `error` set
/// when it cannot be read.
V5Packets netflow_v5_packets(size_t count, std::string& error);

/// Counts and sums over flow-output records.
struct RecordTotals {
  uint64_t flows = 0;        ///< "type":"flow"
  uint64_t if_counters = 0;  ///< "type":"if_counters"
  uint64_t bytes = 0;        ///< sum of the flows' "bytes"
  uint64_t packets = 0;      ///< sum of the flows' "packets"
  bool operator==(const RecordTotals&) const = default;
};
std::ostream& operator<<(std::ostream& os, const RecordTotals& t);

/// Totals of `records`.
RecordTotals totals_of(const std::vector<JsonRecord>& records);

/// Runs `fathom decode FILE` (JSON lines into `dir`) and returns its records; nullopt and
/// `error` if it fails.
std::optional<std::vector<JsonRecord>> fathom_decode(const std::string& capture, const TempDir& dir,
                                                     std::string& error);

/// Each record as one comparable string of its members, sorted, leaving out what differs
/// between `fathom decode` of a capture and `fathom run` receiving its payloads live: frame,
/// exporter address and port, arrival time, tenant, and the times of records without flow
/// times of their own (sFlow samples are stamped with their arrival).
std::vector<std::string> comparable_records(const std::vector<JsonRecord>& records);

/// The records of `records` whose member `key` has the raw value `value`.
std::vector<JsonRecord> where(const std::vector<JsonRecord>& records, const std::string& key,
                              const std::string& value);

/// A flow of the IPFIX messages below: 5-tuple and counters, distinct per `seq`.
struct TestFlow {
  uint32_t src = 0;  ///< host order
  uint32_t dst = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t proto = 0;
  uint64_t bytes = 0;
  uint64_t packets = 0;
};
/// Flow number `seq` of the deterministic test sequence.
TestFlow test_flow(uint32_t seq);

/// Export time written in the IPFIX headers below: 2024-01-15 12:03:00 UTC.
inline constexpr uint32_t kExportSecs = 1705320180;

/// An IPFIX message (RFC 7011 §3.1) with one template set: template `template_id` describing
/// the fields of TestFlow plus flowStart/EndMilliseconds.
Payload ipfix_template_message(uint32_t domain, uint16_t template_id);
/// An IPFIX message with one data set of `template_id` (as ipfix_template_message defines it)
/// holding flows `first_seq` .. `first_seq + count - 1`.
Payload ipfix_data_message(uint32_t domain, uint16_t template_id, uint32_t first_seq,
                           uint32_t count);
/// An IPFIX message announcing the domain's sampling rate (RFC 7011 §3.4.2.2): an options
/// template `template_id` (scope observationDomainId, option samplingInterval IE 34 and
/// samplingAlgorithm IE 35) and one options record with `rate`.
Payload ipfix_sampling_options_message(uint32_t domain, uint16_t template_id, uint32_t rate);
/// An IPFIX message with one template set holding `count` templates, ids `first_id` ..,
/// each with two fields (sourceIPv4Address, octetDeltaCount).
Payload ipfix_template_flood_message(uint32_t domain, uint16_t first_id, uint16_t count);

}  // namespace fathom::e2e
