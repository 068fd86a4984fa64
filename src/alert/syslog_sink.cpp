#include "alert/syslog_sink.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fcntl.h>
#include <cerrno>
#include <cstring>

#ifndef FATHOM_VERSION
#define FATHOM_VERSION "0.0.0"
#endif

namespace fathom::alert {
namespace {

std::string local_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "-";
  return buf;
}

/// connect() bounded by `timeout_ms` (a non-blocking connect and a poll).
bool connect_with_timeout(int fd, const sockaddr* addr, socklen_t len, int64_t timeout_ms,
                          std::string& error) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = ::connect(fd, addr, len);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd pfd{fd, POLLOUT, 0};
    rc = ::poll(&pfd, 1, static_cast<int>(timeout_ms));
    if (rc == 0) {
      error = "connect: timed out";
      return false;
    }
    int so_error = 0;
    socklen_t so_len = sizeof so_error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len);
    if (rc < 0 || so_error != 0) {
      error = std::string("connect: ") + std::strerror(rc < 0 ? errno : so_error);
      return false;
    }
  } else if (rc != 0) {
    error = std::string("connect: ") + std::strerror(errno);
    return false;
  }
  ::fcntl(fd, F_SETFL, flags);
  return true;
}

bool send_all(int fd, std::string_view data, std::string& error) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

SyslogSink::SyslogSink(const SinkConfig& config) : config_(config) {
  header_.facility = config_.facility;
  header_.hostname = config_.hostname.empty() ? local_hostname() : config_.hostname;
  header_.procid = static_cast<uint32_t>(::getpid());
}

SyslogSink::~SyslogSink() {
  close_socket();
}

void SyslogSink::close_socket() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool SyslogSink::connect_socket(std::string& error) {
  const bool tcp = config_.transport == SyslogTransport::kTcp;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(config_.port);
  const int gai = ::getaddrinfo(config_.host.c_str(), port.c_str(), &hints, &found);
  if (gai != 0) {
    error = "resolve " + config_.host + ": " + ::gai_strerror(gai);
    return false;
  }
  error = "no address for " + config_.host;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (connect_with_timeout(fd, ai->ai_addr, ai->ai_addrlen, config_.timeout_ms, error)) {
      timeval send_timeout{static_cast<time_t>(config_.timeout_ms / 1000),
                           static_cast<suseconds_t>((config_.timeout_ms % 1000) * 1000)};
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
      fd_ = fd;
      break;
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return fd_ >= 0;
}

DeliveryResult SyslogSink::deliver(const Alert& alert) {
  const bool tcp = config_.transport == SyslogTransport::kTcp;
  if (tcp && fd_ >= 0) {
    // A receiver that closed its end is noticed here, before a message is written into a
    // connection that can no longer deliver it.
    char probe = 0;
    const ssize_t n = ::recv(fd_, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) close_socket();
  }
  std::string error;
  if (fd_ < 0 && !connect_socket(error)) return DeliveryResult::retry(std::move(error));
  std::string message = format_rfc5424(alert, header_, FATHOM_VERSION);
  if (tcp) {
    message = octet_counted(message);
  } else if (message.size() > kMaxDatagram) {
    message.resize(kMaxDatagram);
  }
  if (!send_all(fd_, message, error)) {
    close_socket();
    return DeliveryResult::retry(std::move(error));
  }
  return DeliveryResult::success();
}

}  // namespace fathom::alert
