#include "app/scenario_run.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "gen/generator.h"
#include "gen/output.h"

namespace fathom::app {

bool config_for_scenario(const gen::Scenario& scenario, const std::string& work_dir,
                         const Config& base, Config& out, std::string& error) {
  out = base;
  out.data_dir = work_dir;
  out.transform.tenants.clear();
  for (const gen::TenantConfig& t : scenario.tenants) {
    transform::Tenant tenant;
    tenant.id = t.id;
    tenant.name = t.name;
    // By index: GCC 12 sees a false maybe-uninitialized in a range-for here.
    for (size_t idx = 0; idx < t.exporters.size(); ++idx) {
      const gen::ExporterConfig& e = t.exporters[idx];
      transform::ExporterMatch match;
      match.prefix.address = e.address;
      match.prefix.length = 128;
      // A v9/IPFIX/sFlow exporter's domain is part of its identity; v5 has none.
      if (e.protocol != gen::ExportProtocol::kNetflowV5) {
        match.observation_domains = {e.observation_domain};
      }
      tenant.exporters.push_back(std::move(match));
    }
    for (const gen::Prefix& p : t.prefixes) {
      transform::IpPrefix prefix;
      prefix.address = p.base;
      prefix.length = static_cast<uint8_t>(p.is_v4() ? 96 + p.length : p.length);
      tenant.internal_networks.push_back(prefix);
    }
    out.transform.tenants.push_back(std::move(tenant));
  }
  // Exporters of one address with several domains are one exporter with several domains.
  for (transform::Tenant& t : out.transform.tenants) {
    std::vector<transform::ExporterMatch> merged;
    for (transform::ExporterMatch& m : t.exporters) {
      auto it = std::find_if(merged.begin(), merged.end(), [&](const transform::ExporterMatch& x) {
        return x.prefix.address == m.prefix.address;
      });
      if (it == merged.end()) {
        merged.push_back(std::move(m));
      } else if (!it->observation_domains.empty()) {
        if (m.observation_domains.empty()) {
          it->observation_domains.clear();
        } else {
          it->observation_domains.insert(it->observation_domains.end(),
                                         m.observation_domains.begin(),
                                         m.observation_domains.end());
          std::sort(it->observation_domains.begin(), it->observation_domains.end());
          it->observation_domains.erase(
              std::unique(it->observation_domains.begin(), it->observation_domains.end()),
              it->observation_domains.end());
        }
      }
    }
    t.exporters = std::move(merged);
  }
  out.transform.enrichment.intel_lists.clear();
  if (!scenario.intel.empty()) {
    const std::string path = work_dir + "/intel.txt";
    std::ofstream f(path, std::ios::trunc);
    for (const flow::IpAddress& a : scenario.intel) f << a.to_string() << '\n';
    f.flush();
    if (!f) {
      error = "cannot write " + path;
      return false;
    }
    transform::IntelList list;
    list.name = "scenario";
    list.path = path;
    list.category = transform::IntelCategory::kC2;
    list.severity = 70;
    out.transform.enrichment.intel_lists.push_back(list);
  }
  out.output = {};
  return true;
}

void set_sampling_rate(gen::Scenario& scenario, uint32_t rate) {
  for (gen::TenantConfig& t : scenario.tenants) {
    for (gen::ExporterConfig& e : t.exporters) {
      e.sampling_rate =
          e.protocol == gen::ExportProtocol::kNetflowV5 ? std::min(rate, 16383u) : rate;
    }
  }
}

bool generate_capture(const gen::Scenario& scenario, const std::string& pcap_path,
                      const std::string& truth_path, const std::function<void(double)>& progress,
                      std::string& error) {
  try {
    gen::Generator generator(scenario);
    std::ofstream pcap_file(pcap_path, std::ios::binary | std::ios::trunc);
    if (!pcap_file) {
      error = "cannot write " + pcap_path;
      return false;
    }
    gen::PcapWriter pcap(pcap_file);
    const int64_t start = scenario.start_ns;
    const double duration = static_cast<double>(std::max<int64_t>(1, scenario.duration_ns));
    auto last = std::chrono::steady_clock::now();
    generator.run([&](const gen::DatagramInfo& info, uint32_t, std::span<const std::byte> data) {
      pcap.write(info, data);
      if (progress) {
        const auto now = std::chrono::steady_clock::now();
        if (now - last > std::chrono::milliseconds(500)) {
          last = now;
          progress(std::min(1.0, static_cast<double>(info.time_ns - start) / duration));
        }
      }
    });
    pcap_file.flush();
    if (!pcap_file) {
      error = "write failed: " + pcap_path;
      return false;
    }
    if (!truth_path.empty()) {
      std::ofstream truth(truth_path, std::ios::trunc);
      generator.write_ground_truth(truth);
      truth.flush();
      if (!truth) {
        error = "write failed: " + truth_path;
        return false;
      }
    }
    if (progress) progress(1.0);
    return true;
  } catch (const std::exception& e) {
    error = std::string("scenario: ") + e.what();
    return false;
  }
}

bool replay_through_analysis(const Config& config, const std::vector<std::string>& files,
                             Pipeline::AnalysisHooks hooks, ReplayRun& out, std::string& error) {
  Pipeline pipeline(config);
  if (!pipeline.load_enrichment(error)) {
    error = "enrichment: " + error;
    return false;
  }
  auto user = std::move(hooks.on_incident_events);
  hooks.on_incident_events = [&out, user](std::span<const detect::IncidentEvent> events) {
    out.events.insert(out.events.end(), events.begin(), events.end());
    if (user) user(events);
  };
  if (!pipeline.open_analysis("", false, error, std::move(hooks))) return false;
  pipeline.open_replay();
  std::atomic<bool> stop{false};
  bool ok = true;
  for (const std::string& path : files) {
    ReplayStats stats;
    ReplayOptions ro;
    ro.path = path;
    if (!pipeline.replay(ro, stop, stats, error)) {
      error = path + ": " + error;
      ok = false;
      break;
    }
    out.datagrams += stats.datagrams;
  }
  pipeline.stop();
  return ok;
}

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)), tty_(::isatty(STDERR_FILENO) != 0) {}

ProgressBar::~ProgressBar() {
  done();
}

void ProgressBar::update(double fraction) {
  if (!tty_ || finished_) return;
  const int percent = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * 100.0);
  if (percent == last_percent_) return;
  last_percent_ = percent;
  constexpr int kWidth = 40;
  const int filled = percent * kWidth / 100;
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < kWidth) bar += '>';
  bar.resize(kWidth, ' ');
  std::fprintf(stderr, "\r%s [%s] %3d%%", label_.c_str(), bar.c_str(), percent);
  std::fflush(stderr);
}

void ProgressBar::done() {
  if (!tty_ || finished_) return;
  finished_ = true;
  if (last_percent_ >= 0) std::fputc('\n', stderr);
}

}  // namespace fathom::app
