#include "app/analyze_stage.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include "app/clock.h"
#include "app/logging.h"

namespace fathom::app {
namespace {

constexpr size_t kRecentEvents = 10'000;

void append_number(double v, std::string& out) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  const bool integral = v == std::floor(v) && std::fabs(v) < 9.0e15;
  const auto [end, ec] = integral ? std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v))
                                  : std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ec == std::errc() ? end : buf);
}

/// A JSON string: quotes, backslashes and control characters escaped.
void append_string(std::string_view text, std::string& out) {
  out += '"';
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

void append_items(std::string_view key, const std::vector<detect::TopItem>& items,
                  std::string& out) {
  out += ",\"";
  out += key;
  out += "\":[";
  for (size_t i = 0; i < items.size(); ++i) {
    out += i == 0 ? "{\"key\":" : ",{\"key\":";
    append_string(items[i].key, out);
    out += ",\"weight\":";
    append_number(items[i].weight, out);
    out += '}';
  }
  out += ']';
}

}  // namespace

void append_incident_json(const detect::IncidentEvent& event, std::string& out) {
  const detect::Incident& inc = event.incident;
  out += "{\"type\":\"incident\",\"event\":";
  append_string(detect::to_string(event.kind), out);
  out += ",\"id\":";
  append_string(inc.id, out);
  out += ",\"version\":";
  append_number(inc.version, out);
  out += ",\"state\":";
  append_string(detect::to_string(inc.state), out);
  out += ",\"tenant_id\":";
  append_number(inc.tenant_id, out);
  out += ",\"detection\":";
  append_string(detect::to_string(inc.type), out);
  out += ",\"detail\":";
  append_string(inc.detail, out);
  out += ",\"subject\":";
  append_string(inc.subject.to_string(), out);
  out += ",\"start_ns\":" + std::to_string(inc.start_ns);
  out += ",\"last_seen_ns\":" + std::to_string(inc.last_seen_ns);
  out += ",\"end_ns\":" + std::to_string(inc.end_ns);
  out += ",\"detected_ns\":" + std::to_string(inc.detected_ns);
  out += ",\"first_arrival_ns\":" + std::to_string(inc.first_arrival_ns);
  out += ",\"severity\":";
  append_number(inc.severity, out);
  out += ",\"severity_level\":";
  append_string(detect::to_string(detect::severity_level(inc.severity)), out);
  out += ",\"peak_severity\":";
  append_number(inc.peak_severity, out);
  out += ",\"detections\":";
  append_number(static_cast<double>(inc.detections), out);
  out += ",\"summary\":";
  append_string(inc.latest.summary, out);
  out += ",\"evidence\":[";
  for (size_t i = 0; i < inc.latest.evidence.size(); ++i) {
    const detect::Evidence& e = inc.latest.evidence[i];
    out += i == 0 ? "{\"name\":" : ",{\"name\":";
    append_string(e.name, out);
    out += ",\"value\":";
    append_number(e.value, out);
    out += ",\"ci_low\":";
    append_number(e.ci_low, out);
    out += ",\"ci_high\":";
    append_number(e.ci_high, out);
    out += ",\"threshold\":";
    append_number(e.threshold, out);
    out += ",\"usual\":";
    append_number(e.usual, out);
    out += '}';
  }
  out += ']';
  append_items("top_peers", inc.latest.top_peers, out);
  append_items("top_ports", inc.latest.top_ports, out);
  out += '}';
}

std::unique_ptr<AnalyzeStage> AnalyzeStage::start(bus::Bus& bus, size_t queue_batches,
                                                  Options options, std::string& error) {
  if (std::string why = analyze::validate(options.windows); !why.empty()) {
    error = why;
    return nullptr;
  }
  if (std::string_view why = analyze::Autoscaler::validate(options.autoscale); !why.empty()) {
    error = "analyze.autoscale: " + std::string(why);
    return nullptr;
  }
  std::FILE* file = nullptr;
  if (options.output == "-") {
    file = stdout;
  } else if (!options.output.empty()) {
    file = std::fopen(options.output.c_str(), "a");
    if (file == nullptr) {
      error = "cannot open incidents output " + options.output + ": " + std::strerror(errno);
      return nullptr;
    }
  }
  std::shared_ptr<bus::Subscription> sub = bus.subscribe("analyze", queue_batches);
  return std::unique_ptr<AnalyzeStage>(new AnalyzeStage(std::move(options), file, sub));
}

