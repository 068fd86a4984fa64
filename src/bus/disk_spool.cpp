#include "bus/disk_spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>

namespace fathom::bus {
namespace {

namespace fs = std::filesystem;

// A record on disk: payload length (u32 LE), CRC-32C of the payload (u32 LE), payload.
constexpr size_t kFrameHeader = 8;
// A length beyond this is corruption, not a record (the budget is far below it anyway).
constexpr uint32_t kMaxRecord = 1u << 30;
constexpr std::string_view kSegmentPrefix = "segment-";
constexpr std::string_view kSegmentSuffix = ".spool";
constexpr std::string_view kCursorName = "cursor";
// The cursor file: magic, the first unconsumed record's segment and offset, CRC-32C of those.
constexpr std::array<char, 4> kCursorMagic = {'F', 'S', 'P', 'C'};
constexpr size_t kCursorSize = 4 + 8 + 8 + 4;

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

void put_u32(uint32_t v, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (8 * i));
}
void put_u64(uint64_t v, char* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (8 * i));
}
uint32_t get_u32(const char* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return v;
}
uint64_t get_u64(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return v;
}

std::string segment_name(uint64_t seq) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(seq));
  return std::string(kSegmentPrefix) + digits + std::string(kSegmentSuffix);
}

/// The sequence number of a segment file's name; false for any other file.
bool parse_segment_name(std::string_view name, uint64_t& seq) {
  if (!name.starts_with(kSegmentPrefix) || !name.ends_with(kSegmentSuffix)) return false;
  name.remove_prefix(kSegmentPrefix.size());
  name.remove_suffix(kSegmentSuffix.size());
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), seq);
  return ec == std::errc() && end == name.data() + name.size();
}

