#pragma once
// Readers of the geo/ASN source files behind transform::GeoAsnTable (transform/geo_asn.h):
// MaxMind DB files (walked whole at load, never queried per record) and ip-location-db range
// CSVs. Each turns one file into sorted, disjoint address ranges with a country and/or an AS
// number; geo_asn.cpp overlays the sources into one RangeTable.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "transform/range_table.h"

namespace fathom::transform::detail {

/// One run of addresses of one source: [first, last] in the 128-bit space (IPv4 v4-mapped),
/// never straddling the v4-mapped block's edges.
struct SourceRange {
  U128 first = 0;
  U128 last = 0;
  uint16_t country = 0;  ///< two ASCII letters, first in the low byte; 0 = none
  uint32_t asn = 0;      ///< 0 = none
};

/// What one source file holds.
struct SourceData {
  std::vector<SourceRange> ranges;  ///< sorted by `first`, disjoint
  size_t bad_lines = 0;             ///< CSV lines skipped as malformed (0 for MMDB)
  bool has_country = false;         ///< at least one range has a country
  bool has_asn = false;             ///< at least one range has an AS number
};

/// Two letters as `SourceRange::country` (0 unless both are ASCII letters; upper-cased).
uint16_t pack_country(char first, char second) noexcept;

/// Reads a whole MaxMind DB: walks its search tree with MMDB_read_node and decodes each
/// distinct data record once. Country from {"country","iso_code"}, else
/// {"registered_country","iso_code"}, else {"country_code"}; AS number from
/// {"autonomous_system_number"}, else {"asn"} (an unsigned integer, or a string "AS123"/"123").
/// In an ip_version 6 database IPv4 is the ::/96 subtree, returned v4-mapped; the
/// ::ffff:0:0/96 block is skipped (IPv4 comes from ::/96, as libmaxminddb looks it up), and so
/// is any other record pointing at the IPv4 subtree (the 2001::/32 and 2002::/16 aliases).
/// Returns false with `error` (without the path) when the file cannot be opened, is not a
/// MaxMind DB, its tree is corrupt, or no record has a country or an AS number.
bool read_mmdb(const std::string& path, SourceData& out, std::string& error);

/// Which value the third column of a range CSV holds.
enum class CsvValue : uint8_t {
  kAsn,      ///< ip-location-db asn-ipv4.csv: "first,last,asn[,org]"
  kCountry,  ///< ip-location-db *-country-ipv4.csv: "first,last,country_code"
};

/// Reads an ip-location-db range CSV: "first,last,value[,...]" with addresses as text
/// ("1.0.0.0", "2001:200::") or as decimal integers (the *-num.csv files; IPv4 when the file
/// name has no "ipv6" and both fit in 32 bits). Blank and '#' lines are ignored, a first line
/// that does not start with an address is a header; other lines that do not parse (bad
/// address, first > last, mixed families, value 0 or not a number/country, overlapping an
/// earlier line) are counted in `bad_lines` and skipped. Returns false with `error` when the
/// file cannot be read or has no valid line.
bool read_range_csv(const std::string& path, CsvValue value, SourceData& out, std::string& error);

}  // namespace fathom::transform::detail
