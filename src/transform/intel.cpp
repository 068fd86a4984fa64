#include "transform/intel.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

namespace fathom::transform {
namespace {

/// What one block contributes to a match: its list, category and severity, packed in the
/// flattening's value (the block's position in this table).
struct EntryTag {
  uint16_t list_id = 0;
  uint8_t category = 0;
  uint8_t severity = 0;
};

/// The reputation formula of IntelSet (see intel.h), over one severity per list.
uint8_t reputation_of(std::span<const std::pair<uint16_t, uint8_t>> list_severities) noexcept {
  double clean = 1.0;  // probability that every list is wrong about the address
  for (const auto& [list_id, severity] : list_severities) {
    clean *= 1.0 - static_cast<double>(severity) / 100.0;
  }
  const long score = std::lround(100.0 * (1.0 - clean));
  return static_cast<uint8_t>(std::clamp<long>(score, 1, 100));
}

}  // namespace

bool IntelSet::read_list(const IntelList& list, IntelListData& out, std::string& error,
                         const std::atomic<bool>* cancel) {
  out.info = IntelListInfo{};
  out.info.name = list.name;
  out.info.path = list.path;
  out.entries.clear();
  std::string read_error;
  if (!parse_intel_file(list, out.entries, out.info.parse, out.info.file, read_error, cancel)) {
    error = "intel list '" + list.name + "': " + read_error;
    return false;
  }
  if (out.entries.empty()) {
    const IntelParseStats& parse = out.info.parse;
    error = "intel list '" + list.name + "' (" + list.path + "): no valid entries";
    if (parse.bad_lines > 0) {
      error += ", " + std::to_string(parse.bad_lines) + " bad lines, first at line " +
               std::to_string(parse.first_bad_line) + ": " + parse.first_bad_text;
    }
    return false;
  }
  return true;
}

std::shared_ptr<const IntelSet> IntelSet::load(const std::vector<IntelList>& lists,
                                               std::string& error,
                                               const std::atomic<bool>* cancel) {
  std::vector<IntelListData> data(lists.size());
  for (size_t list_idx = 0; list_idx < lists.size(); ++list_idx) {
    if (!read_list(lists[list_idx], data[list_idx], error, cancel)) return nullptr;
  }
  return from_entries(std::move(data), error);
}

std::shared_ptr<const IntelSet> IntelSet::from_entries(std::vector<IntelListData> lists,
                                                       std::string& error) {
  if (lists.size() > kMaxLists) {
    error = "too many intel lists: " + std::to_string(lists.size()) + " (at most " +
            std::to_string(kMaxLists) + ")";
    return nullptr;
  }
  std::set<std::string_view> names;
  for (const IntelListData& list : lists) {
    if (!names.insert(list.info.name).second) {
      error = "intel list name '" + list.info.name + "' is used twice";
      return nullptr;
    }
  }

  auto set = std::make_shared<IntelSet>();
  size_t total = 0;
  for (const IntelListData& list : lists) total += list.entries.size();
  if (total > UINT32_MAX) {
    error = "too many intel entries: " + std::to_string(total);
    return nullptr;
  }
  set->prefix_count_ = total;

  std::vector<PrefixValue> prefixes;
  std::vector<EntryTag> tags;
  prefixes.reserve(total);
  tags.reserve(total);
  set->lists_.reserve(lists.size());
  for (size_t list_idx = 0; list_idx < lists.size(); ++list_idx) {
    IntelListData& list = lists[list_idx];
    for (const IntelEntry& entry : list.entries) {
      prefixes.push_back(PrefixValue{entry.prefix, static_cast<uint32_t>(tags.size())});
      tags.push_back(EntryTag{static_cast<uint16_t>(list_idx), static_cast<uint8_t>(entry.category),
                              entry.severity});
    }
    // Release each list's entries as soon as they are copied: 1 M blocks are ~20 MB each way.
    std::vector<IntelEntry>().swap(list.entries);
    set->lists_.push_back(std::move(list.info));
  }

  // One match record per distinct (categories, reputation, lists); the scratch buffers are
  // reused so flattening allocates only for new records.
  std::unordered_map<std::string, uint32_t> record_ids;
  std::vector<std::pair<uint16_t, uint8_t>> list_severities;
  std::string key;
  auto combine = [&](std::span<const uint32_t> covering) -> uint32_t {
    uint16_t categories = 0;
    list_severities.clear();
    for (const uint32_t tag_idx : covering) {
      const EntryTag& tag = tags[tag_idx];
      categories = static_cast<uint16_t>(categories | (1u << (tag.category & 15u)));
      list_severities.emplace_back(tag.list_id, tag.severity);
    }
    // Per list, the highest severity (a list counts once however many of its blocks nest).
    std::sort(list_severities.begin(), list_severities.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : a.second > b.second;
    });
    list_severities.erase(
        std::unique(list_severities.begin(), list_severities.end(),
                    [](const auto& a, const auto& b) { return a.first == b.first; }),
        list_severities.end());
    const uint8_t reputation = reputation_of(list_severities);

    key.clear();
    key.push_back(static_cast<char>(categories & 0xff));
    key.push_back(static_cast<char>(categories >> 8));
    key.push_back(static_cast<char>(reputation));
    for (const auto& [list_id, severity] : list_severities) {
      key.push_back(static_cast<char>(list_id & 0xff));
      key.push_back(static_cast<char>(list_id >> 8));
    }
    const auto found = record_ids.find(key);
    if (found != record_ids.end()) return found->second;
    const auto record_id = static_cast<uint32_t>(set->matches_.size());
    set->matches_.push_back(MatchRecord{categories, reputation,
                                        static_cast<uint16_t>(list_severities.size()),
                                        static_cast<uint32_t>(set->list_pool_.size())});
    for (const auto& [list_id, severity] : list_severities) set->list_pool_.push_back(list_id);
    record_ids.emplace(key, record_id);
    return record_id;
  };
  const std::vector<AddressRange> ranges = flatten_prefixes(std::move(prefixes), combine);
  if (!RangeTable::from_sorted(ranges, set->table_)) {
    // flatten_prefixes promises what from_sorted checks; failing here is a bug, not input.
    error = "intel lists: internal error building the lookup table";
    return nullptr;
  }
  set->matches_.shrink_to_fit();
  set->list_pool_.shrink_to_fit();
  return set;
}

std::span<const uint16_t> IntelSet::list_ids(uint32_t match) const noexcept {
  if (match == 0 || match >= matches_.size()) return {};
  const MatchRecord& record = matches_[match];
  return std::span<const uint16_t>(list_pool_).subspan(record.lists_begin, record.list_count);
}

std::vector<std::string_view> IntelSet::lists_containing(const flow::IpAddress& address) const {
  return lists_of(table_.find(address));
}

std::vector<std::string_view> IntelSet::lists_of(uint32_t match) const {
  std::vector<std::string_view> names;
  for (const uint16_t list_id : list_ids(match)) names.emplace_back(lists_[list_id].name);
  return names;
}

size_t IntelSet::memory_bytes() const noexcept {
  size_t bytes = table_.memory_bytes() + matches_.capacity() * sizeof(MatchRecord) +
                 list_pool_.capacity() * sizeof(uint16_t) +
                 lists_.capacity() * sizeof(IntelListInfo);
  for (const IntelListInfo& list : lists_) {
    bytes += list.name.capacity() + list.path.capacity() + list.parse.first_bad_text.capacity();
  }
  return bytes;
}

}  // namespace fathom::transform
