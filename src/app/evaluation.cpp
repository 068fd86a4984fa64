#include "app/evaluation.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <istream>
#include <sstream>

namespace fathom::app {
namespace {

std::vector<std::string> split_csv_line(const std::string& line) {
  // The generator writes no quoted fields (addresses are space-separated inside a field).
  std::vector<std::string> out;
  std::string field;
  for (const char c : line) {
    if (c == ',') {
      out.push_back(std::move(field));
      field.clear();
    } else if (c != '\r') {
      field += c;
    }
  }
  out.push_back(std::move(field));
  return out;
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

/// "YYYY-MM-DDTHH:MM:SS[.fraction]Z" → ns since the epoch.
bool parse_iso_time(const std::string& text, int64_t& out) {
  int y = 0;
  unsigned mo = 0, d = 0, h = 0, mi = 0, s = 0;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2u-%2uT%2u:%2u:%2u%n", &y, &mo, &d, &h, &mi, &s, &consumed) !=
          6 ||
      mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    return false;
  }
  int64_t frac_ns = 0;
  size_t pos = static_cast<size_t>(consumed);
  if (pos < text.size() && text[pos] == '.') {
    int64_t scale = 100'000'000;
    ++pos;
    for (; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos) {
      frac_ns += (text[pos] - '0') * scale;
      scale /= 10;
    }
  }
  if (pos >= text.size() || text[pos] != 'Z' || pos + 1 != text.size()) return false;
  const int64_t days = days_from_civil(y, mo, d);
  out = ((days * 86400 + h * 3600 + mi * 60 + s) * 1'000'000'000) + frac_ns;
  return true;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

bool read_truth_csv(std::istream& in, std::vector<TruthAttack>& out, std::string& error) {
  std::string line;
  if (!std::getline(in, line)) {
    error = "ground truth: empty file (expected a header line)";
    return false;
  }
  const std::vector<std::string> header = split_csv_line(line);
  std::map<std::string, size_t> col;
  for (size_t idx = 0; idx < header.size(); ++idx) col[header[idx]] = idx;
  for (const char* name :
       {"tenant", "attack_id", "type", "slow", "attackers", "victims", "start", "end"}) {
    if (col.count(name) == 0) {
      error = std::string("ground truth: no '") + name + "' column in the header";
      return false;
    }
  }
  size_t line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line == "\r") continue;
    const std::vector<std::string> f = split_csv_line(line);
    const auto bad = [&](const std::string& what) {
      error = "ground truth line " + std::to_string(line_no) + ": " + what;
      return false;
    };
    if (f.size() < header.size()) return bad("has " + std::to_string(f.size()) + " fields");
    TruthAttack a;
    const std::string& tenant = f[col["tenant"]];
    const auto [end, ec] =
        std::from_chars(tenant.data(), tenant.data() + tenant.size(), a.tenant_id);
    if (ec != std::errc() || end != tenant.data() + tenant.size()) return bad("bad tenant");
    a.id = f[col["attack_id"]];
    a.type = f[col["type"]];
    a.slow = f[col["slow"]] == "1";
    for (const char* name : {"attackers", "victims"}) {
      std::istringstream parts(f[col[name]]);
      std::string p;
      while (parts >> p) a.parties.insert(p);
    }
    if (!parse_iso_time(f[col["start"]], a.start_ns)) return bad("bad start time");
    if (!parse_iso_time(f[col["end"]], a.end_ns)) return bad("bad end time");
    if (a.end_ns < a.start_ns) return bad("ends before it starts");
    out.push_back(std::move(a));
  }
  return true;
}

std::string expected_detection(const std::string& type) {
  if (type.find("amplification") != std::string::npos) return "amplification";
  if (type.find("brute_force") != std::string::npos) return "brute_force";
  if (type == "c2_beacon") return "beaconing";
  return type;
}

std::vector<EvaluatedIncident> incidents_of(const std::vector<detect::IncidentEvent>& events) {
  std::map<std::string, EvaluatedIncident> by_id;
  std::vector<std::string> order;
  for (const detect::IncidentEvent& e : events) {
    const detect::Incident& inc = e.incident;
    auto [it, fresh] = by_id.try_emplace(inc.id);
    if (fresh) order.push_back(inc.id);
    EvaluatedIncident& out = it->second;
    out.tenant_id = inc.tenant_id;
    out.detection = std::string(detect::to_string(inc.type));
    out.subject = inc.subject.to_string();
    out.start_ns = inc.start_ns;
    out.last_seen_ns = std::max(out.last_seen_ns, inc.last_seen_ns);
    out.detected_ns = inc.detected_ns;
    out.peak_severity = std::max(out.peak_severity, inc.peak_severity);
  }
  std::vector<EvaluatedIncident> out;
  out.reserve(order.size());
  for (const std::string& id : order) out.push_back(by_id[id]);
  return out;
}

EvalReport evaluate(const std::vector<TruthAttack>& attacks,
                    const std::vector<EvaluatedIncident>& incidents, double tenant_days,
                    const MatchOptions& options) {
  EvalReport report;
  report.attacks = static_cast<uint32_t>(attacks.size());
  report.incidents = static_cast<uint32_t>(incidents.size());
  report.tenant_days = tenant_days;
  const auto matches = [&](const TruthAttack& a, const EvaluatedIncident& inc, bool any_class) {
    if (inc.tenant_id != a.tenant_id || a.parties.count(inc.subject) == 0) return false;
    if (!any_class && inc.detection != expected_detection(a.type)) return false;
    if (any_class && inc.detection != expected_detection(a.type) && inc.detection != "anomaly") {
      return false;
    }
    // Opened (detected) no earlier than shortly before the attack: an incident already open
    // for something else does not count as finding it.
    return inc.detected_ns >= a.start_ns - options.before_ns &&
           inc.start_ns <= a.end_ns + options.after_ns &&
           inc.last_seen_ns >= a.start_ns - options.before_ns;
  };

  std::vector<bool> matched_any(incidents.size(), false);
  std::map<std::string, ClassResult> classes;
  std::map<std::string, std::vector<double>> latencies;
  for (const TruthAttack& a : attacks) {
    const std::string cls = expected_detection(a.type);
    ClassResult& c = classes[cls];
    c.detection = cls;
    ++c.attacks;
    bool by_rule = false;
    bool by_ai = false;
    int64_t first_ns = INT64_MAX;
    for (size_t idx = 0; idx < incidents.size(); ++idx) {
      if (!matches(a, incidents[idx], true)) continue;
      matched_any[idx] = true;
      (incidents[idx].detection == cls ? by_rule : by_ai) = true;
      first_ns = std::min(first_ns, incidents[idx].detected_ns);
    }
    if (by_rule || by_ai) {
      ++c.detected;
      ++report.detected;
      latencies[cls].push_back(static_cast<double>(first_ns - a.start_ns) * 1e-9);
      if (!by_rule) report.only_ai.push_back(a.id + " (" + a.type + ")");
    } else {
      report.missed.push_back(a.id + " (" + a.type + (a.slow ? ", slow" : "") + ")");
    }
  }
  for (size_t idx = 0; idx < incidents.size(); ++idx) {
    const EvaluatedIncident& inc = incidents[idx];
    if (!matched_any[idx]) {
      ++report.false_incidents;
      report.false_lines.push_back("tenant " + std::to_string(inc.tenant_id) + " " + inc.detection +
                                   " " + inc.subject);
    }
  }
  // Precision and PR-AUC per class, over the incidents of that class's detection type
  // (anomaly incidents are scored as their own class).
  std::set<std::string> names;
  for (const auto& [name, c] : classes) names.insert(name);
  for (const EvaluatedIncident& inc : incidents) names.insert(inc.detection);
  for (const std::string& name : names) {
    ClassResult& c = classes[name];
    c.detection = name;
    std::vector<std::pair<double, size_t>> ranked;
    for (size_t idx = 0; idx < incidents.size(); ++idx) {
      if (incidents[idx].detection == name) ranked.push_back({incidents[idx].peak_severity, idx});
    }
    std::sort(ranked.begin(), ranked.end(),
              [](const auto& x, const auto& y) { return x.first > y.first; });
    c.incidents = static_cast<uint32_t>(ranked.size());
    // Which attacks of the class each incident finds (anomaly: every class).
    std::vector<const TruthAttack*> pool;
    for (const TruthAttack& a : attacks) {
      if (name == "anomaly" || expected_detection(a.type) == name) pool.push_back(&a);
    }
    std::set<const TruthAttack*> found;
    double ap = 0.0;
    double last_recall = 0.0;
    uint32_t true_so_far = 0;
    for (size_t rank = 0; rank < ranked.size(); ++rank) {
      const EvaluatedIncident& inc = incidents[ranked[rank].second];
      bool hit = false;
      for (const TruthAttack* a : pool) {
        if (matches(*a, inc, name == "anomaly")) {
          hit = true;
          found.insert(a);
        }
      }
      if (hit) ++true_so_far;
      const double precision = static_cast<double>(true_so_far) / static_cast<double>(rank + 1);
      const double recall =
          pool.empty() ? 0.0 : static_cast<double>(found.size()) / static_cast<double>(pool.size());
      ap += (recall - last_recall) * precision;
      last_recall = recall;
    }
    c.true_incidents = true_so_far;
    c.precision = c.incidents == 0 ? 1.0 : static_cast<double>(true_so_far) / c.incidents;
    if (name != "anomaly") {
      c.recall = c.attacks == 0 ? 0.0 : static_cast<double>(c.detected) / c.attacks;
    } else {
      c.attacks = static_cast<uint32_t>(pool.size());
      c.detected = static_cast<uint32_t>(found.size());
      c.recall = pool.empty() ? 0.0 : static_cast<double>(found.size()) / pool.size();
    }
    c.f1 = c.precision + c.recall > 0 ? 2 * c.precision * c.recall / (c.precision + c.recall) : 0;
    c.pr_auc = pool.empty() ? 0.0 : ap;
    if (auto it = latencies.find(name); it != latencies.end()) {
      c.latency_median_s = median(it->second);
      c.latency_max_s = *std::max_element(it->second.begin(), it->second.end());
    }
    report.classes.push_back(c);
  }
  report.false_per_tenant_day =
      tenant_days > 0 ? static_cast<double>(report.false_incidents) / tenant_days : 0.0;
  return report;
}

std::string format_report(const EvalReport& r, const std::string& title) {
  std::string out = "## " + title + "\n\n";
  out +=
      "| class | attacks | detected | recall | incidents | precision | F1 | PR-AUC | latency "
      "median s | latency max s |\n|---|---|---|---|---|---|---|---|---|---|\n";
  char buf[256];
  for (const ClassResult& c : r.classes) {
    std::snprintf(buf, sizeof buf,
                  "| %s | %u | %u | %.2f | %u | %.2f | %.2f | %.2f | %.0f | %.0f |\n",
                  c.detection.c_str(), c.attacks, c.detected, c.recall, c.incidents, c.precision,
                  c.f1, c.pr_auc, c.latency_median_s, c.latency_max_s);
    out += buf;
  }
  std::snprintf(buf, sizeof buf,
                "\nattacks detected %u/%u; incidents %u, false %u (%.2f per tenant-day over %.2f "
                "tenant-days)\n",
                r.detected, r.attacks, r.incidents, r.false_incidents, r.false_per_tenant_day,
                r.tenant_days);
  out += buf;
  for (const std::string& m : r.missed) out += "missed: " + m + "\n";
  for (const std::string& m : r.only_ai) out += "found only by the autoencoder: " + m + "\n";
  for (const std::string& f : r.false_lines) out += "false: " + f + "\n";
  return out;
}

}  // namespace fathom::app
