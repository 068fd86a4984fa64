#pragma once

#include <sys/types.h>

#include <string>

#include "alert/sink.h"

namespace fathom::alert {

/// Appends each alert's JSON as one line to a file (one write per line, so lines of
/// concurrent writers do not interleave). Reopens the path when the file there is no longer
/// the one it has open (moved away by logrotate) or was deleted.
class JsonLinesSink final : public Sink {
 public:
  explicit JsonLinesSink(std::string path);
  ~JsonLinesSink() override;
  JsonLinesSink(const JsonLinesSink&) = delete;
  JsonLinesSink& operator=(const JsonLinesSink&) = delete;

  /// Retryable on an open or write error (a full disk may clear).
  DeliveryResult deliver(const Alert& alert) override;

 private:
  bool reopen_if_rotated(std::string& error);

  std::string path_;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace fathom::alert
