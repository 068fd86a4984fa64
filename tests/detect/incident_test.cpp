#include "detect/incident.h"

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

namespace fathom::detect {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

const flow::IpAddress kVictim = flow::IpAddress::from_v4(0x0a000005);  // 10.0.0.5
const flow::IpAddress kOther = flow::IpAddress::from_v4(0x0a000006);   // 10.0.0.6

// A detection of the window [start_s, end_s] (seconds).
Detection det(int64_t start_s, int64_t end_s, double severity, uint32_t tenant = 1,
              DetectionType type = DetectionType::kSynFlood,
              const flow::IpAddress& subject = kVictim) {
  Detection d;
  d.tenant_id = tenant;
  d.type = type;
  d.subject = subject;
  d.window_start_ns = start_s * kSecond;
  d.window_end_ns = end_s * kSecond;
  d.severity = severity;
  d.summary = "window ending at " + std::to_string(end_s) + " s";
  return d;
}

std::vector<IncidentEvent> observe(IncidentTracker& tracker, const Detection& d) {
  return tracker.observe(std::span<const Detection>(&d, 1));
}

// Config of these tests: the defaults, written out so the arithmetic below is visible.
IncidentConfig config() {
  IncidentConfig c;
  c.quiet_period_ns = 60 * kSecond;
  c.refresh_interval_ns = 60 * kSecond;
  c.peak_step = 10.0;
  return c;
}

TEST(IncidentTracker, WholeLifecycle) {
  IncidentTracker tracker(config());

  // Open.
  Detection first = det(0, 10, 50);
  first.detail = "tcp/443";
  first.first_arrival_ns = 3 * kSecond;
  auto events = observe(tracker, first);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, IncidentEventKind::kOpen);
  const Incident& opened = events[0].incident;
  const std::string id = opened.id;
  EXPECT_EQ(id, incident_id(1, DetectionType::kSynFlood, kVictim, 0));
  EXPECT_EQ(opened.version, 1u);
  EXPECT_EQ(opened.state, IncidentState::kOpen);
  EXPECT_EQ(opened.tenant_id, 1u);
  EXPECT_EQ(opened.type, DetectionType::kSynFlood);
  EXPECT_EQ(opened.subject, kVictim);
  EXPECT_EQ(opened.detail, "tcp/443");
  EXPECT_EQ(opened.start_ns, 0);
  EXPECT_EQ(opened.last_seen_ns, 10 * kSecond);
  EXPECT_EQ(opened.detected_ns, 10 * kSecond);
  EXPECT_EQ(opened.end_ns, 0);
  EXPECT_EQ(opened.severity, 50.0);
  EXPECT_EQ(opened.peak_severity, 50.0);
  EXPECT_EQ(opened.detections, 1u);
  EXPECT_EQ(opened.first_arrival_ns, 3 * kSecond);
  EXPECT_EQ(opened.latest.summary, "window ending at 10 s");
  EXPECT_EQ(opened.peak.summary, "window ending at 10 s");
  EXPECT_EQ(tracker.stats().opened, 1u);
  EXPECT_EQ(tracker.stats().open_now, 1u);

