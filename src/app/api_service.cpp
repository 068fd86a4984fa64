#include "app/api_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "app/clock.h"
#include "app/persistence.h"
#include "app/pipeline.h"

namespace fathom::app {
namespace {

constexpr const char* kTokenFile = "api-token";

/// Reads the token kept in `path`, or makes one and writes it there (mode 0600).
bool read_or_make_token(const std::string& dir, std::string& token, std::string& error) {
  const std::string path = (std::filesystem::path(dir) / kTokenFile).string();
  if (std::ifstream in(path); in) {
    std::getline(in, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.size() >= 16) return true;
    error = "api: " + path + " holds no usable token (delete it to get a new one)";
    return false;
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    error = "api: cannot create data_dir " + dir + ": " + ec.message();
    return false;
  }
  token = api::new_token();
  if (token.empty()) {
    error = "api: no random source for a token";
    return false;
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "api: cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  const std::string line = token + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    error = "api: cannot write " + path + " (disk full?)";
    std::filesystem::remove(path, ec);
    return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<ApiService> ApiService::create(const Config& config, std::string& error) {
  std::unique_ptr<ApiService> s(new ApiService());
  s->config_ = config;
  std::vector<api::TokenConfig> tokens = config.api.tokens;
  if (tokens.empty()) {
    if (!read_or_make_token(config.data_dir, s->bootstrap_token_, error)) return nullptr;
    tokens.push_back(
        {"admin (" + std::string(kTokenFile) + ")", api::sha256_hex(s->bootstrap_token_), true, 0});
  }
  if (!s->tokens_.assign(std::move(tokens), error)) {
    error = "api.tokens: " + error;
    return nullptr;
  }
  // 15 minutes of the first level's windows.
  const int64_t window_ns = config.analyze.windows.levels.empty()
                                ? 10'000'000'000
                                : config.analyze.windows.levels[0].window_ns;
  const size_t capacity =
      static_cast<size_t>(std::max<int64_t>(1, 900'000'000'000 / std::max<int64_t>(window_ns, 1)));
  s->board_ = std::make_shared<api::LiveBoard>(std::min<size_t>(capacity, 10'000),
                                               config.analyze.windows.max_tenants);
  return s;
}

bool ApiService::start(const collect::ListenEndpoint& endpoint, const Pipeline& pipeline,
                       std::string& error) {
  return serve(
      endpoint, [&pipeline] { return pipeline.snapshot(); }, false, error);
}

bool ApiService::start_store_only(const collect::ListenEndpoint& endpoint, std::string& error) {
  // Nothing runs here but the API: the snapshot is the start time and the configured tenants
  // (and the default one), as Pipeline names them, so they exist before the store knows them.
  api::CollectorSnapshot snapshot;
  snapshot.start_time_ns = wall_clock_ns();
  for (const transform::Tenant& t : config_.transform.tenants) {
    snapshot.tenants.push_back({t.id, t.name});
  }
  if (config_.transform.unknown_exporters == transform::UnknownExporters::kDefault) {
    snapshot.tenants.push_back(
        {config_.transform.default_tenant_id, config_.transform.default_tenant_name});
  }
  return serve(
      endpoint, [snapshot = std::move(snapshot)] { return snapshot; }, true, error);
}

bool ApiService::serve(const collect::ListenEndpoint& endpoint,
                       api::RestApi::SnapshotProvider snapshot, bool store_only,
                       std::string& error) {
  api::RestApiOptions options;
  options.store_only = store_only;
  options.store_enabled = config_.store.enabled;
  options.store = config_.store.options;
  options.store.url = store_url(config_);
  options.web_root = config_.api.web_root;
  options.incident_flow_ns = config_.analyze.incident_flow_ns;
  options.live_window_ns = config_.analyze.windows.levels.empty()
                               ? 10'000'000'000
                               : config_.analyze.windows.levels[0].window_ns;
  rest_ = std::make_unique<api::RestApi>(tokens_, std::move(snapshot), board_, std::move(options),
                                         [] { return wall_clock_ns(); });
  api::HttpServerOptions http;
  // The dashboard polls a handful of endpoints every few seconds over kept-alive
  // connections; four workers serve two or three browsers without queueing.
  http.worker_threads = 4;
  http.max_queued_connections = 64;
  http.keep_alive_max_requests = 100;
  http.keep_alive_timeout = std::chrono::seconds(5);
  http.tls_certificate_file = config_.api.tls_certificate;
  http.tls_private_key_file = config_.api.tls_private_key;
  server_ = std::make_unique<api::HttpServer>(
      [rest = rest_.get()](const api::HttpRequest& r) { return rest->handle(r); }, http);
  host_ = endpoint.host;
  if (!server_->start(endpoint.host.empty() ? "::" : endpoint.host, endpoint.port, error)) {
    server_.reset();
    return false;
  }
  return true;
}

void ApiService::stop() {
  if (server_) server_->stop();
}

api::RestApiStats ApiService::stats() const {
  return rest_ ? rest_->stats() : api::RestApiStats{};
}

bool ApiService::probe_store(std::string& error) {
  if (!rest_) {
    error = "the API is not started";
    return false;
  }
  return rest_->probe_store(error);
}

std::string ApiService::url() const {
  std::string host = host_;
  if (host.empty() || host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  const bool tls = !config_.api.tls_certificate.empty();
  return std::string(tls ? "https" : "http") + "://" + host + ":" + std::to_string(port()) + "/";
}

}  // namespace fathom::app
