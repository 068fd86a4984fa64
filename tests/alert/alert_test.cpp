#include "alert/alert.h"

#include <string>

#include <gtest/gtest.h>

#include "test_util.h"

namespace fathom::alert {
namespace {

TEST(AlertTest, JsonWrapsTheIncidentJson) {
  const auto event = testing::incident_event(detect::IncidentEventKind::kUpdate, "abc", 75, 7);
  const Alert alert = make_alert(AlertKind::kEscalation, event, 42);
  EXPECT_EQ(alert.level, detect::SeverityLevel::kHigh);
  EXPECT_EQ(alert.detection, "syn_flood");
  EXPECT_EQ(alert.subject, "10.0.0.5");
  EXPECT_EQ(
      alert.json.rfind("{\"type\":\"alert\",\"alert\":\"escalation\",\"level\":\"high\","
                       "\"tenant_id\":7,\"created_ns\":42,\"incident\":{\"type\":\"incident\"",
                       0),
      0u)
      << alert.json;
  EXPECT_EQ(alert.json.back(), '}');
}

TEST(AlertTest, SpoolRecordRoundTripsAndRejectsDamage) {
  auto event = testing::incident_event(detect::IncidentEventKind::kOpen, "abc", 91.5, 3);
  event.incident.latest.summary = "pipes | and \\ and = and\nnewline, ünïcode";
  const Alert alert = make_alert(AlertKind::kOpen, event, 99);
  const std::string record = encode_alert(alert);
  Alert back;
  ASSERT_TRUE(decode_alert(record, back));
  EXPECT_EQ(back.json, alert.json);
  EXPECT_EQ(back.summary, alert.summary);
  EXPECT_EQ(back.severity, 91.5);
  EXPECT_EQ(back.tenant_id, 3u);
  EXPECT_EQ(back.level, detect::SeverityLevel::kCritical);
  EXPECT_EQ(back.created_ns, 99);
  for (size_t cut = 0; cut < record.size(); ++cut) {
    EXPECT_FALSE(decode_alert(std::string_view(record).substr(0, cut), back)) << cut;
  }
  EXPECT_FALSE(decode_alert(record + "x", back));
  std::string bad_version = record;
  bad_version[0] = 9;
  EXPECT_FALSE(decode_alert(bad_version, back));
}

}  // namespace
}  // namespace fathom::alert
