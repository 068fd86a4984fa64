#include "e2e/metrics_client.h"

#include <cstdlib>

#include <httplib.h>

namespace fathom::e2e {
namespace {

bool matches(const MetricSample& s, std::string_view name, const Labels& labels) {
  if (s.name != name) return false;
  for (const auto& [key, value] : labels) {
    const auto it = s.labels.find(key);
    if (it == s.labels.end() || it->second != value) return false;
  }
  return true;
}

/// Parses `{a="x",b="y"}` starting at `pos` (at the '{'); leaves `pos` after the '}'.
bool parse_labels(std::string_view line, size_t& pos, Labels& out) {
  ++pos;  // '{'
  while (pos < line.size() && line[pos] != '}') {
    const size_t eq = line.find('=', pos);
    if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
      return false;
    }
    std::string key(line.substr(pos, eq - pos));
    std::string value;
    pos = eq + 2;
    for (; pos < line.size() && line[pos] != '"'; ++pos) {
      if (line[pos] == '\\' && pos + 1 < line.size()) {
        ++pos;
        value += line[pos] == 'n' ? '\n' : line[pos];
      } else {
        value += line[pos];
      }
    }
    if (pos >= line.size()) return false;
    ++pos;  // closing quote
    out.emplace(std::move(key), std::move(value));
    if (pos < line.size() && line[pos] == ',') ++pos;
  }
  if (pos >= line.size()) return false;
  ++pos;  // '}'
  return true;
}

}  // namespace

MetricsSnapshot MetricsSnapshot::parse(std::string_view text) {
  MetricsSnapshot snap;
  snap.text_ = std::string(text);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line.front() == '#') continue;
    MetricSample s;
    size_t pos = line.find_first_of("{ ");
    if (pos == std::string_view::npos) {
      snap.bad_lines_.emplace_back(line);
      continue;
    }
    s.name = std::string(line.substr(0, pos));
    if (line[pos] == '{' && !parse_labels(line, pos, s.labels)) {
      snap.bad_lines_.emplace_back(line);
      continue;
    }
    if (pos >= line.size() || line[pos] != ' ') {
      snap.bad_lines_.emplace_back(line);
      continue;
    }
    const std::string value(line.substr(pos + 1));
    char* parsed_end = nullptr;
    s.value = std::strtod(value.c_str(), &parsed_end);
    if (parsed_end == value.c_str() || *parsed_end != '\0') {
      snap.bad_lines_.emplace_back(line);
      continue;
    }
    snap.samples_.push_back(std::move(s));
  }
  return snap;
}

double MetricsSnapshot::sum(std::string_view name, const Labels& labels) const {
  double total = 0.0;
  for (const MetricSample& s : samples_) {
    if (matches(s, name, labels)) total += s.value;
  }
  return total;
}

bool MetricsSnapshot::has(std::string_view name, const Labels& labels) const {
  for (const MetricSample& s : samples_) {
    if (matches(s, name, labels)) return true;
  }
  return false;
}

std::vector<MetricSample> MetricsSnapshot::select(std::string_view name,
                                                  const Labels& labels) const {
  std::vector<MetricSample> out;
  for (const MetricSample& s : samples_) {
    if (matches(s, name, labels)) out.push_back(s);
  }
  return out;
}

std::optional<HttpResponse> http_get(uint16_t port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(5, 0);
  const httplib::Result result = client.Get(path.c_str());
  if (!result) return std::nullopt;
  return HttpResponse{result->status, result->body};
}

std::optional<MetricsSnapshot> fetch_metrics(uint16_t port) {
  const std::optional<HttpResponse> r = http_get(port, "/metrics");
  if (!r || r->status != 200) return std::nullopt;
  return MetricsSnapshot::parse(r->body);
}

}  // namespace fathom::e2e
