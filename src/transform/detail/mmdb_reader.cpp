// detail::read_mmdb: a whole MaxMind DB into address ranges, read once at load.
// Format: https://maxmind.github.io/MaxMind-DB/ ("Search Tree Section", "IPv4 addresses in an
// IPv6 tree").

#include "transform/detail/geo_asn_sources.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>
#include <unordered_map>

#include <maxminddb.h>

namespace fathom::transform::detail {
namespace {

/// The decoded fields of one data record.
struct Decoded {
  uint16_t country = 0;
  uint32_t asn = 0;
};

/// MMDB_get_value along `path` (null-terminated), true when it names data.
template <class... Keys>
bool get(const MMDB_s& db, uint32_t offset, MMDB_entry_data_s& data, Keys... path) {
  MMDB_entry_s entry{&db, offset};
  return MMDB_get_value(&entry, &data, path..., static_cast<const char*>(nullptr)) ==
             MMDB_SUCCESS &&
         data.has_data;
}

uint16_t as_country(const MMDB_entry_data_s& data) {
  if (data.type != MMDB_DATA_TYPE_UTF8_STRING || data.data_size != 2) return 0;
  return pack_country(data.utf8_string[0], data.utf8_string[1]);
}

uint32_t as_asn(const MMDB_entry_data_s& data) {
  switch (data.type) {
    case MMDB_DATA_TYPE_UINT16: return data.uint16;
    case MMDB_DATA_TYPE_UINT32: return data.uint32;
    case MMDB_DATA_TYPE_INT32: return data.int32 > 0 ? static_cast<uint32_t>(data.int32) : 0;
    case MMDB_DATA_TYPE_UINT64:
      return data.uint64 <= UINT32_MAX ? static_cast<uint32_t>(data.uint64) : 0;
    case MMDB_DATA_TYPE_UTF8_STRING: {
      // ip-location-db and some converters store "AS13335" or "13335".
      std::string_view text(data.utf8_string, data.data_size);
      if (text.size() > 2 && (text[0] == 'A' || text[0] == 'a') &&
          (text[1] == 'S' || text[1] == 's')) {
        text.remove_prefix(2);
      }
      uint32_t asn = 0;
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), asn);
      return ec == std::errc() && ptr == text.data() + text.size() ? asn : 0;
    }
    default: return 0;
  }
}

Decoded decode(const MMDB_s& db, uint32_t offset) {
  Decoded d;
  MMDB_entry_data_s data{};
  if (get(db, offset, data, "country", "iso_code")) d.country = as_country(data);
  if (d.country == 0 && get(db, offset, data, "registered_country", "iso_code")) {
    d.country = as_country(data);
  }
  if (d.country == 0 && get(db, offset, data, "country_code")) d.country = as_country(data);
  if (get(db, offset, data, "autonomous_system_number")) d.asn = as_asn(data);
  if (d.asn == 0 && get(db, offset, data, "asn")) d.asn = as_asn(data);
  return d;
}

/// Closes the database on every return path.
struct MmdbCloser {
  MMDB_s* db;
  ~MmdbCloser() { MMDB_close(db); }
};

/// Collects the leaves of the search tree as ranges of Fathom's address space. Leaves arrive
/// in the database's address order; in an IPv6 database ::/96 (IPv4, first in that order)
/// becomes the v4-mapped block, which sorts after the IPv6 addresses below it, so those go to
/// separate lists joined at the end. Each distinct data record is decoded once.
class LeafCollector {
 public:
  LeafCollector(const MMDB_s& db, bool v6_db) : db_(db), v6_db_(v6_db) {
    // A tree of n nodes has at most n + 1 leaves (a leaf can be cut in two, around the
    // v4-mapped block, at most once). Reserving that much costs address space, not memory: the
    // pages nobody writes are never faulted in, and nothing is copied as the lists grow.
    const size_t most = size_t{db.metadata.node_count} + 2;
    below_v4_.reserve(v6_db ? most * 2 : 0);  // the whole result is gathered here
    v4_.reserve(most);
    above_v4_.reserve(v6_db ? most : 0);
  }

  /// The block [first, last] of the database's own space has the data record at `offset`.
  void add(U128 first, U128 last, uint32_t offset) {
    auto it = decoded_.find(offset);
    if (it == decoded_.end()) it = decoded_.emplace(offset, decode(db_, offset)).first;
    const Decoded d = it->second;
    if (d.country == 0 && d.asn == 0) return;
    if (!v6_db_) {
      append(v4_, kV4First | first, kV4First | last, d);
      return;
    }
    constexpr U128 kV4CompatLast = 0xffffffffu;  // ::255.255.255.255
    if (first <= kV4CompatLast) {
      append(v4_, kV4First | first, kV4First | std::min(last, kV4CompatLast), d);
      if (last <= kV4CompatLast) return;
      first = kV4CompatLast + 1;
    }
    if (first < kV4First) {
      append(below_v4_, first, std::min(last, kV4First - 1), d);
      if (last < kV4First) return;
      first = kV4First;
    }
    if (last <= kV4Last) return;  // inside ::ffff:0:0/96: IPv4 comes from ::/96
    append(above_v4_, std::max(first, kV4Last + 1), last, d);
  }

