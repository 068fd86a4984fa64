#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace fathom::alert {

/// A bounded set of alert keys already sent, oldest forgotten first, optionally journaled to a
/// file so a restart does not send them again. Each entry carries a small payload (the policy
/// keeps the sink mask there). Not thread-safe: the dispatcher's policy thread owns it.
class DedupSet {
 public:
  /// An in-memory set of at most `capacity` keys.
  explicit DedupSet(uint32_t capacity);
  ~DedupSet();
  DedupSet(const DedupSet&) = delete;
  DedupSet& operator=(const DedupSet&) = delete;

  /// A set journaled to `path` (created when missing) and loaded from it: the newest
  /// `capacity` entries survive. Lines that do not parse are skipped (a torn last line after a
  /// crash). Null with `error` set when the file cannot be opened.
  static std::unique_ptr<DedupSet> open(const std::string& path, uint32_t capacity,
                                        std::string& error);

  /// True when `key` was inserted before and is still remembered.
  bool contains(std::string_view key) const;
  /// Remembers `key` with `payload` (journaled); false when it was already there. Keys must
  /// not contain spaces or newlines.
  bool insert(std::string_view key, uint64_t payload);
  /// Entries loaded from the journal at open, oldest first.
  const std::vector<std::pair<std::string, uint64_t>>& loaded() const noexcept { return loaded_; }
  size_t size() const noexcept { return keys_.size(); }
  uint64_t journal_errors() const noexcept { return journal_errors_; }

 private:
  void append_journal(std::string_view key, uint64_t payload);
  void compact_journal();

  uint32_t capacity_;
  std::unordered_set<std::string> keys_;
  std::deque<std::pair<std::string, uint64_t>> order_;  ///< oldest first
  std::vector<std::pair<std::string, uint64_t>> loaded_;
  std::string path_;
  int fd_ = -1;
  uint64_t journal_lines_ = 0;
  uint64_t journal_errors_ = 0;
};

}  // namespace fathom::alert
