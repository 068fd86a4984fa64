#pragma once

// Process-wide logging on spdlog. Logging is the one process-wide state Fathom keeps (spdlog's
// logger registry is global anyway): one sink shared by every named logger, one format, one
// level. `app` sets it up and creates each part's logger (`logger("collect")`) when wiring.
// Loggers are also registered in spdlog's registry under their name, so a part that does not
// depend on `app` finds its own with `spdlog::get("transform")` (falling back to the default
// logger, which is Fathom's "fathom" logger once logging is set up).
//
// Messages carry context as key=value pairs in the text ("unknown template exporter=10.0.0.1
// domain=0 template=260"); on a per-packet path they go through a `RateLimitedLog`.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/common.h>
#include <spdlog/logger.h>

#include "app/config.h"

namespace fathom::app {

// LogFormat (text or JSON lines) is declared in app/config.h with LogLevel.

/// "text" or "json", as `log_format` is written in fathom.yaml.
std::string_view to_string(LogFormat format) noexcept;

/// Parses "text" or "json". Returns false and leaves `out` alone on anything else.
bool parse_log_format(std::string_view text, LogFormat& out) noexcept;

/// (Re)configures logging: every logger, existing or future, writes to `sink` (stderr when
/// null) in `format` at `level` or above. Also makes the "fathom" logger spdlog's default, so
/// `spdlog::info(...)` goes the same way. Either format writes exactly one line per message:
/// control characters in a message are escaped, ill-formed UTF-8 too (JSON gets U+FFFD, text
/// gets \xHH). Level names are those of fathom.yaml ("warn", not spdlog's "warning").
/// Thread-safe; may be called again (a config reload, a test pointing at its own stream).
/// Returns false and sets `error` if spdlog refuses (it throws on some misuse); logging then
/// keeps its previous configuration.
bool setup_logging(LogLevel level, LogFormat format, std::string& error,
                   spdlog::sink_ptr sink = nullptr);

/// Logging as a long-running command (`fathom run`, `collect`, `analyze`) starts it:
/// `config`'s level, one step more verbose per `-v` (`verbose`), and its format unless
/// `log_format` ("text" or "json"; "" keeps it) overrides it; both are written back into
/// `config`. Returns 0, or the exit status after a message on `err` prefixed with `cmd`: 2 for
/// a bad `log_format`, 1 when logging cannot start.
int setup_command_logging(const char* cmd, int verbose, std::string_view log_format, Config& config,
                          std::FILE* err);

/// The logger named `name` (a part: "collect", "transform", ...), created on first use. All
/// share the sink, format and level set by `setup_logging` / `set_log_level`; before any
/// `setup_logging` they write text to stderr at info. Thread-safe.
std::shared_ptr<spdlog::logger> logger(std::string_view name);

/// Changes the level of every logger at run time (a SIGHUP reload). Thread-safe.
void set_log_level(LogLevel level);

/// The level set last.
LogLevel log_level() noexcept;

/// Lets at most `burst` messages through per `interval` and counts the rest, for a log on a
/// per-packet path. Use one per message site and owner (a stage's state, so one thread):
/// ```
/// uint64_t suppressed = 0;
/// if (unknown_exporter_log_.allow(batch_time, suppressed)) {
///   log_->warn("unknown exporter exporter={} suppressed={}", addr, suppressed);
/// }
/// ```
/// Not thread-safe; no allocation, lock or clock read (the caller passes the time).
class RateLimitedLog {
 public:
  using Clock = std::chrono::steady_clock;

  /// `burst` of 0 is taken as 1.
  explicit RateLimitedLog(Clock::duration interval, uint32_t burst = 1) noexcept;

  /// True if a message at `now` may be logged; then `suppressed` is the number held back
  /// since the last one let through (0 when none). False (and `suppressed` untouched) if the
  /// current window's burst is used up. Windows start at the first call after the previous
  /// window's end; time going backwards is treated as the same window.
  bool allow(Clock::time_point now, uint64_t& suppressed) noexcept;

  /// Messages held back over the limiter's life.
  uint64_t suppressed_total() const noexcept { return suppressed_total_; }

 private:
  Clock::duration interval_;
  uint32_t burst_;
  Clock::time_point window_start_{};
  bool started_ = false;
  uint32_t in_window_ = 0;  ///< messages let through in the current window
  uint64_t pending_ = 0;    ///< held back since the last one let through
  uint64_t suppressed_total_ = 0;
};

}  // namespace fathom::app
