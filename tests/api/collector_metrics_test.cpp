#include "api/collector_metrics.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "api/rest_api.h"

namespace fathom::api {
namespace {

transform::ExporterIngest exporter(const char* addr, uint64_t packets, uint32_t tenant) {
  transform::ExporterIngest e;
  e.address = *flow::IpAddress::parse(addr);
  e.decode.packets = packets;
  e.decode.records = packets * 10;
  e.decode.last_version = 10;
  e.tenant_id = tenant;
  return e;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

TEST(CollectorMetrics, LabelsExportersWithTheirTenantAndProtocol) {
  CollectorSnapshot s;
  s.tenants = {{1, "acme"}};
  transform::IngestSnapshot w;
  w.exporters.push_back(exporter("192.0.2.1", 5, 1));
  w.exporters.back().decode.count(decode::DecodeStatus::kTruncated);
  w.tenants.push_back({1, 50, 5000, 60, 0});
  s.workers.push_back(w);
  MetricsText text;
  append_collector_metrics(s, text);
  const std::string out = text.str();
  EXPECT_NE(out.find("fathom_exporter_packets_total{exporter=\"192.0.2.1\"} 5\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("fathom_exporter_info{exporter=\"192.0.2.1\",tenant=\"acme\","
                     "protocol=\"ipfix\"} 1\n"),
            std::string::npos)
      << out;
  EXPECT_NE(
      out.find("fathom_exporter_problems_total{exporter=\"192.0.2.1\",reason=\"truncated\"} 1"),
      std::string::npos)
      << out;
  // Only reasons that happened get a series.
  EXPECT_EQ(count(out, "fathom_exporter_problems_total{"), 1u) << out;
  EXPECT_NE(out.find("fathom_tenant_records_total{tenant=\"acme\",tenant_id=\"1\"} 50"),
            std::string::npos)
      << out;
  EXPECT_EQ(count(out, "# TYPE fathom_exporter_packets_total counter"), 1u);
}

TEST(CollectorMetrics, ExporterSeriesAreBoundedAndTheRestSummedAsOther) {
  CollectorSnapshot s;
  s.max_exporter_series = 3;
  transform::IngestSnapshot w0;
  transform::IngestSnapshot w1;
  for (int i = 1; i <= 5; ++i) {
    const std::string addr = "198.51.100." + std::to_string(i);
    (i % 2 ? w0 : w1).exporters.push_back(exporter(addr.c_str(), uint64_t(i) * 100, 0));
  }
  s.workers = {w0, w1};
  MetricsText text;
  append_collector_metrics(s, text);
  const std::string out = text.str();
  EXPECT_EQ(count(out, "fathom_exporter_packets_total{"), 4u) << out;  // 3 busiest + other
  EXPECT_NE(out.find("exporter=\"198.51.100.5\""), std::string::npos);
  EXPECT_NE(out.find("exporter=\"198.51.100.3\""), std::string::npos);
  EXPECT_EQ(out.find("exporter=\"198.51.100.1\""), std::string::npos);
  EXPECT_NE(out.find("fathom_exporter_packets_total{exporter=\"other\"} 300\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("fathom_exporters 5\n"), std::string::npos);
}

TEST(CollectorMetrics, QueueDropsAndKernelDropsAreShown) {
  CollectorSnapshot s;
  bus::SubscriberStats sub;
  sub.name = "flows_jsonl";
  sub.dropped_batches = 2;
  sub.dropped_records = 8192;
  s.bus.subscribers.push_back(sub);
  collect::SocketStats sock;
  sock.endpoint = "127.0.0.1:2055";
  sock.counters.kernel_drops = 17;
  s.sockets.push_back(sock);
  MetricsText text;
  append_collector_metrics(s, text);
  const std::string out = text.str();
  EXPECT_NE(out.find("fathom_bus_dropped_records_total{consumer=\"flows_jsonl\"} 8192"),
            std::string::npos);
  EXPECT_NE(
      out.find("fathom_collect_kernel_drops_total{endpoint=\"127.0.0.1:2055\",thread=\"0\"} 17"),
      std::string::npos);
}

}  // namespace
}  // namespace fathom::api

namespace fathom::api {
namespace {

/// Families named in `text`'s "# TYPE" lines.
std::set<std::string> families_of(const std::string& text) {
  std::set<std::string> names;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) == 0) names.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  return names;
}

TEST(CollectorMetrics, DocumentationListsExactlyTheExposedFamilies) {
  // A snapshot with one of everything, so every family has its HELP/TYPE.
  CollectorSnapshot s;
  s.tenants = {{1, "acme"}};
  transform::IngestSnapshot w;
  w.exporters.push_back(exporter("192.0.2.1", 5, 1));
  w.exporters.back().decode.count(decode::DecodeStatus::kTruncated);
  w.tenants.push_back({1, 50, 5000, 60, 0});
  s.workers.push_back(w);
  s.bus.subscribers.push_back({});
  s.sockets.push_back({});
  s.outputs.push_back({"flows_jsonl", 0, 0, 0});
  s.sampler.tenants.push_back({});
  s.has_enrichment = true;
  s.enrichment.sources.push_back({});
  s.has_estimates = true;
  s.estimates.push_back({});
  s.has_analysis = true;
  s.analysis.detections.push_back({"syn_flood", 1});
  s.analysis.open_by_severity.emplace_back(1, "high", 1);
  s.analysis.has_ai = true;
  s.has_store = true;
  s.store.backend = "sqlite";
  s.has_alerts = true;
  s.alerts.sinks.push_back({});
  s.alerts.sinks.back().name = "siem";
  s.has_kafka_producer = true;
  s.has_kafka_json_producer = true;
  s.has_kafka_consumer = true;
  s.kafka_consumer.corrupt_by_reason[1] = 1;
  MetricsText text;
  append_collector_metrics(s, text);
  // The REST API's own families (fathom run and fathom api), with a store.
  RestApiStats api;
  api.responses = {{200, 1}};
  api.backend = "sqlite";
  append_api_metrics(api, text);
  const std::set<std::string> exposed = families_of(text.str());

  std::ifstream doc(std::string(FATHOM_SOURCE_DIR) + "/docs/metrics.md");
  ASSERT_TRUE(doc) << "docs/metrics.md missing";
  std::set<std::string> documented;
  const std::regex row(R"(^\| `(fathom_[a-z_]+)` \|)");
  for (std::string line; std::getline(doc, line);) {
    std::smatch m;
    if (std::regex_search(line, m, row)) documented.insert(m[1]);
  }
  EXPECT_EQ(documented, exposed);
}

}  // namespace
}  // namespace fathom::api

namespace fathom::api {
namespace {

TEST(CollectorMetrics, SamplerEnrichmentAndEstimatesCarryTenantLabelsAndIntervals) {
  CollectorSnapshot s;
  s.tenants = {{1, "acme"}};
  s.sampler.tenants.push_back({1, 1000.0, 0.25, 4000.0, 1000.0, 40000, 10000, 2});
  transform::IngestSnapshot w;
  w.enrich.records = 7;
  w.enrich.intel_dst = 3;
  s.workers.push_back(w);
  s.has_estimates = true;
  estimate::TenantWindowSummary e;
  e.tenant_id = 1;
  e.start_ns = 60'000'000'000;
  e.end_ns = 120'000'000'000;
  e.total.packets.value = 5000;
  e.total.packets.ci_low = 4000;
  e.total.packets.ci_high = 6000;
  e.external_peers.observed = 12;
  e.external_peers.estimate = 30.5;
  s.estimates.push_back(e);
  s.estimator.records_counted = 99;
  MetricsText text;
  append_collector_metrics(s, text);
  const std::string out = text.str();
  for (const char* line : {
           "fathom_sampler_keep_probability{tenant=\"acme\",tenant_id=\"1\"} 0.25",
           "fathom_sampler_arrival_rate{tenant=\"acme\",tenant_id=\"1\"} 4000",
           "fathom_sampler_surges_total{tenant=\"acme\",tenant_id=\"1\"} 2",
           "fathom_enrichment_records_total 7",
           "fathom_enrichment_intel_matches_total{side=\"dst\"} 3",
           "fathom_estimate_records_total{outcome=\"counted\"} 99",
           "fathom_estimate_window_seconds{tenant=\"acme\",tenant_id=\"1\"} 60",
           "fathom_estimate_packets{tenant=\"acme\",tenant_id=\"1\",stat=\"estimate\"} 5000",
           "fathom_estimate_packets{tenant=\"acme\",tenant_id=\"1\",stat=\"ci_low\"} 4000",
           "fathom_estimate_packets{tenant=\"acme\",tenant_id=\"1\",stat=\"ci_high\"} 6000",
           "fathom_estimate_external_peers{tenant=\"acme\",tenant_id=\"1\",stat=\"estimate\"} 30.5",
       }) {
    EXPECT_NE(out.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << out;
  }
  // No enrichment loader: its source families are left out rather than shown as zeros.
  EXPECT_EQ(out.find("fathom_enrichment_source_entries"), std::string::npos);
}

}  // namespace
}  // namespace fathom::api
