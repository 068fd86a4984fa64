#include "alert/policy.h"

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace fathom::alert {
namespace {

using detect::IncidentEventKind;
using detect::SeverityLevel;
using testing::incident_event;

constexpr int64_t kMinute = 60'000'000'000;

AlertConfig two_sinks() {
  AlertConfig config;
  SinkConfig all;
  all.name = "all";
  SinkConfig high;
  high.name = "high_only";
  high.min_level = SeverityLevel::kHigh;
  config.sinks = {all, high};
  config.rate_limit.alerts_per_minute = 0;  // unlimited unless a test sets it
  return config;
}

/// Runs `events` through `policy` at time `now_ns` and returns the alerts.
std::vector<RoutedAlert> run(AlertPolicy& policy, const std::vector<detect::IncidentEvent>& events,
                             int64_t now_ns = 0) {
  std::vector<RoutedAlert> out;
  for (const auto& event : events) policy.process(event, now_ns, now_ns, out);
  return out;
}

TEST(AlertPolicyTest, OpenEscalationAndCloseButNotEveryUpdate) {
  AlertPolicy policy(two_sinks());
  const auto alerts =
      run(policy, {
                      incident_event(IncidentEventKind::kOpen, "a", 45),    // medium
                      incident_event(IncidentEventKind::kUpdate, "a", 50),  // medium
                      incident_event(IncidentEventKind::kUpdate, "a", 75),  // high
                      incident_event(IncidentEventKind::kUpdate, "a", 50),  // back down
                      incident_event(IncidentEventKind::kUpdate, "a", 80),  // high again
                      incident_event(IncidentEventKind::kUpdate, "a", 95),  // critical
                      incident_event(IncidentEventKind::kClose, "a", 95),
                  });
  ASSERT_EQ(alerts.size(), 4u);
  EXPECT_EQ(alerts[0].alert.kind, AlertKind::kOpen);
  EXPECT_EQ(alerts[0].alert.level, SeverityLevel::kMedium);
  EXPECT_EQ(alerts[0].sinks, 0b01u);  // the high-only sink does not want a medium open
  EXPECT_EQ(alerts[1].alert.kind, AlertKind::kEscalation);
  EXPECT_EQ(alerts[1].alert.level, SeverityLevel::kHigh);
  EXPECT_EQ(alerts[1].sinks, 0b11u);
  EXPECT_EQ(alerts[2].alert.kind, AlertKind::kEscalation);
  EXPECT_EQ(alerts[2].alert.level, SeverityLevel::kCritical);
  EXPECT_EQ(alerts[3].alert.kind, AlertKind::kClose);
  EXPECT_EQ(alerts[3].sinks, 0b11u);  // every sink that received one of its alerts
  EXPECT_EQ(policy.stats().not_escalated, 3u);
  EXPECT_EQ(policy.tracked(), 0u);
}

TEST(AlertPolicyTest, CloseGoesOnlyWhereTheOpenWent) {
  AlertConfig config = two_sinks();
  config.sinks[1].tenants = {2};
  config.sinks[1].min_level = SeverityLevel::kLow;
  AlertPolicy policy(config);
  const auto alerts = run(policy, {incident_event(IncidentEventKind::kOpen, "a", 45, 1),
                                   incident_event(IncidentEventKind::kOpen, "b", 45, 2),
                                   incident_event(IncidentEventKind::kClose, "a", 10, 1),
                                   incident_event(IncidentEventKind::kClose, "b", 10, 2)});
  ASSERT_EQ(alerts.size(), 4u);
  EXPECT_EQ(alerts[0].sinks, 0b01u);
  EXPECT_EQ(alerts[1].sinks, 0b11u);
  EXPECT_EQ(alerts[2].sinks, 0b01u);
  EXPECT_EQ(alerts[3].sinks, 0b11u);
}

TEST(AlertPolicyTest, UnknownIncidentUpdateIsAnOpenAndUnalertedCloseIsNothing) {
  AlertPolicy policy(two_sinks());
  auto alerts = run(policy, {incident_event(IncidentEventKind::kClose, "never", 80),
                             incident_event(IncidentEventKind::kUpdate, "late", 80)});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].alert.kind, AlertKind::kOpen);
  EXPECT_EQ(alerts[0].alert.incident_id, "late");
  EXPECT_EQ(policy.stats().unrouted, 1u);
}

TEST(AlertPolicyTest, ReplayedStreamIsDeduplicated) {
  AlertPolicy policy(two_sinks());
  const std::vector<detect::IncidentEvent> stream = {
      incident_event(IncidentEventKind::kOpen, "a", 45),
      incident_event(IncidentEventKind::kUpdate, "a", 75),
      incident_event(IncidentEventKind::kClose, "a", 75),
  };
  EXPECT_EQ(run(policy, stream).size(), 3u);
  EXPECT_EQ(run(policy, stream).size(), 0u);
  EXPECT_EQ(policy.stats().deduplicated, 3u);
  EXPECT_EQ(policy.sink_counters()[0].deduplicated, 3u);
  EXPECT_EQ(policy.sink_counters()[1].deduplicated, 2u);  // it never got the medium open
}

