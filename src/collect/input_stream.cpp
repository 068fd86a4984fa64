#include "collect/input_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace fathom::collect {
namespace {

constexpr size_t kRawChunk = 1 << 16;

}  // namespace

std::unique_ptr<InputStream> InputStream::open(const std::string& path, std::string& error) {
  if (path == "-") {
    auto in = std::unique_ptr<InputStream>(new InputStream(STDIN_FILENO, false, "<stdin>", true));
    if (!in->init_gzip()) {
      error = in->error_;
      return nullptr;
    }
    return in;
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return nullptr;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    error = path + ": " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  if (S_ISDIR(st.st_mode)) {
    error = path + ": is a directory";
    ::close(fd);
    return nullptr;
  }
  auto in = std::unique_ptr<InputStream>(new InputStream(fd, true, path, !S_ISREG(st.st_mode)));
  if (!in->init_gzip()) {
    error = in->error_;
    return nullptr;
  }
  return in;
}

InputStream::InputStream(int fd, bool owns_fd, std::string name, bool is_stream)
    : fd_(fd), owns_fd_(owns_fd), is_stream_(is_stream), name_(std::move(name)) {}

InputStream::~InputStream() {
  if (zs_ready_) inflateEnd(&zs_);
  if (owns_fd_) ::close(fd_);
}

ptrdiff_t InputStream::read_raw(void* buf, size_t n) {
  for (;;) {
    const ssize_t got = ::read(fd_, buf, n);
    if (got >= 0) return got;
    if (errno == EINTR) continue;
    error_ = name_ + ": " + std::strerror(errno);
    return -1;
  }
}

bool InputStream::init_gzip() {
  // Sniff the first two raw bytes for the gzip magic (RFC 1952 §2.3.1: 1f 8b).
  raw_.resize(kRawChunk);
  size_t have = 0;
  while (have < 2) {
    const ptrdiff_t got = read_raw(raw_.data() + have, raw_.size() - have);
    if (got < 0) return false;
    if (got == 0) break;
    have += static_cast<size_t>(got);
  }
  raw_.resize(have);
  raw_pos_ = 0;
  gzip_ = have >= 2 && raw_[0] == std::byte{0x1f} && raw_[1] == std::byte{0x8b};
  if (gzip_) {
    // windowBits 15 + 16: gzip wrapper only.
    if (inflateInit2(&zs_, 15 + 16) != Z_OK) {
      error_ = name_ + ": zlib initialisation failed";
      return false;
    }
    zs_ready_ = true;
  }
  return true;
}

ptrdiff_t InputStream::read_decoded(std::byte* buf, size_t n) {
  if (n == 0) return 0;
  if (!gzip_) {
    if (raw_pos_ < raw_.size()) {
      const size_t take = std::min(n, raw_.size() - raw_pos_);
      std::memcpy(buf, raw_.data() + raw_pos_, take);
      raw_pos_ += take;
      return static_cast<ptrdiff_t>(take);
    }
    return read_raw(buf, n);
  }
  if (gzip_done_) return 0;
  for (;;) {
    if (raw_pos_ == raw_.size()) {
      raw_.resize(kRawChunk);
      const ptrdiff_t got = read_raw(raw_.data(), raw_.size());
      if (got < 0) return -1;
      raw_.resize(static_cast<size_t>(got));
      raw_pos_ = 0;
      if (got == 0) {
        error_ = name_ + ": truncated gzip data";
        return -1;
      }
    }
    zs_.next_in = reinterpret_cast<Bytef*>(raw_.data() + raw_pos_);
    zs_.avail_in = static_cast<uInt>(raw_.size() - raw_pos_);
    zs_.next_out = reinterpret_cast<Bytef*>(buf);
    zs_.avail_out = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    const int rc = inflate(&zs_, Z_NO_FLUSH);
    raw_pos_ = raw_.size() - zs_.avail_in;
    const size_t produced = static_cast<size_t>(reinterpret_cast<std::byte*>(zs_.next_out) - buf);
    if (rc == Z_STREAM_END) {
      // RFC 1952 §2.2: a file may hold several members back to back.
      bool more = raw_pos_ < raw_.size();
      if (!more) {
        raw_.resize(kRawChunk);
        const ptrdiff_t got = read_raw(raw_.data(), raw_.size());
        if (got < 0) return -1;
        raw_.resize(static_cast<size_t>(got));
        raw_pos_ = 0;
        more = got > 0;
      }
      if (more) {
        inflateReset(&zs_);
      } else {
        gzip_done_ = true;
      }
      if (produced > 0 || gzip_done_) return static_cast<ptrdiff_t>(produced);
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      error_ = name_ + ": corrupt gzip data (" + (zs_.msg != nullptr ? zs_.msg : "inflate") + ")";
      return -1;
    }
    if (produced > 0) return static_cast<ptrdiff_t>(produced);
  }
}

std::span<const std::byte> InputStream::peek(size_t n) {
  // Compact what was already consumed, then top up to n decoded bytes.
  if (peeked_pos_ > 0) {
    peeked_.erase(peeked_.begin(), peeked_.begin() + static_cast<ptrdiff_t>(peeked_pos_));
    peeked_pos_ = 0;
  }
  while (peeked_.size() < n) {
    const size_t have = peeked_.size();
    peeked_.resize(n);
    const ptrdiff_t got = read_decoded(peeked_.data() + have, n - have);
    if (got <= 0) {
      peeked_.resize(have);
      break;
    }
    peeked_.resize(have + static_cast<size_t>(got));
  }
  return std::span<const std::byte>(peeked_).first(std::min(n, peeked_.size()));
}

ptrdiff_t InputStream::read(void* buf, size_t n) {
  if (peeked_pos_ < peeked_.size()) {
    const size_t take = std::min(n, peeked_.size() - peeked_pos_);
    std::memcpy(buf, peeked_.data() + peeked_pos_, take);
    peeked_pos_ += take;
    return static_cast<ptrdiff_t>(take);
  }
  return read_decoded(static_cast<std::byte*>(buf), n);
}

std::FILE* InputStream::as_file() {
  cookie_io_functions_t io{};
  io.read = [](void* cookie, char* buf, size_t size) -> ssize_t {
    return static_cast<InputStream*>(cookie)->read(buf, size);
  };
  io.close = [](void*) -> int { return 0; };
  return fopencookie(this, "rb", io);
}

LineReader::LineReader(InputStream& in, size_t max_line)
    : in_(in), max_line_(max_line), buf_(std::min<size_t>(max_line, 1 << 16) + 1) {}

bool LineReader::next(std::string_view& line) {
  for (;;) {
    const auto first = buf_.begin() + static_cast<ptrdiff_t>(begin_);
    const auto last = buf_.begin() + static_cast<ptrdiff_t>(end_);
    const auto newline = std::find(first, last, '\n');
    if (newline != last || (eof_ && begin_ < end_) || end_ - begin_ >= max_line_) {
      size_t len = static_cast<size_t>(newline - first);
      size_t consumed = len + (newline != last ? 1 : 0);
      if (newline == last) len = consumed = std::min(end_ - begin_, max_line_);
      line = std::string_view(buf_.data() + begin_, len);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      begin_ += consumed;
      ++line_number_;
      return true;
    }
    if (eof_) return false;
    // Make room: move the partial line to the front, grow up to max_line.
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == buf_.size()) buf_.resize(std::min(buf_.size() * 2, max_line_ + 1));
    const ptrdiff_t got = in_.read(buf_.data() + end_, buf_.size() - end_);
    if (got < 0) return false;
    if (got == 0) {
      eof_ = true;
    } else {
      end_ += static_cast<size_t>(got);
    }
  }
}

/// pcap (both byte orders, micro- and nanosecond) and pcapng section header magics.
bool is_capture_magic(std::span<const std::byte> head) {
  if (head.size() < 4) return false;
  const uint32_t be = (uint32_t{static_cast<uint8_t>(head[0])} << 24) |
                      (uint32_t{static_cast<uint8_t>(head[1])} << 16) |
                      (uint32_t{static_cast<uint8_t>(head[2])} << 8) |
                      uint32_t{static_cast<uint8_t>(head[3])};
  constexpr std::array<uint32_t, 5> kMagics = {0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1,
                                               0x0a0d0d0a};
  return std::find(kMagics.begin(), kMagics.end(), be) != kMagics.end();
}

bool looks_binary(std::span<const std::byte> head) {
  return std::find(head.begin(), head.end(), std::byte{0}) != head.end();
}

}  // namespace fathom::collect
