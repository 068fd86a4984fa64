#include "alert/dispatcher.h"

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "alert/webhook_sink.h"
#include "app/mini_json.h"
#include "receivers.h"
#include "test_util.h"

namespace fathom::alert {
namespace {

using detect::IncidentEventKind;
using testing::incident_event;
using testing::wait_for;

std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

AlertConfig webhook_config(const std::string& url) {
  AlertConfig config;
  SinkConfig hook;
  hook.name = "hook";
  hook.kind = SinkKind::kWebhook;
  hook.url = url;
  hook.hmac_secret = "k3y";
  hook.timeout_ms = 2000;
  config.sinks = {hook};
  config.retry.max_attempts = 4;
  config.retry.initial_backoff_ms = 5;
  config.retry.max_backoff_ms = 40;
  config.rate_limit.alerts_per_minute = 0;
  return config;
}

std::unique_ptr<AlertDispatcher> start(const AlertConfig& config) {
  std::string error;
  auto dispatcher = AlertDispatcher::create(config, error);
  EXPECT_TRUE(dispatcher) << error;
  return dispatcher;
}

/// The "id" of the incident inside an alert body.
std::string incident_id_of(const std::string& body) {
  const size_t at = body.find("\"incident\":{\"type\":\"incident\",\"event\":");
  const size_t id = body.find("\"id\":\"", at);
  return body.substr(id + 6, body.find('"', id + 6) - id - 6);
}

TEST(AlertDispatcherTest, RetriesA503ThenDeliversExactlyOnceSigned) {
  testing::HttpReceiver receiver(/*fail_first=*/2, 503);
  auto dispatcher = start(webhook_config(receiver.url()));
  ASSERT_TRUE(dispatcher->submit(incident_event(IncidentEventKind::kOpen, "aa", 80)));
  ASSERT_TRUE(wait_for([&] { return dispatcher->stats().sinks[0].delivered == 1; }));
  dispatcher->stop();
  const auto received = receiver.received();
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(receiver.accepted().size(), 1u);
  for (const auto& r : received) {
    EXPECT_EQ(r.body, received[0].body);  // the same alert each attempt
    EXPECT_EQ(r.signature, webhook_signature("k3y", r.timestamp, r.body));
  }
  ASSERT_TRUE(fathom::testing::MiniJson::parse_object(received[0].body));
  const SinkStats s = dispatcher->stats().sinks[0];
  EXPECT_EQ(s.name, "hook");
  EXPECT_EQ(s.submitted, 1u);
  EXPECT_EQ(s.retried, 2u);
  EXPECT_EQ(s.failed_permanent, 0u);
  EXPECT_EQ(s.dropped_no_spool, 0u);
}

TEST(AlertDispatcherTest, A400IsAPermanentFailureNotRetried) {
  testing::HttpReceiver receiver(/*fail_first=*/1000, 400);
  auto dispatcher = start(webhook_config(receiver.url()));
  dispatcher->submit(incident_event(IncidentEventKind::kOpen, "aa", 80));
  ASSERT_TRUE(wait_for([&] { return dispatcher->stats().sinks[0].failed_permanent == 1; }));
  dispatcher->stop();
  EXPECT_EQ(receiver.received().size(), 1u);
  EXPECT_EQ(dispatcher->stats().sinks[0].retried, 0u);
  EXPECT_EQ(dispatcher->stats().sinks[0].delivered, 0u);
}

TEST(AlertDispatcherTest, DeadReceiverSpoolsThenReplaysInOrderExactlyOnce) {
  const int port = testing::unused_port();
  AlertConfig config = webhook_config("http://127.0.0.1:" + std::to_string(port) + "/hook");
  config.retry.max_attempts = 2;
  config.spool_directory = fresh_dir("alert_dispatch_spool");
  auto dispatcher = start(config);
  const std::vector<std::string> ids = {"01", "02", "03", "04", "05"};
  for (const std::string& id : ids) {
    ASSERT_TRUE(dispatcher->submit(incident_event(IncidentEventKind::kOpen, id, 80)));
  }
  ASSERT_TRUE(wait_for([&] { return dispatcher->stats().sinks[0].spooled == ids.size(); }));

  testing::HttpReceiver receiver(0, 503, 200, port);  // the receiver comes back
  ASSERT_EQ(receiver.port(), port);
  ASSERT_TRUE(wait_for([&] { return dispatcher->stats().sinks[0].replayed == ids.size(); }));
  dispatcher->stop();
  const auto accepted = receiver.accepted();
  ASSERT_EQ(accepted.size(), ids.size());
  for (size_t alert_idx = 0; alert_idx < ids.size(); ++alert_idx) {
    EXPECT_EQ(incident_id_of(accepted[alert_idx]), ids[alert_idx]);
  }
  const SinkStats s = dispatcher->stats().sinks[0];
  EXPECT_EQ(s.delivered, 0u);
  EXPECT_EQ(s.spool_pending, 0u);
  EXPECT_EQ(s.dropped_spool_full, 0u);
}

TEST(AlertDispatcherTest, SpoolAndDedupSurviveARestart) {
  const int port = testing::unused_port();
  AlertConfig config = webhook_config("http://127.0.0.1:" + std::to_string(port) + "/hook");
  config.retry.max_attempts = 1;
  config.spool_directory = fresh_dir("alert_dispatch_restart");
  const std::vector<detect::IncidentEvent> stream = {
      incident_event(IncidentEventKind::kOpen, "r1", 80),
      incident_event(IncidentEventKind::kOpen, "r2", 80),
  };
  {
    auto dispatcher = start(config);
    dispatcher->submit(stream);
    ASSERT_TRUE(wait_for([&] { return dispatcher->stats().sinks[0].spooled == 2; }));
  }
  testing::HttpReceiver receiver(0, 503, 200, port);
  auto restarted = start(config);
  restarted->submit(stream);  // the analysis replays its stream after the restart
  ASSERT_TRUE(wait_for([&] { return restarted->stats().sinks[0].replayed == 2; }));
  ASSERT_TRUE(wait_for([&] { return restarted->stats().policy.events == 2; }));
  restarted->stop();
  const auto accepted = receiver.accepted();
  ASSERT_EQ(accepted.size(), 2u);
  EXPECT_EQ(incident_id_of(accepted[0]), "r1");
  EXPECT_EQ(incident_id_of(accepted[1]), "r2");
  EXPECT_EQ(restarted->stats().sinks[0].deduplicated, 2u);
  EXPECT_EQ(restarted->stats().sinks[0].submitted, 0u);
}

/// A sink that blocks every delivery until released, then records it.
class GateSink final : public Sink {
 public:
  DeliveryResult deliver(const Alert& alert) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return open_; });
    delivered_.push_back(alert.incident_id);
    return DeliveryResult::success();
  }
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  std::vector<std::string> delivered() {
    std::lock_guard lock(mu_);
    return delivered_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  std::vector<std::string> delivered_;
};

