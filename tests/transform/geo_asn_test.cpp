#include "transform/geo_asn.h"

#include <maxminddb.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "testing/addresses.h"

// GeoAsnTable against MaxMind's own readers: libmaxminddb's per-address lookup
// (MMDB_lookup_string, in process, for every sampled address) and the mmdblookup tool (for a
// subset: each call is a process, ~5 ms). Test databases are written at test time by
// tests/transform/make_test_mmdb.pl (MaxMind::DB::Writer::Tree).

namespace fathom::transform {
namespace {

namespace fs = std::filesystem;
using detail::from_u128;
using detail::to_u128;
using detail::U128;

constexpr uint64_t kSeed = 42;
/// mmdblookup calls per synthetic database (the rest is checked in process).
constexpr size_t kToolSamples = 20;

using test_support::ip;

std::string show(const GeoAsnInfo& g) {
  std::string c = g.country[0] == 0 ? "--" : std::string(g.country.data(), 2);
  return c + "/AS" + std::to_string(g.asn);
}

/// Runs `command` through the shell; its stdout, or nullopt when it did not exit 0.
std::optional<std::string> run(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return out;
}

/// Fields of one record by path ("country/iso_code" -> "DE"), the form both references
/// produce, and the country/ASN GeoAsnTable should derive from them.
using Fields = std::map<std::string, std::string>;

GeoAsnInfo expected_from(const Fields& f, bool want_country, bool want_asn) {
  GeoAsnInfo g;
  if (want_country) {
    for (const char* key : {"country/iso_code", "registered_country/iso_code", "country_code"}) {
      auto it = f.find(key);
      if (it != f.end() && it->second.size() == 2) {
        g.country = {it->second[0], it->second[1]};
        break;
      }
    }
  }
  if (want_asn) {
    for (const char* key : {"autonomous_system_number", "asn"}) {
      auto it = f.find(key);
      if (it == f.end()) continue;
      std::string v = it->second;
      if (v.rfind("AS", 0) == 0) v = v.substr(2);
      g.asn = static_cast<uint32_t>(std::stoul(v));
      break;
    }
  }
  return g;
}

/// In-process reference: libmaxminddb's own lookup of one address.
class LibReader {
 public:
  explicit LibReader(const std::string& path) {
    ok_ = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &db_) == MMDB_SUCCESS;
  }
  ~LibReader() {
    if (ok_) MMDB_close(&db_);
  }
  LibReader(const LibReader&) = delete;
  LibReader& operator=(const LibReader&) = delete;
  bool ok() const { return ok_; }

  /// The record's fields, and the found block's prefix length (in the database's space).
  Fields lookup(const std::string& address, uint16_t* netmask = nullptr) {
    int gai_error = 0;
    int mmdb_error = 0;
    MMDB_lookup_result_s r = MMDB_lookup_string(&db_, address.c_str(), &gai_error, &mmdb_error);
    EXPECT_EQ(gai_error, 0) << address;
    if (mmdb_error == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR) return {};  // knows no IPv6
    EXPECT_EQ(mmdb_error, MMDB_SUCCESS) << address;
    if (netmask != nullptr) *netmask = r.netmask;
    Fields f;
    if (!r.found_entry) return f;
    auto get = [&](const std::string& key, auto... path) {
      MMDB_entry_data_s d{};
      if (MMDB_get_value(&r.entry, &d, path..., static_cast<const char*>(nullptr)) !=
              MMDB_SUCCESS ||
          !d.has_data) {
        return;
      }
      if (d.type == MMDB_DATA_TYPE_UTF8_STRING) f[key] = std::string(d.utf8_string, d.data_size);
      if (d.type == MMDB_DATA_TYPE_UINT32) f[key] = std::to_string(d.uint32);
    };
    get("country/iso_code", "country", "iso_code");
    get("registered_country/iso_code", "registered_country", "iso_code");
    get("country_code", "country_code");
    get("autonomous_system_number", "autonomous_system_number");
    get("asn", "asn");
    return f;
  }

