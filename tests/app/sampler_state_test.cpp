// Adaptive-sampler state in the store (app/sampler_state.h): saved through a StoreWriter,
// restored into a restarted sampler; stale, corrupt and foreign rows.

#include "app/sampler_state.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "app/temp_dir.h"
#include "store/store.h"
#include "store/writer.h"
#include "transform/sampler.h"
#include "transform/sampler_state.h"

namespace fathom::app {
namespace {

constexpr int64_t kNow = 1'765'071'917'000'000'000;
constexpr int64_t kSecond = 1'000'000'000;

transform::Config config_with(std::vector<std::pair<uint32_t, double>> targets) {
  transform::Config c;
  for (const auto& [id, target] : targets) {
    transform::Tenant t;
    t.id = id;
    t.name = "t" + std::to_string(id);
    t.target_ingest_rate = target;
    c.tenants.push_back(t);
  }
  c.sampling.min_probability = 0.001;
  return c;
}

/// A sampler whose tenant 1 (target 100/s) was flooded at 10 000/s: p about 0.01.
std::shared_ptr<transform::AdaptiveSampler> flooded() {
  auto sampler = std::make_shared<transform::AdaptiveSampler>(config_with({{1, 100}, {2, 50}}));
  transform::SamplerView view(sampler);
  int64_t t = kNow - 20 * kSecond;
  sampler->update(t);
  for (int step = 0; step < 10; ++step) {
    t += 2 * kSecond;
    sampler->record(*view.find(1), 20'000, 200, t);
    sampler->update(t);
  }
  return sampler;
}

struct Store {
  explicit Store(const std::string& name) : dir(name) {
    options.url = "sqlite:" + dir.path + "/fathom.db";
  }
  std::unique_ptr<store::Database> db() {
    std::string error;
    auto d = store::open_database(options, error);
    EXPECT_NE(d, nullptr) << error;
    return d;
  }
  void save(const transform::AdaptiveSampler& sampler, int64_t now, std::string_view key,
            SamplerStateCounters& counters) {
    std::string error;
    auto writer = store::StoreWriter::start(options, store::StoreWriterOptions{}, error);
    ASSERT_NE(writer, nullptr) << error;
    save_sampler_state(sampler, *writer, now, key, counters);
    ASSERT_TRUE(writer->flush(std::chrono::seconds(20)));
  }
  testing::TempDir dir;
  store::StoreOptions options;
};

double probability(const transform::AdaptiveSampler& sampler, uint32_t tenant) {
  for (const transform::SamplerTenantStats& t : sampler.snapshot().tenants) {
    if (t.tenant_id == tenant) return t.probability;
  }
  ADD_FAILURE() << "tenant " << tenant << " not in the sampler";
  return -1;
}

TEST(SamplerState, SavedAndRestoredSoARestartKeepsTheProbability) {
  Store s("sampler-state-roundtrip");
  SamplerStateCounters counters;
  auto before = flooded();
  const double p = probability(*before, 1);
  ASSERT_LT(p, 0.05);
  s.save(*before, kNow, kSamplerStateKey, counters);
  // Tenant 2 was measured too (no traffic: p = 1); tenant 3 is not configured.
  EXPECT_EQ(snapshot(counters).saved, 2u);

  auto db = s.db();
  ASSERT_NE(db, nullptr);
  const std::vector<uint32_t> ids = {1, 2, 3};
  const std::vector<store::StateEntry> rows = read_sampler_states(*db, ids, kSamplerStateKey);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].tenant_id, 1u);
  EXPECT_EQ(rows[1].tenant_id, 2u);

  transform::AdaptiveSampler after(config_with({{1, 100}, {2, 50}}));
  EXPECT_EQ(probability(after, 1), 1.0);
  apply_sampler_states(rows, after, kNow + 5 * kSecond, kSamplerStateMaxAgeNs, counters);
  EXPECT_EQ(snapshot(counters).restored, 2u);
  EXPECT_EQ(probability(after, 1), p);
  EXPECT_EQ(probability(after, 2), 1.0);

  // Another node's rows live under their own key.
  s.save(*before, kNow, sampler_state_key("collector-b"), counters);
  EXPECT_EQ(read_sampler_states(*db, ids, kSamplerStateKey).size(), 2u);
  EXPECT_EQ(read_sampler_states(*db, ids, "sampler/collector-b").size(), 2u);
}

TEST(SamplerState, StaleCorruptAndUncontrolledRowsAreCountedAndChangeNothing) {
  SamplerStateCounters counters;
  auto before = flooded();
  const std::vector<store::StateEntry> good = sampler_state_rows(*before, kNow, kSamplerStateKey);
  ASSERT_EQ(good.size(), 2u);
  ASSERT_EQ(good[0].tenant_id, 1u);
  std::vector<store::StateEntry> rows;
  rows.push_back(good[0]);  // saved two hours before the start below: stale
  store::StateEntry future = good[0];
  future.value =
      transform::encode_sampler_state(before->export_state()[0], kNow + 3 * 3600 * kSecond);
  rows.push_back(future);  // saved "after" now: a clock that cannot be trusted
  store::StateEntry truncated = good[0];
  truncated.value.resize(10);
  rows.push_back(truncated);
  store::StateEntry garbage = good[0];
  garbage.value = std::string(44, '\xff');
  rows.push_back(garbage);
  store::StateEntry no_target = good[0];
  no_target.tenant_id = 2;  // configured without a target below
  no_target.value =
      transform::encode_sampler_state(before->export_state()[0], kNow + 2 * 3600 * kSecond);
  rows.push_back(no_target);
  store::StateEntry unknown = no_target;
  unknown.tenant_id = 99;
  rows.push_back(unknown);

  transform::AdaptiveSampler after(config_with({{1, 100}, {2, 0}}));
  apply_sampler_states(rows, after, kNow + 2 * 3600 * kSecond, kSamplerStateMaxAgeNs, counters);
  const SamplerStateStats st = snapshot(counters);
  EXPECT_EQ(st.restored, 0u);
  EXPECT_EQ(st.stale, 2u);
  EXPECT_EQ(st.corrupt, 2u);
  EXPECT_EQ(st.skipped, 2u);
  EXPECT_EQ(probability(after, 1), 1.0);
  EXPECT_EQ(probability(after, 2), 1.0);
}

}  // namespace
}  // namespace fathom::app

namespace fathom::app {
namespace {

TEST(SamplerState, CollectorNodeIdIsTheConfiguredNameOrTheHostName) {
  EXPECT_EQ(collector_node_id("collector-7"), "collector-7");
  EXPECT_EQ(sampler_state_key(collector_node_id("collector-7")), "sampler/collector-7");
  const std::string host = collector_node_id("");
  ASSERT_FALSE(host.empty());
  EXPECT_LE(host.size(), 64u);
  for (const char c : host) {
    EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == '-')
        << host;
  }
}

}  // namespace
}  // namespace fathom::app
