#include "app/eval_command.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/config_loader.h"
#include "app/evaluation.h"
#include "app/logging.h"
#include "app/scenario_run.h"
#include "detect/incident_json.h"
#include "gen/scenario_yaml.h"

namespace fathom::app {
namespace {

namespace fs = std::filesystem;
constexpr double kDayNs = 86'400e9;

/// A temporary directory removed at scope exit (unless the user named one).
struct WorkDir {
  explicit WorkDir(const std::string& given) {
    if (!given.empty()) {
      path = given;
      std::error_code ec;
      fs::create_directories(path, ec);
      return;
    }
    std::string pattern = (fs::temp_directory_path() / "fathom-eval-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) {
      path = pattern;
      owned = true;
    }
  }
  ~WorkDir() {
    if (!owned) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
  bool owned = false;
};

bool write_text(const std::string& path, const std::string& text, std::string& error) {
  if (path.empty() || path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  }
  std::ofstream f(path, std::ios::trunc);
  f << text;
  f.flush();
  if (!f) {
    error = "cannot write " + path;
    return false;
  }
  return true;
}

bool read_truth(const std::string& path, std::vector<TruthAttack>& out, std::string& error) {
  std::ifstream f(path);
  if (!f) {
    error = "cannot read " + path;
    return false;
  }
  if (!read_truth_csv(f, out, error)) {
    error = path + ": " + error;
    return false;
  }
  return true;
}

/// Data-time span of a capture run: from the first to the last incident-relevant time is not
/// known without reading the capture twice, so the scenario's duration (or, for captures, the
/// span of the ground truth and incidents) stands for it.
double span_days(const std::vector<TruthAttack>& attacks,
                 const std::vector<detect::IncidentEvent>& events) {
  int64_t lo = INT64_MAX;
  int64_t hi = INT64_MIN;
  for (const TruthAttack& a : attacks) {
    lo = std::min(lo, a.start_ns);
    hi = std::max(hi, a.end_ns);
  }
  for (const detect::IncidentEvent& e : events) {
    lo = std::min(lo, e.incident.start_ns);
    hi = std::max(hi, e.incident.last_seen_ns);
  }
  return hi > lo ? static_cast<double>(hi - lo) / kDayNs : 0.0;
}

}  // namespace

int run_eval(const EvalOptions& options, std::FILE* err) {
  const bool from_scenario = !options.scenario.empty();
  if (from_scenario == !options.inputs.empty()) {
    std::fprintf(err, "fathom eval: give --scenario, or --input with --truth\n");
    return 2;
  }
  if (!from_scenario && options.truth.empty()) {
    std::fprintf(err, "fathom eval: --input needs --truth (the ground-truth CSV)\n");
    return 2;
  }
  std::vector<uint32_t> rates;  // 0 = as the scenario or capture samples
  for (const std::string& s : options.sampling) {
    if (s == "scenario" || s == "input") {
      rates.push_back(0);
      continue;
    }
    char* end = nullptr;
    const unsigned long v = std::strtoul(s.c_str(), &end, 10);
    if (end == s.c_str() || *end != '\0' || v == 0 || v > 1'000'000) {
      std::fprintf(err, "fathom eval: --sampling: '%s' is not 'scenario' or a rate 1..1000000\n",
                   s.c_str());
      return 2;
    }
    if (!from_scenario) {
      std::fprintf(err,
                   "fathom eval: --sampling N needs --scenario (a capture cannot be re-sampled "
                   "finer than it was, and is evaluated as captured)\n");
      return 2;
    }
    rates.push_back(static_cast<uint32_t>(v));
  }

  Config base;
  if (!options.config_file.empty()) {
    ConfigLoad loaded = load_config_file(options.config_file);
    if (!loaded.ok()) {
      for (const ConfigError& e : loaded.errors) std::fprintf(err, "%s\n", e.to_string().c_str());
      return 1;
    }
    base = std::move(loaded.config);
  }
  std::string log_error;
  setup_logging(LogLevel::kWarn, LogFormat::kText, log_error);

  WorkDir work(options.work_dir);
  if (work.path.empty()) {
    std::fprintf(err, "fathom eval: cannot create a work directory\n");
    return 1;
  }
  gen::Scenario scenario;
  if (from_scenario) {
    try {
      scenario = gen::load_scenario(options.scenario);
      if (options.seed) scenario.seed = *options.seed;
      if (!options.duration.empty())
        scenario.duration_ns = gen::parse_duration_ns(options.duration);
      scenario.truth_hosts = false;
    } catch (const std::exception& e) {
      std::fprintf(err, "fathom eval: %s: %s\n", options.scenario.c_str(), e.what());
      return 1;
    }
  }

  std::string report;
  std::string error;
  for (const uint32_t rate : rates) {
    Config config = base;
    std::vector<std::string> files = options.inputs;
    std::vector<TruthAttack> attacks;
    std::string title;
    double tenant_days = 0;
    if (from_scenario) {
      gen::Scenario s = scenario;
      if (rate != 0) set_sampling_rate(s, rate);
      title = options.scenario + (rate == 0 ? ", sampling as in the scenario"
                                            : ", sampling 1:" + std::to_string(rate));
      if (!config_for_scenario(s, work.path, base, config, error)) {
        std::fprintf(err, "fathom eval: %s\n", error.c_str());
        return 1;
      }
      const std::string pcap = work.path + "/eval.pcap";
      const std::string truth = work.path + "/truth.csv";
      {
        ProgressBar bar("generating " +
                        (rate == 0 ? std::string("as sampled") : "1:" + std::to_string(rate)));
        if (!generate_capture(
                s, pcap, truth, [&](double f) { bar.update(f); }, error)) {
          std::fprintf(err, "fathom eval: %s\n", error.c_str());
          return 1;
        }
      }
      if (!read_truth(truth, attacks, error)) {
        std::fprintf(err, "fathom eval: %s\n", error.c_str());
        return 1;
      }
      files = {pcap};
      tenant_days =
          static_cast<double>(s.duration_ns) / kDayNs * static_cast<double>(s.tenants.size());
    } else {
      title = "replay of " + std::to_string(files.size()) + " file(s)";
      if (!read_truth(options.truth, attacks, error)) {
        std::fprintf(err, "fathom eval: %s\n", error.c_str());
        return 1;
      }
    }
    ReplayRun run;
    std::fprintf(err, "fathom eval: analysing %s\n", title.c_str());
    if (!replay_through_analysis(config, files, {}, run, error)) {
      std::fprintf(err, "fathom eval: %s\n", error.c_str());
      return 1;
    }
    if (!from_scenario) {
      tenant_days = span_days(attacks, run.events) *
                    static_cast<double>(std::max<size_t>(1, config.transform.tenants.size()));
    }
    const EvalReport r = evaluate(attacks, incidents_of(run.events), tenant_days);
    report += format_report(r, title) + "\n";
    if (!options.incidents_output.empty()) {
      std::string lines;
      for (const detect::IncidentEvent& e : run.events) {
        detect::append_incident_json(e, lines);
        lines += '\n';
      }
      if (!write_text(options.incidents_output, lines, error)) {
        std::fprintf(err, "fathom eval: %s\n", error.c_str());
        return 1;
      }
    }
  }
  if (!write_text(options.report_output, report, error)) {
    std::fprintf(err, "fathom eval: %s\n", error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace fathom::app