  // Same severity every 10 s: quiet until the refresh interval (60 s after the open's
  // last_seen of 10 s) has passed in detection time.
  for (int64_t end_s = 20; end_s <= 60; end_s += 10) {
    EXPECT_TRUE(observe(tracker, det(end_s - 10, end_s, 50)).empty()) << end_s;
  }
  events = observe(tracker, det(60, 70, 50));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, IncidentEventKind::kUpdate);
  EXPECT_EQ(events[0].incident.id, id);
  EXPECT_EQ(events[0].incident.version, 2u);
  EXPECT_EQ(events[0].incident.detections, 7u);
  EXPECT_EQ(events[0].incident.last_seen_ns, 70 * kSecond);

  // Peak up 5 within the level: nothing; up 10 from the last event's peak: an update.
  EXPECT_TRUE(observe(tracker, det(70, 80, 55)).empty());
  events = observe(tracker, det(80, 90, 60));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].incident.version, 3u);
  EXPECT_EQ(events[0].incident.peak_severity, 60.0);
  EXPECT_EQ(events[0].incident.peak.summary, "window ending at 90 s");

  // Level changes, up (medium → high) and down (high → low, the peak stays).
  events = observe(tracker, det(90, 100, 72));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].incident.version, 4u);
  events = observe(tracker, det(100, 110, 35));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, IncidentEventKind::kUpdate);
  EXPECT_EQ(events[0].incident.version, 5u);
  EXPECT_EQ(events[0].incident.severity, 35.0);
  EXPECT_EQ(events[0].incident.peak_severity, 72.0);
  EXPECT_EQ(tracker.stats().updated, 4u);

  // Close after the quiet period, exactly at the boundary.
  EXPECT_TRUE(tracker.advance(170 * kSecond - 1).empty());
  events = tracker.advance(170 * kSecond);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, IncidentEventKind::kClose);
  EXPECT_EQ(events[0].incident.id, id);
  EXPECT_EQ(events[0].incident.state, IncidentState::kClosed);
  EXPECT_EQ(events[0].incident.version, 6u);
  EXPECT_EQ(events[0].incident.end_ns, 110 * kSecond);
  EXPECT_EQ(events[0].incident.detections, 11u);
  EXPECT_EQ(tracker.stats().closed, 1u);
  EXPECT_EQ(tracker.stats().open_now, 0u);
  EXPECT_TRUE(tracker.open_incidents().empty());
  EXPECT_TRUE(tracker.advance(1000 * kSecond).empty());  // forgotten, not closed twice

  // The same key again: a new incident with a new id.
  events = observe(tracker, det(170, 180, 50));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, IncidentEventKind::kOpen);
  EXPECT_EQ(events[0].incident.version, 1u);
  EXPECT_EQ(events[0].incident.detections, 1u);
  EXPECT_NE(events[0].incident.id, id);
  EXPECT_EQ(events[0].incident.id,
            incident_id(1, DetectionType::kSynFlood, kVictim, 170 * kSecond));
  EXPECT_EQ(tracker.stats().opened, 2u);
  EXPECT_EQ(tracker.stats().detections, 12u);
}

TEST(IncidentTracker, NoUpdateSpamForEqualSeverities) {
  IncidentTracker tracker(config());
  uint64_t updates = 0;
  std::vector<int64_t> update_times;
  // A detection every 2 s for 10 minutes, always 80.
  for (int64_t end_s = 2; end_s <= 600; end_s += 2) {
    for (const IncidentEvent& e : observe(tracker, det(end_s - 2, end_s, 80))) {
      if (e.kind == IncidentEventKind::kUpdate) {
        ++updates;
        update_times.push_back(e.incident.last_seen_ns / kSecond);
      }
    }
  }
  // Opened at 2 s; refreshed at 62, 122, ..., 542.
  EXPECT_EQ(updates, 9u);
  ASSERT_FALSE(update_times.empty());
  EXPECT_EQ(update_times.front(), 62);
  EXPECT_EQ(update_times.back(), 542);
  EXPECT_EQ(tracker.stats().updated, 9u);
}

TEST(IncidentTracker, SeparateKeysAreSeparateIncidents) {
  IncidentTracker tracker(config());
  // Out of key order on purpose.
  const std::vector<Detection> batch = {
      det(0, 10, 50, 2, DetectionType::kSynFlood, kVictim),
      det(0, 10, 50, 1, DetectionType::kUdpFlood, kVictim),
      det(0, 10, 50, 1, DetectionType::kSynFlood, kOther),
      det(0, 10, 50, 1, DetectionType::kSynFlood, kVictim),
  };
  const auto events = tracker.observe(batch);
  ASSERT_EQ(events.size(), 4u);
  std::vector<std::tuple<uint32_t, DetectionType, flow::IpAddress>> keys;
  std::vector<std::string> ids;
  for (const IncidentEvent& e : events) {
    EXPECT_EQ(e.kind, IncidentEventKind::kOpen);
    EXPECT_EQ(e.incident.detections, 1u);
    keys.emplace_back(e.incident.tenant_id, e.incident.type, e.incident.subject);
    ids.push_back(e.incident.id);
  }
  // (tenant, type, subject bytes): syn_flood < udp_flood, 10.0.0.5 < 10.0.0.6, tenant 1 < 2.
  EXPECT_EQ(keys[0], std::make_tuple(1u, DetectionType::kSynFlood, kVictim));
  EXPECT_EQ(keys[1], std::make_tuple(1u, DetectionType::kSynFlood, kOther));
  EXPECT_EQ(keys[2], std::make_tuple(1u, DetectionType::kUdpFlood, kVictim));
  EXPECT_EQ(keys[3], std::make_tuple(2u, DetectionType::kSynFlood, kVictim));
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end());
  EXPECT_EQ(tracker.stats().open_now, 4u);
}

