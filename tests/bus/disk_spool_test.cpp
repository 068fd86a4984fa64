#include "bus/disk_spool.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace fathom::bus {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "fathom-spool-XXXXXX").string();
    path = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

std::unique_ptr<DiskSpool> open_spool(const std::string& dir, uint64_t max_bytes = 1 << 20,
                                      uint64_t segment_bytes = 1 << 16) {
  std::string error;
  auto spool = DiskSpool::open({dir, max_bytes, segment_bytes, false}, error);
  EXPECT_NE(spool, nullptr) << error;
  return spool;
}

std::vector<fs::path> segment_files(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".spool") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string record(int i) {
  return "record-" + std::to_string(i) + std::string(static_cast<size_t>(i % 7), '\0');
}

TEST(Crc32c, MatchesTheKnownCheckValue) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // the CRC-32C check value
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(DiskSpool, ReturnsRecordsInOrderUntilPopped) {
  TempDir dir;
  auto spool = open_spool(dir.path);
  ASSERT_NE(spool, nullptr);
  EXPECT_TRUE(spool->empty());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(spool->append(record(i)));
  EXPECT_TRUE(spool->append(""));  // empty records are records
  std::vector<std::string> first = spool->peek(10);
  ASSERT_EQ(first.size(), 10u);
  EXPECT_EQ(spool->peek(10), first);  // peek does not consume
  for (int i = 0; i < 10; ++i) EXPECT_EQ(first[i], record(i));
  spool->pop(10);
  std::vector<std::string> rest = spool->peek(1000);
  ASSERT_EQ(rest.size(), 91u);
  EXPECT_EQ(rest.front(), record(10));
  EXPECT_EQ(rest.back(), "");
  spool->pop(1000);  // more than pending: pops what there is
  EXPECT_TRUE(spool->empty());
  const DiskSpoolStats stats = spool->stats();
  EXPECT_EQ(stats.appended, 101u);
  EXPECT_EQ(stats.consumed, 101u);
  EXPECT_EQ(stats.pending, 0u);
  EXPECT_EQ(stats.pending_bytes, 0u);
}

TEST(DiskSpool, SurvivesARestartWithoutReplayingWhatWasPopped) {
  TempDir dir;
  {
    auto spool = open_spool(dir.path, 1 << 20, 256);  // many small segments
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(spool->append(record(i)));
    spool->pop(17);
  }
  auto spool = open_spool(dir.path, 1 << 20, 256);
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->stats().recovered, 33u);
  EXPECT_EQ(spool->stats().pending, 33u);
  ASSERT_TRUE(spool->append(record(50)));
  std::vector<std::string> all = spool->peek(100);
  ASSERT_EQ(all.size(), 34u);
  for (int i = 0; i < 34; ++i) EXPECT_EQ(all[i], record(i + 17));
  EXPECT_EQ(spool->stats().corrupt, 0u);
}

TEST(DiskSpool, DeletesConsumedSegmentsAndKeepsSequenceAcrossRestarts) {
  TempDir dir;
  {
    auto spool = open_spool(dir.path, 1 << 20, 128);
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(spool->append(record(i)));
    EXPECT_GT(segment_files(dir.path).size(), 3u);
    spool->pop(40);
    EXPECT_TRUE(segment_files(dir.path).empty());
  }
  {
    // After everything was consumed, new records must not be taken for consumed ones.
    auto spool = open_spool(dir.path, 1 << 20, 128);
    EXPECT_TRUE(spool->empty());
    ASSERT_TRUE(spool->append("after"));
  }
  auto spool = open_spool(dir.path, 1 << 20, 128);
  ASSERT_EQ(spool->peek(10), std::vector<std::string>{"after"});
}

TEST(DiskSpool, SkipsATornTailAndKeepsAppending) {
  TempDir dir;
  {
    auto spool = open_spool(dir.path);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(spool->append(record(i)));
  }
  const std::vector<fs::path> files = segment_files(dir.path);
  ASSERT_EQ(files.size(), 1u);
  fs::resize_file(files[0], fs::file_size(files[0]) - 3);  // a crash mid-write
  auto spool = open_spool(dir.path);
  EXPECT_EQ(spool->stats().corrupt, 1u);
  EXPECT_EQ(spool->stats().recovered, 9u);
  ASSERT_TRUE(spool->append("new"));
  std::vector<std::string> all = spool->peek(100);
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all[8], record(8));
  EXPECT_EQ(all[9], "new");
}

TEST(DiskSpool, StopsAtACorruptRecordInsteadOfDeliveringGarbage) {
  TempDir dir;
  {
    auto spool = open_spool(dir.path);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(spool->append("payload-" + std::to_string(i)));
  }
  const fs::path file = segment_files(dir.path).at(0);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5 * (8 + 9) + 8 + 2);  // inside the sixth record's payload
    f.put('X');
  }
  auto spool = open_spool(dir.path);
  EXPECT_EQ(spool->stats().corrupt, 1u);
  std::vector<std::string> all = spool->peek(100);
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all.back(), "payload-4");
}