AlertConfig gate_config() {
  AlertConfig config;
  SinkConfig sink;
  sink.name = "gate";
  sink.path = "/dev/null";  // validated, unused: the test gives its own sink
  config.sinks = {sink};
  config.queue_capacity = 2;
  config.rate_limit.alerts_per_minute = 0;
  return config;
}

TEST(AlertDispatcherTest, AFullQueueGoesToTheSpoolAndOrderIsKept) {
  AlertConfig config = gate_config();
  config.spool_directory = fresh_dir("alert_dispatch_full");
  auto gate = std::make_unique<GateSink>();
  GateSink* sink = gate.get();
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(std::move(gate));
  std::string error;
  auto dispatcher = AlertDispatcher::create(config, std::move(sinks), error);
  ASSERT_TRUE(dispatcher) << error;
  std::vector<std::string> ids;
  for (int alert_idx = 0; alert_idx < 20; ++alert_idx) {
    ids.push_back("q" + std::to_string(100 + alert_idx));
    ASSERT_TRUE(dispatcher->submit(incident_event(IncidentEventKind::kOpen, ids.back(), 80)));
  }
  ASSERT_TRUE(wait_for([&] { return dispatcher->stats().sinks[0].submitted == ids.size(); }));
  EXPECT_GT(dispatcher->stats().sinks[0].spooled, 0u);
  EXPECT_LE(dispatcher->stats().sinks[0].queued, 2u);
  sink->open();
  ASSERT_TRUE(wait_for([&] { return sink->delivered().size() == ids.size(); }));
  dispatcher->stop();
  EXPECT_EQ(sink->delivered(), ids);
  const SinkStats s = dispatcher->stats().sinks[0];
  EXPECT_EQ(s.delivered + s.replayed, ids.size());
  EXPECT_EQ(s.replayed, s.spooled);
}

TEST(AlertDispatcherTest, WithoutASpoolDropsAreCounted) {
  AlertConfig config =
      webhook_config("http://127.0.0.1:" + std::to_string(testing::unused_port()) + "/hook");
  config.retry.max_attempts = 2;
  auto dispatcher = start(config);
  dispatcher->submit(incident_event(IncidentEventKind::kOpen, "lost", 80));
  ASSERT_TRUE(wait_for([&] { return dispatcher->stats().sinks[0].dropped_no_spool == 1; }));
  EXPECT_EQ(dispatcher->stats().sinks[0].retried, 1u);
}

