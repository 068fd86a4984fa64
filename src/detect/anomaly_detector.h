#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "analyze/features.h"
#include "detect/autoencoder.h"
#include "detect/detection.h"
#include "detect/loss_normaliser.h"
#include "flow/ip_address.h"

namespace fathom::detect {

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

/// Trains a base model for transfer (`fathom train`): each tenant's vectors are scaled by a
/// scaler fitted on that tenant alone (as every tenant's own model will be), then all are
/// pooled and the network is trained from `seed`. The returned model's scaler is fitted on
/// the pooled raw vectors (a tenant never uses it: it fits its own during learning).
/// Vectors of tenants with fewer than 2 vectors are skipped.
Model train_base_model(std::span<const std::vector<analyze::FeatureVector>> tenants,
                       const AutoencoderShape& shape, const TrainOptions& options,
                       const AdamConfig& adam = {}, const ScalerConfig& scaler = {},
                       uint64_t seed = 1);

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

/// The autoencoder detector: per tenant, a copy of the base model fine-tuned on the tenant's
/// first windows (transfer), its own scaler and loss normaliser, and the usual values of its
/// hosts. No I/O, deterministic from the config's seed and the inputs; not thread-safe (one
/// analysis worker owns it, like the RuleEngine).
class AnomalyDetector {
 public:
  /// A detector whose tenants start from `base`; nullptr with `error` when the base model
  /// does not read analyze::FeatureVector (inputs != kFeatureCount) or the config is unusable.
  static std::unique_ptr<AnomalyDetector> create(AnomalyConfig config, Model base,
                                                 std::string& error);

  /// Scores one window of tenant `tenant_id`'s hosts. During the learning period it only
  /// learns (returns nothing) and fine-tunes when it ends; then it returns a kAnomaly
  /// Detection for each host whose normalised score exceeds the threshold, with the top
  /// features' current and usual values as evidence. Hosts in `suspects` (e.g. subjects of
  /// open incidents) are scored but never learnt from. Non-finite features read as 0.
  std::vector<Detection> score(uint32_t tenant_id, std::span<const HostSample> hosts,
                               std::span<const flow::IpAddress> suspects = {});

  /// The tenant's phase; kLearning for a tenant never seen.
  TenantPhase phase(uint32_t tenant_id) const;
  /// The normalised score `score` would give `features` of tenant `tenant_id` (0 while it
  /// learns), without learning from it: for evaluation and tests.
  float score_one(uint32_t tenant_id, const analyze::FeatureVector& features) const;

  /// The tenant's whole state as bytes (model, normaliser, history, baselines), for the store
  /// and for a rebalance; empty for a tenant never seen.
  std::vector<std::byte> export_tenant(uint32_t tenant_id) const;
  /// Replaces the tenant's state by `bytes` from export_tenant. False with `error` on bad
  /// input (then the tenant is unchanged). Never crashes.
  bool import_tenant(uint32_t tenant_id, std::span<const std::byte> bytes, std::string& error);
  /// Drops the tenant's state.
  void forget_tenant(uint32_t tenant_id);

  /// The tenant's fine-tuned model (the base model for a tenant never fine-tuned).
  const Model& model(uint32_t tenant_id) const;
  const Model& base_model() const { return base_; }
  const AnomalyConfig& config() const { return config_; }
  const AnomalyStats& stats() const { return stats_; }

 private:
  struct Baseline {
    analyze::FeatureVector mean{};
    uint32_t windows = 0;
    float score = 0.0f;   ///< the host's usual normalised score (exponential average)
    uint32_t scored = 0;  ///< scored windows that went into `score`
  };
  struct Tenant {
    TenantPhase phase = TenantPhase::kLearning;
    uint64_t windows = 0;              // score calls
    uint64_t windows_since_train = 0;  // scored windows since the last (re)train
    uint64_t trainings = 0;            // seeds the next training's shuffle
    Model model;
    LossNormaliser normaliser;
    std::vector<float> history;  // ring of raw vectors, kFeatureCount floats each (grown)
    uint32_t history_size = 0;
    uint32_t history_next = 0;
    std::unordered_map<flow::IpAddress, Baseline, flow::IpAddressHash> baselines;
    /// Hosts over the threshold in the latest scored windows: window end and run length.
    std::unordered_map<flow::IpAddress, std::pair<int64_t, uint32_t>, flow::IpAddressHash> streaks;
  };

  AnomalyDetector(AnomalyConfig config, Model base);
  Tenant& tenant(uint32_t tenant_id);
  Tenant new_tenant() const;
  void remember(Tenant& t, const analyze::FeatureVector& raw) const;
  void learn_baseline(Tenant& t, const HostSample& s);
  /// Extends the host's run of windows over the threshold; true once it reaches persistence.
  bool confirmed(Tenant& t, const HostSample& s) const;
  /// Whether `score` exceeds the host's usual score by the margin (true for a host without a
  /// baseline); learns the usual score from windows that do not.
  bool host_relative(Tenant& t, const flow::IpAddress& host, float score) const;
  void train(uint32_t tenant_id, Tenant& t, const TrainOptions& options, bool refresh);
  Detection explain(uint32_t tenant_id, const Tenant& t, const HostSample& s, float score,
                    std::span<const float> group_z, std::span<const float> errors) const;

  AnomalyConfig config_;
  Model base_;
  std::map<uint32_t, Tenant> tenants_;
  AnomalyStats stats_;
};

}  // namespace fathom::detect