TEST(AlertPolicyTest, JournaledDedupSurvivesARestart) {
  const std::string dir = ::testing::TempDir() + "/alert_policy_journal";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/dedup.log";
  std::string error;
  {
    AlertPolicy policy(two_sinks(), DedupSet::open(path, 100, error));
    EXPECT_EQ(run(policy, {incident_event(IncidentEventKind::kOpen, "a", 45),
                           incident_event(IncidentEventKind::kUpdate, "a", 75)})
                  .size(),
              2u);
  }
  AlertPolicy restarted(two_sinks(), DedupSet::open(path, 100, error));
  ASSERT_TRUE(error.empty()) << error;
  // The replay sends nothing again; the close still reaches both sinks.
  const auto alerts = run(restarted, {incident_event(IncidentEventKind::kOpen, "a", 45),
                                      incident_event(IncidentEventKind::kUpdate, "a", 75),
                                      incident_event(IncidentEventKind::kUpdate, "a", 80),
                                      incident_event(IncidentEventKind::kClose, "a", 80)});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].alert.kind, AlertKind::kClose);
  EXPECT_EQ(alerts[0].sinks, 0b11u);
}

TEST(AlertPolicyTest, DedupMemoryIsBounded) {
  AlertConfig config = two_sinks();
  config.dedup_capacity = 10;
  config.max_tracked_incidents = 10;
  AlertPolicy policy(config);
  for (int incident_idx = 0; incident_idx < 1000; ++incident_idx) {
    run(policy, {incident_event(IncidentEventKind::kOpen, std::to_string(incident_idx), 45)});
  }
  EXPECT_EQ(policy.tracked(), 10u);
  EXPECT_EQ(policy.stats().tracked_evicted, 990u);
  EXPECT_EQ(policy.stats().opens, 1000u);
}

TEST(AlertPolicyTest, RateLimitPerTenantWithSummary) {
  AlertConfig config = two_sinks();
  config.rate_limit.alerts_per_minute = 6;  // one per 10 s
  config.rate_limit.burst = 2;
  config.rate_limit.summary_interval_ms = 60'000;
  AlertPolicy policy(config);
  std::vector<RoutedAlert> out;
  for (int incident_idx = 0; incident_idx < 5; ++incident_idx) {
    policy.process(
        incident_event(IncidentEventKind::kOpen, "t1-" + std::to_string(incident_idx), 80, 1), 0, 0,
        out);
  }
  policy.process(incident_event(IncidentEventKind::kOpen, "t2", 80, 2), 0, 0, out);
  ASSERT_EQ(out.size(), 3u);  // the burst of tenant 1, and tenant 2 has its own bucket
  EXPECT_EQ(policy.stats().rate_limited, 3u);
  EXPECT_EQ(policy.sink_counters()[0].rate_limited, 3u);
  EXPECT_EQ(policy.sink_counters()[1].rate_limited, 3u);

  // A close of an alerted incident is never limited; 10 s refills one token.
  out.clear();
  policy.process(incident_event(IncidentEventKind::kClose, "t1-0", 80, 1), kMinute / 6, 0, out);
  policy.process(incident_event(IncidentEventKind::kOpen, "t1-9", 80, 1), kMinute / 6, 0, out);
  policy.process(incident_event(IncidentEventKind::kOpen, "t1-10", 80, 1), kMinute / 6, 0, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].alert.kind, AlertKind::kClose);
  EXPECT_EQ(out[1].alert.incident_id, "t1-9");

  // No summary before the interval, one after it, then nothing until more is suppressed.
  out.clear();
  EXPECT_EQ(policy.next_tick_ns(), kMinute);
  policy.tick(kMinute - 1, 0, out);
  EXPECT_TRUE(out.empty());
  policy.tick(kMinute, 123, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].alert.kind, AlertKind::kSuppressed);
  EXPECT_EQ(out[0].alert.summary, "4 alerts suppressed for tenant 1");
  EXPECT_EQ(out[0].alert.suppressed, 4u);
  EXPECT_EQ(out[0].alert.level, SeverityLevel::kHigh);
  EXPECT_EQ(out[0].sinks, 0b11u);
  EXPECT_NE(out[0].alert.json.find("\"suppressed\":4"), std::string::npos);
  out.clear();
  policy.tick(3 * kMinute, 0, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(policy.next_tick_ns(), INT64_MAX);
}

TEST(AlertPolicyTest, RateLimitedOpenIsRetriedByTheNextUpdate) {
  AlertConfig config = two_sinks();
  config.rate_limit.alerts_per_minute = 1;
  config.rate_limit.burst = 1;
  AlertPolicy policy(config);
  std::vector<RoutedAlert> out;
  policy.process(incident_event(IncidentEventKind::kOpen, "a", 80), 0, 0, out);
  policy.process(incident_event(IncidentEventKind::kOpen, "b", 80), 0, 0, out);
  policy.process(incident_event(IncidentEventKind::kUpdate, "b", 80), kMinute, 0, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].alert.incident_id, "b");
  EXPECT_EQ(out[1].alert.kind, AlertKind::kOpen);
}

TEST(AlertConfigTest, DefaultsAreValidAndBadValuesRejected) {
  EXPECT_EQ(validate(AlertConfig{}), "");
  AlertConfig config;
  SinkConfig sink;
  sink.name = "../x";
  config.sinks = {sink};
  EXPECT_NE(validate(config).find("name"), std::string::npos);
  config.sinks[0].name = "hook";
  config.sinks[0].kind = SinkKind::kWebhook;
  config.sinks[0].url = "ftp://x";
  EXPECT_NE(validate(config).find("url"), std::string::npos);
  config.sinks[0].url = "http://127.0.0.1:1/x";
  EXPECT_EQ(validate(config), "");
  config.sinks.push_back(config.sinks[0]);
  EXPECT_NE(validate(config).find("duplicate"), std::string::npos);
  config.sinks.pop_back();
  config.retry.max_attempts = 0;
  EXPECT_NE(validate(config).find("max_attempts"), std::string::npos);
}

}  // namespace
}  // namespace fathom::alert
