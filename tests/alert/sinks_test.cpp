#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "alert/json_lines_sink.h"
#include "alert/syslog_sink.h"
#include "alert/webhook_sink.h"
#include "app/mini_json.h"
#include "receivers.h"
#include "test_util.h"

namespace fathom::alert {
namespace {

using testing::incident_event;

/// Everything CEF and RFC 5424 must escape, and non-ASCII.
constexpr const char* kNasty = "pipe|back\\slash=equals\nnew\rline ]\"quote\" ünï 日本 ";

Alert nasty_alert() {
  auto event = incident_event(detect::IncidentEventKind::kOpen, "0123456789abcdef", 93, 12);
  event.incident.latest.summary = kNasty;
  event.incident.detail = "a=b|c";
  return make_alert(AlertKind::kOpen, event, 1'700'000'000'123'456'000);
}

std::string reference_hmac(const std::string& key, const std::string& message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &len);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", digest[i]);
    hex += buf;
  }
  return "sha256=" + hex;
}

TEST(WebhookSinkTest, StatusClassification) {
  EXPECT_TRUE(classify_http_status(200).ok);
  EXPECT_TRUE(classify_http_status(204).ok);
  for (const int status : {408, 429, 500, 502, 503, 504}) {
    const DeliveryResult r = classify_http_status(status);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(r.retryable) << status;
  }
  for (const int status : {301, 400, 401, 403, 404, 413, 422}) {
    const DeliveryResult r = classify_http_status(status);
    EXPECT_FALSE(r.ok);
    EXPECT_FALSE(r.retryable) << status;
  }
}

TEST(WebhookSinkTest, SignatureIsHmacSha256OfTimestampDotBody) {
  // RFC 4231 test case 2, split at a '.' we add: key "Jefe".
  EXPECT_EQ(webhook_signature("Jefe", "what do ya want for nothing?", ""),
            reference_hmac("Jefe", "what do ya want for nothing?."));
  EXPECT_EQ(reference_hmac("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(WebhookSinkTest, PostsSignedJsonAndMapsStatuses) {
  testing::HttpReceiver ok(0);
  SinkConfig config;
  config.name = "hook";
  config.kind = SinkKind::kWebhook;
  config.url = ok.url();
  config.hmac_secret = "s3cret";
  config.headers = {{"X-Extra", "1"}};
  std::string error;
  auto sink = WebhookSink::create(config, error);
  ASSERT_TRUE(sink) << error;
  const Alert alert = nasty_alert();
  EXPECT_TRUE(sink->deliver(alert).ok);
  const auto received = ok.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].body, alert.json);
  EXPECT_EQ(received[0].signature,
            reference_hmac("s3cret", received[0].timestamp + "." + received[0].body));

  testing::HttpReceiver bad(1000, 400);
  config.url = bad.url();
  sink = WebhookSink::create(config, error);
  const DeliveryResult rejected = sink->deliver(alert);
  EXPECT_FALSE(rejected.ok);
  EXPECT_FALSE(rejected.retryable);
  EXPECT_EQ(rejected.error, "HTTP 400");

  config.url = "http://127.0.0.1:" + std::to_string(testing::unused_port()) + "/hook";
  sink = WebhookSink::create(config, error);
  const DeliveryResult refused = sink->deliver(alert);
  EXPECT_FALSE(refused.ok);
  EXPECT_TRUE(refused.retryable);

  config.url = "not a url";
  EXPECT_FALSE(WebhookSink::create(config, error));
  EXPECT_NE(error.find("url"), std::string::npos);
}

