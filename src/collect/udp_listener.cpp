#include "collect/udp_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "collect/socket_group.h"

namespace fathom::collect {
namespace {

/// Control bytes per message: room for the SO_RXQ_OVFL counter, the only cmsg asked for.
constexpr size_t kControlLen = CMSG_SPACE(sizeof(uint32_t));

int64_t wall_clock_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// A single-writer counter bump: the owner is the only writer, so a relaxed load and store
/// is exact and avoids a locked read-modify-write.
void add(std::atomic<uint64_t>& counter, uint64_t n) {
  if (n != 0) counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
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
  return open(endpoints, ListenOptions{}, error);
}

std::unique_ptr<UdpListener> UdpListener::open(const std::vector<ListenEndpoint>& endpoints,
                                               const ListenOptions& options, std::string& error) {
  auto group = UdpListenerGroup::open(endpoints, 1, options, error);
  if (!group) return nullptr;
  return std::move(group->listeners_[0]);
}

UdpListener::~UdpListener() {
  for (const auto& s : sockets_) close(s->fd);
  if (buffers_ != nullptr) munmap(buffers_, buffers_len_);
}

bool UdpListener::prepare(uint32_t batch_size, std::string& error) {
  batch_size_ = std::clamp<size_t>(batch_size, 1, kMaxBatch);
  // Every slot holds the largest UDP payload so nothing is ever cut, but the slots are an
  // anonymous mapping: the kernel commits a page only when a datagram is written into it, so
  // resident memory follows the datagrams actually seen (one or two pages per slot for
  // MTU-sized exports, 64 KiB only for a slot that once held a 64 KiB datagram), while the
  // address space (batch × 64 KiB, 4 MiB at the default 64) stays bounded. No huge pages:
  // one would commit 2 MiB at the first touch.
  buffers_len_ = batch_size_ * kMaxDatagram;
  void* mapped = mmap(nullptr, buffers_len_, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapped == MAP_FAILED) {
    error = std::string("cannot map receive buffers: ") + std::strerror(errno);
    buffers_len_ = 0;
    return false;
  }
  buffers_ = static_cast<std::byte*>(mapped);
  madvise(buffers_, buffers_len_, MADV_NOHUGEPAGE);

  msgs_.assign(batch_size_, mmsghdr{});
  iovs_.assign(batch_size_, iovec{});
  addrs_.assign(batch_size_, sockaddr_storage{});
  // One std::byte vector, each slot at a multiple of kControlLen (itself a multiple of
  // alignof(cmsghdr)); operator new's alignment covers cmsghdr.
  controls_.assign(batch_size_ * kControlLen, std::byte{0});
  for (size_t slot = 0; slot < batch_size_; ++slot) {
    iovs_[slot].iov_base = buffers_ + slot * kMaxDatagram;
    iovs_[slot].iov_len = kMaxDatagram;
    msghdr& h = msgs_[slot].msg_hdr;
    h.msg_iov = &iovs_[slot];
    h.msg_iovlen = 1;
    h.msg_name = &addrs_[slot];
    h.msg_control = controls_.data() + slot * kControlLen;
  }
  pollfds_.assign(sockets_.size() + 1, pollfd{});
  for (size_t i = 0; i < sockets_.size(); ++i) pollfds_[i] = {sockets_[i]->fd, POLLIN, 0};
  return true;
}

std::vector<uint16_t> UdpListener::local_ports() const {
  std::vector<uint16_t> ports;
  for (const auto& s : sockets_) ports.push_back(s->port);
  return ports;
}

UdpListenerStats UdpListener::stats() const noexcept {
  UdpListenerStats total;
  for (const auto& s : sockets_) {
    const Counters& c = s->counters;
    total.datagrams += c.datagrams.load(std::memory_order_relaxed);
    total.bytes += c.bytes.load(std::memory_order_relaxed);
    total.truncated += c.truncated.load(std::memory_order_relaxed);
    total.errors += c.errors.load(std::memory_order_relaxed);
    total.kernel_drops += c.kernel_drops.load(std::memory_order_relaxed);
  }
  return total;
}

std::vector<SocketStats> UdpListener::socket_stats() const {
  std::vector<SocketStats> out;
  out.reserve(sockets_.size());
  for (const auto& s : sockets_) {
    SocketStats& st = out.emplace_back();
    st.listener = index_;
    st.endpoint = s->endpoint;
    st.local_address = s->address;
    st.local_port = s->port;
    st.family = s->family;
    st.dual_stack = s->dual_stack;
    st.receive_buffer = s->receive_buffer;
    const Counters& c = s->counters;
    st.counters.datagrams = c.datagrams.load(std::memory_order_relaxed);
    st.counters.bytes = c.bytes.load(std::memory_order_relaxed);
    st.counters.truncated = c.truncated.load(std::memory_order_relaxed);
    st.counters.errors = c.errors.load(std::memory_order_relaxed);
    st.counters.kernel_drops = c.kernel_drops.load(std::memory_order_relaxed);
  }
  return out;
}

bool UdpListener::receive(int timeout_ms, std::vector<ReceivedDatagram>& out, int wake_fd,
                          bool* woken) {
  out.clear();
  if (woken != nullptr) *woken = false;
  const size_t socket_count = sockets_.size();
  size_t nfds = socket_count;
  if (wake_fd >= 0) pollfds_[nfds++] = {wake_fd, POLLIN, 0};
  const int ready = poll(pollfds_.data(), nfds, timeout_ms);
  if (ready < 0) return errno == EINTR;
  if (ready == 0) return true;
  if (wake_fd >= 0 && (pollfds_[socket_count].revents & POLLIN) != 0 && woken != nullptr) {
    *woken = true;
  }
  if (socket_count == 0) return true;
  const int64_t now = wall_clock_ns();
  // Round robin over which socket goes first: when the batch fills before every ready socket
  // was drained, the next call starts with a different one.
  const size_t first = next_first_;
  next_first_ = first + 1 < socket_count ? first + 1 : 0;
  for (size_t step = 0; step < socket_count && out.size() < batch_size_; ++step) {
    const size_t socket_idx = (first + step) % socket_count;
    if ((pollfds_[socket_idx].revents & (POLLIN | POLLERR)) != 0) drain(socket_idx, out, now);
  }
  return true;
}

void UdpListener::drain(size_t socket_idx, std::vector<ReceivedDatagram>& out, int64_t now_ns) {
  // Slots [first_slot, batch_size_) are free: earlier ones hold this call's datagrams from
  // other sockets, whose payload spans point into their slots.
  const size_t first_slot = out.size();
  const size_t room = batch_size_ - first_slot;
  for (size_t slot = first_slot; slot < batch_size_; ++slot) {
    msghdr& h = msgs_[slot].msg_hdr;
    h.msg_namelen = sizeof(sockaddr_storage);
    h.msg_controllen = kControlLen;  // the kernel shrinks it to what it wrote
    h.msg_flags = 0;
  }
  Socket& socket = *sockets_[socket_idx];
  const int got = recvmmsg(socket.fd, msgs_.data() + first_slot, static_cast<unsigned>(room),
                           MSG_DONTWAIT, nullptr);
  if (got < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) add(socket.counters.errors, 1);
    return;
  }
  uint64_t bytes = 0;
  uint64_t truncated = 0;
  uint64_t drops = 0;
  for (size_t slot = first_slot; slot < first_slot + static_cast<size_t>(got); ++slot) {
    msghdr& h = msgs_[slot].msg_hdr;
    ReceivedDatagram& d = out.emplace_back();
    const sockaddr_storage& addr = addrs_[slot];
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
    if ((h.msg_flags & MSG_TRUNC) != 0) ++truncated;
    d.payload = std::span<const std::byte>(buffers_ + slot * kMaxDatagram,
                                           std::min<size_t>(msgs_[slot].msg_len, kMaxDatagram));
    bytes += d.payload.size();
    // SO_RXQ_OVFL: the kernel attaches the socket's drop count (sk_drops, a u32 that wraps)
    // as it was when this datagram was queued, and only when it is not zero. The difference
    // modulo 2^32 from the last value seen is what was dropped in between. (Without
    // SO_RXQ_OVFL, the `drops` column of /proc/net/udp and /proc/net/udp6, matched by inode,
    // or getsockopt(SO_MEMINFO)[SK_MEMINFO_DROPS] give the same count by polling.)
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
          c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
        uint32_t count = 0;
        std::memcpy(&count, CMSG_DATA(c), sizeof(count));
        drops += static_cast<uint32_t>(count - socket.last_drop_count);
        socket.last_drop_count = count;
      }
    }
  }
  Counters& c = socket.counters;
  add(c.datagrams, static_cast<uint64_t>(got));
  add(c.bytes, bytes);
  add(c.truncated, truncated);
  add(c.kernel_drops, drops);
}

}  // namespace fathom::collect
