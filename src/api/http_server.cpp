#include "api/http_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include <httplib.h>

namespace fathom::api {
namespace {

constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kTextContentType = "text/plain; charset=utf-8";
constexpr std::string_view kAllowedMethods = "GET, HEAD";

/// httplib's worker pool, bounded: at most `max_queued` accepted connections wait for a
/// worker. httplib's own ThreadPool queues without limit, so a connection flood would turn
/// into open file descriptors (shared with the collector's sockets and files) until EMFILE.
/// `enqueue` is only ever called by the accept thread, which blocks while the queue is full;
/// a job cannot be dropped instead, because it owns (and closes) the accepted socket.
class BoundedPool final : public httplib::TaskQueue {
 public:
  BoundedPool(size_t threads, size_t max_queued) : max_queued_(max_queued) {
    workers_.reserve(threads);
    for (size_t worker_idx = 0; worker_idx < threads; ++worker_idx) {
      workers_.emplace_back([this] { work(); });
    }
  }
  ~BoundedPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return jobs_.size() < max_queued_; });
    jobs_.push_back(std::move(fn));
    not_empty_.notify_one();
  }

  /// Lets the workers finish every queued connection, then joins them.
  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      if (shut_down_) return;
      shut_down_ = true;
    }
    not_empty_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        not_empty_.wait(lock, [&] { return !jobs_.empty() || shut_down_; });
        if (jobs_.empty()) return;  // shut down and drained
        job = std::move(jobs_.front());
        jobs_.pop_front();
        not_full_.notify_one();
      }
      try {
        job();
      } catch (...) {
        // httplib catches what handlers throw; anything else (bad_alloc while parsing) must
        // not end the process through std::terminate. The connection is abandoned.
      }
    }
  }

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool shut_down_ = false;                  // guarded by mu_
  std::vector<std::thread> workers_;
};

/// "127.0.0.1:9100", "[::1]:9100", "*:9100" (as in error messages).
std::string describe(const std::string& host, uint16_t port) {
  if (host.empty()) return "*:" + std::to_string(port);
  if (host.find(':') != std::string::npos && host.front() != '[') {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

/// Options of the listening socket, replacing httplib's default, which sets SO_REUSEPORT:
/// with it a second process binds the same port without error and the kernel splits the
/// scrapes between the two. SO_REUSEADDR alone still allows a restart while old connections
/// sit in TIME_WAIT. An IPv6 socket is made dual-stack, which only matters for "::".
void set_listen_socket_options(int fd) {
  const int one = 1;
  const int zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int domain = 0;
  socklen_t len = sizeof(domain);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  }
}

/// Why binding `host:port` fails, found by trying it again with plain sockets: httplib only
/// reports failure, and "address in use" and "no such address" call for different fixes.
std::string bind_failure_reason(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* result = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &result); rc != 0) {
    return std::string("cannot resolve host: ") + gai_strerror(rc);
  }
  std::string reason = "bind failed";
  for (const addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      reason = std::strerror(errno);
      continue;
    }
    set_listen_socket_options(fd);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1) != 0) {
      reason = std::strerror(errno);
    }
    close(fd);
  }
  freeaddrinfo(result);
  return reason;
}

/// Tells `start` that the accept loop has begun, or that it has already ended.
struct StartSignal {
  std::mutex mu;
  std::condition_variable cv;
  bool listening = false;  // guarded by mu
  bool finished = false;   // guarded by mu
};

/// Sets the response. The body is moved in (a /metrics text can be megabytes); httplib 0.11's
/// `set_content` only copies.
void set_text(httplib::Response& res, int status, std::string&& body, std::string_view type) {
  res.status = status;
  res.body = std::move(body);
  res.set_header("Content-Type", std::string(type));
}

