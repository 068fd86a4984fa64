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
#include "detect/anomaly_config.h"
#include "detect/autoencoder.h"
#include "detect/detection.h"
#include "detect/loss_normaliser.h"
#include "flow/ip_address.h"

namespace fathom::detect {

/// Trains a base model for transfer (`fathom train`): each tenant's vectors are scaled by a
/// scaler fitted on that tenant alone (as every tenant's own model will be), then all are
/// pooled and the network is trained from `seed`. The returned model's scaler is fitted on
/// the pooled raw vectors (a tenant never uses it: it fits its own during learning).
/// Vectors of tenants with fewer than 2 vectors are skipped.
Model train_base_model(std::span<const std::vector<analyze::FeatureVector>> tenants,
                       const AutoencoderShape& shape, const TrainOptions& options,
                       const AdamConfig& adam = {}, const ScalerConfig& scaler = {},
                       uint64_t seed = 1);

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