 private:
  MMDB_s db_{};
  bool ok_ = false;
};

/// Parses mmdblookup's output for one address (its indented JSON-like dump) into fields.
Fields parse_mmdblookup(const std::string& text) {
  Fields f;
  std::vector<std::string> path;
  std::string pending;  // the key whose value comes next
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos) continue;
    const std::string t = line.substr(start);
    if (t == "{") {
      path.push_back(pending);
      pending.clear();
    } else if (t == "}") {
      if (!path.empty()) path.pop_back();
    } else if (t.size() > 2 && t.front() == '"' && t.find("\":") != std::string::npos &&
               t.find('<') == std::string::npos) {
      pending = t.substr(1, t.find("\":") - 1);
    } else if (const size_t type = t.find(" <"); type != std::string::npos) {
      std::string value = t.substr(0, type);
      if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
      std::string key;
      for (const std::string& p : path) {
        if (!p.empty()) key += p + "/";
      }
      f[key + pending] = value;
      pending.clear();
    }
  }
  return f;
}

/// mmdblookup for each address, in one shell; nullopt when the tool is missing or failed.
std::optional<std::vector<Fields>> mmdblookup(const std::string& db,
                                              const std::vector<std::string>& addresses) {
  // Addresses are our own canonical text ([0-9a-f.:]) and `db` a path we made or the source
  // tree's: quoted, nothing else reaches the shell. `|| true`: a miss exits non-zero.
  std::string cmd = "command -v mmdblookup >/dev/null || exit 3; for a in";
  for (const std::string& a : addresses) cmd += " " + a;
  cmd += "; do echo \"@@@\"; mmdblookup --file '" + db + "' --ip \"$a\" 2>&1 || true; done";
  const std::optional<std::string> out = run(cmd);
  if (!out) return std::nullopt;
  std::vector<Fields> result;
  size_t pos = out->find("@@@\n");
  while (pos != std::string::npos) {
    const size_t next = out->find("@@@\n", pos + 4);
    result.push_back(parse_mmdblookup(out->substr(pos + 4, next - pos - 4)));
    pos = next;
  }
  if (result.size() != addresses.size()) return std::nullopt;
  return result;
}

/// Addresses MaxMind readers answer differently by design: ::/96 other than through IPv4
/// text, and the 6to4 / Teredo aliases of IPv4 (GeoAsnTable skips aliases).
bool comparable(const flow::IpAddress& a) {
  if (a.is_v4()) return true;
  const U128 v = to_u128(a);
  return (v >> 32) != 0 && (v >> 112) != 0x2002 && (v >> 96) != 0x20010000;
}

/// Sample addresses around and inside `networks` (CIDR lines), plus random ones.
std::vector<flow::IpAddress> sample(const std::vector<IpPrefix>& networks, std::mt19937_64& rng,
                                    size_t random_count) {
  std::vector<flow::IpAddress> out;
  for (const IpPrefix& p : networks) {
    const U128 first = to_u128(p.address);
    const U128 last = to_u128(p.last());
    for (U128 v : {first, last, first - 1, last + 1}) out.push_back(from_u128(v));
    const U128 r = (U128{rng()} << 64) | rng();
    const U128 span = last - first;
    out.push_back(from_u128(span == ~U128{0} ? r : first + r % (span + 1)));
  }
  for (size_t idx = 0; idx < random_count; ++idx) {
    out.push_back(idx % 2 == 0 ? flow::IpAddress::from_v4(static_cast<uint32_t>(rng()))
                               : from_u128((U128{0x2} << 124) |
                                           (((U128{rng()} << 64) | rng()) >> 4)));  // in 2000::/4
  }
  std::vector<flow::IpAddress> kept;
  for (const flow::IpAddress& a : out) {
    if (comparable(a)) kept.push_back(a);
  }
  return kept;
}

std::vector<IpPrefix> read_networks(const std::string& path) {
  std::vector<IpPrefix> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    IpPrefix p;
    EXPECT_EQ(parse_ip_prefix(line, p), PrefixParse::kOk) << line;
    out.push_back(p);
  }
  return out;
}

std::shared_ptr<const GeoAsnTable> load(std::vector<std::string> geo, std::vector<std::string> asn,
                                        std::string& error) {
  Enrichment config;
  config.geo_databases = std::move(geo);
  config.asn_databases = std::move(asn);
  return GeoAsnTable::load(config, error);
}

class GeoAsnMmdbTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl = (fs::temp_directory_path() / "fathom_geo_asn_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) return;
    dir_ = tmpl;
    const std::string script =
        std::string(FATHOM_SOURCE_DIR) + "/tests/transform/make_test_mmdb.pl";
    made_ =
        run("perl '" + script + "' '" + dir_ + "' " + std::to_string(kSeed) + " 2>&1").has_value();
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override {
    if (!made_) GTEST_SKIP() << "make_test_mmdb.pl failed (libmaxmind-db-writer-perl missing?)";
  }

  static std::string db(const char* name) { return dir_ + "/" + name + ".mmdb"; }

  /// `table` (loaded from `name` in the given role) against libmaxminddb for every sampled
  /// address and against mmdblookup for kToolSamples of them.
  static void compare(const GeoAsnTable& table, const char* name, bool as_geo) {
    SCOPED_TRACE(name);
    std::mt19937_64 rng(kSeed);
    std::vector<flow::IpAddress> addrs =
        sample(read_networks(dir_ + "/" + name + ".networks"), rng, 300);
    LibReader reader(db(name));
    ASSERT_TRUE(reader.ok());
    size_t mismatches = 0;
    size_t known = 0;
    for (const flow::IpAddress& a : addrs) {
      const GeoAsnInfo want = expected_from(reader.lookup(a.to_string()), as_geo, true);
      const GeoAsnInfo got = table.find(a);
      known += want.asn != 0 || want.country[0] != 0;
      if (got != want && ++mismatches <= 10) {
        ADD_FAILURE() << a.to_string() << ": got " << show(got) << ", libmaxminddb " << show(want);
      }
    }
    EXPECT_EQ(mismatches, 0u) << "of " << addrs.size();
    EXPECT_GT(known, addrs.size() / 3);  // the sample hits data, not only gaps

    // mmdblookup on a spread subset.
    std::vector<std::string> texts;
    std::vector<flow::IpAddress> picked;
    for (size_t idx = 0; idx < kToolSamples; ++idx) {
      picked.push_back(addrs[idx * addrs.size() / kToolSamples]);
      texts.push_back(picked.back().to_string());
    }
    const auto tool = mmdblookup(db(name), texts);
    if (!tool) {
      GTEST_SKIP() << "mmdblookup unavailable (Debian mmdb-bin)";
    }
    for (size_t idx = 0; idx < picked.size(); ++idx) {
      EXPECT_EQ(table.find(picked[idx]), expected_from((*tool)[idx], as_geo, true))
          << texts[idx] << ": got " << show(table.find(picked[idx]));
    }
  }

  static inline std::string dir_;
  static inline bool made_ = false;
};

TEST_F(GeoAsnMmdbTest, CountryIpv6DatabaseMatchesMaxMindReaders) {
  std::string error;
  const auto table = load({db("country6")}, {}, error);
  ASSERT_TRUE(table) << error;
  compare(*table, "country6", true);
  ASSERT_EQ(table->sources().size(), 1u);
  EXPECT_EQ(table->sources()[0].kind, "mmdb");
  EXPECT_GT(table->sources()[0].ranges, 100u);
  EXPECT_EQ(table->sources()[0].size, fs::file_size(db("country6")));
  EXPECT_GT(table->sources()[0].mtime_ns, 0);
}

TEST_F(GeoAsnMmdbTest, AsnIpv6DatabaseMatchesMaxMindReaders) {
  std::string error;
  const auto table = load({}, {db("asn6")}, error);
  ASSERT_TRUE(table) << error;
  compare(*table, "asn6", false);
}

TEST_F(GeoAsnMmdbTest, CountryIpv4DatabaseMatchesMaxMindReaders) {
  std::string error;
  const auto table = load({db("country4")}, {}, error);
  ASSERT_TRUE(table) << error;
  compare(*table, "country4", true);
  EXPECT_EQ(table->find(ip("2a00::1")), GeoAsnInfo{});  // an IPv4 database knows no IPv6
}

