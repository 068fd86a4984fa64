#pragma once

// Reads the collector's HTTP surface: GET /metrics and /healthz over loopback (cpp-httplib),
// and a parser for the Prometheus text exposition so tests compare sample values.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fathom::e2e {

using Labels = std::map<std::string, std::string>;

/// One sample line: `name{labels} value`.
struct MetricSample {
  std::string name;
  Labels labels;
  double value = 0.0;
};

/// The samples of one /metrics response.
class MetricsSnapshot {
 public:
  /// Parses the Prometheus text format: comment lines are skipped, label values unescaped.
  /// Lines that do not parse are kept in `bad_lines()` (a test may assert there are none).
  static MetricsSnapshot parse(std::string_view text);

  /// Sum of the samples of `name` whose labels include every pair of `labels` (0 if none).
  double sum(std::string_view name, const Labels& labels = {}) const;
  /// True when some sample of `name` has every pair of `labels`.
  bool has(std::string_view name, const Labels& labels = {}) const;
  /// Every sample of `name` with every pair of `labels`.
  std::vector<MetricSample> select(std::string_view name, const Labels& labels = {}) const;

  const std::vector<MetricSample>& samples() const noexcept { return samples_; }
  const std::vector<std::string>& bad_lines() const noexcept { return bad_lines_; }
  const std::string& text() const noexcept { return text_; }

 private:
  std::vector<MetricSample> samples_;
  std::vector<std::string> bad_lines_;
  std::string text_;
};

struct HttpResponse {
  int status = 0;
  std::string body;
};

/// GET http://127.0.0.1:`port``path` with short timeouts; nullopt when the connection fails.
std::optional<HttpResponse> http_get(uint16_t port, const std::string& path);

/// GET /metrics and parse it; nullopt unless the server answered 200.
std::optional<MetricsSnapshot> fetch_metrics(uint16_t port);

}  // namespace fathom::e2e
