// SQLite-only behaviour: file errors, the size limit, URLs, a schema from the future.

#include <sqlite3.h>
#include <sys/resource.h>

#include <csignal>
#include <fstream>

#include "store/store.h"
#include "store_test_support.h"

namespace fathom::store {
namespace {

using testing::make_event;

constexpr int64_t kMinute = 60'000'000'000;
constexpr int64_t kT0 = 1'800'000'000'000'000'000;

TEST(SqliteStore, UnwritableLocationIsAClearError) {
  const testing::ScopedDir dir("unwritable");
  std::ofstream(dir / "file") << "x";
  StoreOptions o;
  // A path through a regular file fails even for root (permissions would not).
  o.url = "sqlite:" + (dir / "file" / "fathom.db").string();
  std::string error;
  EXPECT_EQ(open_database(o, error), nullptr);
  EXPECT_NE(error.find("cannot open database file"), std::string::npos) << error;
  EXPECT_NE(error.find((dir / "file" / "fathom.db").string()), std::string::npos) << error;
  o.url = (dir / "missing" / "fathom.db").string();  // a bare path
  EXPECT_EQ(open_database(o, error), nullptr);
  EXPECT_NE(error.find("writable"), std::string::npos) << error;
}

TEST(SqliteStore, FullDiskIsARetryableClearError) {
  const testing::ScopedDir dir("full");
  StoreOptions o;
  o.url = (dir / "fathom.db").string();
  std::string error;
  auto db = open_database(o, error);
  ASSERT_NE(db, nullptr) << error;
  // The file system is "full" past 256 KiB: a write beyond fails with EFBIG (SIGXFSZ ignored).
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto previous = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 256 * 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::vector<Rollup> rollups;
  for (int m = 0; m < 5000; ++m) {
    rollups.push_back({1, kT0 + m * kMinute, {}, {}, {}, std::string(200, 'x')});
  }
  const StoreStatus s = db->write_rollups(rollups);
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, previous);
  ASSERT_FALSE(s.ok);
  EXPECT_TRUE(s.retryable) << s.error;
  EXPECT_NE(s.error.find("sqlite"), std::string::npos) << s.error;
  EXPECT_TRUE(s.error.find("full") != std::string::npos || s.error.find("I/O") != std::string::npos)
      << s.error;
  // Nothing half-written; with space again, the same batch goes through.
  EXPECT_TRUE(db->rollups(1, 0, INT64_MAX).value.empty());
  EXPECT_TRUE(db->write_rollups(rollups).ok);
}

TEST(SqliteStore, SizeLimitDeletesOldestRollupsFirst) {
  const testing::ScopedDir dir("size");
  StoreOptions o;
  o.url = "sqlite:" + (dir / "fathom.db").string();
  o.max_database_bytes = 512 * 1024;
  std::string error;
  auto db = open_database(o, error);
  ASSERT_NE(db, nullptr) << error;
  std::vector<Rollup> rollups;
  for (int m = 0; m < 6000; ++m) {
    rollups.push_back({1, kT0 + m * kMinute, {}, {}, {}, std::string(300, 'x')});
  }
  ASSERT_TRUE(db->write_rollups(rollups).ok);
  ASSERT_TRUE(db->write_incident_events(std::vector{make_event(1, 1, 1, kT0)}).ok);
  auto [status, removed] = db->prune(kT0 + 6000 * kMinute);  // nothing past retention
  ASSERT_TRUE(status.ok) << status.error;
  EXPECT_GT(removed.rollups, 0u);
  EXPECT_LT(removed.rollups, 6000u);
  EXPECT_LE(removed.live_bytes_after, o.max_database_bytes);
  const auto left = db->rollups(1, 0, INT64_MAX).value;
  ASSERT_EQ(left.size(), 6000u - removed.rollups);
  EXPECT_EQ(left.back().minute_ns, kT0 + 5999 * kMinute);  // the newest stay
  EXPECT_EQ(db->incidents({}).value.size(), 1u);           // open incidents are never pruned
}

TEST(SqliteStore, UrlForms) {
  const testing::ScopedDir dir("urls");
  StoreOptions o;
  std::string error;
  o.url = "";
  EXPECT_EQ(open_database(o, error), nullptr);
  EXPECT_NE(error.find("empty"), std::string::npos);
  o.url = "mysql://localhost/x";
  EXPECT_EQ(open_database(o, error), nullptr);
  EXPECT_NE(error.find("unknown database url scheme"), std::string::npos) << error;
  o.url = "sqlite:" + (dir / "a.db").string();
  auto db = open_database(o, error);
  ASSERT_NE(db, nullptr) << error;
  EXPECT_EQ(db->backend(), "sqlite");
  EXPECT_TRUE(std::filesystem::exists(dir / "a.db"));
}

TEST(SqliteStore, SchemaNewerThanTheBuildIsRefused) {
  const testing::ScopedDir dir("future");
  StoreOptions o;
  o.url = (dir / "fathom.db").string();
  std::string error;
  ASSERT_NE(open_database(o, error), nullptr) << error;
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(o.url.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw,
                         "INSERT INTO schema_migrations (version, description, applied_ns) "
                         "VALUES (999, 'from the future', 0)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  EXPECT_EQ(open_database(o, error), nullptr);
  EXPECT_NE(error.find("newer than this build"), std::string::npos) << error;
}

TEST(SqliteStore, UsesWalMode) {
  const testing::ScopedDir dir("wal");
  StoreOptions o;
  o.url = (dir / "fathom.db").string();
  std::string error;
  auto db = open_database(o, error);
  ASSERT_NE(db, nullptr) << error;
  ASSERT_TRUE(db->write_incident_events(std::vector{make_event(1, 1, 1, kT0)}).ok);
  EXPECT_TRUE(std::filesystem::exists(dir / "fathom.db-wal"));
}

}  // namespace
}  // namespace fathom::store
