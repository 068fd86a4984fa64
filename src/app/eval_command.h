#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace fathom::app {

/// Options of `fathom eval` (docs/accuracy.md "fathom eval").
struct EvalOptions {
  /// A fathom-gen scenario: each run generates its traffic (at each sampling rate) and ground
  /// truth, and Fathom's tenants come from the scenario. Or, instead:
  std::string scenario;
  std::optional<uint64_t> seed;  ///< overrides the scenario's
  std::string duration;          ///< overrides the scenario's ("6h")
  /// Captures to replay with `truth` (a ground-truth CSV) and `config` (their tenants).
  std::vector<std::string> inputs;
  std::string truth;
  std::string config_file;
  /// "scenario" (as the scenario's exporters sample), or 1-in-N rates: one run each. Only
  /// with `scenario`: a capture's sampling is what it is.
  std::vector<std::string> sampling = {"scenario"};
  std::string incidents_output;  ///< the last run's incident stream as JSON lines ("" = none)
  std::string report_output;     ///< Markdown report ("" = stdout)
  std::string work_dir;          ///< for generated captures ("" = a temporary directory)
};

/// Runs `fathom eval`: for each sampling rate, replays the traffic through the analysis stage
/// and matches the incidents against the ground truth (app/evaluation.h), printing per-class
/// precision, recall, F1, PR-AUC, latency and false incidents per tenant-day. Returns 0, 1 on
/// a failure (unreadable file, bad scenario), 2 on bad options.
int run_eval(const EvalOptions& options, std::FILE* err);

}  // namespace fathom::app