TEST(IncidentTracker, LateDetectionMergesWithoutMovingTimeBack) {
  IncidentTracker tracker(config());
  Detection opening = det(20, 30, 50);
  opening.detail = "new";
  ASSERT_EQ(observe(tracker, opening).size(), 1u);

  Detection late = det(10, 20, 85);
  late.detail = "old";
  late.first_arrival_ns = 5 * kSecond;
  const auto events = observe(tracker, late);
  ASSERT_EQ(events.size(), 1u);  // the peak rose by 35
  const Incident& inc = events[0].incident;
  EXPECT_EQ(events[0].kind, IncidentEventKind::kUpdate);
  EXPECT_EQ(inc.detections, 2u);
  EXPECT_EQ(inc.peak_severity, 85.0);
  EXPECT_EQ(inc.peak.summary, "window ending at 20 s");
  EXPECT_EQ(inc.last_seen_ns, 30 * kSecond);  // not moved back
  EXPECT_EQ(inc.severity, 50.0);              // still the newest window's
  EXPECT_EQ(inc.detail, "new");
  EXPECT_EQ(inc.latest.summary, "window ending at 30 s");
  EXPECT_EQ(inc.start_ns, 20 * kSecond);  // the id depends on it
  EXPECT_EQ(inc.id, incident_id(1, DetectionType::kSynFlood, kVictim, 20 * kSecond));
  EXPECT_EQ(inc.first_arrival_ns, 5 * kSecond);

  // A late detection with nothing new is not an update (detection time did not move).
  EXPECT_TRUE(observe(tracker, det(0, 10, 50)).empty());
  // First arrival: the minimum of the known ones; 0 is "unknown", not earliest.
  Detection unknown_arrival = det(30, 40, 50);
  observe(tracker, unknown_arrival);
  Detection earlier_arrival = det(40, 50, 50);
  earlier_arrival.first_arrival_ns = 4 * kSecond;
  observe(tracker, earlier_arrival);
  ASSERT_EQ(tracker.open_incidents().size(), 1u);
  EXPECT_EQ(tracker.open_incidents()[0].first_arrival_ns, 4 * kSecond);
  EXPECT_EQ(tracker.open_incidents()[0].detections, 5u);
}

TEST(IncidentTracker, OutOfOrderWithinOneCall) {
  IncidentTracker tracker(config());
  const std::vector<Detection> batch = {det(30, 40, 45), det(20, 30, 60), det(10, 20, 55)};
  const auto events = tracker.observe(batch);
  ASSERT_EQ(events.size(), 1u);  // one event per incident per call
  const Incident& inc = events[0].incident;
  EXPECT_EQ(events[0].kind, IncidentEventKind::kOpen);
  EXPECT_EQ(inc.version, 1u);
  EXPECT_EQ(inc.detections, 3u);
  EXPECT_EQ(inc.start_ns, 10 * kSecond);  // opened by the earliest window of the call
  EXPECT_EQ(inc.detected_ns, 20 * kSecond);
  EXPECT_EQ(inc.last_seen_ns, 40 * kSecond);
  EXPECT_EQ(inc.severity, 45.0);  // the latest state: the newest window's
  EXPECT_EQ(inc.peak_severity, 60.0);
}

TEST(IncidentTracker, OneUpdatePerCallWithTheLatestState) {
  IncidentTracker tracker(config());
  ASSERT_EQ(observe(tracker, det(0, 10, 50)).size(), 1u);
  // Level change, peak step and refresh all in one call: one update.
  const std::vector<Detection> batch = {det(10, 20, 75), det(20, 30, 95), det(60, 70, 92)};
  const auto events = tracker.observe(batch);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, IncidentEventKind::kUpdate);
  EXPECT_EQ(events[0].incident.version, 2u);
  EXPECT_EQ(events[0].incident.severity, 92.0);
  EXPECT_EQ(events[0].incident.peak_severity, 95.0);
  EXPECT_EQ(events[0].incident.detections, 4u);
  // A level that went up and came back within one call is no change for the consumer.
  const std::vector<Detection> flicker = {det(70, 80, 80), det(80, 90, 93)};
  EXPECT_TRUE(tracker.observe(flicker).empty());
}

