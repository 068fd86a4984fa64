#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "detect/incident.h"

namespace fathom::app {

/// One attack of fathom-gen's ground truth (`--ground-truth` CSV, docs/generator.md).
struct TruthAttack {
  uint32_t tenant_id = 0;
  std::string id;
  std::string type;  ///< the generator's attack type ("syn_flood", "dns_amplification", ...)
  bool slow = false;
  std::set<std::string> parties;  ///< attackers and victims (address text)
  int64_t start_ns = 0;
  int64_t end_ns = 0;
};

/// Reads a ground-truth CSV. False with `error` (line number and reason) on a missing column,
/// a bad number or time; an empty file (header only) is fine.
bool read_truth_csv(std::istream& in, std::vector<TruthAttack>& out, std::string& error);

/// The rule detection that should find an attack of the generator's `type`
/// ("dns_amplification" → "amplification", "ssh_brute_force" → "brute_force", "c2_beacon" →
/// "beaconing", others as named).
std::string expected_detection(const std::string& type);

/// What the evaluation needs of an incident: the state at its last event.
struct EvaluatedIncident {
  uint32_t tenant_id = 0;
  std::string detection;  ///< detect::to_string(type)
  std::string subject;
  int64_t start_ns = 0;
  int64_t last_seen_ns = 0;
  int64_t detected_ns = 0;  ///< window end of the detection that opened it
  double peak_severity = 0.0;
};

/// Folds an incident event stream into one entry per incident id (last event wins).
std::vector<EvaluatedIncident> incidents_of(const std::vector<detect::IncidentEvent>& events);

/// How incidents are matched to attacks.
struct MatchOptions {
  /// An incident matches an attack when its tenant is the attack's, its subject one of the
  /// attack's parties, its detection the expected one (or "anomaly": the autoencoder names no
  /// class), it was detected no earlier than attack start − before, and [start, last_seen]
  /// overlaps [attack start − before, attack end + after].
  int64_t before_ns = 60'000'000'000;
  int64_t after_ns = 600'000'000'000;
};

/// Per attack class (expected detection) results.
struct ClassResult {
  std::string detection;
  uint32_t attacks = 0;
  uint32_t detected = 0;        ///< attacks with at least one matching incident
  uint32_t incidents = 0;       ///< incidents of this detection type
  uint32_t true_incidents = 0;  ///< of those, matching an attack of this class
  double precision = 0.0;       ///< true_incidents / incidents (1 when there are none)
  double recall = 0.0;          ///< detected / attacks
  double f1 = 0.0;
  /// Average precision over the incidents ranked by peak severity (the area under the
  /// precision-recall curve, step-wise); 0 with no attacks.
  double pr_auc = 0.0;
  /// Attack start to the first matching incident's detection: median and worst, seconds.
  double latency_median_s = 0.0;
  double latency_max_s = 0.0;
};

/// The whole evaluation of one run.
struct EvalReport {
  std::vector<ClassResult> classes;  ///< by detection name
  uint32_t attacks = 0;
  uint32_t detected = 0;
  uint32_t incidents = 0;
  uint32_t false_incidents = 0;  ///< matching no attack at all
  double tenant_days = 0.0;
  double false_per_tenant_day = 0.0;
  /// Attacks found only by "anomaly" incidents (the autoencoder's contribution beyond rules).
  std::vector<std::string> only_ai;
  /// Attacks nobody found.
  std::vector<std::string> missed;
  /// Unmatched incidents, one line each ("tenant 2 syn_flood 10.2.0.5").
  std::vector<std::string> false_lines;
};

/// Matches `incidents` to `attacks`. `tenant_days` is the run's tenants × its length in days
/// (for false incidents per tenant-day).
EvalReport evaluate(const std::vector<TruthAttack>& attacks,
                    const std::vector<EvaluatedIncident>& incidents, double tenant_days,
                    const MatchOptions& options = {});

/// The report as a Markdown table (one row per class) and summary lines.
std::string format_report(const EvalReport& report, const std::string& title);

}  // namespace fathom::app
