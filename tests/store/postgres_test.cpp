// PostgreSQL-only behaviour: a dead server, a server that dies and comes back.

#include <chrono>

#include "store/store.h"
#include "store_test_support.h"

namespace fathom::store {
namespace {

using testing::make_event;

constexpr int64_t kT0 = 1'800'000'000'000'000'000;

TEST(PostgresStore, DeadServerIsAnErrorNotAHang) {
  StoreOptions o;
  o.url = "postgresql://postgres@127.0.0.1:1/fathom";  // nothing listens on port 1
  o.connect_timeout_s = 2;
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(open_database(o, error), nullptr);
  EXPECT_NE(error.find("cannot connect"), std::string::npos) << error;
  // Not a timing assertion on the store: a guard that a hang is reported as such.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST(PostgresStore, PasswordIsNotInErrors) {
  StoreOptions o;
  o.url = "postgresql://fathom:s3cret@127.0.0.1:1/fathom";
  o.connect_timeout_s = 1;
  std::string error;
  EXPECT_EQ(open_database(o, error), nullptr);
  EXPECT_EQ(error.find("s3cret"), std::string::npos) << error;
}

TEST(PostgresStore, ReconnectsAfterTheServerComesBack) {
  testing::PrivateServer server;
  if (server.url().empty()) {
    GTEST_SKIP() << "\n*** PostgreSQL tests SKIPPED: " << server.error() << " ***\n";
  }
  StoreOptions o;
  o.url = server.url();
  o.connect_timeout_s = 2;
  std::string error;
  auto db = open_database(o, error);
  ASSERT_NE(db, nullptr) << error;
  ASSERT_TRUE(db->write_incident_events(std::vector{make_event(1, 1, 1, kT0)}).ok);

  server.kill();
  const StoreStatus down = db->write_incident_events(std::vector{make_event(1, 2, 1, kT0)});
  EXPECT_FALSE(down.ok);
  EXPECT_TRUE(down.retryable) << down.error;
  const StoreStatus still_down = db->write_incident_events(std::vector{make_event(1, 2, 1, kT0)});
  EXPECT_FALSE(still_down.ok);
  EXPECT_TRUE(still_down.retryable) << still_down.error;

  ASSERT_TRUE(server.start()) << server.error();
  const StoreStatus up = db->write_incident_events(std::vector{make_event(1, 2, 1, kT0)});
  EXPECT_TRUE(up.ok) << up.error;
  EXPECT_EQ(db->incidents({}).value.size(), 2u);
}

}  // namespace
}  // namespace fathom::store
