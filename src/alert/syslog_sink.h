#pragma once

#include <string>

#include "alert/sink.h"
#include "alert/syslog_format.h"

namespace fathom::alert {

/// Sends each alert as an RFC 5424 message with a CEF payload: over UDP one message per
/// datagram (RFC 5426), over TCP octet-counted (RFC 6587 §3.4.1) on a connection kept open and
/// re-established after an error. Every failure (resolve, connect, send) is retryable.
class SyslogSink final : public Sink {
 public:
  explicit SyslogSink(const SinkConfig& config);
  ~SyslogSink() override;
  SyslogSink(const SyslogSink&) = delete;
  SyslogSink& operator=(const SyslogSink&) = delete;

  DeliveryResult deliver(const Alert& alert) override;

  /// Largest UDP message sent; longer ones are cut (RFC 5426 §3.2 allows truncation).
  static constexpr size_t kMaxDatagram = 65'000;

 private:
  bool connect_socket(std::string& error);
  void close_socket();

  SinkConfig config_;
  SyslogHeader header_;
  int fd_ = -1;
};

}  // namespace fathom::alert
