#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "app/config.h"
#include "app/pipeline.h"
#include "gen/scenario.h"

namespace fathom::app {

/// A Fathom config that analyses `scenario` as its exporters send it: one tenant per simulated
/// tenant (its exporters and prefixes), the scenario's intel addresses as an intel list
/// written to `work_dir/intel.txt`, everything else at its defaults (`base`'s, when given).
bool config_for_scenario(const gen::Scenario& scenario, const std::string& work_dir,
                         const Config& base, Config& out, std::string& error);

/// Every exporter of `scenario` sampling 1 in `rate` (v5 exporters are capped at 16383, the
/// most their header holds).
void set_sampling_rate(gen::Scenario& scenario, uint32_t rate);

/// Runs fathom-gen's simulation of `scenario` into a pcap at `pcap_path` and its ground truth
/// CSV at `truth_path`. `progress` (optional) is called about twice a second with the share of
/// simulated time done (0..1). False with `error` on a bad scenario or a write failure.
bool generate_capture(const gen::Scenario& scenario, const std::string& pcap_path,
                      const std::string& truth_path, const std::function<void(double)>& progress,
                      std::string& error);

/// What a replay through the analysis stage saw.
struct ReplayRun {
  std::vector<detect::IncidentEvent> events;  ///< the whole incident stream, in order
  uint64_t datagrams = 0;
};

/// Replays `files` (in order) through a pipeline built from `config` with the analysis stage,
/// `hooks` also receiving its output, and returns the incident stream. False with `error`
/// when a file cannot be read or a stage cannot start.
bool replay_through_analysis(const Config& config, const std::vector<std::string>& files,
                             Pipeline::AnalysisHooks hooks, ReplayRun& out, std::string& error);

/// A progress bar on stderr when it is a terminal ("label [=====>    ] 42%"); silent otherwise.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();
  void update(double fraction);
  void done();

 private:
  std::string label_;
  bool tty_ = false;
  int last_percent_ = -1;
  bool finished_ = false;
};

}  // namespace fathom::app