TEST(DiskSpool, RefusesAppendsOverBudgetAndCountsThem) {
  TempDir dir;
  auto spool = open_spool(dir.path, 1000, 256);
  const std::string big(100, 'x');  // 108 bytes framed
  int accepted = 0;
  while (spool->append(big)) ++accepted;
  EXPECT_EQ(accepted, 9);
  EXPECT_EQ(spool->stats().rejected_full, 1u);
  EXPECT_LE(spool->stats().pending_bytes, 1000u);
  // All or none.
  const std::vector<std::string> two = {big, big};
  spool->pop(1);
  EXPECT_FALSE(spool->append_all(two));
  EXPECT_EQ(spool->stats().rejected_full, 3u);
  EXPECT_EQ(spool->stats().pending, 8u);
  spool->pop(1);
  EXPECT_TRUE(spool->append_all(two));
  EXPECT_EQ(spool->stats().pending, 9u);
}

TEST(DiskSpool, AWriteErrorIsCountedAndLeavesTheSpoolUsable) {
  TempDir dir;
  auto spool = open_spool(dir.path);
  ASSERT_TRUE(spool->append("before"));
  // A file size limit makes the next write fail as a full disk would (EFBIG, with SIGXFSZ
  // ignored), without needing a small file system.
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  rlimit small = old;
  small.rlim_cur = 64;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  EXPECT_FALSE(spool->append(std::string(200, 'y')));
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  EXPECT_EQ(spool->stats().rejected_io, 1u);
  ASSERT_TRUE(spool->append("after"));
  EXPECT_EQ(spool->peek(10), (std::vector<std::string>{"before", "after"}));
  spool.reset();
  auto reopened = open_spool(dir.path);
  EXPECT_EQ(reopened->stats().corrupt, 0u);  // the partial write was cut off again
  EXPECT_EQ(reopened->peek(10), (std::vector<std::string>{"before", "after"}));
}

TEST(DiskSpool, OneSpoolPerDirectory) {
  TempDir dir;
  auto first = open_spool(dir.path);
  std::string error;
  EXPECT_EQ(DiskSpool::open({dir.path, 1 << 20, 1 << 16, false}, error), nullptr);
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
  first.reset();
  EXPECT_NE(DiskSpool::open({dir.path, 1 << 20, 1 << 16, false}, error), nullptr) << error;
}

TEST(DiskSpool, ADirectoryThatCannotBeCreatedIsAClearError) {
  TempDir dir;
  std::ofstream(dir.path + "/file") << "x";
  std::string error;
  EXPECT_EQ(DiskSpool::open({dir.path + "/file/spool", 1 << 20, 1 << 16, false}, error), nullptr);
  EXPECT_NE(error.find("cannot create"), std::string::npos) << error;
  EXPECT_EQ(DiskSpool::open({"", 1 << 20, 1 << 16, false}, error), nullptr);
}

TEST(DiskSpool, ADamagedCursorReplaysRatherThanLoses) {
  TempDir dir;
  {
    auto spool = open_spool(dir.path);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(spool->append(record(i)));
    spool->pop(2);
  }
  std::ofstream(dir.path + "/cursor", std::ios::trunc) << "garbage";
  auto spool = open_spool(dir.path);
  EXPECT_EQ(spool->stats().corrupt, 1u);
  EXPECT_EQ(spool->peek(10).size(), 5u);  // from the oldest record again
}

TEST(DiskSpool, MatchesAQueueOverRandomAppendsPopsAndRestarts) {
  TempDir dir;
  std::deque<std::string> model;
  std::mt19937_64 rng(7);
  auto spool = open_spool(dir.path, 1 << 20, 300);
  int next = 0;
  for (int step = 0; step < 3000; ++step) {
    const uint64_t action = rng() % 10;
    if (action < 5) {
      std::string r = record(next++);
      ASSERT_TRUE(spool->append(r));
      model.push_back(std::move(r));
    } else if (action < 8) {
      const size_t n = rng() % 5;
      std::vector<std::string> got = spool->peek(n);
      ASSERT_EQ(got.size(), std::min(n, model.size()));
      for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], model[i]) << step;
      spool->pop(got.size());
      model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(got.size()));
    } else if (action == 8) {
      spool.reset();
      spool = open_spool(dir.path, 1 << 20, 300);
      ASSERT_EQ(spool->stats().recovered, model.size()) << step;
    } else {
      ASSERT_EQ(spool->stats().pending, model.size());
      uint64_t bytes = 0;
      for (const std::string& r : model) bytes += 8 + r.size();
      ASSERT_EQ(spool->stats().pending_bytes, bytes) << step;
      ASSERT_EQ(spool->empty(), model.empty());
    }
  }
  EXPECT_EQ(spool->stats().corrupt, 0u);
}

TEST(DiskSpool, SyncModeWorks) {
  TempDir dir;
  std::string error;
  auto spool = DiskSpool::open({dir.path, 1 << 20, 1 << 16, true}, error);
  ASSERT_NE(spool, nullptr) << error;
  ASSERT_TRUE(spool->append("durable"));
  spool->pop(1);
  EXPECT_TRUE(spool->empty());
}

}  // namespace
}  // namespace fathom::bus
