#pragma once

#include <cstdint>
#include <vector>

#include "analyze/features.h"

// The autoencoder's shape and training settings, without the network (and without Eigen):
// what the configuration needs.
namespace fathom::detect {

/// Activation of the hidden layers (the output layer is linear).
enum class Activation : uint8_t { kTanh = 0, kElu = 1 };

/// Shape of a symmetric autoencoder d → h1 → h2 → h1 → d (more hidden sizes: d → h1 → … →
/// hk → … → h1 → d). Default 16 → 8 → 4 → 8 → 16.
struct AutoencoderShape {
  uint32_t inputs = analyze::kFeatureCount;
  std::vector<uint32_t> hidden = {8, 4};  ///< encoder sizes; the decoder mirrors them
  Activation activation = Activation::kTanh;
};

/// Adam (Kingma & Ba 2015) with optional decoupled weight decay (AdamW, on weights only).
struct AdamConfig {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-7;
  double weight_decay = 0.0;
};

/// Mini-batch training settings (not part of the model).
struct TrainOptions {
  uint32_t epochs = 30;
  uint32_t batch_size = 64;
};

}  // namespace fathom::detect
