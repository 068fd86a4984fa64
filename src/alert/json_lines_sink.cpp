#include "alert/json_lines_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace fathom::alert {

JsonLinesSink::JsonLinesSink(std::string path) : path_(std::move(path)) {}

JsonLinesSink::~JsonLinesSink() {
  if (fd_ >= 0) ::close(fd_);
}

bool JsonLinesSink::reopen_if_rotated(std::string& error) {
  struct stat at_path {};
  if (fd_ >= 0 && ::stat(path_.c_str(), &at_path) == 0 && at_path.st_dev == dev_ &&
      at_path.st_ino == ino_) {
    return true;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) {
    error = "open " + path_ + ": " + std::strerror(errno);
    return false;
  }
  struct stat opened {};
  if (::fstat(fd_, &opened) == 0) {
    dev_ = opened.st_dev;
    ino_ = opened.st_ino;
  }
  return true;
}

DeliveryResult JsonLinesSink::deliver(const Alert& alert) {
  std::string error;
  if (!reopen_if_rotated(error)) return DeliveryResult::retry(std::move(error));
  std::string line = alert.json;
  line += '\n';
  // O_APPEND and one write: the line lands whole at the end (a short write on a full disk is
  // reported and retried; the retry may duplicate the partial line's content).
  const ssize_t n = ::write(fd_, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size())) {
    return DeliveryResult::retry("write " + path_ + ": " +
                                 (n < 0 ? std::strerror(errno) : std::string("short write")));
  }
  return DeliveryResult::success();
}

}  // namespace fathom::alert
