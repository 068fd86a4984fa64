#include "api/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>

namespace fathom::api {
namespace {

constexpr const char* kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

HttpServer::MetricsProvider fixed_metrics(std::string text = "# HELP m M.\n# TYPE m gauge\nm 1\n") {
  return [text = std::move(text)] { return text; };
}

HttpServer::HealthProvider healthy() {
  return [] { return Health{true, ""}; };
}

/// A connected TCP socket to addr:port (family AF_INET or AF_INET6), or -1. Reads give up
/// after 10 s so a broken server fails the test instead of hanging it.
int connect_to(int family, const char* addr, uint16_t port) {
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval guard{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof(guard));
  int rc = -1;
  if (family == AF_INET) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, addr, &sa.sin_addr);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  } else {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    inet_pton(AF_INET6, addr, &sa.sin6_addr);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  }
  if (rc != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/// Reads until the peer closes (or the 10 s guard fires).
std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

/// Sends one raw request and returns the raw response ("" if the connection failed).
std::string raw_request(int family, const char* addr, uint16_t port, const std::string& request) {
  const int fd = connect_to(family, addr, port);
  if (fd < 0) return "";
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response = read_all(fd);
  close(fd);
  return response;
}

std::string get_request(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
}

TEST(HttpServer, ServesMetrics) {
  const std::string body = "# HELP fathom_up Up.\n# TYPE fathom_up gauge\nfathom_up 1\n";
  HttpServer server(fixed_metrics(body), healthy());
  std::string error;
  ASSERT_TRUE(server.start("127.0.0.1", 0, error)) << error;
  ASSERT_NE(server.port(), 0);
  EXPECT_TRUE(server.running());

  httplib::Client client("127.0.0.1", server.port());
  const httplib::Result res = client.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, body);
  EXPECT_EQ(res->get_header_value("Content-Type"), kMetricsType);

  const httplib::Result with_query = client.Get("/metrics?name[]=x");
  ASSERT_TRUE(with_query);
  EXPECT_EQ(with_query->status, 200);

  const httplib::Result head = client.Head("/metrics");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
}

TEST(HttpServer, HealthzReportsOkAndUnhealthy) {
  std::atomic<bool> ok{true};
  HttpServer server(fixed_metrics(), [&] {
    return ok ? Health{true, "exporters=3"} : Health{false, "queue bus->analyze full"};
  });
  std::string error;
  ASSERT_TRUE(server.start("127.0.0.1", 0, error)) << error;
  httplib::Client client("127.0.0.1", server.port());

  httplib::Result res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok\nexporters=3\n");
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; charset=utf-8");

  ok = false;
  res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->body, "unhealthy\nqueue bus->analyze full\n");
}

