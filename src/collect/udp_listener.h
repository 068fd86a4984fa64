#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
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

/// How the sockets of a listener are set up. `listen_options(const Config&)` in
/// collect/socket_group.h fills it from the collector's config.
struct ListenOptions {
  /// SO_RCVBUF asked for each socket; 0 keeps the kernel default (net.core.rmem_default).
  /// Values above INT_MAX / 2 are cut to it (the kernel's own limit).
  uint32_t receive_buffer_bytes = 8 * 1024 * 1024;
  /// Try SO_RCVBUFFORCE first, which passes net.core.rmem_max when the process has
  /// CAP_NET_ADMIN; without the capability it fails and plain SO_RCVBUF (capped) is used.
  bool force_receive_buffer = true;
  /// Most datagrams one `receive` returns (the recvmmsg vector length); clamped to 1..1024
  /// (UIO_MAXIOV, the kernel's limit for one recvmmsg).
  uint32_t batch_size = 64;
};

/// What became of a socket's SO_RCVBUF request.
struct ReceiveBufferReport {
  uint64_t requested_bytes = 0;  ///< what was asked (0: left at the kernel default)
  /// What the kernel granted, in the unit of the request: Linux doubles the value (for its
  /// bookkeeping overhead) and reports the double through getsockopt; this is half of it.
  uint64_t granted_bytes = 0;
  bool forced = false;  ///< SO_RCVBUFFORCE was accepted (CAP_NET_ADMIN), so rmem_max did not apply
  bool capped = false;  ///< granted < requested: the kernel cut the request (see rmem_max)
  uint64_t rmem_max = 0;  ///< /proc/sys/net/core/rmem_max when opened; 0 if unreadable
};

/// One datagram received by `UdpListener::receive`. `payload` points into the listener's
/// buffers and is valid until the next `receive`.
struct ReceivedDatagram {
  flow::IpAddress src;
  uint16_t src_port = 0;
  uint16_t local_port = 0;  ///< the port it arrived on
  int64_t arrival_ns = 0;   ///< wall clock when the batch was received
  std::span<const std::byte> payload;
};

/// Counters of a listener, or of one of its sockets. A snapshot: plain values, safe to keep.
struct UdpListenerStats {
  uint64_t datagrams = 0;  ///< datagrams received
  uint64_t bytes = 0;      ///< payload bytes received
  uint64_t truncated = 0;  ///< datagrams larger than the receive buffer (cut, still delivered)
  uint64_t errors = 0;     ///< receive errors other than "nothing to read"
  /// Datagrams the kernel dropped because the socket's receive buffer was full (SO_RXQ_OVFL).
  /// The kernel stamps its running count on each datagram it queues, so drops show up here
  /// when the next datagram after them is read, not while the socket stays idle.
  uint64_t kernel_drops = 0;
};

/// A snapshot of one socket: where it is bound, its receive buffer and its counters.
struct SocketStats {
  uint32_t listener = 0;          ///< index of the listener (receive thread) that owns the socket
  std::string endpoint;           ///< as bound, port resolved: "127.0.0.1:2055", "[::]:4739"
  flow::IpAddress local_address;  ///< as bound (v4-mapped for IPv4; `::` for any)
  uint16_t local_port = 0;
  int family = 0;           ///< AF_INET or AF_INET6
  bool dual_stack = false;  ///< AF_INET6 with IPV6_V6ONLY off: IPv4 arrives v4-mapped
  ReceiveBufferReport receive_buffer;
  UdpListenerStats counters;
};

/// Non-blocking UDP sockets on one or more endpoints, drained with recvmmsg after poll. Each
/// "any" endpoint is one IPv6 socket with IPV6_V6ONLY off (IPv4 arrives v4-mapped), falling
/// back to IPv4 only where IPv6 is unavailable.
///
/// Threads: one thread (the owner) calls `receive`. `stats`, `socket_stats` and the accessors
/// may be called from any thread at any time: every counter is a std::atomic<uint64_t> that
/// only the owner writes (a relaxed load and store per recvmmsg call, no read-modify-write)
/// and readers load with relaxed order, so a snapshot's counters are each exact but may be
/// from slightly different moments. Everything else is fixed when the listener is opened.
///
/// Several receive threads share endpoints through `UdpListenerGroup` (collect/socket_group.h),
/// which opens one UdpListener per thread.
class UdpListener {
 public:
  /// Default of `ListenOptions::batch_size`, kept for callers that size their vectors by it.
  static constexpr size_t kBatch = 64;
  /// Most datagrams one `receive` can return, whatever the options say (UIO_MAXIOV).
  static constexpr size_t kMaxBatch = 1024;
  /// Largest datagram kept whole (a UDP payload cannot be larger).
  static constexpr size_t kMaxDatagram = 65535;

