#include "collect/socket_group.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <iterator>

namespace fathom::collect {
namespace {

// The exporter hash, shared by shard_of() and the BPF program so they cannot drift apart.
constexpr uint32_t kHashMultiplier = 0x9E3779B1u;  // 2^32 / golden ratio (Fibonacci hashing)
constexpr uint32_t kHashShift = 16;

/// A resolved endpoint: what every socket of it binds.
struct BindAddress {
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family = 0;
  bool dual_stack = false;  ///< AF_INET6 with IPV6_V6ONLY off
};

std::string describe(const ListenEndpoint& e) {
  if (e.host.empty()) return "*:" + std::to_string(e.port);
  if (e.host.find(':') != std::string::npos) return "[" + e.host + "]:" + std::to_string(e.port);
  return e.host + ":" + std::to_string(e.port);
}

BindAddress any_v6(uint16_t port) {
  BindAddress a;
  auto* sa = reinterpret_cast<sockaddr_in6*>(&a.storage);
  sa->sin6_family = AF_INET6;
  sa->sin6_addr = in6addr_any;
  sa->sin6_port = htons(port);
  a.len = sizeof(sockaddr_in6);
  a.family = AF_INET6;
  a.dual_stack = true;
  return a;
}

BindAddress any_v4(uint16_t port) {
  BindAddress a;
  auto* sa = reinterpret_cast<sockaddr_in*>(&a.storage);
  sa->sin_family = AF_INET;
  sa->sin_addr.s_addr = htonl(INADDR_ANY);
  sa->sin_port = htons(port);
  a.len = sizeof(sockaddr_in);
  a.family = AF_INET;
  return a;
}

/// Resolves a named endpoint (numeric or a host name, first answer). Returns false and sets
/// `why` when it does not resolve.
bool resolve(const ListenEndpoint& endpoint, BindAddress& out, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* result = nullptr;
  const std::string port = std::to_string(endpoint.port);
  const int rc = getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) {
    why = gai_strerror(rc);
    return false;
  }
  out = BindAddress{};
  std::memcpy(&out.storage, result->ai_addr,
              std::min<size_t>(result->ai_addrlen, sizeof(out.storage)));
  out.len = result->ai_addrlen;
  out.family = result->ai_family;
  freeaddrinfo(result);
  return true;
}

void set_port(BindAddress& a, uint16_t port) {
  if (a.family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&a.storage)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&a.storage)->sin6_port = htons(port);
  }
}

uint64_t read_rmem_max() {
  std::FILE* f = std::fopen("/proc/sys/net/core/rmem_max", "r");
  if (f == nullptr) return 0;
  unsigned long long value = 0;
  if (std::fscanf(f, "%llu", &value) != 1) value = 0;
  std::fclose(f);
  return value;
}

/// Asks for the receive buffer: SO_RCVBUFFORCE first (passes rmem_max with CAP_NET_ADMIN),
/// then SO_RCVBUF (silently capped at rmem_max), and reads back what was granted.
ReceiveBufferReport set_receive_buffer(int fd, const ListenOptions& options, uint64_t rmem_max) {
  ReceiveBufferReport report;
  report.requested_bytes = options.receive_buffer_bytes;
  report.rmem_max = rmem_max;
  if (options.receive_buffer_bytes != 0) {
    // The kernel cuts anything above INT_MAX / 2 (it stores the double in an int).
    const int value =
        static_cast<int>(std::min<uint32_t>(options.receive_buffer_bytes, INT_MAX / 2));
    report.forced = options.force_receive_buffer &&
                    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &value, sizeof(value)) == 0;
    if (!report.forced) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, sizeof(value));
  }
  int reported = 0;
  socklen_t len = sizeof(reported);
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &reported, &len) == 0 && reported > 0) {
    // socket(7): the kernel doubles the value set, and getsockopt returns the double.
    report.granted_bytes = static_cast<uint64_t>(reported) / 2;
  }
  report.capped =
      options.receive_buffer_bytes != 0 && report.granted_bytes < report.requested_bytes;
  return report;
}

