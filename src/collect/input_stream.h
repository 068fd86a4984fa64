#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <zlib.h>

namespace fathom::collect {

/// A byte stream from a file or stdin that can be sniffed before it is read: `peek()` shows the
/// first bytes without consuming them, so the caller can pick a parser by content (pcap magic,
/// text), even on a pipe. gzip input (RFC 1952, concatenated members too) is decompressed
/// transparently. Not thread-safe.
class InputStream {
 public:
  /// Opens `path` ("-" for stdin). Returns nullptr and sets `error` (naming the file) when it
  /// cannot be opened or is a directory.
  static std::unique_ptr<InputStream> open(const std::string& path, std::string& error);
  ~InputStream();
  InputStream(const InputStream&) = delete;
  InputStream& operator=(const InputStream&) = delete;

  /// Up to `n` first bytes of the (decompressed) content, without consuming them. Shorter only
  /// at the end of the input or on error. Valid until the next read.
  std::span<const std::byte> peek(size_t n);
  /// Reads up to `n` bytes into `buf`. Returns the count, 0 at the end, -1 on error (`error()`).
  ptrdiff_t read(void* buf, size_t n);

  /// The name used in messages: the path, or "<stdin>".
  const std::string& name() const noexcept { return name_; }
  /// True when the underlying bytes are gzip-compressed.
  bool gzip() const noexcept { return gzip_; }
  /// True for stdin or any non-regular file (a pipe cannot be reopened by path).
  bool is_stream() const noexcept { return is_stream_; }
  const std::string& error() const noexcept { return error_; }

  /// A stdio stream reading this InputStream (for libpcap's pcap_fopen_offline). The
  /// InputStream must outlive it; closing the FILE does not close the InputStream.
  std::FILE* as_file();

 private:
  InputStream(int fd, bool owns_fd, std::string name, bool is_stream);
  bool init_gzip();
  ptrdiff_t read_raw(void* buf, size_t n);
  ptrdiff_t read_decoded(std::byte* buf, size_t n);

  int fd_;
  bool owns_fd_;
  bool is_stream_;
  bool gzip_ = false;
  bool gzip_done_ = false;  ///< the last gzip member ended and no input follows
  std::string name_;
  std::string error_;
  std::vector<std::byte> raw_;  ///< raw bytes read ahead (sniffing, inflate input)
  size_t raw_pos_ = 0;
  std::vector<std::byte> peeked_;  ///< decoded bytes returned by peek() but not yet read
  size_t peeked_pos_ = 0;
  z_stream zs_{};
  bool zs_ready_ = false;
};

/// Splits an InputStream into lines (LF or CRLF; the terminator is not returned). A line
/// longer than `max_line` is returned in `max_line`-sized pieces (each then fails to parse
/// as what it should be, and is counted as such by the caller).
class LineReader {
 public:
  explicit LineReader(InputStream& in, size_t max_line = 1 << 20);

  /// Next line; false at the end of input or on a read error (`in.error()` then non-empty).
  /// The view is valid until the next call.
  bool next(std::string_view& line);
  /// 1-based number of the line last returned.
  uint64_t line_number() const noexcept { return line_number_; }

 private:
  InputStream& in_;
  size_t max_line_;
  std::vector<char> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  uint64_t line_number_ = 0;
};

/// True when `head` starts with a pcap (either byte order, micro- or nanosecond) or pcapng
/// section header magic.
bool is_capture_magic(std::span<const std::byte> head);
/// True when `head` holds a NUL byte (not a text flow log).
bool looks_binary(std::span<const std::byte> head);

}  // namespace fathom::collect