TEST(HttpServer, UnknownPathIs404AndOtherMethodsAre405) {
  HttpServer server(fixed_metrics(), healthy());
  std::string error;
  ASSERT_TRUE(server.start("127.0.0.1", 0, error)) << error;
  httplib::Client client("127.0.0.1", server.port());

  httplib::Result res = client.Get("/nope");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  res = client.Get("/metrics/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);

  res = client.Post("/metrics", "x=1", "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD");
  res = client.Delete("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  res = client.Options("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  res = client.Post("/elsewhere", "", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);

  const std::string trace =
      raw_request(AF_INET, "127.0.0.1", server.port(),
                  "TRACE /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(trace.starts_with("HTTP/1.1 405 ")) << trace;

  EXPECT_EQ(server.stats().not_found.load(), 3u);
  EXPECT_EQ(server.stats().bad_method.load(), 4u);
}

TEST(HttpServer, RejectsLargeBodies) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  HttpServer server(fixed_metrics(), healthy(), options);
  std::string error;
  ASSERT_TRUE(server.start("127.0.0.1", 0, error)) << error;
  httplib::Client client("127.0.0.1", server.port());
  const httplib::Result res = client.Post("/metrics", std::string(100'000, 'x'), "text/plain");
  // httplib answers 413 before reading the body; the client may see the answer or a reset.
  if (res) {
    EXPECT_EQ(res->status, 413);
  }
  // Either way the server still serves.
  const httplib::Result after = client.Get("/metrics");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
}

TEST(HttpServer, ThrowingProviderIs500AndServerCarriesOn) {
  std::atomic<int> calls{0};
  HttpServer server(
      [&]() -> std::string {
        if (calls++ == 0) throw std::runtime_error("snapshot\r\nX-Injected: yes");
        return "m 1\n";
      },
      []() -> Health { throw 42; });  // not even a std::exception
  std::string error;
  ASSERT_TRUE(server.start("127.0.0.1", 0, error)) << error;
  httplib::Client client("127.0.0.1", server.port());

  httplib::Result res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->body, "internal error\n");  // the exception's text is not sent
  EXPECT_FALSE(res->has_header("X-Injected"));
  res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);

  res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "m 1\n");
  EXPECT_EQ(server.stats().provider_errors.load(), 2u);
}

TEST(HttpServer, PortInUseIsAClearError) {
  HttpServer first(fixed_metrics(), healthy());
  std::string error;
  ASSERT_TRUE(first.start("127.0.0.1", 0, error)) << error;

  // A second server on the same port must fail: httplib's default socket options set
  // SO_REUSEPORT, with which this bind would succeed and the kernel would split the scrapes.
  HttpServer second(fixed_metrics(), healthy());
  EXPECT_FALSE(second.start("127.0.0.1", first.port(), error));
  EXPECT_NE(error.find("127.0.0.1:" + std::to_string(first.port())), std::string::npos) << error;
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
  EXPECT_FALSE(second.running());
  EXPECT_EQ(second.port(), 0);

  // The first is unaffected.
  httplib::Client client("127.0.0.1", first.port());
  const httplib::Result res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(HttpServer, PortHeldByAnotherProgramIsAClearError) {
  // A plain listening socket, as another program would hold it.
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  const uint16_t port = ntohs(sa.sin_port);

  HttpServer server(fixed_metrics(), healthy());
  std::string error;
  EXPECT_FALSE(server.start("127.0.0.1", port, error));
  EXPECT_NE(error.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << error;
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
  close(fd);
}

TEST(HttpServer, BadAddressesAreClearErrors) {
  // Numeric addresses only: anything else would be looked up in DNS, off loopback.
  HttpServer server(fixed_metrics(), healthy());
  std::string error;
  // TEST-NET-3 (RFC 5737): valid, but not an address of this host.
  EXPECT_FALSE(server.start("203.0.113.7", 9100, error));
  EXPECT_NE(error.find("203.0.113.7:9100"), std::string::npos) << error;
  EXPECT_NE(error.find("assign"), std::string::npos) << error;  // EADDRNOTAVAIL

  error.clear();
  // Link-local without a scope id (EINVAL), or no IPv6 at all (EAFNOSUPPORT).
  EXPECT_FALSE(server.start("fe80::1", 9100, error));
  EXPECT_NE(error.find("[fe80::1]:9100: "), std::string::npos) << error;
  EXPECT_FALSE(server.running());
}

TEST(HttpServer, ServesOnIpv6Loopback) {
  HttpServer server(fixed_metrics("m 6\n"), healthy());
  std::string error;
  if (!server.start("::1", 0, error)) GTEST_SKIP() << "no IPv6 loopback here: " << error;
  const std::string response = raw_request(AF_INET6, "::1", server.port(), get_request("/metrics"));
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200 ")) << response;
  EXPECT_TRUE(response.ends_with("\r\n\r\nm 6\n")) << response;
  server.stop();

  // Bracketed, as written in a HOST:PORT endpoint.
  ASSERT_TRUE(server.start("[::1]", 0, error)) << error;
  EXPECT_TRUE(raw_request(AF_INET6, "::1", server.port(), get_request("/healthz"))
                  .starts_with("HTTP/1.1 200 "));

  // A port taken on ::1 names the address in brackets.
  HttpServer second(fixed_metrics(), healthy());
  EXPECT_FALSE(second.start("::1", server.port(), error));
  EXPECT_NE(error.find("[::1]:" + std::to_string(server.port())), std::string::npos) << error;
}

TEST(HttpServer, EmptyHostListensOnEveryAddress) {
  HttpServer server(fixed_metrics("m any\n"), healthy());
  std::string error;
  ASSERT_TRUE(server.start("", 0, error)) << error;
  EXPECT_TRUE(raw_request(AF_INET, "127.0.0.1", server.port(), get_request("/metrics"))
                  .ends_with("m any\n"));
  const int v6 = connect_to(AF_INET6, "::1", server.port());
  if (v6 >= 0) {
    close(v6);
    EXPECT_TRUE(
        raw_request(AF_INET6, "::1", server.port(), get_request("/metrics")).ends_with("m any\n"));
  }
}

TEST(HttpServer, StopsAndStartsAgain) {
  HttpServer server(fixed_metrics("m 2\n"), healthy());
  std::string error;
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(server.start("127.0.0.1", 0, error)) << error;
    EXPECT_FALSE(server.start("127.0.0.1", 0, error));  // already running
    EXPECT_NE(error.find("already"), std::string::npos) << error;
    const uint16_t port = server.port();
    httplib::Client client("127.0.0.1", port);
    const httplib::Result res = client.Get("/metrics");
    ASSERT_TRUE(res) << "round " << round;
    EXPECT_EQ(res->body, "m 2\n");
    server.stop();
    EXPECT_FALSE(server.running());
    EXPECT_EQ(server.port(), 0);
    server.stop();  // a second stop is a no-op
    // Nothing listens any more.
    EXPECT_EQ(connect_to(AF_INET, "127.0.0.1", port), -1) << "round " << round;
  }
}

TEST(HttpServer, RebindsTheSamePortAfterStop) {
  HttpServer server(fixed_metrics(), healthy());
  std::string error;
  ASSERT_TRUE(server.start("127.0.0.1", 0, error)) << error;
  const uint16_t port = server.port();
  httplib::Client client("127.0.0.1", port);
  ASSERT_TRUE(client.Get("/metrics"));  // leaves a connection in TIME_WAIT
  server.stop();
  ASSERT_TRUE(server.start("127.0.0.1", port, error)) << error;
  EXPECT_EQ(server.port(), port);
}

TEST(HttpServer, DestructorStopsARunningServer) {
  uint16_t port = 0;
  {
    HttpServer server(fixed_metrics(), healthy());
    std::string error;
    ASSERT_TRUE(server.start("127.0.0.1", 0, error)) << error;
    port = server.port();
  }
  EXPECT_EQ(connect_to(AF_INET, "127.0.0.1", port), -1);
}

TEST(HttpServer, IdleClientDoesNotBlockOthersAndIsDisconnected) {
  HttpServerOptions options;
  options.worker_threads = 2;
  options.read_timeout = std::chrono::seconds(1);
  HttpServer server(fixed_metrics("m 1\n"), healthy(), options);
  std::string error;
  ASSERT_TRUE(server.start("127.0.0.1", 0, error)) << error;

  // A client that connects and sends half a request line, holding one worker.
  const int idle = connect_to(AF_INET, "127.0.0.1", server.port());
  ASSERT_GE(idle, 0);
  send(idle, "GET /met", 8, MSG_NOSIGNAL);

  // The other worker serves everyone else meanwhile.
  for (int request_idx = 0; request_idx < 5; ++request_idx) {
    httplib::Client client("127.0.0.1", server.port());
    const httplib::Result res = client.Get("/metrics");
    ASSERT_TRUE(res) << request_idx;
    EXPECT_EQ(res->status, 200);
  }

  // The server gives up on the idle client after the read timeout: it sees the connection
  // closed (possibly after a 400), well before its own 10 s guard.
  const std::string rest = read_all(idle);
  EXPECT_TRUE(rest.empty() || rest.starts_with("HTTP/1.1 400 ")) << rest;
  close(idle);
  server.stop();
}

TEST(HttpServer, ServesManyConcurrentClients) {
  HttpServerOptions options;
  options.worker_threads = 2;
  options.max_queued_connections = 2;  // the accept thread waits instead of queueing more
  HttpServer server(fixed_metrics("m 1\n"), healthy(), options);
  std::string error;
  ASSERT_TRUE(server.start("127.0.0.1", 0, error)) << error;

  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  clients.reserve(16);
  for (int client_idx = 0; client_idx < 16; ++client_idx) {
    clients.emplace_back([&] {
      for (int request_idx = 0; request_idx < 5; ++request_idx) {
        httplib::Client client("127.0.0.1", server.port());
        const httplib::Result res = client.Get("/metrics");
        if (res && res->status == 200 && res->body == "m 1\n") ++ok;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(ok.load(), 16 * 5);
  server.stop();  // a request is counted after its response is sent: join the workers first
  EXPECT_EQ(server.stats().requests.load(), 16u * 5u);
}

TEST(HttpServer, AHandlerServerPassesTheRequestAndItsAnswerThrough) {
  std::atomic<int> calls{0};
  HttpServer server(
      [&](const HttpRequest& r) {
        ++calls;
        if (r.path == "/throw") throw std::runtime_error("boom");
        HttpResponse out;
        out.status = r.method == "GET" ? 200 : 405;
        out.content_type = "application/json";
        const std::string* q = r.param("q");
        out.body = r.method + " " + r.path + " q=" + (q ? *q : "-") + " auth=" + r.authorization;
        out.headers.emplace_back("X-Test", "yes");
        return out;
      },
      HttpServerOptions{});
  std::string error;
  ASSERT_TRUE(server.start("127.0.0.1", 0, error)) << error;
  httplib::Client client("127.0.0.1", server.port());
  const httplib::Result get = client.Get("/a/b?q=x%20y", {{"Authorization", "Bearer t"}});
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "GET /a/b q=x y auth=Bearer t");
  EXPECT_EQ(get->get_header_value("X-Test"), "yes");
  EXPECT_EQ(get->get_header_value("Content-Type"), "application/json");
  const httplib::Result post = client.Post("/a", "body", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  const httplib::Result thrown = client.Get("/throw");
  ASSERT_TRUE(thrown);
  EXPECT_EQ(thrown->status, 500);
  EXPECT_EQ(server.stats().provider_errors.load(), 1u);
  EXPECT_EQ(calls.load(), 3);
}

TEST(HttpServer, TlsFilesThatDoNotLoadFailTheStart) {
  HttpServerOptions options;
  options.tls_certificate_file = "/nonexistent/cert.pem";
  options.tls_private_key_file = "/nonexistent/key.pem";
  HttpServer server([](const HttpRequest&) { return HttpResponse{}; }, options);
  std::string error;
  EXPECT_FALSE(server.start("127.0.0.1", 0, error));
  EXPECT_NE(error.find("TLS certificate"), std::string::npos) << error;
  options.tls_private_key_file.clear();
  HttpServer half([](const HttpRequest&) { return HttpResponse{}; }, options);
  EXPECT_FALSE(half.start("127.0.0.1", 0, error));
  EXPECT_NE(error.find("both"), std::string::npos) << error;
  EXPECT_FALSE(half.running());
}

}  // namespace
}  // namespace fathom::api