/// Creates, configures and binds one socket: SO_REUSEPORT when `reuseport`, the receive
/// buffer and SO_RXQ_OVFL when `options` is given (not for the exclusive probe). Returns the
/// fd, or -1 with `error` set and errno kept for the caller.
int bind_socket(const BindAddress& address, bool reuseport, const ListenOptions* options,
                uint64_t rmem_max, ReceiveBufferReport* report, std::string& error) {
  const int fd = socket(address.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return -1;
  }
  // No SO_REUSEADDR: for UDP it lets a second process bind the same port and take part of
  // the traffic, the very failure an exclusive bind should report.
  const int one = 1;
  const int zero = 0;
  if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (address.family == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, address.dual_stack ? &zero : &one, sizeof(int));
  }
  if (options != nullptr) {
    *report = set_receive_buffer(fd, *options, rmem_max);
    // Failure leaves kernel_drops at 0; SO_RXQ_OVFL exists since Linux 2.6.33.
    setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.len) != 0) {
    const int saved = errno;
    error = std::strerror(saved);
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

/// Binds the first socket of `endpoint`, falling back from dual-stack IPv6 to IPv4 for "any"
/// where IPv6 is unavailable; `address` ends up as what was bound.
int bind_first(const ListenEndpoint& endpoint, BindAddress& address, bool reuseport,
               const ListenOptions* options, uint64_t rmem_max, ReceiveBufferReport* report,
               std::string& error) {
  int fd = bind_socket(address, reuseport, options, rmem_max, report, error);
  if (fd < 0 && endpoint.host.empty() && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
    address = any_v4(endpoint.port);
    fd = bind_socket(address, reuseport, options, rmem_max, report, error);
  }
  return fd;
}

/// Where `fd` is bound: address, port and the "ADDR:PORT" text.
void describe_bound(int fd, flow::IpAddress& address, uint16_t& port, std::string& text) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* a4 = reinterpret_cast<const sockaddr_in*>(&addr);
    address = flow::IpAddress::from_v4(ntohl(a4->sin_addr.s_addr));
    port = ntohs(a4->sin_port);
    inet_ntop(AF_INET, &a4->sin_addr, buf, sizeof(buf));
    text = std::string(buf) + ":" + std::to_string(port);
  } else {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    address = flow::IpAddress::from_v6_bytes(reinterpret_cast<const std::byte*>(&a6->sin6_addr));
    port = ntohs(a6->sin6_port);
    inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof(buf));
    text = "[" + std::string(buf) + "]:" + std::to_string(port);
  }
}

/// Byte `offset` of the network (IP) header, as the `k` of a classic BPF absolute load.
constexpr uint32_t net(int32_t offset) {
  return static_cast<uint32_t>(SKF_NET_OFF + offset);
}

/// The classic BPF program that picks the socket of an SO_REUSEPORT group of `shards`
/// sockets: shard_of(source address). The kernel runs it with the packet's data at the UDP
/// payload (reuseport_select_sock pulls the UDP header), so the IP header is read through
/// SKF_NET_OFF. A dual-stack group receives IPv4 and IPv6, told apart by the version nibble.
/// Loads are big endian into host order, as shard_of reads the address bytes. An index the
/// program cannot compute (unknown version) is 0; a failed load ends the program with 0 too.
std::vector<sock_filter> affinity_program(uint32_t shards) {
  // Instruction indexes for the jumps (offsets count from the next instruction).
  constexpr uint8_t kV6Check = 2;
  constexpr uint8_t kV4Check = 14;
  constexpr uint8_t kHash = 16;
  constexpr uint8_t kFail = 23;
  std::vector<sock_filter> program = {
      /* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, net(0)),  // version << 4 | IHL (or class)
      /* 1 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),
      /* 2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, kV4Check - kV6Check - 1),
      // IPv6 (RFC 8200 §3): source address at bytes 8..23; X accumulates the XOR.
      /* 3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net(8)),
      /* 4 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
      /* 5 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net(12)),
      /* 6 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
      /* 7 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
      /* 8 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net(16)),
      /* 9 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
      /* 10 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
      /* 11 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net(20)),
      /* 12 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
      /* 13 */ BPF_STMT(BPF_JMP | BPF_JA, kHash - 13 - 1),
      /* 14 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 4, 0, kFail - kV4Check - 1),
      // IPv4 (RFC 791 §3.1): source address at bytes 12..15, whatever the options.
      /* 15 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net(12)),
      // The hash: A ^= A >> 16; A *= multiplier; A >>= 16; A %= shards.
      /* 16 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
      /* 17 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
      /* 18 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
      /* 19 */ BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, kHashMultiplier),
      /* 20 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, kHashShift),
      /* 21 */ BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, shards),
      /* 22 */ BPF_STMT(BPF_RET | BPF_A, 0),
      /* 23 */ BPF_STMT(BPF_RET | BPF_K, 0),
  };
  return program;
}

