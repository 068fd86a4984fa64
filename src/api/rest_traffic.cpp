// RestApi: traffic series, top lists and geo breakdowns (docs/api.md).
#include <algorithm>
#include <cmath>
#include <map>

#include "api/detail/rest_impl.h"
#include "api/params.h"
#include "flow/flow_record.h"

namespace fathom::api {
namespace {

constexpr int64_t kMinuteNs = 60'000'000'000;
constexpr int64_t kLiveSpanNs = 15 * kMinuteNs;
constexpr size_t kMaxPoints = 2000;
constexpr double kZ95 = 1.959963984540054;

constexpr std::string_view kDirections[] = {"unknown", "inbound", "outbound", "internal",
                                            "transit"};
constexpr std::string_view kProtocols[] = {"tcp", "udp", "icmp", "other"};

/// A sum of estimates: values add, variances add. An interval's variance is read from its
/// width as a normal one (the minutes' intervals are the estimator's own, docs/estimation.md).
struct Sum {
  double value = 0.0;
  double variance = 0.0;
  double ci_low = 0.0;  ///< kept for a single term, whose interval is given exactly
  double ci_high = 0.0;
  size_t terms = 0;

  void add(double v, double lo, double hi) {
    value += v;
    const double half = std::max(0.0, (hi - lo) / 2.0) / kZ95;
    variance += half * half;
    ci_low = lo;
    ci_high = hi;
    ++terms;
  }
  json rate(double scale, double seconds) const {
    if (seconds <= 0) return nullptr;
    double lo = ci_low, hi = ci_high;
    if (terms != 1) {
      const double sd = std::sqrt(variance);
      lo = std::max(0.0, value - kZ95 * sd);
      hi = value + kZ95 * sd;
    }
    return estimate_json(value * scale / seconds, lo * scale / seconds, hi * scale / seconds);
  }
};

struct StepSums {
  Sum packets, bytes, flows;
  double seconds = 0.0;  ///< covered by data
};

json point_json(int64_t t_ns, const StepSums& s) {
  return json{{"t_ms", to_ms(t_ns)},
              {"bps", s.bytes.rate(8.0, s.seconds)},
              {"pps", s.packets.rate(1.0, s.seconds)},
              {"fps", s.flows.rate(1.0, s.seconds)}};
}

/// The slice keys of `by` and, for each, where it is in a LiveBoard point and in a rollup's
/// detail JSON (`group` / `key`; group empty for the total).
struct SliceKey {
  std::string key;
  size_t live_index;
  std::string group;
};

std::vector<SliceKey> slices_of(std::string_view by) {
  std::vector<SliceKey> out;
  if (by == "total") {
    out.push_back({"total", 0, ""});
  } else if (by == "direction") {
    for (size_t i = 0; i < 5; ++i)
      out.push_back({std::string(kDirections[i]), 1 + i, "by_direction"});
  } else {
    for (size_t i = 0; i < 4; ++i)
      out.push_back({std::string(kProtocols[i]), 6 + i, "by_protocol"});
  }
  return out;
}

/// `e[key]` when it is a finite number, else 0 (stored JSON is ours, but never trusted).
double number_or_zero(const json& e, const char* key) {
  const auto it = e.find(key);
  if (it == e.end() || !it->is_number()) return 0.0;
  const double v = it->get<double>();
  return std::isfinite(v) ? v : 0.0;
}

void add_stored(Sum& sum, const json& e) {
  if (!e.is_object()) return;
  const auto num = [&](const char* k) {
    const auto it = e.find(k);
    return it != e.end() && it->is_number() ? it->get<double>() : 0.0;
  };
  sum.add(num("value"), num("ci_low"), num("ci_high"));
}

/// `bytes` is Space-Saving's (over)estimate summed over the span; the 95% interval joins its
/// bound with the sampling error: [bytes − error − z·sd, bytes + absent + z·sd], where
/// `absent` bounds the key's weight in windows whose list lacked it.
json top_json(const TopList& list, double total_bytes, double seconds, size_t limit) {
  std::vector<std::pair<std::string, TopItem>> v(list.items.begin(), list.items.end());
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.second.bytes != b.second.bytes ? a.second.bytes > b.second.bytes : a.first < b.first;
  });
  if (v.size() > limit) v.resize(limit);
  json out = json::array();
  for (const auto& [key, item] : v) {
    const double sd = std::sqrt(std::max(0.0, item.variance));
    const double absent = std::max(0.0, list.floor_total - item.present_floor);
    out.push_back({{"key", key},
                   {"bytes", item.bytes},
                   {"error", item.error},
                   {"ci_low", std::max(0.0, item.bytes - item.error - kZ95 * sd)},
                   {"ci_high", item.bytes + absent + kZ95 * sd},
                   {"share", total_bytes > 0 ? std::min(1.0, item.bytes / total_bytes) : 0.0},
                   {"bps", seconds > 0 ? item.bytes * 8.0 / seconds : 0.0}});
  }
  return out;
}

