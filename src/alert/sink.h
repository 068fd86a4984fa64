#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "alert/alert.h"
#include "alert/config.h"

namespace fathom::alert {

/// Outcome of one delivery attempt.
struct DeliveryResult {
  bool ok = false;
  /// When not ok: true = worth trying again later (timeout, refused, 5xx, 408, 429); false =
  /// the receiver rejected this alert and will again (4xx), so it is counted and dropped.
  bool retryable = false;
  std::string error;  ///< what went wrong, for the log ("HTTP 503", "connect: refused")

  static DeliveryResult success() { return {true, false, {}}; }
  static DeliveryResult retry(std::string why) { return {false, true, std::move(why)}; }
  static DeliveryResult permanent(std::string why) { return {false, false, std::move(why)}; }
};

/// One destination. `deliver` is called from that sink's own delivery thread only (one call at
/// a time), may block up to its configured timeout, and never throws.
class Sink {
 public:
  virtual ~Sink() = default;
  /// Sends `alert` once (the dispatcher retries).
  virtual DeliveryResult deliver(const Alert& alert) = 0;
  /// Errors the sink's client reported outside the result of a delivery (the Kafka sink:
  /// librdkafka's error callback); 0 for sinks without such a client. Any thread may call it.
  virtual uint64_t client_errors() const noexcept { return 0; }
};

/// The sink `config` describes (webhook, syslog, JSON lines or Kafka). Null with `error` set when
/// it cannot be built (an unparsable URL); an unreachable receiver is not an error here.
std::unique_ptr<Sink> make_sink(const SinkConfig& config, std::string& error);

}  // namespace fathom::alert
