#include "store/url.h"

#include <gtest/gtest.h>

#include <string>

namespace fathom::store {
namespace {

TEST(StoreUrl, AcceptsSqliteAndPostgresqlUrls) {
  std::string error;
  for (const char* url : {"sqlite:/var/lib/fathom/fathom.db", "/var/lib/fathom/fathom.db",
                          "fathom.db", "postgresql://fathom@db:5432/fathom",
                          "postgres://fathom:secret@127.0.0.1/fathom?sslmode=require"}) {
    EXPECT_TRUE(check_url(url, error)) << url << ": " << error;
  }
  EXPECT_TRUE(is_postgres_url("postgres://x/y"));
  EXPECT_TRUE(is_postgres_url("postgresql://x/y"));
  EXPECT_FALSE(is_postgres_url("sqlite:/x"));
}

TEST(StoreUrl, RefusesEmptyUnknownSchemesAndUnparsableUris) {
  std::string error;
  EXPECT_FALSE(check_url("", error));
  EXPECT_NE(error.find("empty database url"), std::string::npos) << error;
  EXPECT_FALSE(check_url("sqlite:", error));
  EXPECT_FALSE(check_url("mysql://db/fathom", error));
  EXPECT_NE(error.find("unknown database url scheme"), std::string::npos) << error;
  EXPECT_FALSE(check_url("postgresql://db/fathom?no_such_option=1", error));
  EXPECT_NE(error.find("libpq"), std::string::npos) << error;
}

}  // namespace
}  // namespace fathom::store