/// Attaches the affinity program to the SO_REUSEPORT group of `fd` (it applies to the whole
/// group). Returns false and sets `error` to the errno text when the kernel refuses.
bool attach_affinity(int fd, uint32_t shards, std::string& error) {
  std::vector<sock_filter> program = affinity_program(shards);
  sock_fprog fprog{};
  fprog.len = static_cast<unsigned short>(program.size());
  fprog.filter = program.data();
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof(fprog)) != 0) {
    error = std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

ListenOptions listen_options(const Config& config) {
  ListenOptions options;
  options.receive_buffer_bytes = config.socket_receive_buffer_bytes;
  options.batch_size = config.recv_batch_size;
  return options;
}

uint32_t UdpListenerGroup::shard_of(const flow::IpAddress& exporter, uint32_t shards) noexcept {
  if (shards <= 1) return 0;
  uint32_t h = 0;
  if (exporter.is_v4()) {
    h = exporter.v4();
  } else {
    for (size_t word_idx = 0; word_idx < 4; ++word_idx) {
      const uint8_t* b = exporter.bytes.data() + word_idx * 4;
      h ^= (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    }
  }
  h ^= h >> 16;
  h *= kHashMultiplier;
  h >>= kHashShift;
  return h % shards;
}

std::unique_ptr<UdpListenerGroup> UdpListenerGroup::open(
    const std::vector<ListenEndpoint>& endpoints, uint32_t threads, const ListenOptions& options,
    std::string& error) {
  threads = std::clamp<uint32_t>(threads, 1, kMaxThreads);
  auto group = std::unique_ptr<UdpListenerGroup>(new UdpListenerGroup());
  group->rmem_max_ = read_rmem_max();
  for (uint32_t listener_idx = 0; listener_idx < threads; ++listener_idx) {
    auto listener = std::unique_ptr<UdpListener>(new UdpListener());
    listener->index_ = listener_idx;
    group->listeners_.push_back(std::move(listener));
  }
  const bool shared = threads > 1;
  for (const ListenEndpoint& endpoint : endpoints) {
    std::string why;
    BindAddress address;
    if (endpoint.host.empty()) {
      address = any_v6(endpoint.port);
    } else if (!resolve(endpoint, address, why)) {
      error = "cannot listen on UDP " + describe(endpoint) + ": " + why;
      return nullptr;
    }
    std::vector<int> fds(threads, -1);
    std::vector<ReceiveBufferReport> reports(threads);
    if (shared) {
      // Exclusive probe: a port held by anyone (with or without SO_REUSEPORT) fails here;
      // a group would otherwise join another process's group of the same user and split its
      // traffic. It also resolves port 0 to one port for all N sockets. A process binding
      // the same port in the microseconds between close and our first bind still wins: our
      // bind then fails, unless it is a same-user SO_REUSEPORT socket, which would join the
      // group first and take a shard. (Sockets that join after ours get nothing: the program
      // only returns indexes below N.)
      const int probe = bind_first(endpoint, address, false, nullptr, 0, nullptr, why);
      if (probe < 0) {
        error = "cannot listen on UDP " + describe(endpoint) + ": " + why;
        return nullptr;
      }
      flow::IpAddress ignored_address;
      uint16_t port = 0;
      std::string ignored_text;
      describe_bound(probe, ignored_address, port, ignored_text);
      close(probe);
      set_port(address, port);
    }
    // Sockets join the SO_REUSEPORT group in bind order and the kernel indexes the group by
    // join order (reuse->socks[]), so binding socket i for listener i, in order, is what
    // makes the program's index i mean listener i. Nothing leaves the group before all
    // close, so the order holds (a socket leaving would move the last one into its place).
    for (uint32_t listener_idx = 0; listener_idx < threads; ++listener_idx) {
      fds[listener_idx] = listener_idx == 0 && !shared
                              ? bind_first(endpoint, address, false, &options, group->rmem_max_,
                                           &reports[listener_idx], why)
                              : bind_socket(address, shared, &options, group->rmem_max_,
                                            &reports[listener_idx], why);
      if (fds[listener_idx] < 0) {
        for (int fd : fds) {
          if (fd >= 0) close(fd);
        }
        error = "cannot listen on UDP " + describe(endpoint) + ": " + why;
        return nullptr;  // the listeners' destructors close what was bound so far
      }
    }
    // Until the program is attached (microseconds after the first bind) the kernel spreads
    // by 4-tuple hash; an exporter whose template lands on another thread then waits for
    // its next template refresh.
    if (shared && !attach_affinity(fds[0], threads, why) && group->steering_error_.empty()) {
      group->steering_error_ = "SO_ATTACH_REUSEPORT_CBPF on UDP " + describe(endpoint) + ": " + why;
    }
    for (uint32_t listener_idx = 0; listener_idx < threads; ++listener_idx) {
      auto socket = std::make_unique<UdpListener::Socket>();
      socket->fd = fds[listener_idx];
      socket->family = address.family;
      socket->dual_stack = address.dual_stack;
      socket->receive_buffer = reports[listener_idx];
      describe_bound(socket->fd, socket->address, socket->port, socket->endpoint);
      group->listeners_[listener_idx]->sockets_.push_back(std::move(socket));
    }
  }
  for (auto& listener : group->listeners_) {
    if (!listener->prepare(options.batch_size, error)) return nullptr;
  }
  return group;
}

UdpListenerGroup::~UdpListenerGroup() = default;

std::string UdpListenerGroup::receive_buffer_warning() const {
  for (const auto& listener : listeners_) {
    for (const SocketStats& s : listener->socket_stats()) {
      const ReceiveBufferReport& r = s.receive_buffer;
      if (!r.capped) continue;
      return "kernel capped the receive buffer at " + std::to_string(r.granted_bytes) +
             " bytes of " + std::to_string(r.requested_bytes) +
             " asked (net.core.rmem_max = " + std::to_string(r.rmem_max) +
             "; raise it with sysctl -w net.core.rmem_max=" + std::to_string(r.requested_bytes) +
             ")";
    }
  }
  return {};
}

std::vector<SocketStats> UdpListenerGroup::socket_stats() const {
  std::vector<SocketStats> out;
  for (const auto& listener : listeners_) {
    std::vector<SocketStats> one = listener->socket_stats();
    std::move(one.begin(), one.end(), std::back_inserter(out));
  }
  return out;
}

UdpListenerStats UdpListenerGroup::stats() const noexcept {
  UdpListenerStats total;
  for (const auto& listener : listeners_) {
    const UdpListenerStats s = listener->stats();
    total.datagrams += s.datagrams;
    total.bytes += s.bytes;
    total.truncated += s.truncated;
    total.errors += s.errors;
    total.kernel_drops += s.kernel_drops;
  }
  return total;
}

}  // namespace fathom::collect
