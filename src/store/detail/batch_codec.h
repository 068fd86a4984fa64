#pragma once

#include <string>
#include <string_view>

#include "store/store.h"

namespace fathom::store::detail {

/// Version of the spooled batch format. A spool written by a newer build is not readable by an
/// older one (decode fails and the writer counts the record as corrupt).
inline constexpr uint8_t kBatchFormatVersion = 2;  ///< 2: sampled flows

/// A WriteBatch as one spool record: "FSB" and a version byte, then each section (incidents,
/// rollups, tenants, exporters, state) as a u32 count and its records; integers little-endian
/// fixed width, doubles as their IEEE-754 bits, strings as a u32 length and bytes.
std::string encode_batch(const WriteBatch& batch);
/// Parses what `encode_batch` wrote into `out`. False on a wrong magic or version, a length
/// past the end, or trailing bytes (then `out` is unspecified). Never reads past `record`.
bool decode_batch(std::string_view record, WriteBatch& out);

}  // namespace fathom::store::detail
