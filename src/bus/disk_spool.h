#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fathom::bus {

/// Settings of a DiskSpool.
struct DiskSpoolOptions {
  /// Directory of the spool's segment files; created (with parents) when missing. One spool
  /// per directory: a second open of the same directory fails (a lock file).
  std::string directory;
  /// Disk budget: bytes of unconsumed records (framing included). An append beyond it is
  /// refused and counted, never blocks.
  uint64_t max_bytes = 256ull << 20;
  /// A segment file is closed and a new one started past this size; a fully consumed segment
  /// is deleted.
  uint64_t segment_bytes = 8ull << 20;
  /// fdatasync after every append call (survives a power cut, not only a crash); slower.
  bool sync = false;
};

/// Counters of a DiskSpool since it was opened (pending_* are the state now, including
/// records found on disk at open).
struct DiskSpoolStats {
  uint64_t appended = 0;        ///< records appended
  uint64_t appended_bytes = 0;  ///< their payload bytes
  uint64_t consumed = 0;        ///< records popped
  uint64_t rejected_full = 0;   ///< appends refused: over `max_bytes`
  uint64_t rejected_io = 0;     ///< appends refused: write error (full disk, I/O error)
  uint64_t recovered = 0;       ///< records found on disk at open
  uint64_t corrupt = 0;         ///< records skipped at open or read: bad checksum or torn tail
  uint64_t pending = 0;         ///< records waiting now
  uint64_t pending_bytes = 0;   ///< their bytes on disk (framing included)
};

/// A bounded, persistent FIFO of opaque records: what a store writer or an alert sink could
/// not deliver yet waits here, in order, across restarts. Records are appended to segment
/// files (each record framed by its length and a CRC-32C), read back oldest first, and
/// removed only when the caller confirms delivery (`pop`), so a crash between read and
/// delivery replays the record rather than losing it (consumers make delivery idempotent).
/// A torn or corrupt tail left by a crash is skipped and counted, never fatal. Thread-safe.
class DiskSpool {
 public:
  /// Opens (or creates) the spool in `options.directory` and recovers what is left there.
  /// Null with `error` set when the directory cannot be created or locked.
  static std::unique_ptr<DiskSpool> open(const DiskSpoolOptions& options, std::string& error);
  ~DiskSpool();
  DiskSpool(const DiskSpool&) = delete;
  DiskSpool& operator=(const DiskSpool&) = delete;

  /// Appends one record; false (counted) when it would exceed the budget or cannot be
  /// written. Empty records are allowed.
  bool append(std::string_view record);
  /// Appends all or none of `records` (one budget check, one write, one sync); false
  /// (counted per record) when refused.
  bool append_all(std::span<const std::string> records);
  /// Up to `max` of the oldest records, without removing them (a second call returns the
  /// same records until `pop`).
  std::vector<std::string> peek(size_t max);
  /// Removes the `n` oldest records (at most what is pending): call after delivering what
  /// `peek` returned. The consumed position is persisted, so a restart does not replay them.
  void pop(size_t n);

  bool empty() const;
  DiskSpoolStats stats() const;
  const DiskSpoolOptions& options() const noexcept { return options_; }

 private:
  struct Segment;
  explicit DiskSpool(DiskSpoolOptions options);
  bool recover(std::string& error);
  bool write_locked(std::span<const std::string_view> records);
  bool read_locked(size_t max, std::vector<std::string>* out, size_t* framed_bytes);
  void persist_cursor_locked();

  DiskSpoolOptions options_;
  mutable std::mutex mutex_;
  std::vector<Segment> segments_;  ///< oldest first; the last one is written to
  int lock_fd_ = -1;
  int write_fd_ = -1;
  uint64_t read_offset_ = 0;  ///< in segments_.front(): the first unconsumed record
  uint64_t next_seq_ = 0;     ///< of the next segment when none is left
  DiskSpoolStats stats_;
};

/// CRC-32C (Castagnoli) of `data`, the spool's record checksum.
uint32_t crc32c(std::string_view data, uint32_t crc = 0) noexcept;

}  // namespace fathom::bus
