#include "app/logging.h"
#include "api/metrics_text.h"

#include <time.h>

#include <atomic>
#include <cstdio>
#include <exception>
#include <mutex>
#include <unordered_map>
#include <utility>

#include <spdlog/formatter.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace fathom::app {
namespace {

constexpr std::string_view kDefaultLoggerName = "fathom";
constexpr char kHex[] = "0123456789abcdef";

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return spdlog::level::trace;
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
    case LogLevel::kCritical: return spdlog::level::critical;
    case LogLevel::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return to_string(LogLevel::kTrace);
    case spdlog::level::debug: return to_string(LogLevel::kDebug);
    case spdlog::level::info: return to_string(LogLevel::kInfo);
    case spdlog::level::warn: return to_string(LogLevel::kWarn);
    case spdlog::level::err: return to_string(LogLevel::kError);
    case spdlog::level::critical: return to_string(LogLevel::kCritical);
    default: return to_string(LogLevel::kOff);
  }
}

using api::utf8_sequence_length;

void append(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

void append_hex_byte(spdlog::memory_buf_t& dest, std::string_view prefix, unsigned char c) {
  append(dest, prefix);
  dest.push_back(kHex[c >> 4]);
  dest.push_back(kHex[c & 0xF]);
}

/// Text format: control characters and ill-formed UTF-8 become \n, \r, \t or \xHH, so a
/// message (which may quote an exporter's bytes) stays on one line and cannot forge another.
void append_text_escaped(spdlog::memory_buf_t& dest, std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const auto c = static_cast<unsigned char>(text[pos]);
    if (c == '\n') {
      append(dest, "\\n");
    } else if (c == '\r') {
      append(dest, "\\r");
    } else if (c == '\t') {
      append(dest, "\\t");
    } else if (c >= 0x20 && c < 0x7F) {
      dest.push_back(static_cast<char>(c));
    } else if (const size_t len = c < 0x80 ? 0 : utf8_sequence_length(text.substr(pos)); len > 0) {
      append(dest, text.substr(pos, len));
      pos += len;
      continue;
    } else {
      append_hex_byte(dest, "\\x", c);  // other control character, or ill-formed UTF-8
    }
    ++pos;
  }
}

/// A JSON string body (RFC 8259 §7): quote, backslash and control characters escaped;
/// ill-formed UTF-8 becomes U+FFFD, since a JSON text must be UTF-8 (§8.1).
void append_json_escaped(spdlog::memory_buf_t& dest, std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const auto c = static_cast<unsigned char>(text[pos]);
    switch (c) {
      case '"': append(dest, "\\\""); break;
      case '\\': append(dest, "\\\\"); break;
      case '\n': append(dest, "\\n"); break;
      case '\r': append(dest, "\\r"); break;
      case '\t': append(dest, "\\t"); break;
      case '\b': append(dest, "\\b"); break;
      case '\f': append(dest, "\\f"); break;
      default:
        if (c < 0x20) {
          append_hex_byte(dest, "\\u00", c);
        } else if (c < 0x80) {
          dest.push_back(static_cast<char>(c));
        } else if (const size_t len = utf8_sequence_length(text.substr(pos)); len > 0) {
          append(dest, text.substr(pos, len));
          pos += len;
          continue;
        } else {
          append(dest, "\\ufffd");
        }
    }
    ++pos;
  }
}

/// Formats every message as one line in `LogFormat`. One per sink (spdlog clones it); called
/// under the sink's lock, so its cache needs none.
class LineFormatter final : public spdlog::formatter {
 public:
  explicit LineFormatter(LogFormat format) : format_(format) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string_view ts = timestamp(msg.time);
    const std::string_view level = level_name(msg.level);
    const std::string_view name(msg.logger_name.data(), msg.logger_name.size());
    const std::string_view text(msg.payload.data(), msg.payload.size());
    if (format_ == LogFormat::kJson) {
      append(dest, "{\"ts\":\"");
      append(dest, ts);
      append(dest, "\",\"level\":\"");
      append(dest, level);
      append(dest, "\",\"logger\":\"");
      append_json_escaped(dest, name);
      append(dest, "\",\"msg\":\"");
      append_json_escaped(dest, text);
      append(dest, "\"}\n");
    } else {
      append(dest, ts);
      dest.push_back(' ');
      append(dest, level);
      dest.push_back(' ');
      append_text_escaped(dest, name);
      append(dest, ": ");
      append_text_escaped(dest, text);
      dest.push_back('\n');
    }
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(format_);
  }

 private:
  /// "2026-11-23T10:00:00.123Z" (RFC 3339, UTC, milliseconds); the seconds part is cached.
  std::string_view timestamp(spdlog::log_clock::time_point time) {
    using std::chrono::duration_cast;
    const auto since_epoch = duration_cast<std::chrono::milliseconds>(time.time_since_epoch());
    int64_t ms = since_epoch.count();
    int64_t secs = ms / 1000;
    ms %= 1000;
    if (ms < 0) {  // before 1970: floor, not truncate
      ms += 1000;
      --secs;
    }
    if (secs != cached_secs_ || cached_len_ == 0) {
      const time_t t = static_cast<time_t>(secs);
      tm utc{};
      gmtime_r(&t, &utc);
      const int len =
          std::snprintf(buf_, sizeof(buf_), "%04d-%02d-%02dT%02d:%02d:%02d.", utc.tm_year + 1900,
                        utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
      cached_len_ = len > 0 && static_cast<size_t>(len) < sizeof(buf_) - 5 ? len : 0;
      cached_secs_ = secs;
    }
    char* p = buf_ + cached_len_;
    p[0] = static_cast<char>('0' + ms / 100);
    p[1] = static_cast<char>('0' + ms / 10 % 10);
    p[2] = static_cast<char>('0' + ms % 10);
    p[3] = 'Z';
    return {buf_, static_cast<size_t>(cached_len_) + 4};
  }

  LogFormat format_;
  int64_t cached_secs_ = 0;
  int cached_len_ = 0;
  char buf_[48] = {};
};