TEST_F(GeoAsnMmdbTest, IpLocationDbShapeWithStringAsnMatchesMaxMindReaders) {
  std::string error;
  const auto table = load({db("mixed4")}, {}, error);
  ASSERT_TRUE(table) << error;
  compare(*table, "mixed4", true);  // a geo database with AS numbers supplies them too
}

TEST_F(GeoAsnMmdbTest, AliasesOfIpv4AreSkipped) {
  std::string error;
  const auto table = load({db("country6")}, {}, error);
  ASSERT_TRUE(table) << error;
  LibReader reader(db("country6"));
  ASSERT_TRUE(reader.ok());
  // ::ffff:a.b.c.d is the IPv4 address itself; libmaxminddb finds IPv4 text under ::/96.
  const GeoAsnInfo v4 = table->find(ip("1.1.1.1"));
  EXPECT_EQ(table->find(ip("::ffff:1.1.1.1")), v4);
  EXPECT_EQ(v4, expected_from(reader.lookup("1.1.1.1"), true, true));
  // 2002::/16 (6to4) and 2001::/32 (Teredo) alias the IPv4 tree in the file; GeoAsnTable
  // does not follow them (a 6to4 address is not the IPv4 host's location).
  EXPECT_EQ(table->find(ip("2002:101:101::1")), GeoAsnInfo{});
  EXPECT_EQ(table->find(ip("2001::101:101")), GeoAsnInfo{});
  // The rest of 2001::/16 (inserted around the alias) is there.
  EXPECT_NE(table->find(ip("2001:1::1")), GeoAsnInfo{});
  EXPECT_EQ(table->find(ip("2001:1::1")), expected_from(reader.lookup("2001:1::1"), true, true));
}

TEST_F(GeoAsnMmdbTest, EarlierSourcesWinAndAsnSourcesBeatGeoAsn) {
  std::string error;
  const auto table = load({db("country6"), db("mixed4")}, {db("asn6")}, error);
  ASSERT_TRUE(table) << error;
  ASSERT_EQ(table->sources().size(), 3u);
  EXPECT_EQ(table->sources()[0].path, db("country6"));
  EXPECT_EQ(table->sources()[2].path, db("asn6"));
  LibReader country6(db("country6"));
  LibReader mixed4(db("mixed4"));
  LibReader asn6(db("asn6"));
  std::mt19937_64 rng(kSeed + 1);
  std::vector<IpPrefix> networks = read_networks(dir_ + "/mixed4.networks");
  for (const IpPrefix& p : read_networks(dir_ + "/asn6.networks")) networks.push_back(p);
  size_t mismatches = 0;
  for (const flow::IpAddress& a : sample(networks, rng, 200)) {
    const std::string text = a.to_string();
    const GeoAsnInfo c6 = expected_from(country6.lookup(text), true, false);
    const GeoAsnInfo m4 = expected_from(mixed4.lookup(text), true, true);
    const GeoAsnInfo as6 = expected_from(asn6.lookup(text), false, true);
    GeoAsnInfo want;
    want.country = c6.country[0] != 0 ? c6.country : m4.country;
    want.asn = as6.asn != 0 ? as6.asn : m4.asn;
    if (table->find(a) != want && ++mismatches <= 10) {
      ADD_FAILURE() << text << ": got " << show(table->find(a)) << ", want " << show(want);
    }
  }
  EXPECT_EQ(mismatches, 0u);
}

TEST_F(GeoAsnMmdbTest, DatabaseWithoutCountryOrAsnIsAnError) {
  std::string error;
  EXPECT_FALSE(load({db("nokeys")}, {}, error));
  EXPECT_NE(error.find(db("nokeys")), std::string::npos) << error;
  EXPECT_NE(error.find("no record has a country"), std::string::npos) << error;
  // A database in the wrong list holds nothing for its role.
  EXPECT_FALSE(load({db("asn6")}, {}, error));
  EXPECT_NE(error.find("no country"), std::string::npos) << error;
  EXPECT_FALSE(load({}, {db("country4")}, error));
  EXPECT_NE(error.find("no AS number"), std::string::npos) << error;
}

// --- range CSVs and errors ------------------------------------------------------------------

class GeoAsnFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "fathom_geo_csv_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  std::string dir_;
};

