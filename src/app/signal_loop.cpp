#include "app/signal_loop.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "app/clock.h"
#include "app/logging.h"

namespace fathom::app {

int open_signal_fd() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  if (pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) return -1;
  return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

int run_until_stopped(int signal_fd, int64_t interval_ms, std::string_view command,
                      const std::function<void(double seconds)>& summary) {
  auto log = logger("app");
  const int64_t interval_ns = interval_ms * 1'000'000;
  int64_t interval_start = monotonic_ns();
  for (bool stop = false; !stop;) {
    const int64_t wait_ms =
        std::max<int64_t>(0, (interval_start + interval_ns - monotonic_ns()) / 1'000'000);
    pollfd fds[1] = {{signal_fd, POLLIN, 0}};
    const int ready = ::poll(fds, 1, static_cast<int>(wait_ms));
    if (ready < 0 && errno != EINTR) {
      log->critical("poll failed: {}", std::strerror(errno));
      return 1;
    }
    if (ready > 0) {
      signalfd_siginfo info{};
      while (::read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
        if (info.ssi_signo == SIGHUP) {
          log->warn("SIGHUP: {} does not reload its config; restart it instead", command);
        } else {
          stop = true;
        }
      }
    }
    const int64_t now = monotonic_ns();
    if (now - interval_start >= interval_ns || stop) {
      summary(static_cast<double>(now - interval_start) / 1e9);
      interval_start = now;
    }
  }
  return 0;
}

}  // namespace fathom::app