/// The logging configuration. The one sink every logger holds is a fan-out whose target is
/// swapped by `setup_logging`, so loggers made before a reconfiguration follow it.
struct State {
  std::mutex mu;
  std::shared_ptr<spdlog::sinks::dist_sink_mt> sink;
  std::unordered_map<std::string, std::shared_ptr<spdlog::logger>> loggers;  // guarded by mu
  std::atomic<LogLevel> level{LogLevel::kInfo};

  State() : sink(std::make_shared<spdlog::sinks::dist_sink_mt>()) {
    auto target = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    target->set_formatter(std::make_unique<LineFormatter>(LogFormat::kText));
    sink->set_sinks({std::move(target)});
  }
};

State& state() {
  static State instance;
  return instance;
}

/// Returns the logger `name`, creating and registering it. Caller holds `s.mu`.
std::shared_ptr<spdlog::logger> get_or_create(State& s, std::string_view name) {
  std::string key(name);
  if (const auto found = s.loggers.find(key); found != s.loggers.end()) return found->second;
  auto created = std::make_shared<spdlog::logger>(key, s.sink);
  created->set_level(to_spdlog(s.level.load()));
  // Flushing matters once the target is a file; stderr is unbuffered anyway.
  created->flush_on(spdlog::level::warn);
  try {
    spdlog::register_logger(created);
  } catch (const spdlog::spdlog_ex&) {
    // Someone registered this name with spdlog directly; ours still works, unregistered.
  }
  s.loggers.emplace(std::move(key), created);
  return created;
}

}  // namespace

std::string_view to_string(LogFormat format) noexcept {
  switch (format) {
    case LogFormat::kText: return "text";
    case LogFormat::kJson: return "json";
  }
  return "unknown";
}

bool parse_log_format(std::string_view text, LogFormat& out) noexcept {
  if (text == "text") {
    out = LogFormat::kText;
  } else if (text == "json") {
    out = LogFormat::kJson;
  } else {
    return false;
  }
  return true;
}

int setup_command_logging(const char* cmd, int verbose, std::string_view log_format, Config& config,
                          std::FILE* err) {
  LogLevel level = config.log_level;
  for (int i = 0; i < verbose && level != LogLevel::kTrace; ++i) {
    level = static_cast<LogLevel>(static_cast<int>(level) - 1);
  }
  LogFormat format = config.log_format;
  if (!log_format.empty() && !parse_log_format(log_format, format)) {
    std::fprintf(err, "%s: --log-format must be text or json\n", cmd);
    return 2;
  }
  std::string error;
  if (!setup_logging(level, format, error)) {
    std::fprintf(err, "%s: logging: %s\n", cmd, error.c_str());
    return 1;
  }
  config.log_level = level;
  config.log_format = format;
  return 0;
}

bool setup_logging(LogLevel level, LogFormat format, std::string& error, spdlog::sink_ptr sink) {
  if (format != LogFormat::kText && format != LogFormat::kJson) {
    error = "unknown log format " + std::to_string(static_cast<int>(format));
    return false;
  }
  if (static_cast<uint8_t>(level) > static_cast<uint8_t>(LogLevel::kOff)) {
    error = "unknown log level " + std::to_string(static_cast<int>(level));
    return false;
  }
  State& s = state();
  try {
    if (sink == nullptr) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    // The target's formatter is set before it is published, so no line is written in the
    // old format to the new target.
    sink->set_formatter(std::make_unique<LineFormatter>(format));
    std::lock_guard lock(s.mu);
    s.sink->set_sinks({std::move(sink)});
    std::shared_ptr<spdlog::logger> fathom = get_or_create(s, kDefaultLoggerName);
    // spdlog asks not to swap the default logger while others log through it: only once.
    if (spdlog::default_logger_raw() != fathom.get()) spdlog::set_default_logger(fathom);
    s.level.store(level);
    for (auto& [name, logger] : s.loggers) logger->set_level(to_spdlog(level));
  } catch (const std::exception& e) {
    error = std::string("cannot set up logging: ") + e.what();
    return false;
  }
  return true;
}

std::shared_ptr<spdlog::logger> logger(std::string_view name) {
  State& s = state();
  std::lock_guard lock(s.mu);
  return get_or_create(s, name);
}

void set_log_level(LogLevel level) {
  State& s = state();
  std::lock_guard lock(s.mu);
  s.level.store(level);
  for (auto& [name, logger] : s.loggers) logger->set_level(to_spdlog(level));
}

LogLevel log_level() noexcept {
  return state().level.load();
}

RateLimitedLog::RateLimitedLog(Clock::duration interval, uint32_t burst) noexcept
    : interval_(interval), burst_(burst == 0 ? 1 : burst) {}

bool RateLimitedLog::allow(Clock::time_point now, uint64_t& suppressed) noexcept {
  if (!started_ || now - window_start_ >= interval_) {
    started_ = true;
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ >= burst_) {
    ++pending_;
    ++suppressed_total_;
    return false;
  }
  ++in_window_;
  suppressed = pending_;
  pending_ = 0;
  return true;
}

}  // namespace fathom::app