TEST(IncidentTracker, IdIsStable) {
  // Pinned: store upserts rely on the same id on every run and platform.
  EXPECT_EQ(incident_id(7, DetectionType::kSynFlood, kVictim, 1'700'000'000'000'000'000),
            "0fedf3c01885bba7");
  EXPECT_EQ(incident_id(0, DetectionType::kAnomaly, flow::IpAddress{}, 0), "c84ddeb67b9f3f56");

  const std::string base = incident_id(7, DetectionType::kSynFlood, kVictim, 100);
  EXPECT_EQ(base.size(), 16u);
  EXPECT_EQ(base.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(incident_id(7, DetectionType::kSynFlood, kVictim, 100), base);
  EXPECT_NE(incident_id(8, DetectionType::kSynFlood, kVictim, 100), base);
  EXPECT_NE(incident_id(7, DetectionType::kUdpFlood, kVictim, 100), base);
  EXPECT_NE(incident_id(7, DetectionType::kSynFlood, kOther, 100), base);
  EXPECT_NE(incident_id(7, DetectionType::kSynFlood, kVictim, 101), base);
  const auto v6 = flow::IpAddress::parse("2001:db8::5");
  ASSERT_TRUE(v6.has_value());
  EXPECT_NE(incident_id(7, DetectionType::kSynFlood, *v6, 100), base);
}

TEST(IncidentTracker, DropsDetectionsBeyondMaxOpen) {
  IncidentConfig c = config();
  c.max_open = 2;
  IncidentTracker tracker(c);
  const flow::IpAddress third = flow::IpAddress::from_v4(0x0a000007);
  const std::vector<Detection> batch = {
      det(0, 10, 50, 1, DetectionType::kSynFlood, kVictim),
      det(0, 10, 50, 1, DetectionType::kSynFlood, kOther),
      det(0, 10, 50, 1, DetectionType::kSynFlood, third),
      det(10, 20, 50, 1, DetectionType::kSynFlood, third),
  };
  auto events = tracker.observe(batch);
  ASSERT_EQ(events.size(), 2u);  // the two lowest keys: deterministic whatever the input order
  EXPECT_EQ(events[0].incident.subject, kVictim);
  EXPECT_EQ(events[1].incident.subject, kOther);
  EXPECT_EQ(tracker.stats().dropped_over_capacity, 2u);
  EXPECT_EQ(tracker.stats().detections, 4u);
  EXPECT_EQ(tracker.stats().open_now, 2u);

  // At capacity, open incidents still merge.
  EXPECT_TRUE(observe(tracker, det(10, 20, 50, 1, DetectionType::kSynFlood, kVictim)).empty());
  ASSERT_EQ(tracker.open_incidents().size(), 2u);
  EXPECT_EQ(tracker.open_incidents()[0].detections, 2u);
  EXPECT_EQ(tracker.stats().dropped_over_capacity, 2u);

  // Once one closes, there is room again.
  events = tracker.advance(70 * kSecond);  // kOther was last seen at 10 s
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].incident.subject, kOther);
  events = observe(tracker, det(70, 80, 50, 1, DetectionType::kSynFlood, third));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, IncidentEventKind::kOpen);
}

TEST(IncidentTracker, FlushClosesEverything) {
  IncidentTracker tracker(config());
  const std::vector<Detection> batch = {
      det(0, 10, 50, 2, DetectionType::kSynFlood, kVictim),
      det(0, 30, 50, 1, DetectionType::kSynFlood, kVictim),
  };
  ASSERT_EQ(tracker.observe(batch).size(), 2u);
  const auto events = tracker.flush();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].incident.tenant_id, 1u);
  EXPECT_EQ(events[1].incident.tenant_id, 2u);
  for (const IncidentEvent& e : events) {
    EXPECT_EQ(e.kind, IncidentEventKind::kClose);
    EXPECT_EQ(e.incident.state, IncidentState::kClosed);
    EXPECT_EQ(e.incident.version, 2u);
    EXPECT_EQ(e.incident.end_ns, e.incident.last_seen_ns);
  }
  EXPECT_EQ(events[0].incident.end_ns, 30 * kSecond);
  EXPECT_EQ(tracker.stats().closed, 2u);
  EXPECT_EQ(tracker.stats().open_now, 0u);
  EXPECT_TRUE(tracker.open_incidents().empty());
  EXPECT_TRUE(tracker.flush().empty());
}

