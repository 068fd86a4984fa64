#include "app/logging.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "app/mini_json.h"

namespace fathom::app {
namespace {

using testing::MiniJson;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// The escaped body of the string member `key` of a one-line JSON object (MiniJson checks
/// the grammar but keeps only the character after each backslash, so values are read here).
std::string raw_member(const std::string& line, const std::string& key) {
  const std::string open = "\"" + key + "\":\"";
  const size_t start = line.find(open);
  if (start == std::string::npos) return "<missing>";
  size_t idx = start + open.size();
  const size_t begin = idx;
  while (idx < line.size() && line[idx] != '"') idx += line[idx] == '\\' ? 2 : 1;
  return line.substr(begin, idx - begin);
}

/// Decodes a JSON string body. \u escapes are taken from the Basic Multilingual Plane only,
/// which is all the formatter writes.
std::string json_unescape(const std::string& raw) {
  std::string out;
  for (size_t idx = 0; idx < raw.size(); ++idx) {
    if (raw[idx] != '\\') {
      out.push_back(raw[idx]);
      continue;
    }
    const char c = raw[++idx];
    switch (c) {
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'u': {
        const auto cp = static_cast<uint32_t>(std::stoul(raw.substr(idx + 1, 4), nullptr, 16));
        idx += 4;
        if (cp < 0x80) {
          out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
          out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
          out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
          out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
          out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
          out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
        break;
      }
      default: out.push_back(c);  // '"', '\\', '/'
    }
  }
  return out;
}

/// True if `text` is well-formed UTF-8 (a strict decoder, independent of the one under test).
bool is_utf8(const std::string& text) {
  size_t idx = 0;
  while (idx < text.size()) {
    const auto lead = static_cast<unsigned char>(text[idx]);
    size_t len = lead < 0x80           ? 1
                 : (lead >> 5) == 0x6  ? 2
                 : (lead >> 4) == 0xE  ? 3
                 : (lead >> 3) == 0x1E ? 4
                                       : 0;
    if (len == 0 || idx + len > text.size()) return false;
    uint32_t cp = len == 1 ? lead : lead & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      const auto cont = static_cast<unsigned char>(text[idx + k]);
      if ((cont & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cont & 0x3F);
    }
    const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    idx += len;
  }
  return true;
}

/// True for "YYYY-MM-DDTHH:MM:SS.mmmZ" (digits where the template has 'd').
bool is_timestamp(const std::string& text) {
  const std::string_view shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (text.size() != shape.size()) return false;
  for (size_t idx = 0; idx < shape.size(); ++idx) {
    const bool digit = text[idx] >= '0' && text[idx] <= '9';
    if (shape[idx] == 'd' ? !digit : text[idx] != shape[idx]) return false;
  }
  return true;
}

/// 2026-11-23T10:00:00.123Z
spdlog::log_clock::time_point fixed_time() {
  return spdlog::log_clock::time_point(std::chrono::milliseconds(int64_t{1795428000} * 1000 + 123));
}

/// Points logging at a string stream for the test and away from it afterwards (the stream
/// dies with the fixture; logging is process-wide).
class LoggingTest : public ::testing::Test {
 protected:
  void setup(LogLevel level, LogFormat format) {
    std::string error;
    ASSERT_TRUE(
        setup_logging(level, format, error, std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)))
        << error;
  }
  void TearDown() override {
    std::string error;
    EXPECT_TRUE(setup_logging(LogLevel::kInfo, LogFormat::kText, error,
                              std::make_shared<spdlog::sinks::null_sink_mt>()))
        << error;
  }
  std::ostringstream out_;
};

TEST_F(LoggingTest, JsonIsOneEscapedObjectPerLine) {
  setup(LogLevel::kInfo, LogFormat::kJson);
  const std::vector<std::string> messages = {"exporter said \"hi\"",
                                             "two\nlines\r\n",
                                             "back\\slash and /",
                                             "ctl \x01\x1f\t\b\f end",
                                             "ok é ✓ 𝄞",
                                             "",
                                             std::string("bad \xFF\xC3 utf8 \xED\xA0\x80"),
                                             "{\"not\":\"json\"}"};
  const std::vector<std::string> expected = {
      "exporter said \"hi\"",
      "two\nlines\r\n",
      "back\\slash and /",
      "ctl \x01\x1f\t\b\f end",
      "ok é ✓ 𝄞",
      "",
      "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8 \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD",
      "{\"not\":\"json\"}"};
  auto log = logger("collect");
  for (const std::string& message : messages) log->info("{}", message);

  const std::vector<std::string> lines = lines_of(out_.str());
  ASSERT_EQ(lines.size(), messages.size()) << out_.str();
  for (size_t line_idx = 0; line_idx < lines.size(); ++line_idx) {
    const std::string& line = lines[line_idx];
    EXPECT_TRUE(is_utf8(line)) << line;
    const auto object = MiniJson::parse_object(line);
    ASSERT_TRUE(object.has_value()) << line;
    EXPECT_EQ(object->size(), 4u) << line;
    EXPECT_TRUE(is_timestamp(object->at("ts"))) << line;
    EXPECT_EQ(object->at("level"), "info");
    EXPECT_EQ(object->at("logger"), "collect");
    EXPECT_EQ(json_unescape(raw_member(line, "msg")), expected[line_idx]) << line;
  }
}

TEST_F(LoggingTest, JsonHasFieldsInOrder) {
  setup(LogLevel::kInfo, LogFormat::kJson);
  logger("collect")->log(fixed_time(), {}, spdlog::level::warn, "queue full dropped=12");
  EXPECT_EQ(out_.str(),
            "{\"ts\":\"2026-11-23T10:00:00.123Z\",\"level\":\"warn\",\"logger\":\"collect\","
            "\"msg\":\"queue full dropped=12\"}\n");
}

TEST_F(LoggingTest, TextIsOneLinePerMessage) {
  setup(LogLevel::kInfo, LogFormat::kText);
  auto log = logger("collect");
  log->log(fixed_time(), {}, spdlog::level::info, "message key=value");
  log->log(fixed_time() + std::chrono::milliseconds(1005), {}, spdlog::level::err,
           std::string("forged\n2026-11-23T10:00:00.000Z info x: \x1b[31m \xFF"));
  EXPECT_EQ(out_.str(),
            "2026-11-23T10:00:00.123Z info collect: message key=value\n"
            "2026-11-23T10:00:01.128Z error collect: forged\\n2026-11-23T10:00:00.000Z info x: "
            "\\x1b[31m \\xff\n");
}

TEST_F(LoggingTest, TimestampsAreUtcMilliseconds) {
  setup(LogLevel::kInfo, LogFormat::kText);
  auto log = logger("t");
  using std::chrono::milliseconds;
  log->log(spdlog::log_clock::time_point(milliseconds(0)), {}, spdlog::level::info, "epoch");
  log->log(spdlog::log_clock::time_point(milliseconds(-1)), {}, spdlog::level::info, "before");
  log->log(spdlog::log_clock::time_point(milliseconds(int64_t{951782400} * 1000 + 7)), {},
           spdlog::level::info, "leap day");
  EXPECT_EQ(out_.str(),
            "1970-01-01T00:00:00.000Z info t: epoch\n"
            "1969-12-31T23:59:59.999Z info t: before\n"
            "2000-02-29T00:00:00.007Z info t: leap day\n");
}

TEST_F(LoggingTest, FiltersByLevel) {
  setup(LogLevel::kWarn, LogFormat::kJson);
  auto log = logger("transform");
  log->trace("t");
  log->debug("d");
  log->info("i");
  log->warn("w");
  log->error("e");
  log->critical("c");
  const std::vector<std::string> lines = lines_of(out_.str());
  ASSERT_EQ(lines.size(), 3u) << out_.str();
  EXPECT_EQ(MiniJson::parse_object(lines[0])->at("level"), "warn");
  EXPECT_EQ(MiniJson::parse_object(lines[1])->at("level"), "error");
  EXPECT_EQ(MiniJson::parse_object(lines[2])->at("level"), "critical");
  EXPECT_EQ(log_level(), LogLevel::kWarn);
}

TEST_F(LoggingTest, ChangesLevelAtRunTime) {
  setup(LogLevel::kInfo, LogFormat::kText);
  auto before = logger("collect");
  before->debug("hidden");
  EXPECT_EQ(out_.str(), "");

  set_log_level(LogLevel::kDebug);
  EXPECT_EQ(log_level(), LogLevel::kDebug);
  auto after = logger("analyze");  // made after the change: gets the new level too
  before->debug("shown");
  after->debug("shown too");
  EXPECT_EQ(lines_of(out_.str()).size(), 2u) << out_.str();

  set_log_level(LogLevel::kOff);
  before->critical("silenced");
  after->critical("silenced");
  EXPECT_EQ(lines_of(out_.str()).size(), 2u) << out_.str();
}

TEST_F(LoggingTest, LoggersShareOneSinkThatFollowsReconfiguration) {
  // Made before this test's setup: it must follow the new sink and format.
  auto early = logger("collect");
  EXPECT_EQ(logger("collect"), early);
  EXPECT_EQ(spdlog::get("collect"), early);  // parts without `app` find it by name

  setup(LogLevel::kInfo, LogFormat::kJson);
  early->info("from collect");
  logger("decode")->info("from decode");
  spdlog::info("from the default logger");
  const std::vector<std::string> lines = lines_of(out_.str());
  ASSERT_EQ(lines.size(), 3u) << out_.str();
  EXPECT_EQ(MiniJson::parse_object(lines[0])->at("logger"), "collect");
  EXPECT_EQ(MiniJson::parse_object(lines[1])->at("logger"), "decode");
  EXPECT_EQ(MiniJson::parse_object(lines[2])->at("logger"), "fathom");
}

TEST(LogFormat, ParsesAndNames) {
  LogFormat format = LogFormat::kText;
  EXPECT_TRUE(parse_log_format("json", format));
  EXPECT_EQ(format, LogFormat::kJson);
  EXPECT_TRUE(parse_log_format("text", format));
  EXPECT_EQ(format, LogFormat::kText);
  EXPECT_FALSE(parse_log_format("JSON", format));
  EXPECT_FALSE(parse_log_format("", format));
  EXPECT_EQ(format, LogFormat::kText);
  EXPECT_EQ(to_string(LogFormat::kJson), "json");
  EXPECT_EQ(to_string(LogFormat::kText), "text");
}

TEST(RateLimitedLog, LetsABurstThroughPerIntervalAndCountsTheRest) {
  using std::chrono::milliseconds;
  RateLimitedLog limiter(std::chrono::seconds(1), 2);
  const RateLimitedLog::Clock::time_point t0{};
  uint64_t suppressed = 99;

  EXPECT_TRUE(limiter.allow(t0, suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_TRUE(limiter.allow(t0 + milliseconds(1), suppressed));
  EXPECT_EQ(suppressed, 0u);
  for (int msg_idx = 0; msg_idx < 5; ++msg_idx) {
    suppressed = 99;
    EXPECT_FALSE(limiter.allow(t0 + milliseconds(500 + msg_idx), suppressed));
    EXPECT_EQ(suppressed, 99u);  // untouched when held back
  }
  EXPECT_FALSE(limiter.allow(t0 - milliseconds(10), suppressed));  // clock went back

  // Next window: the first message reports what was held back.
  EXPECT_TRUE(limiter.allow(t0 + milliseconds(1000), suppressed));
  EXPECT_EQ(suppressed, 6u);
  EXPECT_TRUE(limiter.allow(t0 + milliseconds(1001), suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_FALSE(limiter.allow(t0 + milliseconds(1002), suppressed));
  EXPECT_EQ(limiter.suppressed_total(), 7u);

  // A long quiet spell starts a fresh window at the next message.
  EXPECT_TRUE(limiter.allow(t0 + std::chrono::hours(1), suppressed));
  EXPECT_EQ(suppressed, 1u);
}

TEST(RateLimitedLog, ZeroBurstMeansOne) {
  RateLimitedLog limiter(std::chrono::seconds(10), 0);
  const RateLimitedLog::Clock::time_point t0{};
  uint64_t suppressed = 0;
  EXPECT_TRUE(limiter.allow(t0, suppressed));
  EXPECT_FALSE(limiter.allow(t0, suppressed));
}

}  // namespace
}  // namespace fathom::app
