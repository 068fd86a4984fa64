#include "app/estimate_stage.h"

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>

#include "app/clock.h"
#include "app/logging.h"
#include "app/record_format.h"
#include "flow/json_text.h"

namespace fathom::app {
namespace {

void append_number(double v, std::string& out) {
  flow::append_json_number(v, out);
}

void append_key(std::string_view key, std::string& out) {
  out += '"';
  out += key;
  out += "\":";
}

void append_estimate(std::string_view key, const estimate::Estimate& e, std::string& out) {
  append_key(key, out);
  out += "{\"value\":";
  append_number(e.value, out);
  out += ",\"ci_low\":";
  append_number(e.ci_low, out);
  out += ",\"ci_high\":";
  append_number(e.ci_high, out);
  out += ",\"std_error\":";
  append_number(e.std_error, out);
  out += ",\"samples\":";
  append_number(static_cast<double>(e.samples), out);
  out += ",\"method\":\"";
  out += estimate::to_string(e.method);
  out += "\"}";
}

void append_traffic(std::string_view key, const estimate::TrafficEstimate& t, std::string& out) {
  append_key(key, out);
  out += '{';
  append_estimate("packets", t.packets, out);
  out += ',';
  append_estimate("bytes", t.bytes, out);
  out += ',';
  append_estimate("tcp_flows", t.tcp_flows, out);
  out += '}';
}

void append_distinct(std::string_view key, const estimate::DistinctEstimate& d, std::string& out) {
  append_key(key, out);
  out += "{\"observed\":";
  append_number(static_cast<double>(d.observed), out);
  out += ",\"estimate\":";
  append_number(d.estimate, out);
  out += ",\"capped\":";
  out += d.capped ? "true" : "false";
  out += ",\"model\":\"";
  out += d.model;
  out += "\"}";
}

}  // namespace

void append_estimate_json(const estimate::TenantWindowSummary& s, std::string& out) {
  out += "{\"type\":\"estimate\",\"tenant_id\":";
  append_number(s.tenant_id, out);
  out += ",\"start_ns\":";
  out += std::to_string(s.start_ns);
  out += ",\"end_ns\":";
  out += std::to_string(s.end_ns);
  out += ',';
  append_traffic("total", s.total, out);
  out += ",\"by_direction\":{";
  for (size_t d = 1; d < estimate::kDirectionCount; ++d) {  // 0 (unknown) below
    append_traffic(flow::to_string(static_cast<flow::Direction>(d)), s.by_direction[d], out);
    out += ',';
  }
  append_traffic("unknown", s.by_direction[0], out);
  out += "},";
  append_distinct("external_peers", s.external_peers, out);
  out += ',';
  append_distinct("internal_hosts", s.internal_hosts, out);
  out += ',';
  append_distinct("service_ports", s.service_ports, out);
  out += ",\"top_hosts\":[";
  for (size_t i = 0; i < s.top_hosts.size(); ++i) {
    const estimate::HostEstimate& h = s.top_hosts[i];
    out += i == 0 ? "{\"address\":\"" : ",{\"address\":\"";
    append_address(h.address, out);
    out += "\",";
    append_estimate("sent_bytes", h.sent_bytes, out);
    out += ',';
    append_estimate("received_bytes", h.received_bytes, out);
    out += ',';
    append_estimate("sent_packets", h.sent_packets, out);
    out += ',';
    append_estimate("received_packets", h.received_packets, out);
    out += '}';
  }
  out += "],\"top_ports\":[";
  for (size_t i = 0; i < s.top_ports.size(); ++i) {
    const estimate::PortEstimate& p = s.top_ports[i];
    out += i == 0 ? "{\"protocol\":" : ",{\"protocol\":";
    append_number(p.protocol, out);
    out += ",\"port\":";
    append_number(p.port, out);
    out += ',';
    append_estimate("bytes", p.bytes, out);
    out += ',';
    append_estimate("packets", p.packets, out);
    out += ',';
    append_estimate("tcp_flows", p.tcp_flows, out);
    out += '}';
  }
  const estimate::WindowCounters& c = s.counters;
  out += "],\"records_counted\":";
  append_number(static_cast<double>(c.records_counted), out);
  out += ",\"records_not_counted\":";
  append_number(static_cast<double>(c.records_not_counted), out);
  out += ",\"records_late\":";
  append_number(static_cast<double>(c.records_late), out);
  out += ",\"records_rate_unknown\":";
  append_number(static_cast<double>(c.records_rate_unknown), out);
  out += ",\"hosts_overflowed\":";
  append_number(static_cast<double>(c.hosts_overflowed), out);
  out += '}';
}

std::unique_ptr<EstimateStage> EstimateStage::start(bus::Bus& bus, size_t queue_batches,
                                                    Options options, std::string& error) {
  std::FILE* file = nullptr;
  if (options.output == "-") {
    file = stdout;
  } else if (!options.output.empty()) {
    file = std::fopen(options.output.c_str(), "ae");
    if (file == nullptr) {
      error = "cannot open estimates output " + options.output + ": " + std::strerror(errno);
      return nullptr;
    }
  }
  std::shared_ptr<bus::Subscription> sub = bus.subscribe("estimate", queue_batches);
  return std::unique_ptr<EstimateStage>(new EstimateStage(std::move(options), file, sub));
}

EstimateStage::EstimateStage(Options options, std::FILE* file,
                             std::shared_ptr<bus::Subscription> sub)
    : options_(std::move(options)),
      file_(file),
      owns_file_(file != nullptr && file != stdout),
      sub_(std::move(sub)),
      estimator_(options_.window) {
  thread_ = std::thread([this] { run(); });
}

EstimateStage::~EstimateStage() {
  join();
  if (owns_file_) std::fclose(file_);
}

void EstimateStage::join() {
  if (thread_.joinable()) thread_.join();
}

void EstimateStage::run() {
  int64_t last_advance_ns = 0;
  while (!sub_->finished()) {
    const bus::BatchRef batch = sub_->pop(std::chrono::milliseconds(200));
    if (batch) estimator_.add(*batch);
    if (options_.live) {
      const int64_t now = wall_clock_ns();
      if (now - last_advance_ns >= 1'000'000'000) {
        last_advance_ns = now;
        take(estimator_.advance(now));
      }
    } else if (batch) {
      take(estimator_.take_closed());  // record time alone closes windows in a replay
    }
    std::lock_guard lock(mutex_);
    stats_.estimator = estimator_.stats();
  }
  take(estimator_.flush());
  std::lock_guard lock(mutex_);
  stats_.estimator = estimator_.stats();
}

void EstimateStage::take(std::vector<estimate::WindowResult> results) {
  if (results.empty()) return;
  line_.clear();
  std::vector<estimate::TenantWindowSummary> summaries;
  summaries.reserve(results.size());
  for (const estimate::WindowResult& r : results) {
    summaries.push_back(estimate::summarize(r, options_.summary));
    if (file_ != nullptr) {
      append_estimate_json(summaries.back(), line_);
      line_ += '\n';
    }
  }
  uint64_t written = 0;
  uint64_t errors = 0;
  if (!line_.empty()) {
    if (std::fwrite(line_.data(), 1, line_.size(), file_) == line_.size() &&
        std::fflush(file_) == 0) {
      written = summaries.size();
    } else {
      std::clearerr(file_);
      errors = summaries.size();
      logger("output")->error("cannot write estimates to {}: {}",
                              options_.output == "-" ? "stdout" : options_.output,
                              std::strerror(errno));
    }
  }
  std::lock_guard lock(mutex_);
  stats_.windows_written += written;
  stats_.write_errors += errors;
  for (size_t i = 0; i < results.size(); ++i) {
    const estimate::WindowResult& r = results[i];
    auto [it, inserted] = totals_.try_emplace(r.tenant_id);
    estimate::WindowResult& merged = it->second.merged;
    if (inserted) {
      merged.tenant_id = r.tenant_id;
      merged.start_ns = r.start_ns;
      merged.end_ns = r.end_ns;
    }
    merged.start_ns = std::min(merged.start_ns, r.start_ns);
    merged.end_ns = std::max(merged.end_ns, r.end_ns);
    merged.total.merge(r.total);
    merged.max_sampling_rate = std::max(merged.max_sampling_rate, r.max_sampling_rate);
    latest_[r.tenant_id] = std::move(summaries[i]);
  }
}

std::vector<estimate::TenantWindowSummary> EstimateStage::latest() const {
  std::lock_guard lock(mutex_);
  std::vector<estimate::TenantWindowSummary> out;
  out.reserve(latest_.size());
  for (const auto& [id, summary] : latest_) out.push_back(summary);
  return out;
}

std::vector<TenantRunEstimate> EstimateStage::run_totals() const {
  std::lock_guard lock(mutex_);
  std::vector<TenantRunEstimate> out;
  for (const auto& [id, totals] : totals_) {
    const estimate::WindowResult& m = totals.merged;
    out.push_back({id, m.start_ns, m.end_ns,
                   estimate::estimate_traffic(m.total, m.max_sampling_rate, options_.summary)});
  }
  return out;
}

EstimateStageStats EstimateStage::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace fathom::app
