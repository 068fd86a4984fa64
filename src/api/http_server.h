#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace httplib {
class Server;
}

namespace fathom::api {

/// What /healthz reports.
struct Health {
  bool ok = true;
  std::string text;  ///< detail lines after "ok" / the reason after "unhealthy"
};

/// Limits of the HTTP server. The defaults suit a Prometheus scrape endpoint: a few requests
/// a minute from a handful of clients, each a small GET.
struct HttpServerOptions {
  /// Threads serving connections. A connection holds its thread until it closes.
  size_t worker_threads = 2;
  /// Accepted connections waiting for a worker. When full, the accept thread waits, so further
  /// clients wait in the kernel's listen backlog (then get refused) instead of each holding a
  /// file descriptor in an unbounded queue.
  size_t max_queued_connections = 16;
  /// Longest wait for each read from, and each write to, a client; a client slower than this
  /// is disconnected.
  std::chrono::seconds read_timeout{5};
  std::chrono::seconds write_timeout{5};
  /// Requests per connection. One (no keep-alive) by default: a scrape every 15 s gains
  /// nothing from reusing its connection, while an idle kept-alive connection would hold a
  /// worker (and delay `stop`) for up to `keep_alive_timeout`.
  size_t keep_alive_max_requests = 1;
  /// How long a connection may wait for its next request (or, in httplib 0.11, its first
  /// request's first byte) while holding a worker.
  std::chrono::seconds keep_alive_timeout{2};
  /// Largest request body accepted (none of the routes takes one); larger gets 413.
  size_t max_body_bytes = 4096;
  /// PEM files of the server's certificate (chain) and private key: both set serves HTTPS
  /// (OpenSSL through httplib), both empty plain HTTP. `start` fails when they cannot be
  /// loaded or do not match.
  std::string tls_certificate_file;
  std::string tls_private_key_file;
};

/// One request as a handler sees it.
struct HttpRequest {
  std::string method;  ///< "GET", "HEAD", "POST", ...
  std::string path;    ///< percent-decoded, without the query
  /// Query parameters, percent-decoded, sorted by name (a name may repeat).
  std::vector<std::pair<std::string, std::string>> params;
  std::string authorization;  ///< the Authorization header, or empty
  std::string remote_address;

  /// The first value of `name`, or null.
  const std::string* param(std::string_view name) const noexcept;
};

/// A handler's answer. HEAD requests are answered without the body.
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers
};

/// Counters of the server, safe to read from any thread (relaxed atomics).
struct HttpServerStats {
  std::atomic<uint64_t> requests{0};         ///< requests routed (any status)
  std::atomic<uint64_t> not_found{0};        ///< 404: unknown path
  std::atomic<uint64_t> bad_method{0};       ///< 405: a method other than GET or HEAD
  std::atomic<uint64_t> provider_errors{0};  ///< 500: a provider threw
};

/// Serves the process's operational endpoints over HTTP/1.1 from its own threads:
/// - `GET /metrics`: the metrics provider's text as `text/plain; version=0.0.4; charset=utf-8`;
/// - `GET /healthz`: 200 "ok\n" followed by `Health::text`, or 503 "unhealthy\n" followed by it;
/// - any other path: 404; another method on a known path: 405 with `Allow: GET, HEAD`
///   (HEAD is GET without the body, RFC 9110 §9.3.2);
/// - a provider that throws: 500 "internal error\n" (counted; the server carries on).
/// Providers are called on a worker thread, possibly on two at once, so they must be
/// thread-safe; they should read a snapshot, not do work.
///
/// `start`, `stop` and `running` are for one controlling thread; `port()` and `stats()` may
/// be read from any thread.
class HttpServer {
 public:
  using MetricsProvider = std::function<std::string()>;
  using HealthProvider = std::function<Health()>;
  /// Answers every request (any method, any path). Called on worker threads, possibly on two
  /// at once. What it throws becomes a 500 (counted as a provider error).
  using RequestHandler = std::function<HttpResponse(const HttpRequest&)>;

  HttpServer(MetricsProvider metrics, HealthProvider health, HttpServerOptions options = {});
  /// A server whose every request goes to `handler` (the REST API and dashboard): the routes
  /// above are not installed.
  HttpServer(RequestHandler handler, HttpServerOptions options);
  /// Stops the server if it runs.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds `host:port` (numeric IPv4 or IPv6 address such as "::1", optionally in brackets, or a
  /// name; empty for every address; port 0 for one the kernel picks) and serves from new
  /// threads. Returns false and sets `error` to a message naming host:port and the reason
  /// (address in use, address not available, unresolvable name) if it cannot bind, or if the
  /// server already runs. Never throws.
  bool start(const std::string& host, uint16_t port, std::string& error);

  /// Closes the listening socket, lets requests in progress finish (bounded by the timeouts)
  /// and joins the threads. No-op if not running. `start` may be called again afterwards.
  void stop();

  /// The bound port (the kernel's choice when started with 0); 0 when not running.
  uint16_t port() const noexcept { return port_.load(std::memory_order_relaxed); }
  bool running() const noexcept { return thread_.joinable(); }
  const HttpServerStats& stats() const noexcept { return stats_; }

 private:
  void install_routes(httplib::Server& server);

  void install_handler(httplib::Server& server);
  /// Counts requests, and answers 500 for what httplib throws around a handler.
  void install_bookkeeping(httplib::Server& server);

  MetricsProvider metrics_;
  HealthProvider health_;
  RequestHandler handler_;
  HttpServerOptions options_;
  HttpServerStats stats_;
  std::unique_ptr<httplib::Server> server_;  ///< fresh per start; null when stopped
  std::thread thread_;                       ///< runs the accept loop; joined by stop()
  std::atomic<uint16_t> port_{0};
};

}  // namespace fathom::api
