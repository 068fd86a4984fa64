#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "alert/sink.h"

namespace httplib {
class Client;
}

namespace fathom::alert {

/// Header carrying the request's signing time (Unix seconds).
inline constexpr std::string_view kTimestampHeader = "X-Fathom-Timestamp";
/// Header carrying "sha256=<hex HMAC>" when the sink has a secret.
inline constexpr std::string_view kSignatureHeader = "X-Fathom-Signature";

/// "sha256=" and the 64 lower-case hex digits of HMAC-SHA256(`secret`, `timestamp` + "." +
/// `body`): what a receiver recomputes to check the request (docs/alerting.md). Signing the
/// timestamp with the body is what lets a receiver refuse a replayed request.
std::string webhook_signature(std::string_view secret, std::string_view timestamp,
                              std::string_view body);

/// POSTs each alert's JSON to a URL. 2xx is delivered; 408, 429, 5xx, timeouts and
/// connection errors are retryable; any other status is a permanent failure.
class WebhookSink final : public Sink {
 public:
  /// Null with `error` set when `config.url` does not parse.
  static std::unique_ptr<WebhookSink> create(const SinkConfig& config, std::string& error);
  ~WebhookSink() override;

  DeliveryResult deliver(const Alert& alert) override;

 private:
  WebhookSink(const SinkConfig& config, std::string origin, std::string path);

  SinkConfig config_;
  std::string path_;
  std::unique_ptr<httplib::Client> client_;
};

/// Maps an HTTP status to a delivery result (the classification above).
DeliveryResult classify_http_status(int status);

}  // namespace fathom::alert
