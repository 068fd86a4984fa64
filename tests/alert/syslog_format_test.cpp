#include "alert/syslog_format.h"

#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "test_util.h"

namespace fathom::alert {
namespace {

TEST(CefTest, HeaderEscapesBackslashAndPipeOnly) {
  EXPECT_EQ(cef_escape_header(R"(a|b\c=d)"), R"(a\|b\\c=d)");
  EXPECT_EQ(cef_escape_header("line\nbreak\r"), "line break ");
}

TEST(CefTest, ExtensionEscapesBackslashEqualsAndNewlines) {
  EXPECT_EQ(cef_escape_extension(R"(a|b\c=d)"), R"(a|b\\c\=d)");
  EXPECT_EQ(cef_escape_extension("x\r\ny\nz"), R"(x\r\ny\nz)");
  EXPECT_EQ(cef_escape_extension("ünï"), "ünï");
}

TEST(CefTest, SeverityIsZeroToTen) {
  EXPECT_EQ(cef_severity(0), 0);
  EXPECT_EQ(cef_severity(44), 4);
  EXPECT_EQ(cef_severity(45), 5);
  EXPECT_EQ(cef_severity(100), 10);
  EXPECT_EQ(cef_severity(250), 10);
  EXPECT_EQ(cef_severity(-3), 0);
  EXPECT_EQ(cef_severity(std::nan("")), 0);
}

TEST(CefTest, FormatsHeaderAndExtensions) {
  auto event = testing::incident_event(detect::IncidentEventKind::kOpen, "00ff", 72, 4);
  event.incident.latest.summary = "a|b";
  const Alert alert = make_alert(AlertKind::kOpen, event, 1'700'000'000'123'000'000);
  EXPECT_EQ(format_cef(alert, "0.1.0"),
            "CEF:0|Fathom|Fathom|0.1.0|syn_flood|a\\|b|7|rt=1700000000123 cat=open "
            "externalId=00ff cs1Label=tenant cs1=4 cs2Label=subject cs2=10.0.0.5 cs3Label=level "
            "cs3=high cn1Label=severity cn1=72 start=1700000000000 end=1700000010000 msg=a|b");
}

TEST(SyslogFormatTest, Rfc3339WithMicroseconds) {
  EXPECT_EQ(rfc3339_utc(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(rfc3339_utc(1'700'000'000'123'456'789), "2023-11-14T22:13:20.123456Z");
}

TEST(SyslogFormatTest, SdParamValueEscapes) {
  EXPECT_EQ(sd_escape(R"(a"b\c]d)"), R"(a\"b\\c\]d)");
}

TEST(SyslogFormatTest, Rfc5424Header) {
  auto event = testing::incident_event(detect::IncidentEventKind::kOpen, "00ff", 95, 4);
  const Alert alert = make_alert(AlertKind::kOpen, event, 1'700'000'000'123'456'789);
  SyslogHeader header;
  header.facility = 10;
  header.hostname = "sensor one";
  header.procid = 77;
  const std::string message = format_rfc5424(alert, header, "0.1.0");
  // PRI 10 × 8 + 2 (critical).
  EXPECT_EQ(message.rfind("<82>1 2023-11-14T22:13:20.123456Z sensor_one fathom 77 open "
                          "[fathom@32473 kind=\"open\" incident=\"00ff\" tenant=\"4\" "
                          "level=\"critical\"] CEF:0|Fathom|",
                          0),
            0u)
      << message;
  EXPECT_EQ(octet_counted("abc"), "3 abc");
}

}  // namespace
}  // namespace fathom::alert
