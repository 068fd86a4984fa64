#pragma once

// Shared by the store tests: one typed-by-value suite over both back ends. SQLite cases use a
// fresh file per case; PostgreSQL cases a fresh database (CREATE DATABASE, unique name) on the
// one server the ctest fixture started (scripts/start-postgres), or on a private server for the
// fault tests that kill it.

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include "detect/incident.h"
#include "store/store.h"

namespace fathom::store::testing {

enum class Backend { kSqlite, kPostgres };

inline void PrintTo(Backend backend, std::ostream* os) {
  *os << (backend == Backend::kSqlite ? "sqlite" : "postgresql");
}

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

/// A fresh directory under the test temp dir, unique per process and call, removed with the
/// object (unless released).
class ScopedDir {
 public:
  explicit ScopedDir(const std::string& tag) {
    static std::atomic<int> counter{0};
    path_ =
        std::filesystem::path(::testing::TempDir()) /
        ("fathom-store-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScopedDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  ScopedDir(const ScopedDir&) = delete;
  ScopedDir& operator=(const ScopedDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string string() const { return path_.string(); }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  /// The path, no longer removed by this object.
  std::filesystem::path release() { return std::exchange(path_, {}); }

 private:
  std::filesystem::path path_;
};

/// The admin URL of the fixture's server ($FATHOM_TEST_POSTGRES_URL overrides), or empty with
/// `why` set.
inline std::string postgres_admin_url(std::string& why) {
  if (const char* env = std::getenv("FATHOM_TEST_POSTGRES_URL"); env != nullptr && *env) return env;
  const std::filesystem::path state = std::filesystem::path(FATHOM_BINARY_DIR) / "store-postgres";
  std::string url = read_file(state / "url");
  if (url.empty()) {
    const std::string error = read_file(state / "error");
    why = error.empty() ? "no " + (state / "url").string() +
                              " (run through ctest, whose fixture starts the server, or set "
                              "FATHOM_TEST_POSTGRES_URL)"
                        : error;
  }
  return url;
}

/// `url` with its database name replaced by `db`.
inline std::string with_database(const std::string& url, const std::string& db) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme + 3);
  const size_t query = url.find('?');
  std::string rest = query == std::string::npos ? "" : url.substr(query);
  return (slash == std::string::npos ? url.substr(0, query) : url.substr(0, slash)) + "/" + db +
         rest;
}

/// Runs one statement on the server as the admin; empty on success, else the error.
inline std::string admin_exec(const std::string& admin_url, const std::string& sql) {
  PGconn* conn = PQconnectdb(
      (admin_url + (admin_url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=5")
          .c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, sql.c_str());
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
      error = PQresultErrorMessage(res);
    }
    PQclear(res);
  }
  PQfinish(conn);
  return error;
}

/// A database of one back end that lives as long as the object: a file in a fresh directory,
/// or a fresh PostgreSQL database dropped at the end.
class ScratchDatabase {
 public:
  /// Ready when `skip_reason()` is empty.
  explicit ScratchDatabase(Backend backend, std::string admin_url = {}) : backend_(backend) {
    static std::atomic<int> counter{0};
    if (backend == Backend::kSqlite) {
      dir_ = ScopedDir("sqlite").release();
      url_ = "sqlite:" + (dir_ / "fathom.db").string();
      return;
    }
    admin_url_ = admin_url.empty() ? postgres_admin_url(skip_reason_) : admin_url;
    if (admin_url_.empty()) return;
    name_ = "fathom_t_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
    if (std::string e = admin_exec(admin_url_, "CREATE DATABASE " + name_); !e.empty()) {
      skip_reason_ = "CREATE DATABASE failed: " + e;
      return;
    }
    url_ = with_database(admin_url_, name_);
  }
  ~ScratchDatabase() {
    if (!name_.empty())
      admin_exec(admin_url_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  Backend backend() const { return backend_; }
  const std::string& skip_reason() const { return skip_reason_; }
  const std::string& url() const { return url_; }
  const std::filesystem::path& dir() const { return dir_; }
  StoreOptions options() const {
    StoreOptions o;
    o.url = url_;
    o.connect_timeout_s = 2;
    return o;
  }

 private:
  Backend backend_;
  std::filesystem::path dir_;
  std::string admin_url_;
  std::string name_;
  std::string url_;
  std::string skip_reason_;
};

/// A private PostgreSQL server (scripts/start-postgres) for tests that kill it.
class PrivateServer {
 public:
  PrivateServer() : state_(ScopedDir("pgserver").release()) { start(); }
  ~PrivateServer() { script("stop-postgres", ""); }
  /// True when the server is up (`url()` valid); else `error()` says why.
  bool start() { return script("start-postgres", "") && !url().empty(); }
  /// pg_ctl stop -m immediate, keeping the cluster for `start`.
  void kill() { script("stop-postgres", "--immediate --keep "); }
  std::string url() const { return read_file(state_ / "url"); }
  std::string error() const { return read_file(state_ / "error"); }

 private:
  bool script(const std::string& name, const std::string& flags) {
    const std::string cmd = std::string(FATHOM_SOURCE_DIR) + "/scripts/" + name + " " + flags +
                            state_.string() + " >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
  }
  std::filesystem::path state_;
};

/// An incident event with the fields the store reads.
inline detect::IncidentEvent make_event(uint32_t tenant, uint32_t host, uint32_t version,
                                        int64_t start_ns, bool closed = false) {
  detect::IncidentEvent e;
  detect::Incident& inc = e.incident;
  inc.tenant_id = tenant;
  inc.type = detect::DetectionType::kSynFlood;
  inc.subject = flow::IpAddress::from_v4(0x0a000000u + host);
  inc.start_ns = start_ns;
  inc.id = detect::incident_id(tenant, inc.type, inc.subject, start_ns);
  inc.version = version;
  inc.state = closed ? detect::IncidentState::kClosed : detect::IncidentState::kOpen;
  e.kind = version == 1
               ? detect::IncidentEventKind::kOpen
               : (closed ? detect::IncidentEventKind::kClose : detect::IncidentEventKind::kUpdate);
  inc.last_seen_ns = start_ns + version * 10'000'000'000LL;
  inc.end_ns = closed ? inc.last_seen_ns : 0;
  inc.detected_ns = start_ns + 10'000'000'000LL;
  inc.severity = 10.0 * version;
  inc.peak_severity = 10.0 * version;
  inc.detections = version;
  inc.detail = "";
  inc.latest.summary = "SYN flood to " + inc.subject.to_string() + " v" + std::to_string(version);
  inc.latest.evidence.push_back({"syn_packets_per_s", 1000.0 * version, 900.0, 1100.0, 500.0, 10});
  return e;
}

}  // namespace fathom::store::testing
