#include "app/train_command.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>

#include "app/config_loader.h"
#include "app/evaluation.h"
#include "app/logging.h"
#include "app/scenario_run.h"
#include "detect/anomaly_detector.h"
#include "gen/scenario_yaml.h"

namespace fathom::app {
namespace {

namespace fs = std::filesystem;

/// Attack parties are left out from a minute before an attack to a minute after it.
constexpr int64_t kAttackMarginNs = 60'000'000'000;

/// A seeded reservoir of one tenant's vectors: the same stream gives the same sample.
struct Reservoir {
  std::vector<analyze::FeatureVector> kept;
  uint64_t seen = 0;
  std::mt19937_64 rng;
};

}  // namespace

int run_train(const TrainCommandOptions& options, std::FILE* err) {
  const bool from_scenario = !options.scenario.empty();
  if (from_scenario == !options.inputs.empty()) {
    std::fprintf(err, "fathom train: give --scenario, or --input with --truth and --config\n");
    return 2;
  }
  if (options.out.empty()) {
    std::fprintf(err, "fathom train: --out FILE is required\n");
    return 2;
  }
  if (!from_scenario && options.config_file.empty()) {
    std::fprintf(err, "fathom train: --input needs --config (the captures' tenants)\n");
    return 2;
  }
  if (options.epochs == 0 || options.max_per_tenant < 16) {
    std::fprintf(err, "fathom train: --epochs must be >= 1 and --max-per-tenant >= 16\n");
    return 2;
  }
  std::string error;
  setup_logging(LogLevel::kWarn, LogFormat::kText, error);
  Config base;
  if (!options.config_file.empty()) {
    ConfigLoad loaded = load_config_file(options.config_file);
    if (!loaded.ok()) {
      for (const ConfigError& e : loaded.errors) std::fprintf(err, "%s\n", e.to_string().c_str());
      return 1;
    }
    base = std::move(loaded.config);
  }

  std::string work_path = options.work_dir;
  bool owned = false;
  if (work_path.empty()) {
    std::string pattern = (fs::temp_directory_path() / "fathom-train-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::fprintf(err, "fathom train: cannot create a work directory\n");
      return 1;
    }
    work_path = pattern;
    owned = true;
  } else {
    std::error_code ec;
    fs::create_directories(work_path, ec);
  }
  struct Cleanup {
    std::string path;
    bool owned;
    ~Cleanup() {
      std::error_code ec;
      if (owned) fs::remove_all(path, ec);
    }
  } cleanup{work_path, owned};

  Config config = base;
  std::vector<std::string> files = options.inputs;
  std::vector<TruthAttack> attacks;
  std::string truth_path = options.truth;
  if (from_scenario) {
    gen::Scenario scenario;
    try {
      scenario = gen::load_scenario(options.scenario);
      if (options.seed) scenario.seed = *options.seed;
      if (!options.duration.empty())
        scenario.duration_ns = gen::parse_duration_ns(options.duration);
      scenario.truth_hosts = false;
    } catch (const std::exception& e) {
      std::fprintf(err, "fathom train: %s: %s\n", options.scenario.c_str(), e.what());
      return 1;
    }
    if (!config_for_scenario(scenario, work_path, base, config, error)) {
      std::fprintf(err, "fathom train: %s\n", error.c_str());
      return 1;
    }
    files = {work_path + "/train.pcap"};
    truth_path = work_path + "/truth.csv";
    ProgressBar bar("generating traffic");
    if (!generate_capture(
            scenario, files[0], truth_path, [&](double f) { bar.update(f); }, error)) {
      std::fprintf(err, "fathom train: %s\n", error.c_str());
      return 1;
    }
  }
  if (!truth_path.empty()) {
    std::ifstream f(truth_path);
    if (!f || !read_truth_csv(f, attacks, error)) {
      std::fprintf(err, "fathom train: %s: %s\n", truth_path.c_str(),
                   f ? error.c_str() : "cannot read");
      return 1;
    }
  }

  // Benign vectors of non-overlapping windows, per tenant, hosts in an attack left out.
  // The windows the detector scores (analyze.ai.level), without overlap.
  const auto& levels = config.analyze.windows.levels;
  const int64_t window_ns =
      levels[std::min<size_t>(config.analyze.ai.level, levels.size() - 1)].window_ns;
  std::mutex mutex;
  std::map<uint32_t, Reservoir> reservoirs;
  uint64_t excluded = 0;
  Pipeline::AnalysisHooks hooks;
  ReplayRun run;
  const auto collect = [&](uint32_t tenant, std::span<const detect::HostSample> hosts) {
    if (hosts.empty() || hosts.front().window_end_ns % window_ns != 0) return;
    std::lock_guard lock(mutex);
    auto [it, fresh] = reservoirs.try_emplace(tenant);
    Reservoir& r = it->second;
    if (fresh) r.rng.seed(options.model_seed * 0x9E3779B97F4A7C15ull + tenant);
    for (const detect::HostSample& h : hosts) {
      const std::string host = h.host.to_string();
      bool attacked = false;
      for (const TruthAttack& a : attacks) {
        if (a.tenant_id == tenant && a.parties.count(host) != 0 &&
            h.window_end_ns > a.start_ns - kAttackMarginNs &&
            h.window_start_ns < a.end_ns + kAttackMarginNs) {
          attacked = true;
          break;
        }
      }
      if (attacked) {
        ++excluded;
        continue;
      }
      ++r.seen;
      if (r.kept.size() < options.max_per_tenant) {
        r.kept.push_back(h.features);
      } else {
        const uint64_t slot = detect::uniform_below(r.rng, r.seen);
        if (slot < r.kept.size()) r.kept[slot] = h.features;
      }
    }
  };
  std::fprintf(err, "fathom train: analysing %zu file(s)\n", files.size());
  hooks.on_host_samples = collect;
  if (!replay_through_analysis(config, files, std::move(hooks), run, error)) {
    std::fprintf(err, "fathom train: %s\n", error.c_str());
    return 1;
  }
  std::vector<std::vector<analyze::FeatureVector>> per_tenant;
  size_t total = 0;
  for (auto& [tenant, r] : reservoirs) {
    std::fprintf(err, "fathom train: tenant %u: %zu of %llu benign host windows\n", tenant,
                 r.kept.size(), static_cast<unsigned long long>(r.seen));
    total += r.kept.size();
    per_tenant.push_back(std::move(r.kept));
  }
  std::fprintf(err, "fathom train: %llu host windows of attack parties left out\n",
               static_cast<unsigned long long>(excluded));
  if (total < 64) {
    std::fprintf(err, "fathom train: only %zu benign host vectors: not enough to train\n", total);
    return 1;
  }
  detect::TrainOptions train;
  train.epochs = options.epochs;
  std::fprintf(err, "fathom train: training on %zu vectors, %u epochs\n", total, options.epochs);
  const detect::Model model =
      detect::train_base_model(per_tenant, {}, train, {}, {}, options.model_seed);
  const std::vector<std::byte> bytes = detect::save_model(model);
  std::ofstream out(options.out, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.flush();
  if (!out) {
    std::fprintf(err, "fathom train: cannot write %s\n", options.out.c_str());
    return 1;
  }
  std::fprintf(err, "fathom train: wrote %s (%zu bytes)\n", options.out.c_str(), bytes.size());
  return 0;
}

}  // namespace fathom::app
