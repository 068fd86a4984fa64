#pragma once

#include <cstdint>

#include "analyze/features.h"
#include "detect/autoencoder_config.h"
#include "detect/feature_scaler.h"
#include "detect/loss_normaliser.h"
#include "flow/ip_address.h"

// The anomaly detector's settings, input and counters, without the detector (and without
// Eigen): what the configuration and the analysis stage need.
namespace fathom::detect {

struct Model;  // detect/autoencoder.h

/// Settings of the anomaly detector (docs/ai-detection.md). Defaults suit the 10 s window.
struct AnomalyConfig {
  /// The one global threshold on the normalised score (a robust z of the log loss, max over
  /// groups): the same for every tenant, which is what the normalisation is for.
  double threshold = 5.0;
  /// Windows (score calls) a new tenant only learns from: no alert during them.
  uint32_t learning_windows = 60;
  /// ... and at least this many host vectors collected before the fine-tune.
  uint32_t learning_min_samples = 512;
  /// Host vectors taken from one window into the tenant's history and the normaliser's rings,
  /// evenly strided over the window's benign hosts, so a big tenant's one window cannot
  /// flush the history.
  uint32_t max_samples_per_window = 256;
  /// Recent benign host vectors kept per tenant (raw; 64 bytes each): the fine-tune's and the
  /// refresh's training data.
  uint32_t history_capacity = 4096;
  /// Every k-th history vector is held out of training and fills the normaliser instead, so
  /// the benign losses it learns are those of vectors the model has not seen.
  uint32_t holdout_every = 4;
  /// The fine-tune of the base model on the tenant's history at the end of learning.
  TrainOptions fine_tune{.epochs = 20, .batch_size = 64};
  AdamConfig fine_tune_adam{.learning_rate = 1e-3};
  /// Refresh (re-fit the scaler, fine-tune further, refill the normaliser) every this many
  /// scored windows on the history of windows that raised no incident; 0 = never.
  uint32_t refresh_windows = 1800;
  TrainOptions refresh{.epochs = 3, .batch_size = 64};
  ScalerConfig scaler;
  NormaliserConfig normaliser;
  /// The normaliser's rings span about this many scored windows: each window adds
  /// normaliser.capacity / this many benign hosts' losses (at least one).
  uint32_t normaliser_span_windows = 256;
  /// Hosts whose usual feature values are kept per tenant (for explanations); beyond it new
  /// hosts are explained against the tenant's typical values. About 100 bytes per host.
  uint32_t max_baseline_hosts = 8192;
  /// Weight of a new benign window in a host's exponential average.
  double baseline_alpha = 0.05;
  /// Consecutive scored windows a host must exceed the threshold in before it is reported:
  /// one window over the threshold is mostly sampling noise at 1:1000, a slow attack stays
  /// for many (not part of the exported state: a moved tenant's streaks restart).
  uint32_t persistence = 3;
  /// A host is reported only when its score also exceeds its own usual score by this much
  /// (z units): a server that always looks unlike the tenant's other hosts is not an anomaly
  /// every window, a host that changes is. 0 = the tenant threshold alone.
  double host_margin = 3.0;
  /// Scored windows a known host (one with a baseline) spends learning its usual score
  /// before it can be reported; afterwards its usual score follows only windows within the
  /// margin, so an attack is not absorbed. Hosts without a baseline are held against the
  /// tenant threshold alone.
  uint32_t host_warmup_windows = 5;
  /// Features named in a detection's evidence (largest reconstruction errors first).
  uint32_t top_features = 3;
  /// Detections per tenant and window at most (highest scores kept, the rest counted).
  uint32_t max_detections_per_window = 100;
  uint64_t seed = 1;  ///< every fine-tune's shuffle derives from it, the tenant and a counter
};

/// One host's vector of one window: what `AnomalyDetector::score` reads.
struct HostSample {
  flow::IpAddress host;
  analyze::FeatureVector features{};
  int64_t window_start_ns = 0;
  int64_t window_end_ns = 0;
  int64_t repeat_ns = 0;         ///< the window's slide (Detection::repeat_ns)
  int64_t first_arrival_ns = 0;  ///< earliest record of the host in the window, 0 if unknown
};

/// Where a tenant is.
enum class TenantPhase : uint8_t {
  kLearning = 0,  ///< collecting its own windows; does not alert
  kScoring = 1,   ///< fine-tuned; scores and alerts
};

/// Counters of the anomaly detector (summed over tenants).
struct AnomalyStats {
  uint64_t windows = 0;
  uint64_t hosts_learning = 0;  ///< host vectors seen during a learning period
  uint64_t hosts_scored = 0;
  uint64_t detections = 0;
  uint64_t detections_dropped = 0;  ///< over max_detections_per_window
  uint64_t unconfirmed = 0;         ///< over the threshold, not yet for `persistence` windows
  uint64_t host_usual = 0;          ///< over the threshold, not beyond the host's own usual score
  uint64_t trainings = 0;           ///< fine-tunes at the end of learning
  uint64_t refreshes = 0;
  uint64_t baseline_full = 0;  ///< hosts not given a baseline: max_baseline_hosts reached
};

}  // namespace fathom::detect
