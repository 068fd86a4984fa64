#pragma once

// A UDP socket bound to a chosen loopback source address, so one test process can play many
// exporters: Linux routes all of 127.0.0.0/8 to `lo`, and the collector sees 127.0.0.x as the
// exporter address.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace fathom::e2e {

class UdpSender {
 public:
  /// Binds an IPv4 UDP socket to `source_address` ("127.0.0.11") and `source_port` (0: the
  /// kernel picks one). Returns nullptr and sets `error` when the address does not parse or
  /// the bind fails.
  static std::unique_ptr<UdpSender> open(const std::string& source_address, uint16_t source_port,
                                         std::string& error);
  ~UdpSender();
  UdpSender(const UdpSender&) = delete;
  UdpSender& operator=(const UdpSender&) = delete;

  /// Sends one datagram (any length, 0 included, up to 65507) to 127.0.0.1:`port`. Returns
  /// false when the kernel refuses it.
  bool send_to(uint16_t port, std::span<const std::byte> payload);

  const std::string& address() const noexcept { return address_; }
  /// The bound source port.
  uint16_t port() const noexcept { return port_; }

 private:
  UdpSender() = default;
  int fd_ = -1;
  std::string address_;
  uint16_t port_ = 0;
};

}  // namespace fathom::e2e