AnalyzeStage::AnalyzeStage(Options options, std::FILE* file, std::shared_ptr<bus::Subscription> sub)
    : options_(std::move(options)),
      file_(file),
      owns_file_(file != nullptr && file != stdout),
      sub_(std::move(sub)),
      engine_(
          options_.windows, [this](const analyze::TenantWindow& w) { on_window(w); },
          [this](std::span<const analyze::Contact> c, int64_t end) { on_contacts(c, end); }),
      rules_(options_.rules),
      beacons_(options_.beacon),
      incidents_(options_.incidents),
      autoscaler_(options_.autoscale, 1) {
  thread_ = std::thread([this] { run(); });
}

AnalyzeStage::~AnalyzeStage() {
  join();
  if (owns_file_) std::fclose(file_);
}

void AnalyzeStage::join() {
  if (thread_.joinable()) thread_.join();
}

void AnalyzeStage::on_window(const analyze::TenantWindow& window) {
  rules_.evaluate(window, detections_);
}

void AnalyzeStage::on_contacts(std::span<const analyze::Contact> contacts, int64_t slide_end_ns) {
  for (const analyze::Contact& c : contacts) {
    beacons_.observe(c.tenant_id, c.host, c.peer, c.port, c.time_ns, c.client_port);
  }
  // Beacons are tested once per level-1 slide (their periods are tens of seconds and more).
  const int64_t every = options_.windows.levels.size() > 1 ? options_.windows.levels[1].slide_ns
                                                           : options_.windows.levels[0].slide_ns;
  if (slide_end_ns % every == 0) {
    const std::vector<detect::BeaconFinding> found = beacons_.evaluate(slide_end_ns);
    rules_.beacons(found, detections_);
  }
}

void AnalyzeStage::after_slide(int64_t slide_end_ns, int64_t busy_ns) {
  // Close quiet incidents first, so that a detection a whole quiet period after the last
  // one opens a new incident instead of extending the old one.
  std::vector<detect::IncidentEvent> events = incidents_.advance(slide_end_ns);
  std::vector<detect::IncidentEvent> opened = incidents_.observe(detections_);
  detections_.clear();
  events.insert(events.end(), std::make_move_iterator(opened.begin()),
                std::make_move_iterator(opened.end()));
  emit(std::move(events));
  const double slide_ns = static_cast<double>(options_.windows.levels[0].slide_ns);
  const double utilisation = static_cast<double>(busy_ns) / slide_ns;
  // Overload: tighten every tenant's sampling rather than fall behind or skip data.
  const double factor = shedder_.observe(utilisation);
  if (options_.sampler) options_.sampler->set_load_factor(factor);
  const int64_t now = monotonic_ns();
  autoscaler_.record(now, utilisation);
  const analyze::ScaleDecision decision = autoscaler_.evaluate(now);
  if (decision != analyze::ScaleDecision::kHold) {
    logger("analyze")->info(
        "autoscale: {} to {} workers (10-minute utilisation {:.2f})", analyze::to_string(decision),
        autoscaler_.workers(),
        autoscaler_.mean_utilisation(now, options_.autoscale.scale_out_window_ns));
  }
  std::lock_guard lock(mutex_);
  ++stats_.slides;
  stats_.last_utilisation = utilisation;
  stats_.overruns = shedder_.overruns();
  stats_.load_factor = factor;
  stats_.shed_slides = shedder_.tightened();
  // How late the slide's results are (live only: a replay runs on record time).
  if (options_.live)
    stats_.lag_seconds = static_cast<double>(wall_clock_ns() - slide_end_ns) * 1e-9;
  stats_.mean_utilisation_10m =
      autoscaler_.mean_utilisation(now, options_.autoscale.scale_out_window_ns);
  stats_.desired_workers = autoscaler_.workers();
}