TEST(IncidentTracker, AdvanceClosesOnlyQuietIncidentsInKeyOrder) {
  IncidentTracker tracker(config());
  const std::vector<Detection> batch = {
      det(0, 10, 50, 3, DetectionType::kSynFlood, kVictim),
      det(0, 10, 50, 1, DetectionType::kSynFlood, kOther),
      det(0, 40, 50, 1, DetectionType::kSynFlood, kVictim),  // still active
      det(0, 10, 50, 1, DetectionType::kBeaconing, kVictim),
  };
  ASSERT_EQ(tracker.observe(batch).size(), 4u);
  const auto events = tracker.advance(70 * kSecond);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].incident.subject, kOther);
  EXPECT_EQ(events[1].incident.type, DetectionType::kBeaconing);
  EXPECT_EQ(events[2].incident.tenant_id, 3u);
  EXPECT_EQ(tracker.stats().open_now, 1u);
  ASSERT_EQ(tracker.open_incidents().size(), 1u);
  EXPECT_EQ(tracker.open_incidents()[0].last_seen_ns, 40 * kSecond);
}

// Every field a consumer sees, in event order.
std::vector<std::string> fingerprint(const std::vector<IncidentEvent>& events) {
  std::vector<std::string> out;
  for (const IncidentEvent& e : events) {
    const Incident& i = e.incident;
    out.push_back(std::string(to_string(e.kind)) + " " + i.id + " v" + std::to_string(i.version) +
                  " n" + std::to_string(i.detections) + " s" + std::to_string(i.start_ns) + " l" +
                  std::to_string(i.last_seen_ns) + " sev" + std::to_string(i.severity) + " peak" +
                  std::to_string(i.peak_severity) + " " + i.latest.summary + " / " +
                  i.peak.summary);
  }
  return out;
}

TEST(IncidentTracker, OrderOfDetectionsInACallDoesNotMatter) {
  std::vector<Detection> batch;
  for (uint32_t tenant = 1; tenant <= 3; ++tenant) {
    for (uint32_t host = 1; host <= 4; ++host) {
      for (int64_t window = 0; window < 3; ++window) {
        batch.push_back(det(window * 10, window * 10 + 10, 30.0 + 20.0 * window + host, tenant,
                            host % 2 ? DetectionType::kSynFlood : DetectionType::kVerticalScan,
                            flow::IpAddress::from_v4(0x0a000000 + host)));
      }
    }
  }
  IncidentTracker reference(config());
  const auto expected = fingerprint(reference.observe(batch));
  ASSERT_EQ(expected.size(), 12u);
  std::mt19937 rng(42);
  for (int trial = 0; trial < 20; ++trial) {
    std::shuffle(batch.begin(), batch.end(), rng);
    IncidentTracker tracker(config());
    EXPECT_EQ(fingerprint(tracker.observe(batch)), expected) << "trial " << trial << ", seed 42";
  }
}

TEST(IncidentTracker, OpenIncidentsSortedByTenantStartId) {
  IncidentTracker tracker(config());
  const std::vector<Detection> batch = {
      det(20, 30, 50, 2, DetectionType::kSynFlood, kVictim),
      det(50, 60, 50, 1, DetectionType::kSynFlood, kVictim),
      det(10, 20, 50, 1, DetectionType::kUdpFlood, kOther),
      det(50, 60, 50, 1, DetectionType::kIcmpFlood, kOther),
  };
  tracker.observe(batch);
  const auto open = tracker.open_incidents();
  ASSERT_EQ(open.size(), 4u);
  EXPECT_EQ(open[0].start_ns, 10 * kSecond);
  EXPECT_EQ(open[0].tenant_id, 1u);
  EXPECT_EQ(open[1].start_ns, 50 * kSecond);
  EXPECT_EQ(open[2].start_ns, 50 * kSecond);
  EXPECT_LT(open[1].id, open[2].id);
  EXPECT_EQ(open[3].tenant_id, 2u);
}