/// Reads exactly `size` bytes at `offset`; false on error or end of file.
bool pread_all(int fd, char* out, size_t size, uint64_t offset) {
  while (size > 0) {
    const ssize_t n = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

void fsync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

uint32_t crc32c(std::string_view data, uint32_t crc) noexcept {
  crc = ~crc;
  for (const char c : data)
    crc = kCrcTable[(crc ^ static_cast<unsigned char>(c)) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

/// One segment file: its sequence number, the bytes of whole, valid records in it, and how
/// many records those are.
struct DiskSpool::Segment {
  uint64_t seq = 0;
  uint64_t size = 0;
  uint64_t records = 0;
  std::string path;
};

DiskSpool::DiskSpool(DiskSpoolOptions options) : options_(std::move(options)) {}

DiskSpool::~DiskSpool() {
  if (write_fd_ >= 0) ::close(write_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

std::unique_ptr<DiskSpool> DiskSpool::open(const DiskSpoolOptions& options, std::string& error) {
  if (options.directory.empty()) {
    error = "spool: no directory given";
    return nullptr;
  }
  if (options.max_bytes == 0 || options.segment_bytes == 0) {
    error = "spool: max_bytes and segment_bytes must be positive";
    return nullptr;
  }
  std::error_code ec;
  fs::create_directories(options.directory, ec);
  if (ec) {
    error = "spool: cannot create " + options.directory + ": " + ec.message();
    return nullptr;
  }
  std::unique_ptr<DiskSpool> spool(new DiskSpool(options));
  const std::string lock_path = options.directory + "/lock";
  spool->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (spool->lock_fd_ < 0) {
    error = "spool: cannot open " + lock_path + ": " + std::strerror(errno);
    return nullptr;
  }
  if (::flock(spool->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    error = "spool: " + options.directory + " is in use by another spool (" + std::strerror(errno) +
            ")";
    return nullptr;
  }
  if (!spool->recover(error)) return nullptr;
  return spool;
}

bool DiskSpool::recover(std::string& error) {
  // The cursor: where consumption stopped. Missing or damaged: start at the oldest segment
  // (replaying a delivered record is safe, losing one is not).
  uint64_t cursor_seq = 0;
  uint64_t cursor_offset = 0;
  {
    const std::string path = options_.directory + "/" + std::string(kCursorName);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char buf[kCursorSize];
      if (pread_all(fd, buf, sizeof buf, 0) && std::memcmp(buf, kCursorMagic.data(), 4) == 0 &&
          get_u32(buf + 20) == crc32c(std::string_view(buf, 20))) {
        cursor_seq = get_u64(buf + 4);
        cursor_offset = get_u64(buf + 12);
      } else {
        ++stats_.corrupt;
      }
      ::close(fd);
    }
  }

  std::error_code ec;
  std::vector<Segment> found;
  for (const fs::directory_entry& entry : fs::directory_iterator(options_.directory, ec)) {
    uint64_t seq = 0;
    if (!parse_segment_name(entry.path().filename().string(), seq)) continue;
    found.push_back(Segment{seq, 0, 0, entry.path().string()});
  }
  if (ec) {
    error = "spool: cannot list " + options_.directory + ": " + ec.message();
    return false;
  }
  std::sort(found.begin(), found.end(),
            [](const Segment& a, const Segment& b) { return a.seq < b.seq; });

  std::string payload;
  for (size_t idx = 0; idx < found.size(); ++idx) {
    Segment& seg = found[idx];
    if (seg.seq < cursor_seq) {  // consumed before the restart
      ::unlink(seg.path.c_str());
      continue;
    }
    const int fd = ::open(seg.path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      error = "spool: cannot open " + seg.path + ": " + std::strerror(errno);
      return false;
    }
    struct stat st {};
    ::fstat(fd, &st);
    const auto file_size = static_cast<uint64_t>(st.st_size);
    const bool is_cursor_segment = seg.seq == cursor_seq;
    const uint64_t start = is_cursor_segment ? std::min(cursor_offset, file_size) : 0;
    uint64_t offset = 0;
    uint64_t pending_records = 0;
    // Records before the cursor are walked too: their framing finds the cursor's record. A
    // cursor inside a record (damage) replays that record: a duplicate, not a loss.
    std::optional<uint64_t> first_pending;
    while (offset < file_size) {
      char header[kFrameHeader];
      if (offset + kFrameHeader > file_size || !pread_all(fd, header, kFrameHeader, offset)) {
        ++stats_.corrupt;  // torn header
        break;
      }
      const uint32_t length = get_u32(header);
      if (length > kMaxRecord || offset + kFrameHeader + length > file_size) {
        ++stats_.corrupt;  // torn or garbled length
        break;
      }
      payload.resize(length);
      if (!pread_all(fd, payload.data(), length, offset + kFrameHeader) ||
          crc32c(payload) != get_u32(header + 4)) {
        ++stats_.corrupt;
        break;
      }
      const uint64_t end = offset + kFrameHeader + length;
      if (end > start) {
        if (!first_pending) first_pending = offset;
        ++pending_records;
      }
      offset = end;
    }
    // Cut what follows the last whole record, so appends continue a valid file.
    if (offset < file_size && ::ftruncate(fd, static_cast<off_t>(offset)) != 0) {
      ::close(fd);
      error = "spool: cannot repair " + seg.path + ": " + std::strerror(errno);
      return false;
    }
    ::close(fd);
    seg.size = offset;
    seg.records = pending_records;
    if (segments_.empty()) read_offset_ = first_pending.value_or(offset);
    segments_.push_back(seg);
  }
  next_seq_ = std::max(cursor_seq, segments_.empty() ? 0 : segments_.back().seq + 1);
  for (const Segment& seg : segments_) {
    stats_.pending += seg.records;
    stats_.pending_bytes += seg.size;
  }
  stats_.pending_bytes -= read_offset_;
  stats_.recovered = stats_.pending;
  if (!segments_.empty()) {
    write_fd_ = ::open(segments_.back().path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (write_fd_ < 0) {
      error = "spool: cannot open " + segments_.back().path + ": " + std::strerror(errno);
      return false;
    }
  }
  // Drop fully consumed segments left by a crash between pop and deletion.
  while (!segments_.empty() && read_offset_ >= segments_.front().size && segments_.size() > 1) {
    ::unlink(segments_.front().path.c_str());
    segments_.erase(segments_.begin());
    read_offset_ = 0;
  }
  return true;
}

bool DiskSpool::append(std::string_view record) {
  std::lock_guard lock(mutex_);
  const std::string_view one[1] = {record};
  return write_locked(one);
}

bool DiskSpool::append_all(std::span<const std::string> records) {
  std::vector<std::string_view> views(records.begin(), records.end());
  std::lock_guard lock(mutex_);
  return write_locked(views);
}

bool DiskSpool::write_locked(std::span<const std::string_view> records) {
  if (records.empty()) return true;
  uint64_t framed = 0;
  for (const std::string_view r : records) {
    if (r.size() > kMaxRecord) {
      stats_.rejected_full += records.size();
      return false;
    }
    framed += kFrameHeader + r.size();
  }
  if (stats_.pending_bytes + framed > options_.max_bytes) {
    stats_.rejected_full += records.size();
    return false;
  }
  if (write_fd_ < 0 || segments_.back().size >= options_.segment_bytes) {
    const uint64_t seq = segments_.empty() ? next_seq_ : segments_.back().seq + 1;
    const std::string path = options_.directory + "/" + segment_name(seq);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      stats_.rejected_io += records.size();
      return false;
    }
    if (write_fd_ >= 0) ::close(write_fd_);
    write_fd_ = fd;
    if (segments_.empty()) read_offset_ = 0;
    segments_.push_back(Segment{seq, 0, 0, path});
    next_seq_ = seq + 1;
    if (options_.sync) fsync_directory(options_.directory);
  }
  std::string buffer;
  buffer.reserve(framed);
  for (const std::string_view r : records) {
    char header[kFrameHeader];
    put_u32(static_cast<uint32_t>(r.size()), header);
    put_u32(crc32c(r), header + 4);
    buffer.append(header, kFrameHeader);
    buffer.append(r);
  }
  Segment& seg = segments_.back();
  if (!write_all(write_fd_, buffer.data(), buffer.size()) ||
      (options_.sync && ::fdatasync(write_fd_) != 0)) {
    // All or none: cut a partial write off again.
    if (::ftruncate(write_fd_, static_cast<off_t>(seg.size)) != 0) {
      // The torn tail is skipped at the next open (counted as corrupt there).
    }
    stats_.rejected_io += records.size();
    return false;
  }
  seg.size += framed;
  seg.records += records.size();
  stats_.appended += records.size();
  stats_.appended_bytes += framed - kFrameHeader * records.size();
  stats_.pending += records.size();
  stats_.pending_bytes += framed;
  return true;
}

bool DiskSpool::read_locked(size_t max, std::vector<std::string>* out, size_t* framed_bytes) {
  size_t taken = 0;
  uint64_t offset = read_offset_;
  std::string payload;
  for (size_t idx = 0; idx < segments_.size() && taken < max; ++idx) {
    Segment& seg = segments_[idx];
    if (idx > 0) offset = 0;
    if (offset >= seg.size) continue;
    const int fd = ::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    while (offset < seg.size && taken < max) {
      char header[kFrameHeader];
      if (!pread_all(fd, header, kFrameHeader, offset)) {
        ::close(fd);
        return false;
      }
      const uint32_t length = get_u32(header);
      if (out != nullptr) {
        payload.resize(length);
        if (offset + kFrameHeader + length > seg.size ||
            !pread_all(fd, payload.data(), length, offset + kFrameHeader) ||
            crc32c(payload) != get_u32(header + 4)) {
          ::close(fd);
          return false;
        }
        out->push_back(payload);
      }
      offset += kFrameHeader + length;
      if (framed_bytes != nullptr) *framed_bytes += kFrameHeader + length;
      ++taken;
    }
    ::close(fd);
  }
  return true;
}

std::vector<std::string> DiskSpool::peek(size_t max) {
  std::vector<std::string> out;
  std::lock_guard lock(mutex_);
  if (!read_locked(max, &out, nullptr)) {
    // Damaged after open (the disk changed under us): what was read is returned; the damaged
    // record is skipped by a later pop of the records before it, or at the next open.
    ++stats_.corrupt;
  }
  return out;
}

void DiskSpool::pop(size_t n) {
  std::lock_guard lock(mutex_);
  n = std::min<uint64_t>(n, stats_.pending);
  size_t popped = 0;
  while (popped < n && !segments_.empty()) {
    Segment& seg = segments_.front();
    const int fd = ::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC);
    bool damaged = fd < 0;
    while (!damaged && popped < n && read_offset_ < seg.size) {
      char header[kFrameHeader];
      if (!pread_all(fd, header, kFrameHeader, read_offset_)) {
        damaged = true;
        break;
      }
      read_offset_ += kFrameHeader + get_u32(header);
      stats_.pending_bytes -=
          std::min<uint64_t>(stats_.pending_bytes, kFrameHeader + get_u32(header));
      --seg.records;
      ++popped;
    }
    if (fd >= 0) ::close(fd);
    if (damaged) {
      // Unreadable segment: drop what is left of it (counted) rather than loop forever.
      ++stats_.corrupt;
      stats_.pending -= std::min(stats_.pending, seg.records);
      stats_.pending_bytes -=
          std::min(stats_.pending_bytes, seg.size - std::min(seg.size, read_offset_));
      seg.records = 0;
      read_offset_ = seg.size;
    }
    if (read_offset_ < seg.size) break;
    // Fully consumed: delete it (also the one being written: the next append starts anew).
    ::unlink(seg.path.c_str());
    if (segments_.size() == 1 && write_fd_ >= 0) {
      ::close(write_fd_);
      write_fd_ = -1;
      next_seq_ = seg.seq + 1;
    }
    segments_.erase(segments_.begin());
    read_offset_ = 0;
  }
  stats_.pending -= std::min<uint64_t>(stats_.pending, popped);
  stats_.consumed += popped;
  if (segments_.empty()) stats_.pending_bytes = 0;
  persist_cursor_locked();
}

void DiskSpool::persist_cursor_locked() {
  const uint64_t seq = segments_.empty() ? next_seq_ : segments_.front().seq;
  char buf[kCursorSize];
  std::memcpy(buf, kCursorMagic.data(), 4);
  put_u64(seq, buf + 4);
  put_u64(segments_.empty() ? 0 : read_offset_, buf + 12);
  put_u32(crc32c(std::string_view(buf, 20)), buf + 20);
  const std::string path = options_.directory + "/" + std::string(kCursorName);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;  // the next open replays from the older cursor: duplicates, no loss
  const bool ok = write_all(fd, buf, sizeof buf) && (!options_.sync || ::fdatasync(fd) == 0);
  ::close(fd);
  if (ok) ::rename(tmp.c_str(), path.c_str());
}

bool DiskSpool::empty() const {
  std::lock_guard lock(mutex_);
  return stats_.pending == 0;
}

DiskSpoolStats DiskSpool::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace fathom::bus