TEST_F(GeoAsnFileTest, EmptyConfigurationGivesAnEmptyTable) {
  std::string error;
  const auto table = load({}, {}, error);
  ASSERT_TRUE(table) << error;
  EXPECT_EQ(table->range_count(), 0u);
  EXPECT_TRUE(table->sources().empty());
  EXPECT_EQ(table->find(ip("8.8.8.8")), GeoAsnInfo{});
  EXPECT_EQ(table->find(ip("2001:db8::1")), GeoAsnInfo{});
}

TEST_F(GeoAsnFileTest, AsnCsvWithBadLinesLoadsTheGoodOnes) {
  const std::string path = write("asn-ipv4.csv",
                                 "first,last,asn,org\n"  // a header: not counted
                                 "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n"
                                 "1.0.4.0,1.0.7.255,AS38803,Gtelecom Pty Ltd\r\n"
                                 "\n"
                                 "# a comment\n"
                                 "1.0.8.0,1.0.8.255,x,bad asn\n"
                                 "1.0.9.0,1.0.8.0,1,first after last\n"
                                 "1.0.10.0,2001:db8::,1,mixed families\n"
                                 "1.0.300.0,1.0.300.255,1,bad address\n"
                                 "1.0.5.0,1.0.5.255,99,overlaps an earlier line\n"
                                 "1.0.16.0,1.0.16.255,0,AS 0\n"
                                 "2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE\n"
                                 "1.0.64.0,1.0.127.255,18144\n");
  std::string error;
  const auto table = load({}, {path}, error);
  ASSERT_TRUE(table) << error;
  ASSERT_EQ(table->sources().size(), 1u);
  EXPECT_EQ(table->sources()[0].kind, "csv");
  EXPECT_EQ(table->sources()[0].bad_lines, 6u);
  EXPECT_EQ(table->sources()[0].ranges, 4u);
  EXPECT_EQ(table->find(ip("1.0.0.0")).asn, 13335u);
  EXPECT_EQ(table->find(ip("1.0.0.255")).asn, 13335u);
  EXPECT_EQ(table->find(ip("1.0.1.0")).asn, 0u);
  EXPECT_EQ(table->find(ip("1.0.5.1")).asn, 38803u);  // the overlapping line was dropped
  EXPECT_EQ(table->find(ip("1.0.8.1")).asn, 0u);
  EXPECT_EQ(table->find(ip("1.0.100.1")).asn, 18144u);
  EXPECT_EQ(table->find(ip("2001:200:1b9::1")).asn, 2500u);
  EXPECT_EQ(table->find(ip("2001:200:1ba::")).asn, 0u);
  EXPECT_EQ(table->find(ip("1.0.0.1")).country, (std::array<char, 2>{}));
}

TEST_F(GeoAsnFileTest, DecimalAndCountryCsvs) {
  const std::string v4 = write("asn-ipv4-num.csv", "16777216,16777471,13335,Cloudflare\n");
  // 2001:200:: = 42540528726795050063891204319802818560.
  const std::string v6 = write("asn-ipv6-num.csv",
                               "42540528726795050063891204319802818560,"
                               "42540528726795050063891204319802818815,2500,WIDE\n");
  const std::string geo = write("country-ipv4.csv", "1.0.0.0,1.0.0.255,au\n1.0.1.0,1.0.3.255,CN\n");
  std::string error;
  const auto table = load({geo}, {v4, v6}, error);
  ASSERT_TRUE(table) << error;
  EXPECT_EQ(table->find(ip("1.0.0.7")).asn, 13335u);
  EXPECT_EQ(table->find(ip("1.0.0.7")).country, (std::array<char, 2>{'A', 'U'}));
  EXPECT_EQ(table->find(ip("1.0.2.0")).country, (std::array<char, 2>{'C', 'N'}));
  EXPECT_EQ(table->find(ip("1.0.2.0")).asn, 0u);
  EXPECT_EQ(table->find(ip("2001:200::ff")).asn, 2500u);
  EXPECT_EQ(table->find(ip("::ff")).asn, 0u);  // not read as IPv4 0.0.0.255
}