  /// Binds every endpoint, one socket each, without SO_REUSEPORT (so a port already in use
  /// fails). Returns nullptr and sets `error` (naming the endpoint) if any fails.
  static std::unique_ptr<UdpListener> open(const std::vector<ListenEndpoint>& endpoints,
                                           std::string& error);
  /// As above, with socket options and batch size.
  static std::unique_ptr<UdpListener> open(const std::vector<ListenEndpoint>& endpoints,
                                           const ListenOptions& options, std::string& error);
  ~UdpListener();
  UdpListener(const UdpListener&) = delete;
  UdpListener& operator=(const UdpListener&) = delete;

  /// Waits up to `timeout_ms` (-1: forever) until a socket is readable or `wake_fd` (if >= 0:
  /// an eventfd per thread for shutdown, a signalfd, a pipe) is, then receives what is ready
  /// into `out` (cleared first), at most `batch_size()` datagrams; sockets take turns being
  /// drained first so a busy one cannot starve the others. Does not read `wake_fd`. Returns
  /// false only on a poll error other than EINTR. `woken` is set when `wake_fd` was readable.
  bool receive(int timeout_ms, std::vector<ReceivedDatagram>& out, int wake_fd = -1,
               bool* woken = nullptr);

  /// The ports actually bound, one per socket (port 0 resolved to the kernel's choice).
  std::vector<uint16_t> local_ports() const;
  /// Most datagrams one `receive` returns.
  size_t batch_size() const noexcept { return batch_size_; }
  /// Index of this listener in its group (0 when opened alone).
  uint32_t index() const noexcept { return index_; }
  /// Counters summed over the sockets. Safe from any thread (see the class comment).
  UdpListenerStats stats() const noexcept;
  /// One snapshot per socket, in endpoint order. Safe from any thread; allocates.
  std::vector<SocketStats> socket_stats() const;

 private:
  friend class UdpListenerGroup;
  UdpListener() = default;
  /// Sets up the buffers and recvmmsg vectors for `batch_size`, once the sockets are added.
  /// Returns false and sets `error` if the buffers cannot be mapped.
  bool prepare(uint32_t batch_size, std::string& error);
  void drain(size_t socket_idx, std::vector<ReceivedDatagram>& out, int64_t now_ns);

  /// Written by the owning thread only; read by anyone (relaxed).
  struct Counters {
    std::atomic<uint64_t> datagrams{0};
    std::atomic<uint64_t> bytes{0};
    std::atomic<uint64_t> truncated{0};
    std::atomic<uint64_t> errors{0};
    std::atomic<uint64_t> kernel_drops{0};
  };
  /// One bound socket. Aligned to a cache line so sockets owned by different threads never
  /// share one through their counters.
  struct alignas(64) Socket {
    int fd = -1;
    uint16_t port = 0;
    int family = 0;
    bool dual_stack = false;
    flow::IpAddress address;
    std::string endpoint;
    ReceiveBufferReport receive_buffer;
    uint32_t last_drop_count = 0;  ///< latest SO_RXQ_OVFL value seen (owner only)
    Counters counters;
  };

  std::vector<std::unique_ptr<Socket>> sockets_;
  uint32_t index_ = 0;
  size_t batch_size_ = kBatch;
  size_t next_first_ = 0;  ///< socket drained first on the next receive (round robin)
  /// batch_size_ slots of kMaxDatagram bytes, mapped lazily (see prepare()).
  std::byte* buffers_ = nullptr;
  size_t buffers_len_ = 0;
  // recvmmsg vectors, one entry per slot, set up once; only the lengths are reset per call.
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iovs_;
  std::vector<sockaddr_storage> addrs_;
  std::vector<std::byte> controls_;  ///< kControlLen bytes per slot, cmsghdr-aligned
  std::vector<pollfd> pollfds_;
};

}  // namespace fathom::collect
