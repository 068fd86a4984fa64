#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace fathom::app {

/// Options of `fathom train` (docs/ai-detection.md "Training the base model").
struct TrainCommandOptions {
  /// A fathom-gen scenario to generate benign traffic from (several differing tenants: the
  /// `day` scenario). Or captures with their ground truth and config:
  std::string scenario;
  std::optional<uint64_t> seed;  ///< scenario seed override
  std::string duration;          ///< scenario duration override ("6h")
  std::vector<std::string> inputs;
  std::string truth;  ///< ground truth of the inputs: attack windows are left out of training
  std::string config_file;
  std::string out;          ///< the model file to write
  uint64_t model_seed = 1;  ///< initialisation and shuffling of the network
  uint32_t epochs = 30;
  uint32_t max_per_tenant = 20'000;  ///< host vectors kept per tenant (seeded reservoir)
  std::string work_dir;              ///< for the generated capture ("" = temporary)
};

/// Runs `fathom train`: replays the traffic through the analysis stage, collects the internal
/// hosts' feature vectors of non-overlapping level-0 windows, leaves out every host that takes
/// part in an attack while it runs, and trains the base model (detect::train_base_model), with
/// progress on stderr. The same inputs and seeds give the same file, byte for byte. Returns 0,
/// 1 on a failure, 2 on bad options.
int run_train(const TrainCommandOptions& options, std::FILE* err);

}  // namespace fathom::app
