#pragma once

// The foreground loop of the long-running commands without a reload (`fathom analyze`,
// `fathom api`): wait for SIGINT or SIGTERM on a signalfd, print a summary every interval and
// once at the stop. `fathom run` and `collect` have their own loop (reload, replay end) but
// open their signalfd here too.

#include <cstdint>
#include <functional>
#include <string_view>

namespace fathom::app {

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and so in every thread it starts
/// after) and returns a signalfd that becomes readable when one arrives; -1 when it cannot.
/// Call before any thread starts, so that only the signalfd sees them.
int open_signal_fd();

/// Runs until SIGINT or SIGTERM arrives on `signal_fd`, calling `summary(seconds)` every
/// `interval_ms` and once more at the stop (`seconds`: since the previous call). SIGHUP is
/// logged ("`command` does not reload its config") and ignored. Returns 0, or 1 when polling
/// fails.
int run_until_stopped(int signal_fd, int64_t interval_ms, std::string_view command,
                      const std::function<void(double seconds)>& summary);

}  // namespace fathom::app