/// Checks one received syslog message against `alert` field by field.
void expect_syslog_of(const std::string& text, const Alert& alert) {
  const auto m = testing::parse_rfc5424(text);
  ASSERT_TRUE(m) << text;
  EXPECT_EQ(m->pri, 4 * 8 + 2);  // facility 4 (auth), critical → severity 2
  EXPECT_EQ(m->version, "1");
  EXPECT_TRUE(
      std::regex_match(m->timestamp, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")))
      << m->timestamp;
  EXPECT_EQ(m->timestamp, "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(m->hostname, "probe-1");
  EXPECT_EQ(m->app_name, "fathom");
  EXPECT_EQ(m->procid, std::to_string(getpid()));
  EXPECT_EQ(m->msgid, "open");
  EXPECT_EQ(m->sd_params.at("incident"), alert.incident_id);
  EXPECT_EQ(m->sd_params.at("tenant"), "12");
  EXPECT_EQ(m->sd_params.at("level"), "critical");
  const auto cef = testing::parse_cef(m->msg);
  ASSERT_TRUE(cef) << m->msg;
  ASSERT_EQ(cef->header.size(), 6u);
  EXPECT_EQ(cef->header[0], "Fathom");
  EXPECT_EQ(cef->header[1], "Fathom");
  EXPECT_EQ(cef->header[3], "syn_flood");
  // The header cannot hold newlines: they became spaces; the rest is back exactly.
  EXPECT_EQ(cef->header[4], "pipe|back\\slash=equals new line ]\"quote\" ünï 日本 ");
  EXPECT_EQ(cef->header[5], "9");
  EXPECT_EQ(cef->extensions.at("msg"), kNasty);
  EXPECT_EQ(cef->extensions.at("cs4"), "a=b|c");
  EXPECT_EQ(cef->extensions.at("externalId"), alert.incident_id);
  EXPECT_EQ(cef->extensions.at("cs1"), "12");
  EXPECT_EQ(cef->extensions.at("cs2"), "10.0.0.5");
  EXPECT_EQ(cef->extensions.at("cat"), "open");
  EXPECT_EQ(cef->extensions.at("rt"), "1700000000123");
}

SinkConfig syslog_config(SyslogTransport transport, uint16_t port) {
  SinkConfig config;
  config.name = "syslog";
  config.kind = SinkKind::kSyslog;
  config.host = "127.0.0.1";
  config.port = port;
  config.transport = transport;
  config.facility = 4;
  config.hostname = "probe-1";
  config.timeout_ms = 2000;
  return config;
}

TEST(SyslogSinkTest, UdpOneMessagePerDatagram) {
  uint16_t port = 0;
  const int fd = testing::bound_socket(SOCK_DGRAM, port);
  SyslogSink sink(syslog_config(SyslogTransport::kUdp, port));
  const Alert alert = nasty_alert();
  ASSERT_TRUE(sink.deliver(alert).ok);
  ASSERT_TRUE(sink.deliver(alert).ok);
  for (int message_idx = 0; message_idx < 2; ++message_idx) {
    char buf[65536];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    expect_syslog_of(std::string(buf, static_cast<size_t>(n)), alert);
  }
  close(fd);
}

/// Reads octet-counted frames (RFC 6587 §3.4.1) from `fd` until `count` or EOF.
std::vector<std::string> read_frames(int fd, size_t count) {
  std::vector<std::string> frames;
  std::string stream;
  char buf[4096];
  while (frames.size() < count) {
    const size_t space = stream.find(' ');
    if (space != std::string::npos) {
      // MSG-LEN is NONZERO-DIGIT *DIGIT.
      EXPECT_TRUE(std::regex_match(stream.substr(0, space), std::regex("[1-9][0-9]*")));
      const size_t len = std::stoul(stream.substr(0, space));
      if (stream.size() >= space + 1 + len) {
        frames.push_back(stream.substr(space + 1, len));
        stream.erase(0, space + 1 + len);
        continue;
      }
    }
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    stream.append(buf, static_cast<size_t>(n));
  }
  EXPECT_TRUE(stream.empty()) << "bytes after the last frame: " << stream;
  return frames;
}

TEST(SyslogSinkTest, TcpOctetCountingAndReconnect) {
  uint16_t port = 0;
  const int listener = testing::bound_socket(SOCK_STREAM, port);
  ASSERT_EQ(listen(listener, 4), 0);
  SyslogSink sink(syslog_config(SyslogTransport::kTcp, port));
  const Alert alert = nasty_alert();
  for (int message_idx = 0; message_idx < 3; ++message_idx) ASSERT_TRUE(sink.deliver(alert).ok);
  const int conn = accept(listener, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  timeval guard{10, 0};
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
  const auto frames = read_frames(conn, 3);
  ASSERT_EQ(frames.size(), 3u);
  for (const std::string& frame : frames) expect_syslog_of(frame, alert);

  // The receiver goes away: the sink notices the closed connection and connects again.
  close(conn);
  std::vector<std::string> after;
  const bool delivered = testing::wait_for([&] {
    if (!sink.deliver(alert).ok) return false;
    const int again = accept(listener, nullptr, nullptr);
    if (again < 0) return false;
    setsockopt(again, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
    after = read_frames(again, 1);
    close(again);
    return after.size() == 1;
  });
  ASSERT_TRUE(delivered);
  expect_syslog_of(after[0], alert);
  close(listener);
}

TEST(SyslogSinkTest, DeadTcpPortIsRetryable) {
  SyslogSink sink(
      syslog_config(SyslogTransport::kTcp, static_cast<uint16_t>(testing::unused_port())));
  const DeliveryResult r = sink.deliver(nasty_alert());
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.retryable);
  EXPECT_NE(r.error.find("connect"), std::string::npos) << r.error;
}

TEST(JsonLinesSinkTest, AppendsOneParsableObjectPerLineAndFollowsRotation) {
  const std::string dir = ::testing::TempDir() + "/alert_json_lines";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/alerts.jsonl";
  JsonLinesSink sink(path);
  const Alert alert = nasty_alert();
  ASSERT_TRUE(sink.deliver(alert).ok);
  ASSERT_TRUE(sink.deliver(alert).ok);
  std::filesystem::rename(path, path + ".1");  // logrotate
  ASSERT_TRUE(sink.deliver(alert).ok);

  auto lines_of = [](const std::string& file) {
    std::ifstream in(file);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  };
  const auto rotated = lines_of(path + ".1");
  const auto current = lines_of(path);
  ASSERT_EQ(rotated.size(), 2u);
  ASSERT_EQ(current.size(), 1u);
  for (const std::string& line : rotated) {
    const auto obj = fathom::testing::MiniJson::parse_object(line);
    ASSERT_TRUE(obj) << line;
    EXPECT_EQ(obj->at("type"), "alert");
    EXPECT_EQ(obj->at("alert"), "open");
    EXPECT_EQ(obj->at("level"), "critical");
    EXPECT_EQ(obj->at("tenant_id"), "12");
  }
  EXPECT_TRUE(fathom::testing::MiniJson::parse_object(current[0]));

  JsonLinesSink nowhere(dir + "/missing/dir/alerts.jsonl");
  const DeliveryResult r = nowhere.deliver(alert);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.retryable);
}

}  // namespace
}  // namespace fathom::alert