TEST(IncidentTracker, Names) {
  EXPECT_EQ(to_string(IncidentState::kOpen), "open");
  EXPECT_EQ(to_string(IncidentState::kClosed), "closed");
  EXPECT_EQ(to_string(IncidentEventKind::kOpen), "open");
  EXPECT_EQ(to_string(IncidentEventKind::kUpdate), "update");
  EXPECT_EQ(to_string(IncidentEventKind::kClose), "close");
}

TEST(IncidentTracker, ASlowDetectorKeepsItsIncidentOpenForTwoOfItsIntervals) {
  // A detector that looks every 5 minutes finds the same subject each time: with the plain
  // 60 s quiet period the incident would close and reopen between runs.
  IncidentTracker tracker(config());
  Detection d = det(0, 300, 50);
  d.repeat_ns = 300 * kSecond;
  ASSERT_EQ(observe(tracker, d).size(), 1u);
  EXPECT_TRUE(tracker.advance(540 * kSecond).empty());  // 300 + 60 passed, 300 + 2 × 300 not
  d.window_start_ns = 300 * kSecond;
  d.window_end_ns = 600 * kSecond;
  observe(tracker, d);
  EXPECT_EQ(tracker.stats().opened, 1u);
  EXPECT_TRUE(tracker.advance(1199 * kSecond).empty());
  const std::vector<IncidentEvent> closed = tracker.advance(1200 * kSecond);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].kind, IncidentEventKind::kClose);
  EXPECT_EQ(closed[0].incident.repeat_ns, 300 * kSecond);
}

}  // namespace
}  // namespace fathom::detect

namespace fathom::detect {
namespace {

// Cluster mode: an analyzer that takes over a tenant restores its open incidents from the
// store, so a detection of the continuing attack merges into the same id.
TEST(IncidentTracker, RestoredIncidentKeepsItsIdAndVersionsGoOn) {
  IncidentTracker first(config());
  auto events = observe(first, det(0, 10, 50));
  events = observe(first, det(10, 20, 80));  // severity level changes: update, version 2
  ASSERT_EQ(events.size(), 1u);
  const Incident moved = events[0].incident;
  ASSERT_EQ(moved.version, 2u);

  IncidentTracker next(config());
  EXPECT_TRUE(next.restore(moved));
  EXPECT_FALSE(next.restore(moved));  // its key is open here already
  Incident closed = moved;
  closed.state = IncidentState::kClosed;
  closed.subject = kOther;
  EXPECT_FALSE(next.restore(closed));  // only open incidents move
  ASSERT_EQ(next.open_incidents().size(), 1u);
  EXPECT_EQ(next.stats().opened, 0u);  // restoring emits nothing and opens nothing

  // Same level, no peak step, within the refresh interval: no event, merged silently.
  EXPECT_TRUE(observe(next, det(20, 30, 82)).empty());
  events = observe(next, det(30, 40, 95));  // critical now: an update of the same incident
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, IncidentEventKind::kUpdate);
  EXPECT_EQ(events[0].incident.id, moved.id);
  EXPECT_EQ(events[0].incident.version, 3u);
  EXPECT_EQ(events[0].incident.detections, moved.detections + 2);
  EXPECT_EQ(events[0].incident.start_ns, 0);
  events = next.advance(40 * kSecond + 60 * kSecond);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, IncidentEventKind::kClose);
  EXPECT_EQ(events[0].incident.id, moved.id);
  EXPECT_EQ(events[0].incident.version, 4u);
}

TEST(IncidentTracker, RestoreRespectsMaxOpen) {
  IncidentConfig c = config();
  c.max_open = 1;
  IncidentTracker tracker(c);
  observe(tracker, det(0, 10, 50));
  IncidentTracker other(config());
  const Incident inc =
      observe(other, det(0, 10, 50, 1, DetectionType::kSynFlood, kOther))[0].incident;
  EXPECT_FALSE(tracker.restore(inc));
  EXPECT_EQ(tracker.stats().dropped_over_capacity, 1u);
}

}  // namespace
}  // namespace fathom::detect
