#include "alert/webhook_sink.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <utility>

#include <httplib.h>

namespace fathom::alert {
namespace {

/// Splits "scheme://host[:port][/path]" into origin and path ("/" when absent).
bool split_url(const std::string& url, std::string& origin, std::string& path) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return false;
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return false;
  const size_t host_begin = scheme_end + 3;
  const size_t path_begin = url.find('/', host_begin);
  origin = url.substr(0, path_begin);
  path = path_begin == std::string::npos ? "/" : url.substr(path_begin);
  return origin.size() > host_begin;
}

}  // namespace

std::string webhook_signature(std::string_view secret, std::string_view timestamp,
                              std::string_view body) {
  std::string message(timestamp);
  message += '.';
  message += body;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &digest_len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int byte_idx = 0; byte_idx < digest_len; ++byte_idx) {
    out += kHex[digest[byte_idx] >> 4];
    out += kHex[digest[byte_idx] & 0x0f];
  }
  return out;
}

DeliveryResult classify_http_status(int status) {
  if (status >= 200 && status < 300) return DeliveryResult::success();
  std::string why = "HTTP " + std::to_string(status);
  // RFC 9110 §15.5.9 (408) and RFC 6585 §4 (429): the receiver asks to be tried again.
  if (status == 408 || status == 429 || status >= 500) return DeliveryResult::retry(why);
  return DeliveryResult::permanent(why);
}

std::unique_ptr<WebhookSink> WebhookSink::create(const SinkConfig& config, std::string& error) {
  std::string origin;
  std::string path;
  if (!split_url(config.url, origin, path)) {
    error = "alert sink '" + config.name + "': cannot parse url '" + config.url + "'";
    return nullptr;
  }
  return std::unique_ptr<WebhookSink>(new WebhookSink(config, std::move(origin), std::move(path)));
}

WebhookSink::WebhookSink(const SinkConfig& config, std::string origin, std::string path)
    : config_(config), path_(std::move(path)), client_(std::make_unique<httplib::Client>(origin)) {
  const time_t sec = static_cast<time_t>(config_.timeout_ms / 1000);
  const time_t usec = static_cast<time_t>((config_.timeout_ms % 1000) * 1000);
  client_->set_connection_timeout(sec, usec);
  client_->set_read_timeout(sec, usec);
  client_->set_write_timeout(sec, usec);
  client_->set_keep_alive(false);
  client_->enable_server_certificate_verification(config_.verify_tls);
}

WebhookSink::~WebhookSink() = default;

DeliveryResult WebhookSink::deliver(const Alert& alert) {
  httplib::Headers headers;
  for (const auto& [name, value] : config_.headers) headers.emplace(name, value);
  const std::string timestamp =
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count());
  headers.emplace(std::string(kTimestampHeader), timestamp);
  if (!config_.hmac_secret.empty()) {
    headers.emplace(std::string(kSignatureHeader),
                    webhook_signature(config_.hmac_secret, timestamp, alert.json));
  }
  const httplib::Result result = client_->Post(path_, headers, alert.json, "application/json");
  if (!result)
    return DeliveryResult::retry("POST " + config_.url + ": " + httplib::to_string(result.error()));
  return classify_http_status(result->status);
}

}  // namespace fathom::alert