TEST_F(GeoAsnFileTest, UnreadableOrEmptySourcesAreErrorsNamingTheFile) {
  std::string error;
  const std::string missing = dir_ + "/missing.mmdb";
  EXPECT_FALSE(load({missing}, {}, error));
  EXPECT_NE(error.find(missing), std::string::npos) << error;
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;

  std::string garbage_bytes;
  std::mt19937_64 rng(7);
  for (int idx = 0; idx < 5000; ++idx) garbage_bytes.push_back(static_cast<char>(rng()));
  const std::string garbage_mmdb = write("garbage.mmdb", garbage_bytes);
  EXPECT_FALSE(load({garbage_mmdb}, {}, error));
  EXPECT_NE(error.find(garbage_mmdb), std::string::npos) << error;
  EXPECT_NE(error.find("(mmdb)"), std::string::npos) << error;

  const std::string garbage_other = write("garbage.dat", garbage_bytes);
  EXPECT_FALSE(load({}, {garbage_other}, error));
  EXPECT_NE(error.find(garbage_other), std::string::npos) << error;
  EXPECT_NE(error.find("no valid line"), std::string::npos) << error;

  const std::string only_bad = write("bad.csv", "1.0.0.0,1.0.0.255,x\nnonsense\n");
  EXPECT_FALSE(load({}, {only_bad}, error));
  EXPECT_NE(error.find(only_bad), std::string::npos) << error;
  EXPECT_NE(error.find("no valid line"), std::string::npos) << error;

  const std::string empty = write("empty.csv", "");
  EXPECT_FALSE(load({}, {empty}, error));
  EXPECT_NE(error.find(empty), std::string::npos) << error;

  // One bad source fails the whole load, whichever list it is in.
  const std::string good = write("good.csv", "1.0.0.0,1.0.0.255,13335\n");
  EXPECT_FALSE(load({}, {good, only_bad}, error));
  EXPECT_NE(error.find(only_bad), std::string::npos) << error;
}

// --- the real data (scripts/install-data) ---------------------------------------------------

class GeoAsnRealDataTest : public ::testing::Test {
 protected:
  static std::string dir() { return std::string(FATHOM_SOURCE_DIR) + "/data/geo"; }
  void SetUp() override {
    if (!fs::exists(dir() + "/geo-whois-asn-country.mmdb") ||
        !fs::exists(dir() + "/asn-ipv4.csv") || !fs::exists(dir() + "/asn-ipv6.csv")) {
      GTEST_SKIP() << "no data in " << dir() << " (run scripts/install-data)";
    }
  }
};

TEST_F(GeoAsnRealDataTest, CountryMatchesMaxMindReaders) {
  const std::string path = dir() + "/geo-whois-asn-country.mmdb";
  std::string error;
  const auto table = load({path}, {}, error);
  ASSERT_TRUE(table) << error;
  LibReader reader(path);
  ASSERT_TRUE(reader.ok());
  std::mt19937_64 rng(kSeed);
  std::vector<flow::IpAddress> addrs = sample({}, rng, 120);
  // And both sides of the edges of the blocks a few random addresses fall in.
  for (size_t idx = 0; idx < 40; ++idx) {
    const flow::IpAddress a = addrs[idx];
    uint16_t netmask = 0;
    reader.lookup(a.to_string(), &netmask);
    // The prefix length is in the 128-bit tree, where IPv4 is ::/96.
    const int len = a.is_v4() ? std::max<int>(netmask, 96) : netmask;
    const U128 mask = len == 0 ? 0 : ~U128{0} << (128 - len);
    const U128 first = to_u128(a) & mask;
    const U128 last = first | ~mask;
    for (U128 v : {first, last, first - 1, last + 1}) {
      if (comparable(from_u128(v))) addrs.push_back(from_u128(v));
    }
  }
  size_t mismatches = 0;
  size_t known = 0;
  for (const flow::IpAddress& a : addrs) {
    const GeoAsnInfo want = expected_from(reader.lookup(a.to_string()), true, true);
    known += want.country[0] != 0;
    if (table->find(a) != want && ++mismatches <= 10) {
      ADD_FAILURE() << a.to_string() << ": got " << show(table->find(a)) << ", want " << show(want);
    }
  }
  EXPECT_EQ(mismatches, 0u) << "of " << addrs.size();
  EXPECT_GT(known, addrs.size() / 4);
  std::vector<std::string> texts;
  std::vector<flow::IpAddress> picked;
  for (size_t idx = 0; idx < 25; ++idx) {
    picked.push_back(addrs[idx * addrs.size() / 25]);
    texts.push_back(picked.back().to_string());
  }
  const auto tool = mmdblookup(path, texts);
  if (!tool) GTEST_SKIP() << "mmdblookup unavailable (Debian mmdb-bin)";
  for (size_t idx = 0; idx < picked.size(); ++idx) {
    EXPECT_EQ(table->find(picked[idx]), expected_from((*tool)[idx], true, true)) << texts[idx];
  }
}

