#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "flow/flow_batch.h"
#include "flow/flow_record.h"

namespace fathom::bus::wire {

/// The binary encoding of a FlowBatch in one Kafka message (docs/wire-format.md): a 40-byte
/// header, then `record_count` fixed-width records, then `counter_count` interface-counter
/// records, every field little-endian. Readers accept their own version and older ones; a newer
/// version is refused (`kNewerVersion`) and counted by the caller, never guessed at.
inline constexpr uint16_t kVersion = 1;
inline constexpr std::byte kMagic[4] = {std::byte{'F'}, std::byte{'T'}, std::byte{'H'},
                                        std::byte{'B'}};
inline constexpr size_t kHeaderBytes = 40;    ///< v1 header
inline constexpr size_t kRecordBytes = 192;   ///< one v1 FlowRecord
inline constexpr size_t kCounterBytes = 144;  ///< one v1 InterfaceCounters
/// Caps on the counts a reader accepts, whatever the header says: a message is at most
/// ≈12.6 MB (Kafka's default limit is 1 MB), so a hostile count cannot make a reader reserve
/// gigabytes.
inline constexpr uint32_t kMaxRecordsPerMessage = 65536;
inline constexpr uint32_t kMaxCountersPerMessage = 65536;

/// Why a message was refused. Stable values (they index counters).
enum class WireStatus : uint8_t {
  kOk = 0,
  kTruncated = 1,       ///< shorter than its header, or than the header's counts need
  kBadMagic = 2,        ///< not a Fathom batch (first 4 bytes are not "FTHB")
  kNewerVersion = 3,    ///< written by a newer Fathom: this reader does not know the layout
  kBadVersion = 4,      ///< version 0
  kBadHeader = 5,       ///< header/record/counter sizes or reserved bits not those of the version
  kTooManyRecords = 6,  ///< a count above kMaxRecordsPerMessage / kMaxCountersPerMessage
  kTrailingBytes = 7,   ///< longer than the header's counts account for
  kBadField = 8,        ///< an enum out of range or a sampling rate that is not finite and > 0
};
inline constexpr size_t kWireStatusCount = 9;

/// Stable lower-case name ("truncated", "bad_magic", ...) for metrics labels.
std::string_view to_string(WireStatus status) noexcept;

/// The header fields of one message.
struct BatchHeader {
  uint16_t version = kVersion;
  uint16_t flags = 0;      ///< none defined in v1: must be 0
  uint32_t tenant_id = 0;  ///< the tenant every record belongs to (also the Kafka key)
  uint32_t record_count = 0;
  uint32_t counter_count = 0;
  int64_t encoded_ns = 0;  ///< producer's wall clock when it encoded the message (lag metric)
};

/// Bytes of a message of `records` records and `counters` interface counters.
constexpr size_t encoded_size(size_t records, size_t counters) noexcept {
  return kHeaderBytes + records * kRecordBytes + counters * kCounterBytes;
}

/// Writes the header to `out[0, kHeaderBytes)`. `out` must hold at least kHeaderBytes.
void encode_header(const BatchHeader& header, std::byte* out) noexcept;
/// Writes one record's kRecordBytes to `out`.
void encode_record(const flow::FlowRecord& record, std::byte* out) noexcept;
/// Writes one interface-counter record's kCounterBytes to `out`.
void encode_counters(const flow::InterfaceCounters& counters, std::byte* out) noexcept;

/// Encodes a whole message of `records` then `counters` into `out` (exactly
/// `encoded_size(...)` bytes; the caller sizes it). `header`'s counts are taken from the spans.
/// The spans must not exceed the kMax* caps (a reader would refuse the message).
void encode(BatchHeader header, std::span<const flow::FlowRecord> records,
            std::span<const flow::InterfaceCounters> counters, std::span<std::byte> out) noexcept;

/// Reads and checks the header of `message` (magic, version, sizes, caps, and that the length
/// is exactly what the counts need), without reading the body. Never reads past `message`.
WireStatus decode_header(std::span<const std::byte> message, BatchHeader& header) noexcept;

/// Decodes `message` into `out`, which is cleared first (its memory is kept, so a batch from a
/// pool decodes without allocating once it has held a message this large). Never reads past
/// `message`. On any status but kOk, `out` is left empty and `header` unspecified. Throws
/// only std::bad_alloc (growing `out` past its capacity, at most the kMax* caps).
WireStatus decode(std::span<const std::byte> message, flow::FlowBatch& out, BatchHeader& header);

}  // namespace fathom::bus::wire
