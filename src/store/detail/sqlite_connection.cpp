// SQLite back end: one connection to a file in WAL mode (readers do not block the writer),
// statements prepared once and cached by their text.

#include <sqlite3.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <unordered_map>

#include "store/detail/connection.h"

namespace fathom::store::detail {
namespace {

/// Result codes a later attempt may not hit: another connection holds the lock, the disk is
/// full or failing, memory ran out. Everything else (constraint, misuse, read-only file,
/// corrupt file) is a bug or a configuration error.
bool retryable_code(int rc) noexcept {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL: return true;
    default: return false;
  }
}

/// $N (the shared SQL's parameters) to ?N (SQLite's numbered ones; `$1` would be a *named*
/// parameter numbered by first appearance).
std::string to_sqlite_params(std::string_view sql) {
  std::string out(sql);
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i] == '$' && out[i + 1] >= '0' && out[i + 1] <= '9') out[i] = '?';
  }
  return out;
}

class SqliteConnection final : public Connection {
 public:
  SqliteConnection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteConnection() override {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  std::string_view backend() const noexcept override { return "sqlite"; }
  StoreStatus ensure_connected() override { return StoreStatus::success(); }
  std::string_view begin_sql() const noexcept override { return "BEGIN IMMEDIATE"; }
  std::string_view blob_type() const noexcept override { return "BLOB"; }

  StoreStatus exec_script(std::string_view sql) override {
    char* message = nullptr;
    const std::string text(sql);
    const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return StoreStatus::success();
    std::string why = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return failure(rc, why, sql);
  }

  StoreStatus run(std::string_view sql, std::span<const Param> params, Rows* out) override {
    sqlite3_stmt* stmt = nullptr;
    if (StoreStatus s = prepare(sql, stmt); !s.ok) return s;
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    for (size_t idx = 0; idx < params.size(); ++idx) {
      const Param& p = params[idx];
      const int at = static_cast<int>(idx) + 1;
      int rc = SQLITE_OK;
      switch (p.kind) {
        case Param::Kind::kNull: rc = sqlite3_bind_null(stmt, at); break;
        case Param::Kind::kInt: rc = sqlite3_bind_int64(stmt, at, p.i); break;
        case Param::Kind::kReal: rc = sqlite3_bind_double(stmt, at, p.d); break;
        case Param::Kind::kText:
          rc = sqlite3_bind_text64(stmt, at, p.s.data(), p.s.size(), SQLITE_STATIC, SQLITE_UTF8);
          break;
        case Param::Kind::kBlob:
          // A zero-length blob with a null pointer would bind NULL: give it a real address.
          rc = sqlite3_bind_blob64(stmt, at, p.s.empty() ? "" : p.s.data(), p.s.size(),
                                   SQLITE_STATIC);
          break;
      }
      if (rc != SQLITE_OK) return failure(rc, sqlite3_errmsg(db_), sql);
    }
    if (out != nullptr) {
      out->rows.clear();
      out->columns.clear();
      const int cols = sqlite3_column_count(stmt);
      for (int col = 0; col < cols; ++col)
        out->columns.emplace_back(sqlite3_column_name(stmt, col));
    }
    for (;;) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        StoreStatus s = failure(rc, sqlite3_errmsg(db_), sql);
        sqlite3_reset(stmt);
        return s;
      }
      if (out == nullptr) continue;
      const int cols = sqlite3_column_count(stmt);
      std::vector<Cell>& row = out->rows.emplace_back(static_cast<size_t>(cols));
      for (int col = 0; col < cols; ++col) {
        Cell& c = row[static_cast<size_t>(col)];
        switch (sqlite3_column_type(stmt, col)) {
          case SQLITE_INTEGER:
            c.kind = Cell::Kind::kInt;
            c.i = sqlite3_column_int64(stmt, col);
            break;
          case SQLITE_FLOAT:
            c.kind = Cell::Kind::kReal;
            c.d = sqlite3_column_double(stmt, col);
            break;
          case SQLITE_TEXT:
            c.kind = Cell::Kind::kText;
            c.s.assign(reinterpret_cast<const char*>(sqlite3_column_text(stmt, col)),
                       static_cast<size_t>(sqlite3_column_bytes(stmt, col)));
            break;
          case SQLITE_BLOB: {
            c.kind = Cell::Kind::kBlob;
            const void* data = sqlite3_column_blob(stmt, col);
            const auto size = static_cast<size_t>(sqlite3_column_bytes(stmt, col));
            if (size > 0) c.s.assign(static_cast<const char*>(data), size);
            break;
          }
          default: c.kind = Cell::Kind::kNull; break;
        }
      }
    }
    if (out != nullptr) out->changed = sqlite3_changes64(db_);
    sqlite3_reset(stmt);  // releases the statement's read snapshot
    return StoreStatus::success();
  }

  StoreResult<uint64_t> live_bytes() override {
    int64_t values[3] = {};
    const char* pragmas[3] = {"PRAGMA page_count", "PRAGMA freelist_count", "PRAGMA page_size"};
    for (int idx = 0; idx < 3; ++idx) {
      Rows rows;
      if (StoreStatus s = run(pragmas[idx], {}, &rows); !s.ok) return {s};
      if (!rows.rows.empty()) values[idx] = rows.rows[0][0].as_int();
    }
    return {StoreStatus::success(), static_cast<uint64_t>((values[0] - values[1]) * values[2])};
  }

 private:
  StoreStatus prepare(std::string_view sql, sqlite3_stmt*& stmt) {
    const std::string key(sql);
    if (auto it = statements_.find(key); it != statements_.end()) {
      stmt = it->second;
      return StoreStatus::success();
    }
    const std::string text = to_sqlite_params(sql);
    const int rc = sqlite3_prepare_v3(db_, text.c_str(), static_cast<int>(text.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return failure(rc, sqlite3_errmsg(db_), sql);
    statements_.emplace(key, stmt);
    return StoreStatus::success();
  }

  StoreStatus failure(int rc, std::string_view why, std::string_view sql) const {
    std::string error = "sqlite " + path_ + ": " + std::string(why);
    if (const int sys = sqlite3_system_errno(db_); sys != 0 && (rc & 0xff) != SQLITE_CONSTRAINT) {
      error += " (";
      error += std::strerror(sys);
      error += ')';
    }
    error += " [in: " + std::string(sql.substr(0, 60)) + (sql.size() > 60 ? "...]" : "]");
    return StoreStatus::failure(std::move(error), retryable_code(rc));
  }

  sqlite3* db_;
  std::string path_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

}  // namespace

std::unique_ptr<Connection> open_sqlite(const std::string& path, const StoreOptions& options,
                                        std::string& error) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const int sys = db != nullptr ? sqlite3_system_errno(db) : 0;
    error = "sqlite: cannot open database file '" + path +
            "': " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    if (sys != 0) error += std::string(" (") + std::strerror(sys) + ")";
    error += ": check that the data directory exists and is writable";
    sqlite3_close_v2(db);
    return nullptr;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  auto conn = std::make_unique<SqliteConnection>(db, path);
  // WAL: the API's readers and the writer do not block each other; NORMAL sync is durable
  // across a process crash (not a power cut) and much faster with WAL.
  Rows mode;
  StoreStatus s = conn->run("PRAGMA journal_mode=WAL", {}, &mode);
  if (s.ok) s = conn->exec_script("PRAGMA synchronous=NORMAL");
  if (!s.ok) {
    error = "sqlite: cannot set up '" + path + "': " + s.error;
    return nullptr;
  }
  if (mode.rows.empty() || mode.rows[0][0].s != "wal") {
    error = "sqlite: '" + path + "' cannot use WAL mode (journal mode '" +
            (mode.rows.empty() ? std::string() : mode.rows[0][0].s) +
            "'): is it on a network file system?";
    return nullptr;
  }
  return conn;
}

}  // namespace fathom::store::detail
