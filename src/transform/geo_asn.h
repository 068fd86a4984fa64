#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "flow/ip_address.h"
#include "transform/config.h"
#include "transform/range_table.h"

namespace fathom::transform {

/// Country and origin AS of an address; zeros when unknown.
struct GeoAsnInfo {
  std::array<char, 2> country{};  ///< ISO 3166 alpha-2, upper case; {0, 0} when unknown
  uint32_t asn = 0;               ///< 0 when unknown

  friend bool operator==(const GeoAsnInfo&, const GeoAsnInfo&) = default;
};

/// One file a GeoAsnTable was loaded from (reported in metrics and the API).
struct GeoAsnSource {
  std::string path;
  std::string kind;      ///< "mmdb" or "csv"
  size_t ranges = 0;     ///< disjoint ranges the file contributed, before overlaying
  size_t bad_lines = 0;  ///< CSV lines skipped as malformed (always 0 for "mmdb")
  int64_t mtime_ns = 0;  ///< modification time when loaded (for reload checks)
  uint64_t size = 0;     ///< file size in bytes when loaded
};

/// Country and ASN of every address, from the geo and ASN sources of the configuration,
/// overlaid into one immutable RangeTable whose value is the (country, ASN) pair, packed or as
/// an index into the distinct pairs. MaxMind DBs are walked whole at load (never queried per
/// record). A lookup is one RangeTable::find: no allocation, lock or virtual call, safe from
/// any number of threads. Built once per (re)load and shared as
/// `shared_ptr<const GeoAsnTable>`.
///
/// Address space: IPv4 is the v4-mapped block. In an IPv6 MaxMind DB, IPv4 is read from
/// ::/96 (where libmaxminddb looks IPv4 up); the file's ::ffff:0:0/96 block and its aliases of
/// the IPv4 tree (6to4 2002::/16, Teredo 2001::/32) are not read: a 6to4 or Teredo address is
/// unknown here, not the location of the IPv4 address inside it.
///
/// Precedence, where sources overlap:
/// - country: the first geo source (in `geo_databases` order) that has one for the address;
/// - ASN: the first ASN source (`asn_databases` order) that has one; only where none does, the
///   first geo source that also carries AS numbers (a combined country+ASN database).
/// ASN sources never supply a country.
class GeoAsnTable {
 public:
  /// Loads every source of `config.geo_databases` and `config.asn_databases`. A source is read
  /// as a MaxMind DB when its name ends in ".mmdb" or it carries the MaxMind metadata marker,
  /// else as an ip-location-db range CSV ("first,last,country" for geo sources,
  /// "first,last,asn[,org]" for ASN sources). Empty lists give an empty table.
  /// Returns nullptr with `error` naming the file and the reason when a file cannot be read,
  /// is not a valid MaxMind DB, is a CSV without one valid line, or holds nothing for its role
  /// (a geo source without countries, an ASN source without AS numbers). A CSV's malformed
  /// lines are skipped and counted (GeoAsnSource::bad_lines), not an error.
  static std::shared_ptr<const GeoAsnTable> load(const Enrichment& config, std::string& error);

  /// The address's country and AS number; zeros when unknown.
  GeoAsnInfo find(const flow::IpAddress& a) const noexcept {
    const uint32_t v = table_.find(a);
    if (packed_) return GeoAsnInfo{countries_[v >> 24], v & 0xffffffu};
    return infos_[v];
  }

  /// The files loaded, geo sources first, each in configuration order.
  const std::vector<GeoAsnSource>& sources() const noexcept { return sources_; }
  /// Disjoint ranges of the overlaid table.
  size_t range_count() const noexcept { return table_.range_count(); }
  /// Heap bytes of the lookup structures.
  size_t memory_bytes() const noexcept;

 private:
  GeoAsnTable();

  RangeTable table_;
  /// How RangeTable values read. Packed (when there are at most 255 countries and every AS
  /// number is below 2^24, as in real data): country index << 24 | ASN, so a lookup reads no
  /// second table (`countries_` is 256 entries at most, always in cache). Otherwise an index
  /// into `infos_`, the distinct (country, ASN) pairs.
  bool packed_ = false;
  std::vector<GeoAsnInfo> infos_;               ///< [0] is "unknown"; unused when packed
  std::vector<std::array<char, 2>> countries_;  ///< [0] is "unknown"
  std::vector<GeoAsnSource> sources_;
};

}  // namespace fathom::transform
