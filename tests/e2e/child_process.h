#pragma once

// A child process for end-to-end tests: fork/exec with its stderr (and stdout, unless sent to a
// file) read through a pipe by a background thread, so the child never blocks on a full pipe.
// Every wait has a timeout, and a child still running when its handle dies is killed: a test
// fails, it never hangs.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fathom::e2e {

using std::chrono::milliseconds;

class ChildProcess {
 public:
  /// Starts `argv[0]` (a path, not searched in PATH) with `argv`. Its stderr is captured line
  /// by line; its stdout goes to `stdout_path` (created or truncated) when that is not empty,
  /// else it joins stderr. The child gets SIGKILL if the test process dies first. Returns
  /// nullptr and sets `error` when the pipe, file or fork fails (exec failure shows as exit
  /// status 127 with a message in the output).
  static std::unique_ptr<ChildProcess> start(const std::vector<std::string>& argv,
                                             std::string& error,
                                             const std::string& stdout_path = "");
  /// Kills (SIGKILL) and reaps the child if it is still running.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const noexcept { return pid_; }

  /// Waits up to `timeout` for the next output line, not yet returned by `next_line` or
  /// `wait_for_line`, that matches the ECMAScript regex `pattern` (searched, not anchored);
  /// lines before it are skipped. Returns its capture groups (element 0: the whole match), or
  /// nullopt on timeout or when the output ended without one.
  std::optional<std::vector<std::string>> wait_for_line(const std::string& pattern,
                                                        milliseconds timeout);
  /// The next unread output line within `timeout`; nullopt on timeout or end of output.
  std::optional<std::string> next_line(milliseconds timeout);

  /// Sends `sig` to the child; false if it has already been reaped.
  bool send_signal(int sig);
  /// Waits up to `timeout` for the child to exit and returns its exit code (128 + signal
  /// number when a signal killed it). On timeout the child is killed with SIGKILL, reaped,
  /// and nullopt is returned.
  std::optional<int> wait_exit(milliseconds timeout);
  /// True until the child has been reaped.
  bool running();

  /// Every output line read so far, newline-terminated (for failure messages).
  std::string output() const;

 private:
  ChildProcess() = default;
  void read_loop();
  /// Reaps the child without blocking; true once it has exited.
  bool try_reap();

  pid_t pid_ = -1;
  int pipe_fd_ = -1;
  std::optional<int> exit_code_;
  std::thread reader_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;  // guarded by mu_
  std::string partial_;             // guarded by mu_: text after the last newline
  bool eof_ = false;                // guarded by mu_
  bool stop_reader_ = false;        // guarded by mu_
  size_t cursor_ = 0;               // next line for next_line/wait_for_line (test thread only)
};

/// Runs `argv` to completion (at most `timeout`, then killed) with stdout to `stdout_path`;
/// returns its exit code, or nullopt if it could not start or timed out. `output` receives
/// its stderr.
std::optional<int> run_to_completion(const std::vector<std::string>& argv,
                                     const std::string& stdout_path, milliseconds timeout,
                                     std::string& output);

}  // namespace fathom::e2e
