#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "collect/config.h"
#include "collect/udp_listener.h"
#include "flow/ip_address.h"

namespace fathom::collect {

/// The socket options and batch size `config` asks for.
ListenOptions listen_options(const Config& config);

/// N receive threads sharing every endpoint: for each endpoint, N sockets bound to the same
/// address and port with SO_REUSEPORT, and listener i (thread i) holding socket i of every
/// endpoint. A classic BPF program attached to each SO_REUSEPORT group
/// (SO_ATTACH_REUSEPORT_CBPF) sends each datagram to socket `shard_of(source address, N)`, so
/// every datagram of one exporter address, from whatever source port, reaches the same thread
/// and so the same decoder state (templates, options sampling rates).
/// docs/decisions/0003-exporter-affinity.md says why.
///
/// With N == 1 the sockets are bound without SO_REUSEPORT and no program is needed.
/// Threads: see UdpListener; the group itself is not changed after `open`, so any thread may
/// read it while it lives. It must outlive the threads using its listeners.
class UdpListenerGroup {
 public:
  /// Most receive threads (sockets per endpoint) a group may have.
  static constexpr uint32_t kMaxThreads = 64;

  /// Binds `threads` sockets (clamped to 1..kMaxThreads) per endpoint. An endpoint's port 0
  /// is resolved once and every socket of it binds that port. Before joining a group the
  /// endpoint is bound once without SO_REUSEPORT and released, so a port that another
  /// process holds fails here instead of being silently shared with it. Returns nullptr and
  /// sets `error` (naming the endpoint) if any socket cannot be bound. A BPF program the
  /// kernel refuses does not fail the open: see `steering()`.
  static std::unique_ptr<UdpListenerGroup> open(const std::vector<ListenEndpoint>& endpoints,
                                                uint32_t threads, const ListenOptions& options,
                                                std::string& error);

  /// The listener (receive thread) that the kernel gives datagrams from `exporter` to, in a
  /// group of `shards` listeners with steering on; the BPF program computes exactly this, so
  /// state-file loading and pcap replay can place exporters where live traffic goes. IPv4
  /// (v4-mapped) hashes its 4 bytes, IPv6 the XOR of its four 32-bit words (each read big
  /// endian); then h ^= h >> 16, h *= 0x9E3779B1, h >>= 16, h %= shards. Returns 0 when
  /// `shards` is 0 or 1.
  static uint32_t shard_of(const flow::IpAddress& exporter, uint32_t shards) noexcept;

  ~UdpListenerGroup();
  UdpListenerGroup(const UdpListenerGroup&) = delete;
  UdpListenerGroup& operator=(const UdpListenerGroup&) = delete;

  /// Number of listeners (receive threads).
  size_t size() const noexcept { return listeners_.size(); }
  /// Listener `idx` (< size()), for thread `idx` only to receive on.
  UdpListener& listener(size_t idx) noexcept { return *listeners_[idx]; }
  const UdpListener& listener(size_t idx) const noexcept { return *listeners_[idx]; }

  /// True when every exporter address reaches exactly listener `shard_of(address, size())`:
  /// always with one listener; with more, when the kernel accepted the BPF program on every
  /// endpoint. When false, the kernel spreads datagrams by 4-tuple hash (an exporter's
  /// source ports may land on different threads) and the caller should reopen with one
  /// thread or share decoder state.
  bool steering() const noexcept { return steering_error_.empty(); }
  /// Why steering is off, naming the endpoint and the errno text; empty when it is on.
  const std::string& steering_error() const noexcept { return steering_error_; }

  /// net.core.rmem_max read at open (bytes; 0 if unreadable).
  uint64_t rmem_max() const noexcept { return rmem_max_; }
  /// When the kernel granted less receive buffer than asked on any socket, a one-line
  /// explanation for the log ("kernel capped the receive buffer at G bytes of R asked
  /// (net.core.rmem_max = M; raise it with sysctl -w net.core.rmem_max=R)"); empty otherwise.
  std::string receive_buffer_warning() const;

  /// Every socket of every listener (listener-major). Safe from any thread; allocates.
  std::vector<SocketStats> socket_stats() const;
  /// Counters summed over every socket. Safe from any thread.
  UdpListenerStats stats() const noexcept;

 private:
  UdpListenerGroup() = default;
  friend class UdpListener;  // UdpListener::open is a group of one

  std::vector<std::unique_ptr<UdpListener>> listeners_;
  std::string steering_error_;
  uint64_t rmem_max_ = 0;
};

}  // namespace fathom::collect
