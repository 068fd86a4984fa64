#pragma once

// Real receivers on loopback for the sink and dispatcher tests: an HTTP server, and UDP and
// TCP syslog listeners with RFC 5424 / RFC 6587 / CEF parsers written from the specs (not
// from the code under test).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

namespace fathom::alert::testing {

/// One request the HTTP receiver saw.
struct Received {
  std::string body;
  std::string timestamp;
  std::string signature;
  int status = 0;  ///< what the receiver answered
};

/// An httplib::Server on 127.0.0.1 that answers `fail_status` to the first `fail_first`
/// requests and `ok_status` after.
class HttpReceiver {
 public:
  explicit HttpReceiver(int fail_first = 0, int fail_status = 503, int ok_status = 200,
                        int port = 0)
      : fail_first_(fail_first), fail_status_(fail_status), ok_status_(ok_status) {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      Received r;
      r.body = req.body;
      r.timestamp = req.get_header_value("X-Fathom-Timestamp");
      r.signature = req.get_header_value("X-Fathom-Signature");
      r.status = static_cast<int>(received_.size()) < fail_first_ ? fail_status_ : ok_status_;
      res.status = r.status;
      res.set_content("{}", "application/json");
      received_.push_back(std::move(r));
    });
    if (port == 0) {
      port_ = server_.bind_to_any_port("127.0.0.1");
    } else if (server_.bind_to_port("127.0.0.1", port)) {
      port_ = port;
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~HttpReceiver() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  std::vector<Received> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  /// Bodies of the requests answered 2xx.
  std::vector<std::string> accepted() {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const Received& r : received_) {
      if (r.status / 100 == 2) out.push_back(r.body);
    }
    return out;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  const int fail_first_;
  const int fail_status_;
  const int ok_status_;
  std::mutex mu_;
  std::vector<Received> received_;
};

/// A loopback port nothing listens on (bound and released; a test that later listens there
/// is the only one asking for it).
inline int unused_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

/// A socket of `type` bound to 127.0.0.1 on a free port; reads give up after 10 s.
inline int bound_socket(int type, uint16_t& port) {
  const int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  port = ntohs(sa.sin_port);
  timeval guard{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
  return fd;
}

/// An RFC 5424 message split into its fields (§6), SD kept raw.
struct SyslogMessage {
  int pri = -1;
  std::string version, timestamp, hostname, app_name, procid, msgid, structured_data, msg;
  std::map<std::string, std::string> sd_params;  ///< of the first SD-ELEMENT, unescaped
};

/// Parses an RFC 5424 message; nullopt when it does not follow the grammar.
inline std::optional<SyslogMessage> parse_rfc5424(const std::string& text) {
  SyslogMessage m;
  if (text.empty() || text[0] != '<') return std::nullopt;
  const size_t close = text.find('>');
  if (close == std::string::npos || close < 2 || close > 4) return std::nullopt;
  m.pri = std::stoi(text.substr(1, close - 1));
  size_t pos = close + 1;
  auto field = [&](std::string& out) {
    const size_t space = text.find(' ', pos);
    if (space == std::string::npos) return false;
    out = text.substr(pos, space - pos);
    pos = space + 1;
    return !out.empty();
  };
  if (!field(m.version) || !field(m.timestamp) || !field(m.hostname) || !field(m.app_name) ||
      !field(m.procid) || !field(m.msgid)) {
    return std::nullopt;
  }
  if (text.compare(pos, 1, "-") == 0) {
    m.structured_data = "-";
    pos += 1;
  } else if (text.compare(pos, 1, "[") == 0) {
    // §6.3: PARAM-VALUE escapes '"', '\' and ']'; the element ends at an unescaped ']'
    // outside quotes.
    const size_t begin = pos;
    bool quoted = false;
    std::string name, value;
    bool in_name = false;
    size_t element = 0;
    for (++pos; pos < text.size(); ++pos) {
      const char c = text[pos];
      if (quoted) {
        if (c == '\\' && pos + 1 < text.size()) {
          value += text[++pos];
        } else if (c == '"') {
          quoted = false;
          if (element == 0) m.sd_params[name] = value;
          name.clear();
          value.clear();
        } else {
          value += c;
        }
        continue;
      }
      if (c == ']') {
        ++element;
        if (pos + 1 < text.size() && text[pos + 1] == '[') {
          ++pos;
          continue;
        }
        ++pos;
        break;
      }
      if (c == ' ') {
        in_name = true;
        name.clear();
      } else if (c == '=') {
        in_name = false;
      } else if (c == '"') {
        quoted = true;
      } else if (in_name) {
        name += c;
      }
    }
    m.structured_data = text.substr(begin, pos - begin);
  } else {
    return std::nullopt;
  }
  if (pos < text.size()) {
    if (text[pos] != ' ') return std::nullopt;
    m.msg = text.substr(pos + 1);
  }
  return m;
}

/// A CEF record: the 7 header fields after "CEF:0" (unescaped) and the extensions (unescaped).
struct CefRecord {
  std::vector<std::string> header;  ///< vendor, product, version, signature id, name, severity
  std::map<std::string, std::string> extensions;
};

/// Parses "CEF:0|a|b|c|d|e|f|ext" from the CEF spec's rules; nullopt when malformed.
inline std::optional<CefRecord> parse_cef(const std::string& text) {
  if (text.rfind("CEF:0|", 0) != 0) return std::nullopt;
  CefRecord rec;
  size_t pos = 6;
  std::string current;
  while (rec.header.size() < 6 && pos < text.size()) {
    const char c = text[pos++];
    if (c == '\\' && pos < text.size()) {
      current += text[pos++];
    } else if (c == '|') {
      rec.header.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (rec.header.size() != 6) return std::nullopt;
  const std::string ext = text.substr(pos);
  // A key starts after a space (or at 0) and runs to an unescaped '='.
  std::vector<std::pair<size_t, size_t>> keys;  // (key begin, '=' position)
  for (size_t i = 0; i < ext.size(); ++i) {
    if (ext[i] == '\\') {
      ++i;
      continue;
    }
    if (ext[i] == '=') {
      size_t begin = ext.rfind(' ', i);
      begin = begin == std::string::npos ? 0 : begin + 1;
      keys.emplace_back(begin, i);
    }
  }
  for (size_t key_idx = 0; key_idx < keys.size(); ++key_idx) {
    const auto [begin, eq] = keys[key_idx];
    const size_t end = key_idx + 1 < keys.size() ? keys[key_idx + 1].first - 1 : ext.size();
    const std::string raw = ext.substr(eq + 1, end - eq - 1);
    std::string value;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 1 < raw.size()) {
        const char next = raw[++i];
        value += next == 'n' ? '\n' : next == 'r' ? '\r' : next;
      } else {
        value += raw[i];
      }
    }
    rec.extensions[ext.substr(begin, eq - begin)] = value;
  }
  return rec;
}

}  // namespace fathom::alert::testing