/// Sends every method but GET and HEAD to `handler`. Methods that may carry a body get routes
/// of their own, so httplib reads (and caps) the body before the answer and a keep-alive
/// connection stays in step; the rest (OPTIONS, TRACE, CONNECT, ...) are answered before
/// routing.
void route_other_methods(httplib::Server& server, const httplib::Server::Handler& handler) {
  server.Post(".*", handler);
  server.Put(".*", handler);
  server.Patch(".*", handler);
  server.Delete(".*", handler);
  server.set_pre_routing_handler([handler](const httplib::Request& req, httplib::Response& res) {
    static constexpr std::string_view kRouted[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
    for (const std::string_view method : kRouted) {
      if (req.method == method) return httplib::Server::HandlerResponse::Unhandled;
    }
    handler(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
}

}  // namespace

const std::string* HttpRequest::param(std::string_view name) const noexcept {
  for (const auto& [key, value] : params) {
    if (key == name) return &value;
  }
  return nullptr;
}

HttpServer::HttpServer(MetricsProvider metrics, HealthProvider health, HttpServerOptions options)
    : metrics_(std::move(metrics)), health_(std::move(health)), options_(std::move(options)) {
  if (options_.worker_threads == 0) options_.worker_threads = 1;
  if (options_.max_queued_connections == 0) options_.max_queued_connections = 1;
}

HttpServer::HttpServer(RequestHandler handler, HttpServerOptions options)
    : handler_(std::move(handler)), options_(std::move(options)) {
  if (options_.worker_threads == 0) options_.worker_threads = 1;
  if (options_.max_queued_connections == 0) options_.max_queued_connections = 1;
}

void HttpServer::install_handler(httplib::Server& server) {
  const auto handle = [this](const httplib::Request& req, httplib::Response& res) {
    HttpRequest request;
    request.method = req.method;
    request.path = req.path;
    request.params.assign(req.params.begin(), req.params.end());  // a multimap: sorted
    request.authorization = req.get_header_value("Authorization");
    request.remote_address = req.remote_addr;
    try {
      HttpResponse response = handler_(request);
      if (response.status == 404) stats_.not_found.fetch_add(1, std::memory_order_relaxed);
      if (response.status == 405) stats_.bad_method.fetch_add(1, std::memory_order_relaxed);
      for (auto& [name, value] : response.headers) res.set_header(name, value);
      set_text(res, response.status, std::move(response.body), response.content_type);
    } catch (...) {
      stats_.provider_errors.fetch_add(1, std::memory_order_relaxed);
      set_text(res, 500, "internal error\n", kTextContentType);
    }
  };
  server.Get(".*", handle);
  route_other_methods(server, handle);
  install_bookkeeping(server);
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::install_routes(httplib::Server& server) {
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    try {
      set_text(res, 200, metrics_(), kMetricsContentType);
    } catch (...) {
      stats_.provider_errors.fetch_add(1, std::memory_order_relaxed);
      set_text(res, 500, "internal error\n", kTextContentType);
    }
  });
  server.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    try {
      const Health health = health_();
      std::string body = health.ok ? "ok\n" : "unhealthy\n";
      body += health.text;
      if (!health.text.empty() && health.text.back() != '\n') body.push_back('\n');
      set_text(res, health.ok ? 200 : 503, std::move(body), kTextContentType);
    } catch (...) {
      stats_.provider_errors.fetch_add(1, std::memory_order_relaxed);
      set_text(res, 500, "internal error\n", kTextContentType);
    }
  });

  const auto not_found = [this](httplib::Response& res) {
    stats_.not_found.fetch_add(1, std::memory_order_relaxed);
    set_text(res, 404, "not found\n", kTextContentType);
  };
  server.Get(".*",
             [not_found](const httplib::Request&, httplib::Response& res) { not_found(res); });

  // Any other method: 405 on our paths, 404 elsewhere. Methods that may carry a body get
  // handlers, so httplib reads (and caps) the body before answering and a keep-alive
  // connection stays in step; the rest are answered before routing.
  const auto other_method = [this, not_found](const httplib::Request& req, httplib::Response& res) {
    if (req.path != "/metrics" && req.path != "/healthz") {
      not_found(res);
      return;
    }
    stats_.bad_method.fetch_add(1, std::memory_order_relaxed);
    res.set_header("Allow", std::string(kAllowedMethods));
    set_text(res, 405, "method not allowed\n", kTextContentType);
  };
  route_other_methods(server, other_method);
  install_bookkeeping(server);
}

void HttpServer::install_bookkeeping(httplib::Server& server) {
  // Exceptions from httplib's own work around a handler (the handlers' own are caught in them).
  server.set_exception_handler(
      [this](const httplib::Request&, httplib::Response& res, const std::exception_ptr&) {
        stats_.provider_errors.fetch_add(1, std::memory_order_relaxed);
        set_text(res, 500, "internal error\n", kTextContentType);
      });
  server.set_logger([this](const httplib::Request&, const httplib::Response&) {
    stats_.requests.fetch_add(1, std::memory_order_relaxed);
  });
}

