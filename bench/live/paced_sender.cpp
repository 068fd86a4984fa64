#include "live/paced_sender.h"

#include <arpa/inet.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace fathom::bench {
namespace {

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int64_t to_ns(const timeval& tv) {
  return int64_t{tv.tv_sec} * 1'000'000'000 + tv.tv_usec * 1000;
}

void sleep_until(int64_t deadline_ns) {
  timespec ts{};
  ts.tv_sec = deadline_ns / 1'000'000'000;
  ts.tv_nsec = deadline_ns % 1'000'000'000;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

/// One exporter as the collector sees it: a capture stream replayed from one source address.
struct LiveStream {
  const ExporterStream* stream = nullptr;
  uint32_t source = 0;
  int fd = -1;
  uint64_t packets = 0;
  uint64_t records = 0;
  size_t cursor = 0;   ///< next index into stream->packets
  uint64_t loops = 0;  ///< complete passes so far
  bool done = false;
};

/// Closes the streams' sockets however send_paced returns.
struct SocketsCloser {
  std::vector<LiveStream>& streams;
  ~SocketsCloser() {
    for (LiveStream& s : streams) {
      if (s.fd >= 0) ::close(s.fd);
    }
  }
};

std::string address_text(uint32_t host_order) {
  in_addr a{};
  a.s_addr = htonl(host_order);
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a, buf, sizeof(buf));
  return buf;
}

bool open_socket(uint32_t source, const sockaddr_in& destination, int& fd, std::string& error) {
  fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  // Loopback frees a datagram once it is queued at the receiver, so a modest send buffer
  // never throttles the sender; it only has to hold one sendmmsg batch.
  const int sndbuf = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(source);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0) {
    error = "bind " + address_text(source) + ": " + std::strerror(errno);
    return false;
  }
  // Connected: no per-datagram route lookup, and ICMP port-unreachable comes back as an error.
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&destination), sizeof(destination)) != 0) {
    error = "connect from " + address_text(source) + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

bool send_paced(const ReplaySet& set, const SendOptions& options, SendReport& report,
                std::string& error) {
  std::vector<LiveStream> live;
  SocketsCloser closer{live};
  live.reserve(set.streams.size() * options.replicas);
  for (uint32_t replica_idx = 0; replica_idx < options.replicas; ++replica_idx) {
    for (const ExporterStream& stream : set.streams) {
      if (stream.packets.empty()) continue;
      const auto source = static_cast<uint32_t>(options.first_source + live.size());
      if ((source >> 24) != (options.first_source >> 24)) {
        error = "too many source addresses for the first one's /8";
        return false;
      }
      LiveStream& s = live.emplace_back();
      s.stream = &stream;
      s.source = source;
      if (!open_socket(source, options.destination, s.fd, error)) return false;
    }
  }
  if (live.empty()) {
    error = "nothing to send";
    return false;
  }
  // Wake-ups within a microsecond of the deadline instead of the default 50 us slack: at a few
  // M records/s one batch is due every few tens of microseconds.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);

  const size_t batch = std::max<size_t>(1, options.batch);
  std::vector<mmsghdr> msgs(batch);
  std::vector<iovec> iovs(batch);
  std::vector<uint32_t> chunk_records(batch);
  const bool paced = options.rate > 0;
  const double per_ns = options.rate / 1e9;
  double tokens = 0;

  rusage usage_start{};
  getrusage(RUSAGE_SELF, &usage_start);
  const int64_t start = monotonic_ns();
  const int64_t end =
      options.duration_s > 0 ? start + static_cast<int64_t>(options.duration_s * 1e9) : INT64_MAX;
  int64_t refilled_at = start;
  int64_t last_send = start;
  size_t active = live.size();
  size_t next = 0;
  bool stop = false;
  while (active > 0 && !stop) {
    LiveStream& s = live[next];
    next = (next + 1) % live.size();
    if (s.done) continue;

    // The stream's next `batch` datagrams, in capture order, wrapping to its start.
    size_t count = 0;
    uint64_t chunk_cost = 0;
    size_t cursor = s.cursor;
    uint64_t loops = s.loops;
    while (count < batch) {
      const ReplayPacket& p = set.packets[s.stream->packets[cursor]];
      // The first pass carries what a collector starting cold can decode; later ones all.
      chunk_records[count] = loops == 0 ? p.records_first_pass : p.records_steady;
      iovs[count].iov_base = const_cast<std::byte*>(set.bytes.data() + p.offset);
      iovs[count].iov_len = p.size;
      msgs[count] = {};
      msgs[count].msg_hdr.msg_iov = &iovs[count];
      msgs[count].msg_hdr.msg_iovlen = 1;
      chunk_cost += options.unit == RateUnit::kRecords ? chunk_records[count] : 1;
      ++count;
      if (++cursor == s.stream->packets.size()) {
        cursor = 0;
        ++loops;
        if (options.loops > 0 && loops >= options.loops) break;
      }
    }

    if (paced) {
      // Token bucket: credit accrues at `rate`, saved up to burst_s (at least one chunk).
      const double cap = std::max(options.rate * options.burst_s, static_cast<double>(chunk_cost));
      for (;;) {
        const int64_t now = monotonic_ns();
        tokens = std::min(cap, tokens + static_cast<double>(now - refilled_at) * per_ns);
        refilled_at = now;
        if (now >= end) {
          stop = true;
          break;
        }
        if (tokens >= static_cast<double>(chunk_cost)) break;
        const auto wait_ns =
            static_cast<int64_t>((static_cast<double>(chunk_cost) - tokens) / per_ns) + 1;
        sleep_until(std::min(end, now + wait_ns));
      }
      if (stop) break;
      tokens -= static_cast<double>(chunk_cost);
    } else if (monotonic_ns() >= end) {
      break;
    }

    size_t sent = 0;
    while (sent < count) {
      const int rc = sendmmsg(s.fd, msgs.data() + sent, static_cast<unsigned>(count - sent), 0);
      if (rc < 0) {
        if (errno == EINTR) continue;
        // The rest of the chunk is lost, as on a lossy network; the stream moves on.
        if (report.send_errors++ == 0) report.first_error = std::strerror(errno);
        break;
      }
      for (size_t msg_idx = sent; msg_idx < sent + static_cast<size_t>(rc); ++msg_idx) {
        ++s.packets;
        s.records += chunk_records[msg_idx];
        report.bytes += iovs[msg_idx].iov_len;
      }
      sent += static_cast<size_t>(rc);
    }
    last_send = monotonic_ns();
    s.cursor = cursor;
    s.loops = loops;
    if (options.loops > 0 && s.loops >= options.loops) {
      s.done = true;
      --active;
    }
  }
  rusage usage_end{};
  getrusage(RUSAGE_SELF, &usage_end);
  report.elapsed_ns = last_send - start;
  report.cpu_user_ns = to_ns(usage_end.ru_utime) - to_ns(usage_start.ru_utime);
  report.cpu_sys_ns = to_ns(usage_end.ru_stime) - to_ns(usage_start.ru_stime);
  report.min_loops = UINT64_MAX;
  for (const LiveStream& s : live) {
    report.min_loops = std::min(report.min_loops, s.loops);
    report.packets += s.packets;
    report.records += s.records;
    report.streams.push_back({s.source, s.stream, s.packets, s.records});
  }
  return true;
}

}  // namespace fathom::bench
