#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "flow/ip_address.h"
#include "transform/config.h"
#include "transform/intel_list.h"
#include "transform/range_table.h"

namespace fathom::transform {

/// What the intel lists say about one address.
struct IntelMatch {
  uint16_t categories = 0;  ///< bit `IntelCategory` set for each category listing the address
  uint8_t reputation = 0;   ///< 0 when not listed, else 1..100 (see IntelSet)
  uint32_t match = 0;       ///< index of the match record (for `IntelSet::lists_of`); 0 = none

  bool listed() const noexcept { return match != 0; }
};

/// One list as loaded: where it came from and what parsing found.
struct IntelListInfo {
  std::string name;
  std::string path;       ///< empty for in-memory lists
  FileSignature file;     ///< version read (mtime_ns, size, inode); zeros for in-memory lists
  IntelParseStats parse;  ///< entries, bad lines, warnings, the format used
};

/// One list's entries, read from a file (`IntelSet::read_list`) or made in memory.
struct IntelListData {
  IntelListInfo info;
  std::vector<IntelEntry> entries;
};

/// Every configured intel list in one immutable lookup structure, shared by all transform
/// threads and replaced as a whole (never modified) when a list changes.
///
/// The blocks of all lists (IPv4 and IPv6, nested or overlapping across lists) are flattened
/// into one RangeTable whose value indexes a deduplicated match record: the categories, the
/// reputation and the ids of the lists covering that range. A lookup is one RangeTable lookup
/// and one array read: no allocation, no lock.
///
/// Reputation: each list covering the address contributes its severity s (0..100: the entry's
/// CSV score or the list's `severity`; a list covering the address with several blocks counts
/// once, with its highest severity). Taking each list as independent evidence that the address
/// is bad with probability s/100, the reputation is the chance that at least one is right:
///   reputation = round(100 · (1 − Π_lists (1 − s/100))), clamped to 1..100,
/// so two lists at 50 give 75, and one list at 100 gives 100 whatever the others say.
class IntelSet {
 public:
  /// At most this many lists (list ids are 16 bits).
  static constexpr size_t kMaxLists = 65535;

  /// Reads and parses one list file into `out`. Returns false with `error` naming the list
  /// and its file when it cannot be read ("intel list 'x': cannot open /p: No such file or
  /// directory"), when it has no valid entry ("intel list 'x' (/p): no valid entries, 3 bad
  /// lines, first at line 1: ..."), or when `cancel` (may be null) becomes true.
  static bool read_list(const IntelList& list, IntelListData& out, std::string& error,
                        const std::atomic<bool>* cancel = nullptr);

  /// Reads every list (see `read_list`) and builds the set. Returns null with `error` on the
  /// first list that fails, or when names repeat. An empty `lists` gives an empty set.
  static std::shared_ptr<const IntelSet> load(const std::vector<IntelList>& lists,
                                              std::string& error,
                                              const std::atomic<bool>* cancel = nullptr);

  /// Builds the set from lists already in memory (tests, benchmarks, the loader). List ids
  /// are positions in `lists`. Returns null with `error` when names repeat or there are more
  /// than kMaxLists lists. Lists without entries are allowed here.
  static std::shared_ptr<const IntelSet> from_entries(std::vector<IntelListData> lists,
                                                      std::string& error);

  IntelSet() = default;  ///< empty: nothing is listed

  /// Categories, reputation and match index for `address`; all zero when not listed.
  IntelMatch find(const flow::IpAddress& address) const noexcept {
    const uint32_t match = table_.find(address);
    const MatchRecord& record = matches_[match];
    return IntelMatch{record.categories, record.reputation, match};
  }

  /// Ids (positions in `lists()`) of the lists behind a match index from `find`, ascending.
  std::span<const uint16_t> list_ids(uint32_t match) const noexcept;
  /// Names of the lists containing `address`, in configuration order (not for the hot path).
  std::vector<std::string_view> lists_containing(const flow::IpAddress& address) const;
  /// Names of the lists behind a match index from `find`, in configuration order.
  std::vector<std::string_view> lists_of(uint32_t match) const;

  /// The lists, by id.
  const std::vector<IntelListInfo>& lists() const noexcept { return lists_; }
  /// Blocks loaded, over all lists (duplicates included).
  size_t prefix_count() const noexcept { return prefix_count_; }
  /// Disjoint address ranges in the lookup table.
  size_t range_count() const noexcept { return table_.range_count(); }
  /// Distinct match records (combinations of lists, categories and reputation).
  size_t match_count() const noexcept { return matches_.size() - 1; }
  /// Heap bytes held.
  size_t memory_bytes() const noexcept;

 private:
  struct MatchRecord {
    uint16_t categories = 0;
    uint8_t reputation = 0;
    uint16_t list_count = 0;
    uint32_t lists_begin = 0;  ///< into list_pool_
  };

  RangeTable table_;
  std::vector<MatchRecord> matches_{MatchRecord{}};  ///< [0] is "not listed"
  std::vector<uint16_t> list_pool_;                  ///< each record's list ids
  std::vector<IntelListInfo> lists_;
  size_t prefix_count_ = 0;
};

}  // namespace fathom::transform
