#pragma once

#include <memory>
#include <string>

#include "api/http_server.h"
#include "api/live_board.h"
#include "api/rest_api.h"
#include "app/config.h"

namespace fathom::app {

class Pipeline;

/// The REST API and dashboard (docs/api.md) of `fathom run` and of `fathom api`: the tokens
/// (from the config, or one admin token kept in `<data_dir>/api-token`), the LiveBoard the
/// analysis stage feeds (`fathom run` only), and the HTTP(S) server.
class ApiService {
 public:
  /// Prepares the tokens and the board; nothing listens yet. Null with `error` when the
  /// tokens are invalid or the bootstrap token file cannot be read or written.
  static std::unique_ptr<ApiService> create(const Config& config, std::string& error);

  /// What the analysis stage calls with its live windows.
  std::shared_ptr<api::LiveBoard> board() const { return board_; }

  /// `fathom run`: listens on `endpoint`, serving `pipeline`'s snapshot and the board. False
  /// with `error` when it cannot bind or the TLS files do not load.
  bool start(const collect::ListenEndpoint& endpoint, const Pipeline& pipeline, std::string& error);
  /// `fathom api`: listens on `endpoint`, serving the store alone (no collector or analysis in
  /// this process: api::RestApiOptions::store_only). Errors as `start`.
  bool start_store_only(const collect::ListenEndpoint& endpoint, std::string& error);
  void stop();
  /// The REST API's counters; empty before a start.
  api::RestApiStats stats() const;
  /// Whether the store answers now (api::RestApi::probe_store); false before a start.
  bool probe_store(std::string& error);
  uint16_t port() const noexcept { return server_ ? server_->port() : 0; }
  /// "http://127.0.0.1:8080/" (https with TLS), with the port bound.
  std::string url() const;
  /// The bootstrap admin token when the config has none (shown once in the log), else empty.
  const std::string& bootstrap_token() const noexcept { return bootstrap_token_; }

 private:
  ApiService() = default;
  bool serve(const collect::ListenEndpoint& endpoint, api::RestApi::SnapshotProvider snapshot,
             bool store_only, std::string& error);
  Config config_;
  api::TokenTable tokens_;
  std::string bootstrap_token_;
  std::shared_ptr<api::LiveBoard> board_;
  std::unique_ptr<api::RestApi> rest_;
  std::unique_ptr<api::HttpServer> server_;
  std::string host_;
};

}  // namespace fathom::app