void AnalyzeStage::emit(std::vector<detect::IncidentEvent> events) {
  if (events.empty()) return;
  uint64_t written = 0;
  uint64_t errors = 0;
  if (file_ != nullptr) {
    line_.clear();
    for (const detect::IncidentEvent& e : events) {
      append_incident_json(e, line_);
      line_ += '\n';
    }
    if (std::fwrite(line_.data(), 1, line_.size(), file_) == line_.size() &&
        std::fflush(file_) == 0) {
      written = events.size();
    } else {
      std::clearerr(file_);
      errors = events.size();
      logger("output")->error("cannot write incidents to {}: {}",
                              options_.output == "-" ? "stdout" : options_.output,
                              std::strerror(errno));
    }
  }
  for (const detect::IncidentEvent& e : events) {
    if (e.kind == detect::IncidentEventKind::kOpen) {
      logger("detect")->info("incident {} opened: tenant={} {} subject={} severity={:.0f}: {}",
                             e.incident.id, e.incident.tenant_id,
                             detect::to_string(e.incident.type), e.incident.subject.to_string(),
                             e.incident.severity, e.incident.latest.summary);
    }
  }
  std::lock_guard lock(mutex_);
  stats_.incident_events_written += written;
  stats_.write_errors += errors;
  for (detect::IncidentEvent& e : events) events_.push_back(std::move(e));
  if (events_.size() > kRecentEvents) {
    events_.erase(events_.begin(), events_.begin() + (events_.size() - kRecentEvents));
  }
  open_ = incidents_.open_incidents();
}

void AnalyzeStage::run() {
  // The micro-batch's running time: every batch added since the last slide closed, plus the
  // close itself (windows, rules, incidents).
  int64_t busy_ns = 0;
  while (!sub_->finished()) {
    const bus::BatchRef batch = sub_->pop(std::chrono::milliseconds(100));
    const int64_t t0 = monotonic_ns();
    const uint64_t slides_before = engine_.stats().slides_closed;
    if (batch) engine_.add(*batch);
    if (options_.live) engine_.advance(wall_clock_ns() - options_.windows.levels[0].slide_ns / 4);
    busy_ns += monotonic_ns() - t0;
    if (engine_.stats().slides_closed != slides_before) {
      // The end of the newest closed slide: incidents close on detection time.
      const int64_t t1 = monotonic_ns();
      const int64_t slide_end = engine_.open_slide_end_ns() - options_.windows.levels[0].slide_ns;
      after_slide(slide_end, busy_ns + (monotonic_ns() - t1));
      busy_ns = 0;
    }
    std::lock_guard lock(mutex_);
    stats_.engine = engine_.stats();
    stats_.rules = rules_.stats();
    stats_.incidents = incidents_.stats();
    stats_.beacons = beacons_.stats();
  }
  engine_.flush();
  std::vector<detect::IncidentEvent> events = incidents_.observe(detections_);
  detections_.clear();
  std::vector<detect::IncidentEvent> closed = incidents_.flush();
  events.insert(events.end(), std::make_move_iterator(closed.begin()),
                std::make_move_iterator(closed.end()));
  emit(std::move(events));
  std::lock_guard lock(mutex_);
  stats_.engine = engine_.stats();
  stats_.rules = rules_.stats();
  stats_.incidents = incidents_.stats();
  stats_.beacons = beacons_.stats();
}

AnalyzeStageStats AnalyzeStage::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::vector<detect::Incident> AnalyzeStage::open_incidents() const {
  std::lock_guard lock(mutex_);
  return open_;
}

std::vector<detect::IncidentEvent> AnalyzeStage::recent_events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

}  // namespace fathom::app
