// PostgreSQL back end through libpq: one connection, statements prepared once per connection
// (named, cached by their text), blobs sent and received as bytea. A lost connection fails
// the call (retryable) and is reset at the start of the next one.

#include <libpq-fe.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>

#include "store/detail/connection.h"

namespace fathom::store::detail {
namespace {

// Type OIDs (src/include/catalog/pg_type.dat), stable across releases.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

/// SQLSTATEs (PostgreSQL appendix A) a later attempt may not hit: connection exceptions
/// (class 08), insufficient resources (53), operator intervention (57P01 admin shutdown,
/// 57P02 crash shutdown, 57P03 cannot connect now), serialization failure, deadlock, lock
/// not available. No SQLSTATE at all means libpq failed on the client side (lost socket).
bool retryable_sqlstate(const char* state) noexcept {
  if (state == nullptr || state[0] == '\0') return true;
  const std::string_view s(state);
  return s.starts_with("08") || s.starts_with("53") || s == "57P01" || s == "57P02" ||
         s == "57P03" || s == "40001" || s == "40P01" || s == "55P03";
}

/// The URL without its password, for messages.
std::string redact(std::string_view url) {
  const size_t scheme = url.find("://");
  const size_t at = url.find('@');
  if (scheme == std::string_view::npos || at == std::string_view::npos) return std::string(url);
  const size_t colon = url.find(':', scheme + 3);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// bytea_output = hex (the default since 9.0): "\x" then two hex digits per byte.
std::string decode_bytea(std::string_view text) {
  std::string out;
  if (!text.starts_with("\\x")) return std::string(text);
  out.reserve((text.size() - 2) / 2);
  for (size_t idx = 2; idx + 1 < text.size(); idx += 2) {
    const int hi = hex_value(text[idx]);
    const int lo = hex_value(text[idx + 1]);
    if (hi < 0 || lo < 0) break;
    out += static_cast<char>((hi << 4) | lo);
  }
  return out;
}

double parse_double(const char* text) noexcept {
  // strtod reads "NaN", "Infinity" and "-Infinity" as PostgreSQL writes them.
  return std::strtod(text, nullptr);
}

void ignore_notice(void*, const char*) {}

class PostgresConnection final : public Connection {
 public:
  PostgresConnection(PGconn* conn, std::string url) : conn_(conn), url_(std::move(url)) {
    PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
  }
  ~PostgresConnection() override { PQfinish(conn_); }

  std::string_view backend() const noexcept override { return "postgresql"; }
  std::string_view begin_sql() const noexcept override { return "BEGIN"; }
  std::string_view blob_type() const noexcept override { return "BYTEA"; }
  StoreResult<uint64_t> live_bytes() override { return {StoreStatus::success(), 0}; }

  StoreStatus ensure_connected() override {
    if (PQstatus(conn_) == CONNECTION_OK) return StoreStatus::success();
    // Blocking, bounded by the URL's connect_timeout.
    PQreset(conn_);
    statements_.clear();  // prepared statements died with the old session
    if (PQstatus(conn_) != CONNECTION_OK) {
      return StoreStatus::failure(
          "postgresql " + redact(url_) + ": reconnect failed: " + trimmed(PQerrorMessage(conn_)),
          true);
    }
    PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
    return StoreStatus::success();
  }

  StoreStatus exec_script(std::string_view sql) override {
    const std::string text(sql);
    PGresult* res = PQexec(conn_, text.c_str());
    StoreStatus s = check(res, sql);
    PQclear(res);
    return s;
  }

  StoreStatus begin_batch() override {
    if (PQenterPipelineMode(conn_) != 1) {
      return StoreStatus::failure("postgresql " + redact(url_) + ": cannot enter pipeline mode: " +
                                      trimmed(PQerrorMessage(conn_)),
                                  PQstatus(conn_) != CONNECTION_OK);
    }
    pipelining_ = true;
    pending_.clear();
    return StoreStatus::success();
  }

  StoreStatus end_batch() override {
    if (!pipelining_) return StoreStatus::success();
    pipelining_ = false;
    StoreStatus first = StoreStatus::success();
    auto note = [&first](StoreStatus s) {
      if (first.ok && !s.ok) first = std::move(s);
    };
    if (PQpipelineSync(conn_) != 1) {
      note(StoreStatus::failure(
          "postgresql " + redact(url_) + ": pipeline sync: " + trimmed(PQerrorMessage(conn_)),
          true));
    }
    // Each statement's result, then the NULL that ends it; after them all, the sync's.
    for (const std::string& sql : pending_) {
      PGresult* res = PQgetResult(conn_);
      if (res == nullptr) {
        note(check(nullptr, sql));
        break;
      }
      const ExecStatusType st = PQresultStatus(res);
      if (st == PGRES_PIPELINE_ABORTED) {
        // Not run because an earlier statement failed: that one's error is the answer.
        if (first.ok) note(check(res, sql));
      } else {
        note(check(res, sql));
      }
      PQclear(res);
      while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
    }
    pending_.clear();
    // The sync's result (skipping anything left over after a lost connection).
    for (int guard = 0; guard < 4; ++guard) {
      PGresult* res = PQgetResult(conn_);
      if (res == nullptr) break;
      const bool sync = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
      PQclear(res);
      if (sync) break;
    }
    if (PQexitPipelineMode(conn_) != 1) {
      note(StoreStatus::failure("postgresql " + redact(url_) + ": cannot leave pipeline mode: " +
                                    trimmed(PQerrorMessage(conn_)),
                                true));
      // The session is in an unknown state: start a new one on the next call.
      statements_.clear();
      PQreset(conn_);
    }
    if (!first.ok) {
      // A statement prepared in this batch may not exist on the server.
      for (auto it = statements_.begin(); it != statements_.end();) {
        it = batch_prepared_.count(it->first) != 0 ? statements_.erase(it) : std::next(it);
      }
    }
    batch_prepared_.clear();
    return first;
  }

  StoreStatus run(std::string_view sql, std::span<const Param> params, Rows* out) override {
    if (pipelining_ && out != nullptr) {
      return StoreStatus::failure("postgresql: rows asked for inside a write batch", false);
    }
    const std::string* name = nullptr;
    if (StoreStatus s = prepare(sql, static_cast<int>(params.size()), name); !s.ok) return s;
    // Text format for everything but blobs; libpq reads text parameters up to their NUL.
    std::vector<std::string> text(params.size());
    std::vector<const char*> values(params.size());
    std::vector<int> lengths(params.size());
    std::vector<int> formats(params.size());
    for (size_t idx = 0; idx < params.size(); ++idx) {
      const Param& p = params[idx];
      switch (p.kind) {
        case Param::Kind::kNull: values[idx] = nullptr; continue;
        case Param::Kind::kInt: text[idx] = std::to_string(p.i); break;
        case Param::Kind::kReal:
          // NULL for NaN, as SQLite stores it: one meaning on both back ends.
          if (std::isnan(p.d)) {
            values[idx] = nullptr;
            continue;
          }
          text[idx] = real_text(p.d);
          break;
        case Param::Kind::kText: text[idx] = std::string(p.s); break;
        case Param::Kind::kBlob:
          values[idx] = p.s.data() != nullptr ? p.s.data() : "";
          lengths[idx] = static_cast<int>(p.s.size());
          formats[idx] = 1;
          continue;
      }
      values[idx] = text[idx].c_str();
    }
    if (pipelining_) {
      // libpq copies the parameters into its output buffer before this returns.
      if (PQsendQueryPrepared(conn_, name->c_str(), static_cast<int>(params.size()), values.data(),
                              lengths.data(), formats.data(), 0) != 1) {
        return check(nullptr, sql);
      }
      pending_.emplace_back(sql.substr(0, 60));
      return StoreStatus::success();
    }
    PGresult* res = PQexecPrepared(conn_, name->c_str(), static_cast<int>(params.size()),
                                   values.data(), lengths.data(), formats.data(), 0);
    StoreStatus s = check(res, sql);
    if (s.ok && out != nullptr) read_rows(res, *out);
    PQclear(res);
    return s;
  }

 private:
  StoreStatus prepare(std::string_view sql, int n_params, const std::string*& name) {
    const std::string key(sql);
    if (auto it = statements_.find(key); it != statements_.end()) {
      name = &it->second;
      return StoreStatus::success();
    }
    std::string stmt_name = "fathom_" + std::to_string(next_statement_++);
    if (pipelining_) {
      // Queued like any statement; a batch that fails forgets the names it prepared.
      if (PQsendPrepare(conn_, stmt_name.c_str(), key.c_str(), n_params, nullptr) != 1) {
        return check(nullptr, sql);
      }
      pending_.emplace_back(sql.substr(0, 60));
      batch_prepared_.insert(key);
      name = &statements_.emplace(key, std::move(stmt_name)).first->second;
      return StoreStatus::success();
    }
    PGresult* res = PQprepare(conn_, stmt_name.c_str(), key.c_str(), n_params, nullptr);
    StoreStatus s = check(res, sql);
    PQclear(res);
    if (!s.ok) return s;
    name = &statements_.emplace(key, std::move(stmt_name)).first->second;
    return StoreStatus::success();
  }

  static std::string real_text(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, ec == std::errc() ? end : buf);
  }

  static std::string trimmed(const char* message) {
    std::string s = message != nullptr ? message : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    for (char& c : s) {
      if (c == '\n') c = ' ';
    }
    return s;
  }

  StoreStatus check(PGresult* res, std::string_view sql) {
    const ExecStatusType st = res != nullptr ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return StoreStatus::success();
    const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    const bool lost = PQstatus(conn_) != CONNECTION_OK;
    std::string error = "postgresql " + redact(url_) + ": ";
    error += trimmed(res != nullptr ? PQresultErrorMessage(res) : PQerrorMessage(conn_));
    if (error.ends_with(": ")) error += trimmed(PQerrorMessage(conn_));
    if (state != nullptr) error += std::string(" (SQLSTATE ") + state + ")";
    if (lost) error += " (connection lost; reconnecting on the next call)";
    error += " [in: " + std::string(sql.substr(0, 60)) + (sql.size() > 60 ? "...]" : "]");
    return StoreStatus::failure(std::move(error), lost || retryable_sqlstate(state));
  }

  static void read_rows(PGresult* res, Rows& out) {
    out.rows.clear();
    out.columns.clear();
    const int cols = PQnfields(res);
    const int n = PQntuples(res);
    for (int col = 0; col < cols; ++col) out.columns.emplace_back(PQfname(res, col));
    out.rows.reserve(static_cast<size_t>(n));
    for (int row_idx = 0; row_idx < n; ++row_idx) {
      std::vector<Cell>& row = out.rows.emplace_back(static_cast<size_t>(cols));
      for (int col = 0; col < cols; ++col) {
        Cell& c = row[static_cast<size_t>(col)];
        if (PQgetisnull(res, row_idx, col)) continue;
        const char* v = PQgetvalue(res, row_idx, col);
        const auto len = static_cast<size_t>(PQgetlength(res, row_idx, col));
        switch (PQftype(res, col)) {
          case kInt2Oid:
          case kInt4Oid:
          case kInt8Oid:
            c.kind = Cell::Kind::kInt;
            std::from_chars(v, v + len, c.i);
            break;
          case kFloat4Oid:
          case kFloat8Oid:
          case kNumericOid:
            c.kind = Cell::Kind::kReal;
            c.d = parse_double(v);
            break;
          case kByteaOid:
            c.kind = Cell::Kind::kBlob;
            c.s = decode_bytea(std::string_view(v, len));
            break;
          case kBoolOid:
          default:
            c.kind = Cell::Kind::kText;
            c.s.assign(v, len);
            break;
        }
      }
    }
    const char* tuples = PQcmdTuples(res);
    out.changed = tuples != nullptr && tuples[0] != '\0' ? std::atoll(tuples) : 0;
  }

  PGconn* conn_;
  std::string url_;
  std::unordered_map<std::string, std::string> statements_;  ///< SQL text -> prepared name
  uint64_t next_statement_ = 0;
  bool pipelining_ = false;
  /// The statements sent in pipeline mode whose results end_batch has yet to read (their
  /// first 60 characters, for errors).
  std::vector<std::string> pending_;
  std::unordered_set<std::string> batch_prepared_;  ///< statements prepared in this batch
};

}  // namespace

std::unique_ptr<Connection> open_postgres(const std::string& url, const StoreOptions& options,
                                          std::string& error) {
  std::string conninfo = url;
  if (conninfo.find("connect_timeout=") == std::string::npos) {
    conninfo += conninfo.find('?') == std::string::npos ? '?' : '&';
    conninfo += "connect_timeout=" + std::to_string(std::max(1, options.connect_timeout_s));
  }
  // A server that stops answering without closing the connection (a network partition, a
  // frozen host) would otherwise block the writer thread forever: TCP keepalives and a TCP
  // user timeout turn it into a lost connection (retryable) within about a minute. Ignored
  // on unix sockets; a URL that sets them keeps its own.
  for (const std::string_view param : {"keepalives_idle=30", "keepalives_interval=10",
                                       "keepalives_count=3", "tcp_user_timeout=60000"}) {
    const std::string_view name = param.substr(0, param.find('=') + 1);
    if (conninfo.find(name) == std::string::npos) {
      conninfo += '&';
      conninfo += param;
    }
  }
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) {
    error = "postgresql: out of memory connecting to " + redact(url);
    return nullptr;
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    for (char& c : why) {
      if (c == '\n') c = ' ';
    }
    error = "postgresql: cannot connect to " + redact(url) + ": " + why;
    PQfinish(conn);
    return nullptr;
  }
  return std::make_unique<PostgresConnection>(conn, conninfo);
}

}  // namespace fathom::store::detail