TEST_F(GeoAsnRealDataTest, AsnCsvMatchesAScanOfTheFile) {
  std::string error;
  const auto table = load({}, {dir() + "/asn-ipv4.csv", dir() + "/asn-ipv6.csv"}, error);
  ASSERT_TRUE(table) << error;
  EXPECT_GT(table->range_count(), 400'000u);
  // Each line as [first, last] and its AS number.
  struct Line {
    U128 first;
    U128 last;
    uint32_t asn;
  };
  std::vector<Line> lines;
  for (const char* name : {"/asn-ipv4.csv", "/asn-ipv6.csv"}) {
    std::ifstream in(dir() + name, std::ios::binary);
    std::string text(fs::file_size(dir() + name), '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    for (size_t pos = 0; pos < text.size();) {
      const size_t eol = std::min(text.find('\n', pos), text.size());
      const std::string_view line(text.data() + pos, eol - pos);
      pos = eol + 1;
      const size_t c1 = line.find(',');
      const size_t c2 = line.find(',', c1 + 1);
      const size_t c3 = line.find(',', c2 + 1);
      const auto first = flow::IpAddress::parse(line.substr(0, c1));
      const auto last = flow::IpAddress::parse(line.substr(c1 + 1, c2 - c1 - 1));
      ASSERT_TRUE(first && last) << line;
      uint32_t asn = 0;
      std::from_chars(line.data() + c2 + 1, line.data() + std::min(c3, line.size()), asn);
      lines.push_back({to_u128(*first), to_u128(*last), asn});
    }
  }
  // Samples: random IPv4 and IPv6 (in 2000::/4), and the edges of every 4000th line.
  std::mt19937_64 rng(kSeed);
  std::vector<U128> samples;
  for (const flow::IpAddress& a : sample({}, rng, 150)) samples.push_back(to_u128(a));
  for (size_t idx = 0; idx < lines.size(); idx += 4000) {
    for (U128 v : {lines[idx].first, lines[idx].last, lines[idx].last + 1}) samples.push_back(v);
  }
  std::sort(samples.begin(), samples.end());
  samples.erase(std::unique(samples.begin(), samples.end()), samples.end());
  // The scan: every line, and the samples it holds. The file has one overlap (two lines for
  // part of 215.0.0.0/15); addresses on two lines are ambiguous and skipped.
  std::vector<uint32_t> hits(samples.size());
  std::vector<uint32_t> want(samples.size());
  for (const Line& line : lines) {
    for (auto it = std::lower_bound(samples.begin(), samples.end(), line.first);
         it != samples.end() && *it <= line.last; ++it) {
      const auto sample_idx = static_cast<size_t>(it - samples.begin());
      ++hits[sample_idx];
      want[sample_idx] = line.asn;
    }
  }
  size_t mismatches = 0;
  size_t checked = 0;
  for (size_t sample_idx = 0; sample_idx < samples.size(); ++sample_idx) {
    if (hits[sample_idx] > 1) continue;
    ++checked;
    const flow::IpAddress a = from_u128(samples[sample_idx]);
    const uint32_t got = table->find(a).asn;
    if (got != want[sample_idx] && ++mismatches <= 10) {
      ADD_FAILURE() << a.to_string() << ": got AS" << got << ", file AS" << want[sample_idx];
    }
  }
  EXPECT_EQ(mismatches, 0u) << "of " << checked;
  EXPECT_GT(checked, 200u);
}

}  // namespace
}  // namespace fathom::transform
