#include "alert/dedup.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace fathom::alert {
namespace {

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string journal_line(std::string_view key, uint64_t payload) {
  std::string line(key);
  line += ' ';
  line += std::to_string(payload);
  line += '\n';
  return line;
}

}  // namespace

DedupSet::DedupSet(uint32_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

DedupSet::~DedupSet() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<DedupSet> DedupSet::open(const std::string& path, uint32_t capacity,
                                         std::string& error) {
  auto set = std::make_unique<DedupSet>(capacity);
  set->path_ = path;
  {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      ++set->journal_lines_;
      const size_t space = line.rfind(' ');
      if (space == std::string::npos || space == 0) continue;
      uint64_t payload = 0;
      const char* begin = line.data() + space + 1;
      const char* end = line.data() + line.size();
      const auto [ptr, ec] = std::from_chars(begin, end, payload);
      if (ec != std::errc() || ptr != end) continue;  // torn or foreign line
      std::string key = line.substr(0, space);
      if (set->keys_.insert(key).second) set->order_.emplace_back(std::move(key), payload);
      while (set->order_.size() > set->capacity_) {
        set->keys_.erase(set->order_.front().first);
        set->order_.pop_front();
      }
    }
  }
  set->loaded_.assign(set->order_.begin(), set->order_.end());
  set->fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (set->fd_ < 0) {
    error = "alert: cannot open dedup journal " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  if (set->journal_lines_ > 2ull * set->capacity_) set->compact_journal();
  return set;
}

bool DedupSet::contains(std::string_view key) const {
  return keys_.find(std::string(key)) != keys_.end();
}

bool DedupSet::insert(std::string_view key, uint64_t payload) {
  if (!keys_.emplace(key).second) return false;
  order_.emplace_back(std::string(key), payload);
  while (order_.size() > capacity_) {
    keys_.erase(order_.front().first);
    order_.pop_front();
  }
  if (fd_ >= 0) append_journal(key, payload);
  return true;
}

void DedupSet::append_journal(std::string_view key, uint64_t payload) {
  if (!write_all(fd_, journal_line(key, payload))) {
    ++journal_errors_;
    return;
  }
  // The journal keeps at most twice the set: rewritten from memory past that.
  if (++journal_lines_ > 2ull * capacity_) compact_journal();
}

void DedupSet::compact_journal() {
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    ++journal_errors_;
    return;
  }
  std::string text;
  for (const auto& [key, payload] : order_) text += journal_line(key, payload);
  const bool ok = write_all(fd, text);
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path_.c_str()) != 0) {
    ++journal_errors_;
    ::unlink(tmp.c_str());
    return;
  }
  // The old descriptor points at the replaced file: append to the new one from now on.
  const int new_fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (new_fd < 0) {
    ++journal_errors_;
    return;
  }
  ::close(fd_);
  fd_ = new_fd;
  journal_lines_ = order_.size();
}

}  // namespace fathom::alert
