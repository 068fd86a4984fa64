#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "flow/ip_address.h"

namespace fathom::collect {

/// Where to listen: an address (empty = every IPv4 and IPv6 address) and a UDP port.
struct ListenEndpoint {
  std::string host;  ///< numeric address or name; empty for "any" (dual-stack)
  uint16_t port = 0;
};

/// Parses "HOST:PORT", "[V6ADDR]:PORT", ":PORT" or "PORT". Returns false and sets `error` on
/// anything else (no port, port out of range, unbalanced brackets).
bool parse_listen_endpoint(const std::string& text, ListenEndpoint& out, std::string& error);

/// One datagram received by `UdpListener::receive`. `payload` points into the listener's
/// buffers and is valid until the next `receive`.
struct ReceivedDatagram {
  flow::IpAddress src;
  uint16_t src_port = 0;
  uint16_t local_port = 0;  ///< the port it arrived on
  int64_t arrival_ns = 0;   ///< wall clock when the batch was received
  std::span<const std::byte> payload;
};

/// Counters of the listener (owned by its one thread).
struct UdpListenerStats {
  uint64_t datagrams = 0;  ///< datagrams received
  uint64_t bytes = 0;      ///< payload bytes received
  uint64_t truncated = 0;  ///< datagrams larger than the receive buffer (cut, still delivered)
  uint64_t errors = 0;     ///< receive errors other than "nothing to read"
};

/// Non-blocking UDP sockets on one or more endpoints, drained with recvmmsg after poll. Each
/// "any" endpoint is one IPv6 socket with IPV6_V6ONLY off (IPv4 arrives v4-mapped), falling
/// back to IPv4 only where IPv6 is unavailable. Not thread-safe: one thread calls receive.
class UdpListener {
 public:
  /// Most datagrams one `receive` returns; each socket is drained up to this many per call.
  static constexpr size_t kBatch = 64;
  /// Largest datagram kept whole (a UDP payload cannot be larger).
  static constexpr size_t kMaxDatagram = 65535;

  /// Binds every endpoint. Returns nullptr and sets `error` (naming the endpoint) if any fails.
  static std::unique_ptr<UdpListener> open(const std::vector<ListenEndpoint>& endpoints,
                                           std::string& error);
  ~UdpListener();
  UdpListener(const UdpListener&) = delete;
  UdpListener& operator=(const UdpListener&) = delete;

  /// Waits up to `timeout_ms` (-1: forever) until a socket is readable or `wake_fd` (if >= 0,
  /// e.g. a signalfd) is, then receives what is ready into `out` (cleared first). Returns
  /// false only on a poll error other than EINTR. `woken` is set when `wake_fd` was readable.
  bool receive(int timeout_ms, std::vector<ReceivedDatagram>& out, int wake_fd = -1,
               bool* woken = nullptr);

  /// The ports actually bound, one per socket (port 0 resolved to the kernel's choice).
  std::vector<uint16_t> local_ports() const;
  const UdpListenerStats& stats() const noexcept { return stats_; }

 private:
  UdpListener() = default;
  void drain(size_t socket_idx, std::vector<ReceivedDatagram>& out, int64_t now_ns);

  struct Socket {
    int fd = -1;
    uint16_t port = 0;
  };
  std::vector<Socket> sockets_;
  std::vector<std::byte> buffers_;  ///< kBatch * kMaxDatagram bytes, reused
  UdpListenerStats stats_;
};

}  // namespace fathom::collect