bool HttpServer::start(const std::string& host, uint16_t port, std::string& error) {
  if (server_ != nullptr) {
    error = "HTTP server already listening on port " + std::to_string(this->port());
    return false;
  }
  // Accept "[::1]" as well as "::1"; empty means every address (dual-stack "::").
  std::string bind_host = host;
  if (bind_host.size() >= 2 && bind_host.front() == '[' && bind_host.back() == ']') {
    bind_host = bind_host.substr(1, bind_host.size() - 2);
  }
  if (bind_host.empty()) bind_host = "::";

  const bool tls = !options_.tls_certificate_file.empty() || !options_.tls_private_key_file.empty();
  if (tls && (options_.tls_certificate_file.empty() || options_.tls_private_key_file.empty())) {
    error = "TLS needs both a certificate and a private key file";
    return false;
  }
  try {
    std::unique_ptr<httplib::Server> server;
    if (tls) {
      auto ssl = std::make_unique<httplib::SSLServer>(options_.tls_certificate_file.c_str(),
                                                      options_.tls_private_key_file.c_str());
      if (!ssl->is_valid()) {
        error = "cannot load the TLS certificate " + options_.tls_certificate_file + " and key " +
                options_.tls_private_key_file + " (unreadable, not PEM, or not a matching pair)";
        return false;
      }
      server = std::move(ssl);
    } else {
      server = std::make_unique<httplib::Server>();
    }
    auto signal = std::make_shared<StartSignal>();
    server->set_socket_options(set_listen_socket_options);
    server->set_read_timeout(options_.read_timeout);
    server->set_write_timeout(options_.write_timeout);
    server->set_keep_alive_timeout(options_.keep_alive_timeout.count());
    server->set_keep_alive_max_count(options_.keep_alive_max_requests);
    server->set_payload_max_length(options_.max_body_bytes);
    // httplib's `stop()` does nothing until the accept loop has marked itself running, and a
    // `stop()` lost that way would leave the loop (and our join) waiting forever. The loop
    // makes its task queue as it starts, so `start` waits for this call, then for the flag.
    server->new_task_queue = [signal, threads = options_.worker_threads,
                              queued = options_.max_queued_connections]() {
      {
        std::lock_guard lock(signal->mu);
        signal->listening = true;
      }
      signal->cv.notify_all();
      return new BoundedPool(threads, queued);
    };
    if (handler_) {
      install_handler(*server);
    } else {
      install_routes(*server);
    }

    int bound = -1;
    if (port == 0) {
      bound = server->bind_to_any_port(bind_host);
    } else if (server->bind_to_port(bind_host, port)) {
      bound = port;
    }
    if (bound <= 0) {
      error =
          "cannot listen on " + describe(host, port) + ": " + bind_failure_reason(bind_host, port);
      return false;
    }

    httplib::Server* raw = server.get();
    thread_ = std::thread([raw, signal] {
      raw->listen_after_bind();
      {
        std::lock_guard lock(signal->mu);
        signal->finished = true;
      }
      signal->cv.notify_all();
    });
    bool listening = false;
    {
      std::unique_lock lock(signal->mu);
      signal->cv.wait(lock, [&] { return signal->listening || signal->finished; });
      listening = !signal->finished;
    }
    if (!listening) {
      thread_.join();
      error = "cannot listen on " + describe(host, port) + ": accept loop ended at start";
      return false;
    }
    // 0.11.4 raises the flag just before making the queue, so this rarely spins; it stops
    // if the loop has already ended (the flag is then down for good).
    while (!raw->is_running()) {
      {
        std::lock_guard lock(signal->mu);
        if (signal->finished) break;
      }
      std::this_thread::yield();
    }
    server_ = std::move(server);
    port_.store(static_cast<uint16_t>(bound), std::memory_order_relaxed);
    return true;
  } catch (const std::exception& e) {
    // Thread creation or allocation failed; nothing is left running (a started thread
    // cannot throw past this point).
    error = "cannot listen on " + describe(host, port) + ": " + e.what();
    return false;
  }
}

void HttpServer::stop() {
  if (server_ == nullptr) return;
  // Closes the listening socket; the accept loop ends, the pool finishes the connections it
  // holds and joins its workers, then the thread ends.
  server_->stop();
  thread_.join();
  server_.reset();
  port_.store(0, std::memory_order_relaxed);
}

}  // namespace fathom::api
