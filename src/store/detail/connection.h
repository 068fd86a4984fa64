#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace fathom::store::detail {

/// A statement parameter ($1, $2, ... in the SQL of both back ends). Text and blobs are views:
/// they must outlive the call.
struct Param {
  enum class Kind : uint8_t { kNull, kInt, kReal, kText, kBlob };
  Kind kind = Kind::kNull;
  int64_t i = 0;
  double d = 0.0;
  std::string_view s;

  static Param integer(int64_t v) { return {Kind::kInt, v, 0.0, {}}; }
  static Param real(double v) { return {Kind::kReal, 0, v, {}}; }
  static Param text(std::string_view v) { return {Kind::kText, 0, 0.0, v}; }
  static Param blob(std::string_view v) { return {Kind::kBlob, 0, 0.0, v}; }
};

/// One result value: integers and reals decoded, text and blobs as bytes.
struct Cell {
  enum class Kind : uint8_t { kNull, kInt, kReal, kText, kBlob };
  Kind kind = Kind::kNull;
  int64_t i = 0;
  double d = 0.0;
  std::string s;

  int64_t as_int() const noexcept { return kind == Kind::kReal ? static_cast<int64_t>(d) : i; }
  /// NULL reads as NaN (SQLite stores a NaN parameter as NULL).
  double as_real() const noexcept {
    if (kind == Kind::kNull) return std::numeric_limits<double>::quiet_NaN();
    return kind == Kind::kInt ? static_cast<double>(i) : d;
  }
};

/// Result of one statement.
struct Rows {
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;
  int64_t changed = 0;  ///< rows inserted, updated or deleted
};

/// What differs between SQLite and PostgreSQL, below the SQL both share. One thread at a time.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual std::string_view backend() const noexcept = 0;
  /// Reconnects when the connection was lost (PostgreSQL); a retryable failure when it cannot.
  virtual StoreStatus ensure_connected() = 0;
  /// Runs statements without parameters or results (DDL, BEGIN, COMMIT).
  virtual StoreStatus exec_script(std::string_view sql) = 0;
  /// Runs one statement with `params`; its rows into `out` when non-null. Statements are
  /// prepared once per connection and cached by their text.
  virtual StoreStatus run(std::string_view sql, std::span<const Param> params, Rows* out) = 0;
  /// Statements run without rows wanted (`out` null) between `begin_batch` and `end_batch` may
  /// be sent without waiting for each answer (PostgreSQL's pipeline mode: the round trips of a
  /// whole write batch overlap instead of adding up); `run` then reports only failures to send,
  /// and `end_batch` waits for every answer and returns the first failure. Call `end_batch` on
  /// every path after a successful `begin_batch`. SQLite: both do nothing (it has no round trip).
  virtual StoreStatus begin_batch() { return StoreStatus::success(); }
  virtual StoreStatus end_batch() { return StoreStatus::success(); }
  /// The statement that opens a write transaction (SQLite takes the write lock up front, so a
  /// busy database fails at BEGIN rather than halfway through).
  virtual std::string_view begin_sql() const noexcept = 0;
  /// Column type of binary blobs: BLOB or BYTEA.
  virtual std::string_view blob_type() const noexcept = 0;
  /// SQLite: pages in use × page size. PostgreSQL: 0 (no size limit there).
  virtual StoreResult<uint64_t> live_bytes() = 0;
};

/// The Database over a connection: the SQL both back ends share (store/detail/sql_database.cpp).
std::unique_ptr<Database> make_sql_database(std::unique_ptr<Connection> connection,
                                            const StoreOptions& options);

/// SQLite file at `path` (WAL mode); null with `error` when it cannot be opened.
std::unique_ptr<Connection> open_sqlite(const std::string& path, const StoreOptions& options,
                                        std::string& error);
/// PostgreSQL at libpq URI `url`; null with `error` when the server cannot be reached.
std::unique_ptr<Connection> open_postgres(const std::string& url, const StoreOptions& options,
                                          std::string& error);

/// One migration: applied once, in version order, in the transaction of `migrate`.
struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;  ///< "{BLOB}" stands for the back end's blob type
};
/// Every migration, oldest first; versions 1, 2, 3, ... with no gaps.
std::span<const Migration> migrations() noexcept;
/// Tables and their ordering columns, in the order export_jsonl writes them.
struct TableOrder {
  std::string_view table;
  std::string_view order_by;
};
std::span<const TableOrder> exported_tables() noexcept;

}  // namespace fathom::store::detail