TEST(AlertDispatcherTest, AFullIntakeRefusesAndCounts) {
  AlertConfig config = gate_config();
  config.intake_capacity = 1;
  std::vector<std::unique_ptr<Sink>> sinks;
  auto gate = std::make_unique<GateSink>();
  gate->open();
  sinks.push_back(std::move(gate));
  std::string error;
  auto dispatcher = AlertDispatcher::create(config, std::move(sinks), error);
  ASSERT_TRUE(dispatcher) << error;
  std::vector<detect::IncidentEvent> events;
  for (int event_idx = 0; event_idx < 50; ++event_idx) {
    events.push_back(incident_event(IncidentEventKind::kOpen, std::to_string(event_idx), 80));
  }
  EXPECT_EQ(dispatcher->submit(events), 1u);  // one call holds the intake: one fits
  dispatcher->stop();
  EXPECT_EQ(dispatcher->stats().events_submitted, 1u);
  EXPECT_EQ(dispatcher->stats().events_dropped_full, 49u);
  EXPECT_FALSE(dispatcher->submit(events[1]));  // stopped
}

TEST(AlertDispatcherTest, RoutesByLevelAcrossSinks) {
  testing::HttpReceiver receiver;
  AlertConfig config = webhook_config(receiver.url());
  config.sinks[0].min_level = detect::SeverityLevel::kHigh;
  SinkConfig file;
  file.name = "file";
  file.kind = SinkKind::kJsonLines;
  const std::string dir = fresh_dir("alert_dispatch_route");
  std::filesystem::create_directories(dir);
  file.path = dir + "/alerts.jsonl";
  config.sinks.push_back(file);
  auto dispatcher = start(config);
  dispatcher->submit(incident_event(IncidentEventKind::kOpen, "x", 45));
  dispatcher->submit(incident_event(IncidentEventKind::kUpdate, "x", 50));
  dispatcher->submit(incident_event(IncidentEventKind::kUpdate, "x", 75));
  dispatcher->submit(incident_event(IncidentEventKind::kClose, "x", 75));
  ASSERT_TRUE(wait_for([&] {
    const auto s = dispatcher->stats();
    return s.sinks[0].delivered == 2 && s.sinks[1].delivered == 3;
  }));
  dispatcher->stop();
  const auto accepted = receiver.accepted();
  ASSERT_EQ(accepted.size(), 2u);
  EXPECT_NE(accepted[0].find("\"alert\":\"escalation\""), std::string::npos);
  EXPECT_NE(accepted[1].find("\"alert\":\"close\""), std::string::npos);
  std::ifstream in(file.path);
  std::vector<std::string> kinds;
  for (std::string line; std::getline(in, line);) {
    const auto obj = fathom::testing::MiniJson::parse_object(line);
    ASSERT_TRUE(obj) << line;
    kinds.push_back(obj->at("alert"));
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"open", "escalation", "close"}));
  EXPECT_EQ(dispatcher->stats().policy.not_escalated, 1u);
}

}  // namespace
}  // namespace fathom::alert

namespace fathom::alert {
namespace {

TEST(AlertDispatcherSpoolTest, AFullSpoolDropsAndCounts) {
  const int port = testing::unused_port();
  AlertConfig config = webhook_config("http://127.0.0.1:" + std::to_string(port) + "/hook");
  config.retry.max_attempts = 1;
  config.spool_directory = fresh_dir("alert_dispatch_spool_full");
  config.spool_max_bytes_per_sink = 8192;  // a handful of alerts
  auto dispatcher = start(config);
  constexpr uint64_t kAlerts = 40;
  for (uint64_t alert_idx = 0; alert_idx < kAlerts; ++alert_idx) {
    dispatcher->submit(incident_event(IncidentEventKind::kOpen, std::to_string(alert_idx), 80));
  }
  // Nothing disappears silently: every alert is either on disk or counted as dropped.
  ASSERT_TRUE(wait_for([&] {
    const SinkStats s = dispatcher->stats().sinks[0];
    return s.submitted == kAlerts && s.queued == 0 && s.spooled + s.dropped_spool_full == kAlerts;
  }));
  const SinkStats s = dispatcher->stats().sinks[0];
  EXPECT_GT(s.spooled, 0u);
  EXPECT_GT(s.dropped_spool_full, 0u);
  EXPECT_EQ(s.spool_pending, s.spooled);
}

TEST(AlertDispatcherSpoolTest, RateLimitedTenantGetsASummaryAlert) {
  testing::HttpReceiver receiver;
  AlertConfig config = webhook_config(receiver.url());
  config.rate_limit.alerts_per_minute = 1;
  config.rate_limit.burst = 1;
  config.rate_limit.summary_interval_ms = 20;
  auto dispatcher = start(config);
  for (int alert_idx = 0; alert_idx < 4; ++alert_idx) {
    dispatcher->submit(incident_event(IncidentEventKind::kOpen, std::to_string(alert_idx), 80, 9));
  }
  ASSERT_TRUE(wait_for([&] { return receiver.accepted().size() == 2; }));
  dispatcher->stop();
  const auto accepted = receiver.accepted();
  EXPECT_NE(accepted[1].find("\"message\":\"3 alerts suppressed for tenant 9\""), std::string::npos)
      << accepted[1];
  EXPECT_EQ(dispatcher->stats().sinks[0].rate_limited, 3u);
  EXPECT_EQ(dispatcher->stats().policy.summaries, 1u);
}

}  // namespace
}  // namespace fathom::alert