std::string port_name(const flow::IpAddress& key) {
  const uint32_t v = key.v4();
  const auto protocol = static_cast<uint8_t>(v >> 16);
  const auto port = static_cast<uint16_t>(v);
  std::string name = protocol == 6 ? "tcp" : protocol == 17 ? "udp" : std::to_string(protocol);
  return name + "/" + std::to_string(port);
}

}  // namespace

Reply RestApi::Impl::traffic(const HttpRequest& request, uint32_t tenant) {
  const Params params(request);
  if (auto e = params.unknown({"by", "from", "step", "to"})) return Reply::bad(*e);
  const int64_t now = clock();
  int64_t from = 0, to = 0;
  if (auto e = time_param(params, "from", now, now - 60 * kMinuteNs, from)) return Reply::bad(*e);
  if (auto e = time_param(params, "to", now, now, to)) return Reply::bad(*e);
  if (from >= to) return Reply::bad("from must be before to");
  std::string by = "total";
  if (const std::string* b = params.get("by")) {
    if (*b != "total" && *b != "direction" && *b != "protocol") {
      return Reply::bad("by: total, direction or protocol");
    }
    by = *b;
  }
  const int64_t live_ns = options.live_window_ns;
  int64_t step = 0;
  if (const std::string* s = params.get("step")) {
    const auto d = parse_duration(*s);
    if (options.store_only && (!d || *d % kMinuteNs != 0)) {
      return Reply::bad(
          "step: a whole number of minutes such as 1m, 5m, 1h (this is fathom api, which serves "
          "the store's minutes; the live windows are only on the analyzers)");
    }
    if (!d || (*d != live_ns && *d % kMinuteNs != 0)) {
      return Reply::bad("step: " + std::to_string(live_ns / 1'000'000'000) +
                        "s (live windows) or a whole number of minutes such as 1m, 5m, 1h");
    }
    step = *d;
  } else if (to - from <= kLiveSpanNs && !options.store_only) {
    step = live_ns;
  } else {
    const int64_t minutes = ((to - from) / 360 + kMinuteNs - 1) / kMinuteNs;
    step = std::max<int64_t>(minutes, 1) * kMinuteNs;
  }
  if ((to - from) / step > static_cast<int64_t>(kMaxPoints)) {
    return Reply::bad("step: too fine for the span (more than 2000 points); use a larger step");
  }
  const std::vector<SliceKey> keys = slices_of(by);
  std::vector<std::map<int64_t, StepSums>> sums(keys.size());
  std::string source;
  if (step == live_ns && step % kMinuteNs != 0) {
    source = "live";
    const double seconds = static_cast<double>(live_ns) * 1e-9;
    for (const LiveBoard::Point& p : live->points(tenant, from, to)) {
      const int64_t t = p.start_ns - (p.start_ns % step);
      for (size_t k = 0; k < keys.size(); ++k) {
        const analyze::TrafficSummary& slice = p.slices[keys[k].live_index];
        StepSums& s = sums[k][t];
        s.packets.add(slice.packets.value, slice.packets.ci_low, slice.packets.ci_high);
        s.bytes.add(slice.bytes.value, slice.bytes.ci_low, slice.bytes.ci_high);
        s.flows.add(slice.flows.value, slice.flows.ci_low, slice.flows.ci_high);
        s.seconds += seconds;
      }
    }
  } else {
    source = "rollups";
    std::vector<store::Rollup> rollups;
    if (auto fail = stored_rollups(tenant, from - (from % step), to, rollups)) return *fail;
    for (const store::Rollup& r : rollups) {
      const int64_t t = r.minute_ns - (r.minute_ns % step);
      json detail;
      if (by != "total") {
        detail = json::parse(r.detail_json, nullptr, false);
        if (detail.is_discarded()) continue;  // a damaged row: left out, not guessed
      }
      for (size_t k = 0; k < keys.size(); ++k) {
        StepSums& s = sums[k][t];
        s.seconds += 60.0;
        if (keys[k].group.empty()) {
          s.packets.add(r.packets.value, r.packets.ci_low, r.packets.ci_high);
          s.bytes.add(r.bytes.value, r.bytes.ci_low, r.bytes.ci_high);
          s.flows.add(r.flows.value, r.flows.ci_low, r.flows.ci_high);
          continue;
        }
        const json& slice = detail.contains(keys[k].group) && detail[keys[k].group].is_object() &&
                                    detail[keys[k].group].contains(keys[k].key)
                                ? detail[keys[k].group][keys[k].key]
                                : json();
        add_stored(s.packets,
                   slice.is_object() && slice.contains("packets") ? slice["packets"] : json());
        add_stored(s.bytes, slice.is_object() && slice.contains("bytes") ? slice["bytes"] : json());
        add_stored(s.flows, slice.is_object() && slice.contains("flows") ? slice["flows"] : json());
      }
    }
  }
  json series = json::array();
  for (size_t k = 0; k < keys.size(); ++k) {
    json points = json::array();
    for (const auto& [t, s] : sums[k]) points.push_back(point_json(t, s));
    series.push_back({{"key", keys[k].key}, {"points", std::move(points)}});
  }
  return Reply::ok(json{{"tenant_id", tenant},
                        {"from_ms", to_ms(from)},
                        {"to_ms", to_ms(to)},
                        {"step_s", static_cast<double>(step) / 1e9},
                        {"by", by},
                        {"confidence", 0.95},
                        {"source", source},
                        {"series", std::move(series)}});
}

std::optional<Reply> RestApi::Impl::stored_rollups(uint32_t tenant, int64_t from_ns, int64_t to_ns,
                                                   std::vector<store::Rollup>& out) {
  DbLease l;
  if (auto fail = lease(l)) return fail;
  auto [status, rollups] = l->rollups(tenant, from_ns, to_ns);
  if (!status.ok) {
    l.broken = true;
    return Reply::fail(503, "unavailable", "the store does not answer: " + status.error);
  }
  out = std::move(rollups);
  return std::nullopt;
}

namespace {

/// Adds the rollups' heavy-hitter lists `names` (keys of their detail JSON) into `out`; a
/// rollup without the first list (a damaged row, or one written before the list existed) is
/// left out of the span.
void merge_stored(const std::vector<store::Rollup>& rollups, const std::vector<std::string>& names,
                  MergedTops& out) {
  out.lists.resize(names.size());
  for (const store::Rollup& r : rollups) {
    const json detail = json::parse(r.detail_json, nullptr, false);
    if (detail.is_discarded() || !detail.contains(names[0])) continue;
    out.total_bytes += r.bytes.value;
    out.seconds += 60.0;
    for (size_t n = 0; n < names.size(); ++n) {
      const auto list = detail.find(names[n]);
      if (list == detail.end() || !list->is_array()) continue;
      double floor = 0.0;  // the minute's smallest weight: a key not listed weighed at most it
      bool first = true;
      for (const json& h : *list) {
        if (!h.is_object()) continue;
        const double w = number_or_zero(h, "weight");
        floor = first ? w : std::min(floor, w);
        first = false;
      }
      out.lists[n].floor_total += floor;
      for (const json& h : *list) {
        if (!h.is_object() || !h.contains("key") || !h["key"].is_string()) continue;
        TopItem& item = out.lists[n].items[h["key"].get<std::string>()];
        item.bytes += number_or_zero(h, "weight");
        item.error += number_or_zero(h, "error");
        item.variance += number_or_zero(h, "variance");
        item.present_floor += floor;
      }
    }
  }
}

template <class KeyText>
void merge_live(const std::vector<analyze::HeavyHitter>& hitters, KeyText key_text, TopList& into) {
  // One window: its summary's error already bounds every listed key (a key not listed is not
  // reported), so no absent bound.
  for (const analyze::HeavyHitter& h : hitters) {
    TopItem& item = into.items[key_text(h.key)];
    item.bytes += h.weight;
    item.error += h.error;
    item.variance += h.variance;
  }
}

std::string address_text(const flow::IpAddress& key) {
  return key.to_string();
}
std::string country_text(const flow::IpAddress& key) {
  const uint32_t v = key.v4();
  return std::string{static_cast<char>(v >> 8 & 0xFF), static_cast<char>(v & 0xFF)};
}
std::string asn_text(const flow::IpAddress& key) {
  return std::to_string(key.v4());
}

}  // namespace

std::optional<Reply> RestApi::Impl::merged_tops(const Params& params, uint32_t tenant,
                                                const std::vector<std::string>& names,
                                                uint64_t max_limit, uint64_t default_limit,
                                                int64_t& from, int64_t& to, uint64_t& limit,
                                                MergedTops& out) {
  const int64_t now = clock();
  if (auto e = time_param(params, "from", now, now - 5 * kMinuteNs, from)) return Reply::bad(*e);
  if (auto e = time_param(params, "to", now, now, to)) return Reply::bad(*e);
  if (auto e = uint_param(params, "limit", 1, max_limit, default_limit, limit)) {
    return Reply::bad(*e);
  }
  if (from >= to) return Reply::bad("from must be before to");
  if (db) {
    std::vector<store::Rollup> rollups;
    if (auto fail = stored_rollups(tenant, from - (from % kMinuteNs), to, rollups)) return fail;
    merge_stored(rollups, names, out);
  } else if (options.store_only) {
    DbLease none;
    return lease(none);  // the store is disabled: fathom api has nothing to serve
  }
  out.lists.resize(names.size());
  if (out.seconds == 0.0 && !options.store_only) {
    // No minute stored yet (or no store): the latest live window.
    out = MergedTops{};
    out.lists.resize(names.size());
    out.source = "live";
    if (const auto latest = live->latest(tenant)) {
      out.seconds = static_cast<double>(latest->end_ns - latest->start_ns) * 1e-9;
      out.total_bytes = latest->total.bytes.value;
      for (size_t n = 0; n < names.size(); ++n) {
        const std::string& name = names[n];
        TopList& into = out.lists[n];
        if (name == "top_sources") merge_live(latest->top_sources, address_text, into);
        if (name == "top_destinations") merge_live(latest->top_destinations, address_text, into);
        if (name == "top_ports") merge_live(latest->top_ports, port_name, into);
        if (name == "top_countries") merge_live(latest->top_countries, country_text, into);
        if (name == "top_asns") merge_live(latest->top_asns, asn_text, into);
      }
    }
  }
  return std::nullopt;
}

Reply RestApi::Impl::top(const HttpRequest& request, uint32_t tenant) {
  const Params params(request);
  if (auto e = params.unknown({"from", "kind", "limit", "to"})) return Reply::bad(*e);
  const std::string* kind = params.get("kind");
  if (kind == nullptr || (*kind != "sources" && *kind != "destinations" && *kind != "ports")) {
    return Reply::bad("kind: sources, destinations or ports (required)");
  }
  int64_t from = 0, to = 0;
  uint64_t limit = 0;
  MergedTops tops;
  if (auto fail = merged_tops(params, tenant, {"top_" + *kind}, 100, 10, from, to, limit, tops)) {
    return *fail;
  }
  return Reply::ok(json{{"tenant_id", tenant},
                        {"kind", *kind},
                        {"from_ms", to_ms(from)},
                        {"to_ms", to_ms(to)},
                        {"source", tops.source},
                        {"items", top_json(tops.lists[0], tops.total_bytes, tops.seconds, limit)}});
}

Reply RestApi::Impl::geo(const HttpRequest& request, uint32_t tenant) {
  const Params params(request);
  if (auto e = params.unknown({"from", "limit", "to"})) return Reply::bad(*e);
  int64_t from = 0, to = 0;
  uint64_t limit = 0;
  MergedTops tops;
  if (auto fail = merged_tops(params, tenant, {"top_countries", "top_asns"}, 250, 20, from, to,
                              limit, tops)) {
    return *fail;
  }
  return Reply::ok(
      json{{"tenant_id", tenant},
           {"from_ms", to_ms(from)},
           {"to_ms", to_ms(to)},
           {"source", tops.source},
           {"countries", top_json(tops.lists[0], tops.total_bytes, tops.seconds, limit)},
           {"asns", top_json(tops.lists[1], tops.total_bytes, tops.seconds, limit)}});
}

}  // namespace fathom::api
