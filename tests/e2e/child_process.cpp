#include "e2e/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>

namespace fathom::e2e {
namespace {

using Clock = std::chrono::steady_clock;

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::unique_ptr<ChildProcess> ChildProcess::start(const std::vector<std::string>& argv,
                                                  std::string& error,
                                                  const std::string& stdout_path) {
  if (argv.empty()) {
    error = "no program to start";
    return nullptr;
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    return nullptr;
  }
  int out_fd = -1;
  if (!stdout_path.empty()) {
    out_fd = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out_fd < 0) {
      error = stdout_path + ": " + std::strerror(errno);
      ::close(fds[0]);
      ::close(fds[1]);
      return nullptr;
    }
  }
  // Everything the child needs is prepared before fork: between fork and exec a multithreaded
  // parent's child may only make async-signal-safe calls.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    if (out_fd >= 0) ::close(out_fd);
    return nullptr;
  }
  if (pid == 0) {
    // Die with the test: a crashed or killed test must not leave a collector behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(fds[1], STDERR_FILENO);
    ::dup2(out_fd >= 0 ? out_fd : fds[1], STDOUT_FILENO);
    ::execv(args[0], args.data());
    constexpr char kMessage[] = "child_process: exec failed\n";
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
    ::_exit(127);
  }
  ::close(fds[1]);
  if (out_fd >= 0) ::close(out_fd);
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->pid_ = pid;
  child->pipe_fd_ = fds[0];
  child->reader_ = std::thread([c = child.get()] { c->read_loop(); });
  return child;
}

ChildProcess::~ChildProcess() {
  if (!try_reap() && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  {
    std::lock_guard lock(mu_);
    stop_reader_ = true;
  }
  if (reader_.joinable()) reader_.join();
  if (pipe_fd_ >= 0) ::close(pipe_fd_);
}

void ChildProcess::read_loop() {
  char buf[4096];
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_reader_) break;
    }
    pollfd p{pipe_fd_, POLLIN, 0};
    // Short polls so the destructor's stop request is seen even if a grandchild kept the pipe.
    const int ready = ::poll(&p, 1, 100);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = ::read(pipe_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard lock(mu_);
    if (n <= 0) {
      if (!partial_.empty()) lines_.push_back(std::move(partial_));
      partial_.clear();
      eof_ = true;
      cv_.notify_all();
      break;
    }
    partial_.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl = partial_.find('\n'); nl != std::string::npos;
         nl = partial_.find('\n', start)) {
      lines_.push_back(partial_.substr(start, nl - start));
      start = nl + 1;
    }
    partial_.erase(0, start);
    cv_.notify_all();
  }
}

std::optional<std::string> ChildProcess::next_line(milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return cursor_ < lines_.size() || eof_; })) {
    return std::nullopt;
  }
  if (cursor_ >= lines_.size()) return std::nullopt;  // end of output
  return lines_[cursor_++];
}

std::optional<std::vector<std::string>> ChildProcess::wait_for_line(const std::string& pattern,
                                                                    milliseconds timeout) {
  const std::regex re(pattern);
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    const std::optional<std::string> line = next_line(std::max(left, milliseconds(0)));
    if (!line) return std::nullopt;
    std::smatch m;
    if (std::regex_search(*line, m, re)) {
      std::vector<std::string> groups;
      for (const auto& g : m) groups.push_back(g.str());
      return groups;
    }
  }
}

bool ChildProcess::send_signal(int sig) {
  if (exit_code_ || pid_ <= 0) return false;
  return ::kill(pid_, sig) == 0;
}

bool ChildProcess::try_reap() {
  if (exit_code_) return true;
  if (pid_ <= 0) return true;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = exit_code_of(status);
    return true;
  }
  return false;
}

bool ChildProcess::running() {
  return !try_reap();
}

std::optional<int> ChildProcess::wait_exit(milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  while (!try_reap()) {
    if (Clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      exit_code_ = exit_code_of(status);
      return std::nullopt;
    }
    // Polling waitpid: a bounded wait for a child, not synchronisation between threads.
    std::this_thread::sleep_for(milliseconds(10));
  }
  // The output ends when the child closes the pipe; give the reader a moment to finish.
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, milliseconds(2000), [&] { return eof_; });
  return exit_code_;
}

std::string ChildProcess::output() const {
  std::lock_guard lock(mu_);
  std::string text;
  for (const std::string& line : lines_) text += line + "\n";
  text += partial_;
  return text;
}

std::optional<int> run_to_completion(const std::vector<std::string>& argv,
                                     const std::string& stdout_path, milliseconds timeout,
                                     std::string& output) {
  std::string error;
  std::unique_ptr<ChildProcess> child = ChildProcess::start(argv, error, stdout_path);
  if (!child) {
    output = error;
    return std::nullopt;
  }
  const std::optional<int> code = child->wait_exit(timeout);
  output = child->output();
  return code;
}

}  // namespace fathom::e2e