  /// Moves the ranges, in address order, to `out`.
  void finish(SourceData& out) {
    if (!v6_db_) below_v4_.swap(v4_);  // an IPv4 database's ranges all went to v4_
    out.ranges = std::move(below_v4_);
    out.ranges.insert(out.ranges.end(), v4_.begin(), v4_.end());
    out.ranges.insert(out.ranges.end(), above_v4_.begin(), above_v4_.end());
    for (const SourceRange& r : out.ranges) {
      out.has_country = out.has_country || r.country != 0;
      out.has_asn = out.has_asn || r.asn != 0;
    }
  }

 private:
  /// Appends, joining with the previous range when adjacent with the same data.
  static void append(std::vector<SourceRange>& list, U128 first, U128 last, Decoded d) {
    if (!list.empty() && list.back().last + 1 == first && list.back().country == d.country &&
        list.back().asn == d.asn) {
      list.back().last = last;
    } else {
      list.push_back({first, last, d.country, d.asn});
    }
  }

  const MMDB_s& db_;
  bool v6_db_;
  std::unordered_map<uint32_t, Decoded> decoded_;
  std::vector<SourceRange> below_v4_;  ///< IPv6 below ::ffff:0:0
  std::vector<SourceRange> v4_;        ///< v4-mapped
  std::vector<SourceRange> above_v4_;  ///< IPv6 above ::ffff:255.255.255.255
};

}  // namespace

bool read_mmdb(const std::string& path, SourceData& out, std::string& error) {
  out = SourceData();
  MMDB_s db{};
  const int open_status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &db);
  if (open_status != MMDB_SUCCESS) {
    error = MMDB_strerror(open_status);
    if (open_status == MMDB_IO_ERROR) error += std::string(": ") + std::strerror(errno);
    return false;
  }
  const MmdbCloser closer{&db};
  const uint16_t ip_version = db.metadata.ip_version;
  if (ip_version != 4 && ip_version != 6) {
    error = "unsupported ip_version " + std::to_string(ip_version);
    return false;
  }
  const bool v6_db = ip_version == 6;
  const uint32_t bits = v6_db ? 128 : 32;
  const uint32_t node_count = db.metadata.node_count;

  // The IPv4 subtree of an IPv6 database: the node 96 zero bits below the root. Aliases
  // (::ffff:0:0/96, 2001::/32, 2002::/16) are records pointing at this same node.
  uint32_t ipv4_node = UINT32_MAX;
  if (v6_db) {
    uint32_t node = 0;
    uint32_t depth = 0;
    for (; depth < 96 && node < node_count; ++depth) {
      MMDB_search_node_s sn{};
      if (MMDB_read_node(&db, node, &sn) != MMDB_SUCCESS ||
          sn.left_record_type != MMDB_RECORD_TYPE_SEARCH_NODE) {
        break;
      }
      node = static_cast<uint32_t>(sn.left_record);
    }
    if (depth == 96) ipv4_node = node;
  }

  // Depth-first walk, left (0) before right (1), so leaves come in address order. Data
  // records go through the stack too: a right-hand leaf must wait for the left subtree.
  struct Frame {
    uint32_t node;   ///< search node, or the data offset of a leaf
    uint32_t depth;  ///< bits consumed to reach it
    U128 prefix;     ///< those bits, in the database's own `bits`-wide space
    bool leaf;
  };
  std::vector<Frame> stack{{0, 0, 0, false}};
  LeafCollector leaves(db, v6_db);
  // A valid tree visits each node once; a corrupt file with cycles or shared subtrees must
  // not run (or allocate) forever.
  const uint64_t max_visits = uint64_t{node_count} * 2 + 16;
  uint64_t visits = 0;
  while (!stack.empty()) {
    const Frame frame = stack.back();
    stack.pop_back();
    if (frame.leaf) {
      const U128 host_mask = frame.depth >= bits ? 0 : (U128{1} << (bits - frame.depth)) - 1;
      leaves.add(frame.prefix, frame.prefix | host_mask, frame.node);
      continue;
    }
    if (++visits > max_visits || frame.depth >= bits || frame.node >= node_count) {
      error = "corrupt search tree";
      return false;
    }
    MMDB_search_node_s sn{};
    const int read_status = MMDB_read_node(&db, frame.node, &sn);
    if (read_status != MMDB_SUCCESS) {
      error = std::string("corrupt search tree: ") + MMDB_strerror(read_status);
      return false;
    }
    const uint32_t child_depth = frame.depth + 1;
    // Right is pushed first so the left side is walked first.
    for (int side = 1; side >= 0; --side) {
      const U128 child = frame.prefix | (U128{static_cast<unsigned>(side)} << (bits - child_depth));
      const uint8_t type = side != 0 ? sn.right_record_type : sn.left_record_type;
      const uint64_t record = side != 0 ? sn.right_record : sn.left_record;
      switch (type) {
        case MMDB_RECORD_TYPE_SEARCH_NODE:
          if (v6_db && record == ipv4_node && !(child_depth == 96 && child == 0)) break;  // alias
          stack.push_back({static_cast<uint32_t>(record), child_depth, child, false});
          break;
        case MMDB_RECORD_TYPE_EMPTY: break;
        case MMDB_RECORD_TYPE_DATA: {
          const auto& entry = side != 0 ? sn.right_record_entry : sn.left_record_entry;
          stack.push_back({entry.offset, child_depth, child, true});
          break;
        }
        default: error = "corrupt search tree: invalid record"; return false;
      }
    }
  }

  leaves.finish(out);
  if (!out.has_country && !out.has_asn) {
    error =
        "no record has a country (country.iso_code, registered_country.iso_code, "
        "country_code) or an AS number (autonomous_system_number, asn)";
    return false;
  }
  return true;
}

}  // namespace fathom::transform::detail
