#include "collect/udp_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace fathom::collect {
namespace {

constexpr int kReceiveBufferBytes = 8 * 1024 * 1024;  // best effort; capped by rmem_max

int64_t wall_clock_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::string describe(const ListenEndpoint& e) {
  if (e.host.empty()) return "*:" + std::to_string(e.port);
  if (e.host.find(':') != std::string::npos) return "[" + e.host + "]:" + std::to_string(e.port);
  return e.host + ":" + std::to_string(e.port);
}

uint16_t bound_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
}

/// Creates, configures and binds one socket. Returns the fd or -1 with `error` set.
int bind_socket(int family, const sockaddr* addr, socklen_t len, bool dual_stack,
                std::string& error) {
  const int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return -1;
  }
  const int one = 1;
  const int zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kReceiveBufferBytes, sizeof(kReceiveBufferBytes));
  if (family == AF_INET6) {
    const int* v6only = dual_stack ? &zero : &one;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only, sizeof(int));
  }
  if (bind(fd, addr, len) != 0) {
    const int saved = errno;
    error = std::strerror(saved);
    close(fd);
    errno = saved;  // the caller looks at it to decide on the IPv4 fallback
    return -1;
  }
  return fd;
}

}  // namespace

bool parse_listen_endpoint(const std::string& text, ListenEndpoint& out, std::string& error) {
  std::string host;
  std::string port_text;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "listen address '" + text + "': expected [IPV6]:PORT";
      return false;
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos) {
      port_text = text;
    } else {
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
      if (host.find(':') != std::string::npos) {
        error = "listen address '" + text + "': write IPv6 addresses as [ADDR]:PORT";
        return false;
      }
    }
  }
  unsigned port = 0;
  const auto [ptr, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port > 65535) {
    error = "listen address '" + text + "': bad port '" + port_text + "'";
    return false;
  }
  out.host = host;
  out.port = static_cast<uint16_t>(port);
  return true;
}

std::unique_ptr<UdpListener> UdpListener::open(const std::vector<ListenEndpoint>& endpoints,
                                               std::string& error) {
  auto listener = std::unique_ptr<UdpListener>(new UdpListener());
  for (const ListenEndpoint& endpoint : endpoints) {
    std::string why;
    int fd = -1;
    if (endpoint.host.empty()) {
      sockaddr_in6 any6{};
      any6.sin6_family = AF_INET6;
      any6.sin6_addr = in6addr_any;
      any6.sin6_port = htons(endpoint.port);
      fd = bind_socket(AF_INET6, reinterpret_cast<sockaddr*>(&any6), sizeof(any6), true, why);
      if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
        sockaddr_in any4{};
        any4.sin_family = AF_INET;
        any4.sin_addr.s_addr = htonl(INADDR_ANY);
        any4.sin_port = htons(endpoint.port);
        fd = bind_socket(AF_INET, reinterpret_cast<sockaddr*>(&any4), sizeof(any4), false, why);
      }
    } else {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_DGRAM;
      hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
      addrinfo* result = nullptr;
      const std::string port = std::to_string(endpoint.port);
      const int rc = getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &result);
      if (rc != 0) {
        why = gai_strerror(rc);
      } else {
        fd = bind_socket(result->ai_family, result->ai_addr, result->ai_addrlen, false, why);
        freeaddrinfo(result);
      }
    }
    if (fd < 0) {
      error = "cannot listen on UDP " + describe(endpoint) + ": " + why;
      return nullptr;  // the destructor closes what was bound so far
    }
    listener->sockets_.push_back({fd, bound_port(fd)});
  }
  listener->buffers_.resize(kBatch * kMaxDatagram);
  return listener;
}

UdpListener::~UdpListener() {
  for (const Socket& s : sockets_) close(s.fd);
}

std::vector<uint16_t> UdpListener::local_ports() const {
  std::vector<uint16_t> ports;
  for (const Socket& s : sockets_) ports.push_back(s.port);
  return ports;
}

bool UdpListener::receive(int timeout_ms, std::vector<ReceivedDatagram>& out, int wake_fd,
                          bool* woken) {
  out.clear();
  if (woken != nullptr) *woken = false;
  std::array<pollfd, 64> fds{};
  const size_t socket_count = std::min(sockets_.size(), fds.size() - 1);
  for (size_t i = 0; i < socket_count; ++i) fds[i] = {sockets_[i].fd, POLLIN, 0};
  size_t nfds = socket_count;
  if (wake_fd >= 0) fds[nfds++] = {wake_fd, POLLIN, 0};
  const int ready = poll(fds.data(), nfds, timeout_ms);
  if (ready < 0) return errno == EINTR;
  if (ready == 0) return true;
  if (wake_fd >= 0 && (fds[socket_count].revents & POLLIN) != 0 && woken != nullptr) {
    *woken = true;
  }
  const int64_t now = wall_clock_ns();
  for (size_t i = 0; i < socket_count && out.size() < kBatch; ++i) {
    if ((fds[i].revents & (POLLIN | POLLERR)) != 0) drain(i, out, now);
  }
  return true;
}

void UdpListener::drain(size_t socket_idx, std::vector<ReceivedDatagram>& out, int64_t now_ns) {
  const size_t room = kBatch - out.size();
  std::array<mmsghdr, kBatch> msgs{};
  std::array<iovec, kBatch> iovs{};
  std::array<sockaddr_storage, kBatch> addrs{};
  const size_t first_slot = out.size();
  for (size_t i = 0; i < room; ++i) {
    iovs[i].iov_base = buffers_.data() + (first_slot + i) * kMaxDatagram;
    iovs[i].iov_len = kMaxDatagram;
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &addrs[i];
    msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
  }
  const Socket& socket = sockets_[socket_idx];
  const int got =
      recvmmsg(socket.fd, msgs.data(), static_cast<unsigned>(room), MSG_DONTWAIT, nullptr);
  if (got < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ++stats_.errors;
    return;
  }
  for (int i = 0; i < got; ++i) {
    ReceivedDatagram d;
    const auto& addr = addrs[static_cast<size_t>(i)];
    if (addr.ss_family == AF_INET) {
      const auto* a4 = reinterpret_cast<const sockaddr_in*>(&addr);
      d.src = flow::IpAddress::from_v4(ntohl(a4->sin_addr.s_addr));
      d.src_port = ntohs(a4->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&addr);
      d.src = flow::IpAddress::from_v6_bytes(reinterpret_cast<const std::byte*>(&a6->sin6_addr));
      d.src_port = ntohs(a6->sin6_port);
    }
    d.local_port = socket.port;
    d.arrival_ns = now_ns;
    const size_t len = msgs[static_cast<size_t>(i)].msg_len;
    if ((msgs[static_cast<size_t>(i)].msg_hdr.msg_flags & MSG_TRUNC) != 0) ++stats_.truncated;
    d.payload = std::span<const std::byte>(
        buffers_.data() + (first_slot + static_cast<size_t>(i)) * kMaxDatagram,
        std::min(len, kMaxDatagram));
    ++stats_.datagrams;
    stats_.bytes += d.payload.size();
    out.push_back(d);
  }
}

}  // namespace fathom::collect
