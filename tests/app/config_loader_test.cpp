#include "app/config_loader.h"

#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "app/run_command.h"
#include "transform/tenant_map.h"

namespace fathom::app {
namespace {

std::string errors_text(const ConfigLoad& load) {
  std::string text;
  for (const ConfigError& e : load.errors) text += e.to_string() + "\n";
  return text;
}

transform::IpPrefix prefix(const char* text) {
  transform::IpPrefix p;
  EXPECT_EQ(transform::parse_ip_prefix(text, p), transform::PrefixParse::kOk) << text;
  return p;
}

flow::IpAddress ip(const std::string& text) {
  return *flow::IpAddress::parse(text);
}

TEST(ConfigLoader, EmptyFileGivesTheDefaults) {
  for (const char* text : {"", "# only a comment\n", "{}\n"}) {
    const ConfigLoad load = parse_config(text, "empty.yaml");
    ASSERT_TRUE(load.ok()) << errors_text(load);
    const Config& c = load.config;
    EXPECT_EQ(c.data_dir, "/var/lib/fathom");
    EXPECT_EQ(c.log_level, LogLevel::kInfo);
    EXPECT_EQ(c.metrics_listen.host, "127.0.0.1");
    EXPECT_EQ(c.metrics_listen.port, 9100);
    ASSERT_EQ(c.collect.listeners.size(), 6u);
    std::set<std::string> listeners;
    for (const collect::ListenEndpoint& e : c.collect.listeners) {
      listeners.insert(e.host + " " + std::to_string(e.port));
    }
    EXPECT_EQ(listeners, (std::set<std::string>{"0.0.0.0 2055", "0.0.0.0 4739", "0.0.0.0 6343",
                                                ":: 2055", ":: 4739", ":: 6343"}));
    EXPECT_EQ(c.collect.receive_threads, 1u);
    EXPECT_EQ(c.collect.socket_receive_buffer_bytes, 8u * 1024 * 1024);
    EXPECT_EQ(c.collect.recv_batch_size, 64u);
    EXPECT_EQ(c.collect.queue_capacity_batches, 64u);
    EXPECT_EQ(c.collect.flush_interval_ms, 200u);
    EXPECT_EQ(c.log_format, LogFormat::kText);
    EXPECT_EQ(c.output.flows, "");
    EXPECT_EQ(c.collect.state_file, "");
    EXPECT_EQ(c.collect.node_id, "");
    EXPECT_EQ(c.kafka.brokers, "");
    EXPECT_EQ(c.kafka.topic, "fathom.flows");
    EXPECT_EQ(c.kafka.flows_json_topic, "");
    EXPECT_EQ(c.kafka.compression, "lz4");
    EXPECT_EQ(c.kafka.group_id, "fathom-analyze");
    EXPECT_EQ(c.kafka.buffer_max_messages, 100'000);
    EXPECT_EQ(c.kafka.commit_interval_ms, 1'000);
    EXPECT_EQ(c.kafka.idle_partition_seconds, 30);
    EXPECT_TRUE(c.kafka.properties.empty());
    EXPECT_EQ(c.decode.max_exporters, 4096u);
    EXPECT_EQ(c.decode.max_templates_per_exporter, 1024u);
    EXPECT_EQ(c.decode.max_pending_bytes_per_exporter, 256u * 1024);
    EXPECT_EQ(c.decode.pending_timeout_ns, 120'000'000'000);
    EXPECT_TRUE(c.decode.emit_biflow_reverse);
    EXPECT_EQ(c.transform.unknown_exporters, transform::UnknownExporters::kReject);
    EXPECT_EQ(c.transform.default_tenant_id, 65535u);
    EXPECT_EQ(c.transform.default_tenant_name, "default");
    EXPECT_TRUE(c.transform.tenants.empty());
    EXPECT_EQ(describe_config(c), "0 tenants, 0 exporters");
  }
}

/// Sets every key the loader knows to a value other than its default.
constexpr const char* kFullConfig = R"(
data_dir: /srv/fathom
log_level: debug
log_format: json
metrics_listen: "[::1]:9200"
api:
  listen: "127.0.0.1:8443"
  tokens:
    - {name: ops, admin: true, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}
    - {name: acme-soc, tenant: 7, sha256: 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752}
  tls: {certificate: /etc/fathom/cert.pem, private_key: /etc/fathom/key.pem}
  web_root: /srv/fathom/web
output:
  flows: /srv/fathom/flows.jsonl
  estimates: "-"
  incidents: /srv/fathom/incidents.jsonl
analyze:
  slide_seconds: 1
  window_seconds: 5
  long_windows:
    - {slide_seconds: 10, window_seconds: 60}
  max_internal_hosts: 1000
  max_external_hosts: 500
  max_history_hosts: 200
  max_tenants: 10
  heavy_hitters: 16
  max_contacts_per_slide: 1000
  decision: estimate
  confidence: 0.99
  thresholds: {syn_flood_pps: 500}
  incidents: {quiet_period_seconds: 30, refresh_seconds: 20, max_open: 50, flows: 20,
              flow_seconds: 30}
  beacon: {min_period_seconds: 5, max_period_seconds: 600, jitter_tolerance: 0.3, min_observations: 6}
  ai:
    model: "off"
    level: 1
    min_records: 4
    threshold: 6.5
    persistence: 2
    host_margin: 2.5
    host_warmup_windows: 7
    learning_windows: 30
    learning_min_samples: 256
    history_capacity: 2048
    refresh_windows: 900
    max_detections_per_window: 20
    top_features: 4
    checkpoint_seconds: 600
  autoscale:
    scale_out_utilisation: 0.9
    scale_out_window_seconds: 300
    scale_in_utilisation: 0.2
    scale_in_window_seconds: 900
    scale_out_cooldown_seconds: 60
    scale_in_cooldown_seconds: 120
    min_workers: 1
    max_workers: 4
store:
  enabled: true
  url: "sqlite:/srv/fathom/db.sqlite"
  rollup_retention_days: 7
  incident_retention_days: 90
  max_database_mb: 512
  spool_max_mb: 64
  prune_interval_seconds: 600
  connect_timeout_seconds: 3
kafka:
  brokers: "kafka-1:9092,kafka-2:9092"
  topic: acme.flows
  flows_json_topic: acme.flows.json
  client_id: collector-7
  compression: zstd
  linger_ms: 50
  buffer_max_messages: 5000
  buffer_max_mb: 64
  message_timeout_ms: 30000
  group_id: analyzers-eu
  session_timeout_ms: 6000
  commit_interval_ms: 250
  idle_partition_seconds: 45
  properties: {security.protocol: SASL_SSL, sasl.mechanism: SCRAM-SHA-512}
alert:
  sinks:
    - name: siem
      kind: syslog
      tenants: [1]
      min_severity: medium
      host: 192.0.2.50
      port: 6514
      transport: tcp
      facility: 4
      hostname: fathom-1
    - name: oncall
      kind: webhook
      url: "https://hooks.example.com/fathom"
      headers: {Authorization: "Bearer x"}
      hmac_secret: s3cret
      timeout_ms: 2000
      verify_tls: false
    - name: file
      kind: json_lines
      path: /srv/fathom/alerts.jsonl
    - name: bus
      kind: kafka
      brokers: "k1:9092,k2:9092"
      topic: soc.alerts
      properties: {security.protocol: ssl, socket.keepalive.enable: true}
  retry: {max_attempts: 3, initial_backoff_ms: 100, max_backoff_ms: 10000}
  rate_limit: {alerts_per_minute: 30, burst: 10, summary_interval_seconds: 120}
  spool_max_mb_per_sink: 16
  queue_capacity: 512
estimate:
  window_seconds: 10
  allowed_lateness_seconds: 0
  time_basis: flow_end
  max_hosts_per_tenant: 100
  max_ports_per_tenant: 50
  max_peers_per_tenant: 200
  top_n: 3
collect:
  listeners: ["192.0.2.10:9995", "[2001:db8::10]:4739", "0.0.0.0:0"]
  receive_threads: 4
  socket_receive_buffer_bytes: 67108864
  recv_batch_size: 128
  queue_capacity_batches: 16
  flush_interval_ms: 50
  state_file: /srv/fathom/decoder.state
  node_id: collector-7.eu
decode:
  max_exporters: 100
  max_templates_per_exporter: 16
  max_pending_bytes_per_exporter: 0
  pending_timeout_seconds: 2.5
  emit_biflow_reverse: false
transform:
  unknown_exporters: default
  default_tenant:
    id: 900
    name: lab
  enrichment:
    geo_databases: [/srv/geo/country.mmdb]
    asn_databases: [/srv/geo/asn-ipv4.csv, /srv/geo/asn-ipv6.csv]
    intel_lists:
      - name: firehol_level1
        path: /srv/intel/firehol_level1.netset
        format: netset
        category: attacker
        severity: 80
      - {name: drop, path: /srv/intel/drop.txt}
    reload_check_seconds: 0
    asn_overrides_exporter: true
  sampling:
    update_interval_seconds: 5
    smoothing: 0.25
    min_probability: 0.001
    surge_factor: 8
    seed: 42
tenants:
  - id: 7
    name: acme
    exporters:
      - 192.0.2.1
      - address: 198.51.100.0/24
        observation_domains: [3, 1, 3]
    internal_networks: [10.1.0.0/16, "2001:db8:1::/48"]
    target_ingest_rate: 1.5e5
    dedup:
      - {exporter: 192.0.2.1, count: ingress}
      - exporter: 198.51.100.0/24
        count: interfaces
        input_interfaces: [7, 3, 7]
    thresholds: {syn_flood_pps: 5000, exfiltration_peer_share: 0.25}
  - id: 8
    name: globex.eu
    exporters:
      - address: 198.51.100.0/24
        observation_domains: [2]
      - "2001:db8:ff::/64"
)";

TEST(ConfigLoader, FullFileSetsEveryField) {
  {
    const ConfigLoad api_load = parse_config(kFullConfig, "full.yaml");
    ASSERT_TRUE(api_load.ok());
    const Config::Api& api = api_load.config.api;
    EXPECT_TRUE(api.enabled);
    EXPECT_EQ(api.listen.port, 8443);
    ASSERT_EQ(api.tokens.size(), 2u);
    EXPECT_TRUE(api.tokens[0].admin);
    EXPECT_EQ(api.tokens[1].tenant_id, 7u);
    EXPECT_EQ(api.tokens[1].name, "acme-soc");
    EXPECT_EQ(api.tls_certificate, "/etc/fathom/cert.pem");
    EXPECT_EQ(api.tls_private_key, "/etc/fathom/key.pem");
    EXPECT_EQ(api.web_root, "/srv/fathom/web");
  }
  const ConfigLoad load = parse_config(kFullConfig, "full.yaml");
  ASSERT_TRUE(load.ok()) << errors_text(load);
  const Config& c = load.config;
  EXPECT_EQ(c.data_dir, "/srv/fathom");
  EXPECT_EQ(c.log_level, LogLevel::kDebug);
  EXPECT_EQ(c.metrics_listen.host, "::1");
  EXPECT_EQ(c.metrics_listen.port, 9200);
  ASSERT_EQ(c.collect.listeners.size(), 3u);
  EXPECT_EQ(c.collect.listeners[0].host, "192.0.2.10");
  EXPECT_EQ(c.collect.listeners[0].port, 9995);
  EXPECT_EQ(c.collect.listeners[1].host, "2001:db8::10");
  EXPECT_EQ(c.collect.listeners[1].port, 4739);
  EXPECT_EQ(c.collect.listeners[2].port, 0);
  EXPECT_EQ(c.collect.receive_threads, 4u);
  EXPECT_EQ(c.collect.socket_receive_buffer_bytes, 67108864u);
  EXPECT_EQ(c.collect.recv_batch_size, 128u);
  EXPECT_EQ(c.collect.queue_capacity_batches, 16u);
  EXPECT_EQ(c.collect.state_file, "/srv/fathom/decoder.state");
  EXPECT_EQ(c.collect.node_id, "collector-7.eu");
  EXPECT_EQ(c.collect.flush_interval_ms, 50u);
  EXPECT_EQ(c.log_format, LogFormat::kJson);
  EXPECT_EQ(c.output.flows, "/srv/fathom/flows.jsonl");
  EXPECT_EQ(c.output.estimates, "-");
  EXPECT_EQ(c.estimate.window.window_ns, 10'000'000'000);
  EXPECT_EQ(c.estimate.window.allowed_lateness_ns, 0);
  EXPECT_EQ(c.estimate.window.time_basis, estimate::TimeBasis::kFlowEnd);
  EXPECT_EQ(c.estimate.window.max_hosts_per_tenant, 100u);
  EXPECT_EQ(c.estimate.window.max_ports_per_tenant, 50u);
  EXPECT_EQ(c.estimate.window.max_peers_per_tenant, 200u);
  EXPECT_EQ(c.estimate.top_n, 3u);
  EXPECT_EQ(c.output.incidents, "/srv/fathom/incidents.jsonl");
  const Config::Analyze& a = c.analyze;
  ASSERT_EQ(a.windows.levels.size(), 2u);
  EXPECT_EQ(a.windows.levels[0].slide_ns, 1'000'000'000);
  EXPECT_EQ(a.windows.levels[0].window_ns, 5'000'000'000);
  EXPECT_EQ(a.windows.levels[1].slide_ns, 10'000'000'000);
  EXPECT_EQ(a.windows.levels[1].window_ns, 60'000'000'000);
  EXPECT_EQ(a.windows.max_internal_hosts, 1000u);
  EXPECT_EQ(a.windows.max_external_hosts, 500u);
  EXPECT_EQ(a.windows.max_history_hosts, 200u);
  EXPECT_EQ(a.windows.max_tenants, 10u);
  EXPECT_EQ(a.windows.heavy_hitters, 16u);
  EXPECT_EQ(a.windows.max_contacts_per_slide, 1000u);
  EXPECT_EQ(a.incident_flows, 20u);
  EXPECT_EQ(a.incident_flow_ns, 30'000'000'000);
  EXPECT_EQ(a.rules.decision, detect::Decision::kEstimate);
  EXPECT_DOUBLE_EQ(a.rules.confidence, 0.99);
  EXPECT_DOUBLE_EQ(a.rules.defaults.syn_flood_pps, 500);
  EXPECT_EQ(a.incidents.quiet_period_ns, 30'000'000'000);
  EXPECT_EQ(a.incidents.refresh_interval_ns, 20'000'000'000);
  EXPECT_EQ(a.incidents.max_open, 50u);
  EXPECT_EQ(a.beacon.min_period_ns, 5'000'000'000);
  EXPECT_EQ(a.beacon.max_period_ns, 600'000'000'000);
  EXPECT_DOUBLE_EQ(a.beacon.jitter_tolerance, 0.3);
  EXPECT_EQ(a.beacon.min_observations, 6u);
  EXPECT_TRUE(c.store.enabled);
  EXPECT_EQ(c.store.url, "sqlite:/srv/fathom/db.sqlite");
  EXPECT_EQ(c.store.options.rollup_retention_ns, 7 * 86'400'000'000'000);
  EXPECT_EQ(c.store.options.incident_retention_ns, 90 * 86'400'000'000'000);
  EXPECT_EQ(c.store.options.max_database_bytes, 512ull << 20);
  EXPECT_EQ(c.store.spool_max_bytes, 64ull << 20);
  EXPECT_EQ(c.store.prune_interval_ns, 600'000'000'000);
  EXPECT_EQ(c.store.options.connect_timeout_s, 3);
  EXPECT_EQ(c.kafka.brokers, "kafka-1:9092,kafka-2:9092");
  EXPECT_EQ(c.kafka.topic, "acme.flows");
  EXPECT_EQ(c.kafka.flows_json_topic, "acme.flows.json");
  EXPECT_EQ(c.kafka.client_id, "collector-7");
  EXPECT_EQ(c.kafka.compression, "zstd");
  EXPECT_EQ(c.kafka.linger_ms, 50);
  EXPECT_EQ(c.kafka.buffer_max_messages, 5000);
  EXPECT_EQ(c.kafka.buffer_max_kbytes, 64 * 1024);
  EXPECT_EQ(c.kafka.message_timeout_ms, 30000);
  EXPECT_EQ(c.kafka.group_id, "analyzers-eu");
  EXPECT_EQ(c.kafka.session_timeout_ms, 6000);
  EXPECT_EQ(c.kafka.commit_interval_ms, 250);
  EXPECT_EQ(c.kafka.idle_partition_seconds, 45);
  EXPECT_EQ(c.kafka.properties,
            (std::map<std::string, std::string>{{"security.protocol", "SASL_SSL"},
                                                {"sasl.mechanism", "SCRAM-SHA-512"}}));
  ASSERT_EQ(c.alert.sinks.size(), 4u);
  const alert::SinkConfig& siem = c.alert.sinks[0];
  EXPECT_EQ(siem.name, "siem");
  EXPECT_EQ(siem.kind, alert::SinkKind::kSyslog);
  EXPECT_EQ(siem.tenants, std::vector<uint32_t>{1});
  EXPECT_EQ(siem.min_level, detect::SeverityLevel::kMedium);
  EXPECT_EQ(siem.host, "192.0.2.50");
  EXPECT_EQ(siem.port, 6514);
  EXPECT_EQ(siem.transport, alert::SyslogTransport::kTcp);
  EXPECT_EQ(siem.facility, 4);
  EXPECT_EQ(siem.hostname, "fathom-1");
  const alert::SinkConfig& oncall = c.alert.sinks[1];
  EXPECT_EQ(oncall.kind, alert::SinkKind::kWebhook);
  EXPECT_EQ(oncall.url, "https://hooks.example.com/fathom");
  ASSERT_EQ(oncall.headers.size(), 1u);
  EXPECT_EQ(oncall.headers[0].first, "Authorization");
  EXPECT_EQ(oncall.headers[0].second, "Bearer x");
  EXPECT_EQ(oncall.hmac_secret, "s3cret");
  EXPECT_EQ(oncall.timeout_ms, 2000);
  EXPECT_FALSE(oncall.verify_tls);
  EXPECT_EQ(c.alert.sinks[2].kind, alert::SinkKind::kJsonLines);
  EXPECT_EQ(c.alert.sinks[2].path, "/srv/fathom/alerts.jsonl");
  const alert::SinkConfig& bus = c.alert.sinks[3];
  EXPECT_EQ(bus.kind, alert::SinkKind::kKafka);
  EXPECT_EQ(bus.brokers, "k1:9092,k2:9092");
  EXPECT_EQ(bus.topic, "soc.alerts");
  EXPECT_EQ(bus.properties,
            (std::map<std::string, std::string>{{"security.protocol", "ssl"},
                                                {"socket.keepalive.enable", "true"}}));
  EXPECT_EQ(c.alert.retry.max_attempts, 3u);
  EXPECT_EQ(c.alert.retry.initial_backoff_ms, 100);
  EXPECT_EQ(c.alert.retry.max_backoff_ms, 10000);
  EXPECT_DOUBLE_EQ(c.alert.rate_limit.alerts_per_minute, 30);
  EXPECT_DOUBLE_EQ(c.alert.rate_limit.burst, 10);
  EXPECT_EQ(c.alert.rate_limit.summary_interval_ms, 120'000);
  EXPECT_EQ(c.alert.spool_max_bytes_per_sink, 16ull << 20);
  EXPECT_EQ(c.alert.queue_capacity, 512u);
  EXPECT_EQ(a.ai.model, "off");
  EXPECT_EQ(a.ai.level, 1u);
  EXPECT_EQ(a.ai.min_records, 4u);
  EXPECT_DOUBLE_EQ(a.ai.detector.threshold, 6.5);
  EXPECT_EQ(a.ai.detector.persistence, 2u);
  EXPECT_DOUBLE_EQ(a.ai.detector.host_margin, 2.5);
  EXPECT_EQ(a.ai.detector.host_warmup_windows, 7u);
  EXPECT_EQ(a.ai.detector.learning_windows, 30u);
  EXPECT_EQ(a.ai.detector.learning_min_samples, 256u);
  EXPECT_EQ(a.ai.detector.history_capacity, 2048u);
  EXPECT_EQ(a.ai.detector.refresh_windows, 900u);
  EXPECT_EQ(a.ai.detector.max_detections_per_window, 20u);
  EXPECT_EQ(a.ai.detector.top_features, 4u);
  EXPECT_EQ(a.ai.checkpoint_interval_ns, 600'000'000'000);
  EXPECT_DOUBLE_EQ(a.autoscale.scale_out_utilisation, 0.9);
  EXPECT_EQ(a.autoscale.scale_out_window_ns, 300'000'000'000);
  EXPECT_DOUBLE_EQ(a.autoscale.scale_in_utilisation, 0.2);
  EXPECT_EQ(a.autoscale.scale_in_window_ns, 900'000'000'000);
  EXPECT_EQ(a.autoscale.scale_out_cooldown_ns, 60'000'000'000);
  EXPECT_EQ(a.autoscale.scale_in_cooldown_ns, 120'000'000'000);
  EXPECT_EQ(a.autoscale.min_workers, 1u);
  EXPECT_EQ(a.autoscale.max_workers, 4u);
  EXPECT_EQ(c.decode.max_exporters, 100u);
  EXPECT_EQ(c.decode.max_templates_per_exporter, 16u);
  EXPECT_EQ(c.decode.max_pending_bytes_per_exporter, 0u);
  EXPECT_EQ(c.decode.pending_timeout_ns, 2'500'000'000);
  EXPECT_FALSE(c.decode.emit_biflow_reverse);
  EXPECT_EQ(c.transform.unknown_exporters, transform::UnknownExporters::kDefault);
  EXPECT_EQ(c.transform.default_tenant_id, 900u);
  EXPECT_EQ(c.transform.default_tenant_name, "lab");
  ASSERT_EQ(c.transform.tenants.size(), 2u);
  const transform::Tenant& acme = c.transform.tenants[0];
  EXPECT_EQ(acme.id, 7u);
  EXPECT_EQ(acme.name, "acme");
  ASSERT_EQ(acme.exporters.size(), 2u);
  EXPECT_EQ(acme.exporters[0].prefix, prefix("192.0.2.1"));
  EXPECT_TRUE(acme.exporters[0].observation_domains.empty());
  EXPECT_EQ(acme.exporters[1].prefix, prefix("198.51.100.0/24"));
  EXPECT_EQ(acme.exporters[1].observation_domains, (std::vector<uint32_t>{1, 3}));
  ASSERT_EQ(acme.internal_networks.size(), 2u);
  EXPECT_EQ(acme.internal_networks[1], prefix("2001:db8:1::/48"));
  EXPECT_DOUBLE_EQ(acme.target_ingest_rate, 150000.0);
  EXPECT_EQ(acme.thresholds, (std::map<std::string, double>{{"exfiltration_peer_share", 0.25},
                                                            {"syn_flood_pps", 5000}}));
  ASSERT_EQ(acme.dedup.size(), 2u);
  EXPECT_EQ(acme.dedup[0].exporter, prefix("192.0.2.1"));
  EXPECT_EQ(acme.dedup[0].count, transform::DedupRule::Count::kIngress);
  EXPECT_EQ(acme.dedup[1].count, transform::DedupRule::Count::kInterfaces);
  EXPECT_EQ(acme.dedup[1].input_interfaces, (std::vector<uint32_t>{3, 7}));
  const transform::Enrichment& e = c.transform.enrichment;
  EXPECT_EQ(e.geo_databases, (std::vector<std::string>{"/srv/geo/country.mmdb"}));
  EXPECT_EQ(e.asn_databases.size(), 2u);
  ASSERT_EQ(e.intel_lists.size(), 2u);
  EXPECT_EQ(e.intel_lists[0].name, "firehol_level1");
  EXPECT_EQ(e.intel_lists[0].path, "/srv/intel/firehol_level1.netset");
  EXPECT_EQ(e.intel_lists[0].format, transform::IntelFormat::kNetset);
  EXPECT_EQ(e.intel_lists[0].category, transform::IntelCategory::kAttacker);
  EXPECT_EQ(e.intel_lists[0].severity, 80);
  EXPECT_EQ(e.intel_lists[1].format, transform::IntelFormat::kAuto);
  EXPECT_EQ(e.intel_lists[1].category, transform::IntelCategory::kOther);
  EXPECT_EQ(e.intel_lists[1].severity, 50);
  EXPECT_EQ(e.reload_check_seconds, 0u);
  EXPECT_TRUE(e.asn_overrides_exporter);
  const transform::Sampling& sampling = c.transform.sampling;
  EXPECT_DOUBLE_EQ(sampling.update_interval_seconds, 5.0);
  EXPECT_DOUBLE_EQ(sampling.smoothing, 0.25);
  EXPECT_DOUBLE_EQ(sampling.min_probability, 0.001);
  EXPECT_DOUBLE_EQ(sampling.surge_factor, 8.0);
  EXPECT_EQ(sampling.seed, 42u);
  const transform::Tenant& globex = c.transform.tenants[1];
  EXPECT_EQ(globex.name, "globex.eu");
  EXPECT_DOUBLE_EQ(globex.target_ingest_rate, 0.0);  // not set: no limit
  EXPECT_EQ(describe_config(c), "2 tenants, 4 exporters");

  // The shared router is split by observation domain.
  const transform::TenantMap map = transform::TenantMap::from_config(c.transform);
  EXPECT_EQ(map.resolve(ip("198.51.100.9"), 1), 7u);
  EXPECT_EQ(map.resolve(ip("198.51.100.9"), 2), 8u);
  EXPECT_EQ(map.resolve(ip("198.51.100.9"), 4), 900u);  // unknown domain: default tenant
  EXPECT_EQ(map.resolve(ip("2001:db8:ff::1"), 0), 8u);
}

/// The schema paths of every mapping key in `node` ("tenants[].exporters[].address"); the
/// free-form maps (thresholds, a sink's headers and properties) count as one key each.
void collect_key_paths(const YAML::Node& node, const std::string& path,
                       std::set<std::string>& out) {
  if (node.IsMap()) {
    for (const auto& pair : node) {
      const std::string key = path.empty() ? pair.first.Scalar() : path + "." + pair.first.Scalar();
      out.insert(key);
      if (pair.first.Scalar() != "thresholds" && pair.first.Scalar() != "headers" &&
          pair.first.Scalar() != "properties") {
        collect_key_paths(pair.second, key, out);
      }
    }
  } else if (node.IsSequence()) {
    for (const YAML::Node& item : node) collect_key_paths(item, path + "[]", out);
  }
}

TEST(ConfigLoader, FullFileCoversEveryKnownKey) {
  // FullFileSetsEveryField checks each value arrived, so together these two tests prove that
  // every key in the schema is read into the Config, not only tolerated.
  std::set<std::string> used;
  collect_key_paths(YAML::Load(kFullConfig), "", used);
  const std::set<std::string> known(config_keys().begin(), config_keys().end());
  EXPECT_EQ(used, known);
}

/// Key paths in the first column of docs/configuration.md's key tables.
std::set<std::string> documented_keys() {
  std::ifstream in(std::string(FATHOM_SOURCE_DIR) + "/docs/configuration.md");
  EXPECT_TRUE(in) << "docs/configuration.md not found";
  std::set<std::string> keys;
  bool in_key_table = false;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("| key |", 0) == 0) {
      in_key_table = true;
      continue;
    }
    if (line.empty() || line[0] != '|') {
      in_key_table = false;
      continue;
    }
    if (!in_key_table || line.rfind("|---", 0) == 0) continue;
    const size_t open = line.find('`');
    const size_t close = line.find('`', open + 1);
    const size_t cell_end = line.find('|', 1);
    EXPECT_TRUE(open != std::string::npos && close < cell_end) << "row without a key: " << line;
    if (open == std::string::npos || close == std::string::npos) continue;
    EXPECT_TRUE(keys.insert(line.substr(open + 1, close - open - 1)).second)
        << "documented twice: " << line;
  }
  return keys;
}

TEST(ConfigLoader, DocumentationListsExactlyTheAcceptedKeys) {
  const std::set<std::string> documented = documented_keys();
  const std::set<std::string> known(config_keys().begin(), config_keys().end());
  for (const std::string& key : known) {
    EXPECT_TRUE(documented.count(key)) << key << " is accepted but not in docs/configuration.md";
  }
  for (const std::string& key : documented) {
    EXPECT_TRUE(known.count(key)) << key << " is documented but the loader rejects it";
  }
  EXPECT_EQ(documented.size(), known.size());
}

struct RejectCase {
  const char* name;
  const char* yaml;
  const char* error;  ///< the one expected error, in full
};

class ConfigRejects : public ::testing::TestWithParam<RejectCase> {};

TEST_P(ConfigRejects, NamesFileLineColumnAndKey) {
  const RejectCase& c = GetParam();
  const ConfigLoad load = parse_config(c.yaml, "fathom.yaml");
  ASSERT_EQ(load.errors.size(), 1u) << errors_text(load);
  EXPECT_EQ(load.errors[0].to_string(), c.error);
  EXPECT_EQ(load.errors[0].file, "fathom.yaml");
  EXPECT_TRUE(load.config.transform.tenants.empty());  // never half a config
}

// Each case is one small file; line and column are 1-based and point at the offending node.
const RejectCase kRejectCases[] = {
    {"BadExporterAddress",
     "tenants:\n"
     "  - {id: 1, name: a, exporters: [192.0.2.1]}\n"
     "  - id: 2\n"
     "    name: b\n"
     "    exporters:\n"
     "      - 10.0.0.300\n",
     "fathom.yaml:6:9: tenants[1].exporters[0]: '10.0.0.300' is not an IP address or CIDR"},
    {"BadPrefixLength", "tenants:\n  - {id: 1, name: a, exporters: [10.0.0.0/33]}\n",
     "fathom.yaml:2:34: tenants[0].exporters[0]: '10.0.0.0/33' has a bad prefix length "
     "(0..32 for IPv4, 0..128 for IPv6)"},
    {"HostBitsInInternalNetwork",
     "tenants:\n  - id: 1\n    name: a\n    internal_networks: [10.1.2.3/16]\n",
     "fathom.yaml:4:25: tenants[0].internal_networks[0]: '10.1.2.3/16' has bits set beyond its "
     "prefix length (did you mean '10.1.0.0/16'?)"},
    {"KafkaBadCompression", "kafka:\n  compression: brotli\n",
     "fathom.yaml:2:16: kafka.compression: 'brotli' is not one of none, gzip, snappy, lz4, "
     "zstd"},
    {"KafkaReservedProperty", "kafka:\n  properties: {enable.auto.commit: \"true\"}\n",
     "fathom.yaml:2:16: kafka.properties.enable.auto.commit: is set by Fathom (use the kafka "
     "keys; idempotence and explicit commits are not optional)"},
    {"KafkaJsonTopicIsTheFlowsTopic", "kafka:\n  flows_json_topic: fathom.flows\n",
     "fathom.yaml:2:21: kafka.flows_json_topic: must differ from kafka.topic ('fathom.flows')"},
    {"KafkaLingerOutOfRange", "kafka:\n  linger_ms: 70000\n",
     "fathom.yaml:2:14: kafka.linger_ms: 70000 is out of range 0..60000"},
    {"UnknownTopLevelKey", "data_dir: /x\ntenant: []\n",
     "fathom.yaml:2:1: tenant: unknown key (known here: data_dir, log_level, log_format, "
     "metrics_listen, api, output, store, kafka, alert, analyze, estimate, "
     "collect, decode, transform, tenants)"},
    {"UnknownNestedKey", "collect:\n  receive_threads: 2\n  listner: [\"0.0.0.0:2055\"]\n",
     "fathom.yaml:3:3: collect.listner: unknown key (known here: listeners, receive_threads, "
     "socket_receive_buffer_bytes, recv_batch_size, queue_capacity_batches, "
     "flush_interval_ms, state_file, node_id)"},
    {"UnknownExporterKey",
     "tenants:\n  - id: 1\n    name: a\n    exporters:\n      - {address: 192.0.2.1, domain: 1}\n",
     "fathom.yaml:5:30: tenants[0].exporters[0].domain: unknown key (known here: address, "
     "observation_domains)"},
    {"DuplicateKey", "log_level: info\nlog_level: debug\n",
     "fathom.yaml:2:1: log_level: duplicate key"},
    {"PortOutOfRange", "collect:\n  listeners: [\"0.0.0.0:2055\", \"0.0.0.0:70000\"]\n",
     "fathom.yaml:2:31: collect.listeners[1]: '0.0.0.0:70000' is not HOST:PORT (a numeric IPv4 "
     "address or [IPv6], port 0..65535)"},
    {"ListenerHostName", "collect:\n  listeners:\n    - localhost:2055\n",
     "fathom.yaml:3:7: collect.listeners[0]: 'localhost:2055' is not HOST:PORT (a numeric IPv4 "
     "address or [IPv6], port 0..65535)"},
    {"ListenerTwice", "collect:\n  listeners: [\"[::]:2055\", \"[0::0]:2055\"]\n",
     "fathom.yaml:2:28: collect.listeners[1]: '[0::0]:2055' is listed twice"},
    {"NoListeners", "collect:\n  listeners: []\n",
     "fathom.yaml:2:14: collect.listeners: needs at least one HOST:PORT"},
    {"MetricsListenWithoutPort", "metrics_listen: 127.0.0.1\n",
     "fathom.yaml:1:17: metrics_listen: '127.0.0.1' is not HOST:PORT (a numeric IPv4 address or "
     "[IPv6], port 0..65535)"},
    {"NodeIdCharacters", "collect:\n  node_id: \"pod 7\"\n",
     "fathom.yaml:2:12: collect.node_id: 'pod 7' is not a node name (1-64 of A-Z a-z 0-9 _ . -)"},
    {"ZeroThreads", "collect:\n  receive_threads: 0\n",
     "fathom.yaml:2:20: collect.receive_threads: 0 is out of range 1..64"},
    {"NotANumber", "decode:\n  max_exporters: lots\n",
     "fathom.yaml:2:18: decode.max_exporters: 'lots' is not a whole number"},
    {"NegativeNumber", "decode:\n  max_templates_per_exporter: -1\n",
     "fathom.yaml:2:31: decode.max_templates_per_exporter: '-1' is not a whole number"},
    {"HugeNumber", "decode:\n  max_exporters: 99999999999999999999999\n",
     "fathom.yaml:2:18: decode.max_exporters: 99999999999999999999999 is out of range "
     "1..1000000"},
    {"ZeroTimeout", "decode:\n  pending_timeout_seconds: 0\n",
     "fathom.yaml:2:28: decode.pending_timeout_seconds: 0 must be greater than 0"},
    {"BoolSpelling", "decode:\n  emit_biflow_reverse: yes\n",
     "fathom.yaml:2:24: decode.emit_biflow_reverse: 'yes' is not true or false"},
    {"UnknownLogLevel", "log_level: loud\n",
     "fathom.yaml:1:12: log_level: 'loud' is not one of trace, debug, info, warn, error, "
     "critical, off"},
    {"UnknownPolicy", "transform:\n  unknown_exporters: accept\n",
     "fathom.yaml:2:22: transform.unknown_exporters: 'accept' is not one of reject, default"},
    {"EmptyDataDir", "data_dir: \"\"\n", "fathom.yaml:1:11: data_dir: must not be empty"},
    {"MissingValue", "data_dir:\n", "fathom.yaml:1:1: data_dir: missing value"},
    {"TenantIdWithoutValue", "tenants:\n  - name: a\n    id:\n    # a comment\n",
     "fathom.yaml:3:5: tenants[0].id: missing value"},
    {"MissingExporterAddress",
     "tenants:\n  - id: 1\n    name: a\n    exporters:\n      - {observation_domains: [1]}\n",
     "fathom.yaml:5:9: tenants[0].exporters[0].address: missing (an address or CIDR)"},
    {"SectionNotAMapping", "collect: [1, 2]\n",
     "fathom.yaml:1:10: collect: expected a mapping of keys"},
    {"TenantsNotAList", "tenants: {id: 1}\n", "fathom.yaml:1:10: tenants: expected a list"},
    {"TenantIdZero", "tenants:\n  - id: 0\n    name: a\n",
     "fathom.yaml:2:9: tenants[0].id: 0 is out of range 1..4294967295"},
    {"TenantIdMissing", "tenants:\n  - name: a\n",
     "fathom.yaml:2:5: tenants[0].id: missing (every tenant needs an id > 0)"},
    {"TenantNameMissing", "tenants:\n  - id: 3\n",
     "fathom.yaml:2:5: tenants[0].name: missing (every tenant needs a name)"},
    {"TenantNameCharacters", "tenants:\n  - id: 3\n    name: acme corp\n",
     "fathom.yaml:3:11: tenants[0].name: 'acme corp' is not 1-64 of A-Z a-z 0-9 _ . -"},
    {"DuplicateTenantId",
     "tenants:\n  - id: 1\n    name: a\n  - id: 2\n    name: b\n  - id: 1\n    name: c\n",
     "fathom.yaml:6:9: tenants[2].id: duplicate tenant id 1 (also tenants[0])"},
    {"DuplicateTenantName", "tenants:\n  - id: 1\n    name: a\n  - id: 2\n    name: a\n",
     "fathom.yaml:5:11: tenants[1].name: duplicate tenant name 'a' (also tenants[0])"},
    {"OverlappingExporters",
     "tenants:\n  - id: 1\n    name: a\n    exporters: [10.0.0.0/8]\n"
     "  - id: 2\n    name: b\n    exporters: [192.0.2.1, 10.20.30.40]\n",
     "fathom.yaml:7:28: tenants[1].exporters[1]: '10.20.30.40/32' overlaps "
     "tenants[0].exporters[0] '10.0.0.0/8' of tenant 'a' (list disjoint observation_domains on "
     "both to share an exporter)"},
    {"OverlappingDomains",
     "tenants:\n"
     "  - {id: 1, name: a, exporters: [{address: 192.0.2.1, observation_domains: [1, 2]}]}\n"
     "  - {id: 2, name: b, exporters: [{address: 192.0.2.0/30, observation_domains: [2]}]}\n",
     "fathom.yaml:3:34: tenants[1].exporters[0]: '192.0.2.0/30' overlaps tenants[0].exporters[0] "
     "'192.0.2.1/32' of tenant 'a' (list disjoint observation_domains on both to share an "
     "exporter)"},
    {"RateNotPositive", "tenants:\n  - id: 1\n    name: a\n    target_ingest_rate: -5\n",
     "fathom.yaml:4:25: tenants[0].target_ingest_rate: -5 must be greater than 0"},
    {"ThresholdNotANumber", "tenants:\n  - id: 1\n    name: a\n    thresholds: {syn: high}\n",
     "fathom.yaml:4:23: tenants[0].thresholds.syn: 'high' is not a number"},
    {"ThresholdUnknown", "tenants:\n  - id: 1\n    name: a\n    thresholds: {syn: 5}\n",
     "fathom.yaml:4:18: tenants[0].thresholds.syn: 'syn' is not a threshold (one of "
     "syn_flood_pps, udp_flood_pps, icmp_flood_pps, amplification_pps, scan_probes_per_s, "
     "scan_min_targets, brute_force_attempts_per_s, brute_force_min_sessions, "
     "exfiltration_bytes_per_s, "
     "exfiltration_baseline_factor, exfiltration_peer_share, intel_min_records, "
     "beacon_max_p_value)"},
    {"AnalyzeDecisionUnknown", "analyze:\n  decision: maybe\n",
     "fathom.yaml:2:13: analyze.decision: 'maybe' is not one of lower_bound, estimate"},
    {"AnalyzeWindowNotAMultiple", "analyze:\n  slide_seconds: 2\n  window_seconds: 9\n",
     "fathom.yaml:2:3: analyze: analyze.levels[0].window must be a whole multiple of its slide"},
    {"AnalyzeAutoscaleMinAboveMax", "analyze:\n  autoscale: {min_workers: 4, max_workers: 2}\n",
     "fathom.yaml:2:14: analyze.autoscale: min_workers must not exceed max_workers"},
    {"StoreUrlEmpty", "store:\n  url: \"\"\n", "fathom.yaml:2:8: store.url: must not be empty"},
    {"AlertSinkWithoutKind", "alert:\n  sinks:\n    - {name: a, path: /x}\n",
     "fathom.yaml:3:7: alert.sinks[0]: needs a kind (webhook, syslog, json_lines, kafka)"},
    {"AlertSinkUnknownKind", "alert:\n  sinks:\n    - {name: a, kind: pager}\n",
     "fathom.yaml:3:23: alert.sinks[0].kind: 'pager' is not one of webhook, syslog, json_lines, "
     "kafka"},
    {"AlertKafkaWithoutBrokers", "alert:\n  sinks:\n    - {name: a, kind: kafka}\n",
     "fathom.yaml:2:3: alert: alert sink 'a': brokers is empty"},
    {"AlertKafkaBadTopic",
     "alert:\n  sinks:\n    - {name: a, kind: kafka, brokers: 'k:9092', topic: 'a b'}\n",
     "fathom.yaml:2:3: alert: alert sink 'a': topic must be 1-249 of A-Z a-z 0-9 '.', '_', '-' "
     "(not '.' or '..')"},
    {"AlertKafkaPropertiesNotAMapping",
     "alert:\n  sinks:\n    - {name: a, kind: kafka, brokers: 'k:9092', properties: [x]}\n",
     "fathom.yaml:3:61: alert.sinks[0].properties: expected a mapping of librdkafka property: "
     "value"},
    {"AlertWebhookBadUrl", "alert:\n  sinks:\n    - {name: a, kind: webhook, url: ftp://x}\n",
     "fathom.yaml:2:3: alert: alert sink 'a': url must start with http:// or https://"},
    {"DomainNotANumber",
     "tenants:\n  - id: 1\n    name: a\n    exporters:\n"
     "      - {address: 192.0.2.1, observation_domains: [x]}\n",
     "fathom.yaml:5:52: tenants[0].exporters[0].observation_domains[0]: 'x' is not a whole "
     "number"},
    {"DefaultTenantClash",
     "transform:\n  unknown_exporters: default\n  default_tenant: {id: 5, name: lab}\n"
     "tenants:\n  - {id: 5, name: acme}\n",
     "fathom.yaml:3:19: transform.default_tenant.id: default tenant id 5 is taken by tenants[0]"},
    {"IntelListWithoutPath", "transform:\n  enrichment:\n    intel_lists:\n      - {name: drop}\n",
     "fathom.yaml:4:9: transform.enrichment.intel_lists[0].path: missing (the list's file)"},
    {"IntelListUnknownCategory",
     "transform:\n  enrichment:\n    intel_lists:\n"
     "      - {name: x, path: x.txt, category: evil}\n",
     "fathom.yaml:4:42: transform.enrichment.intel_lists[0].category: 'evil' is not one of "
     "malware, c2, botnet, scanner, bruteforce, spam, phishing, hijacked, tor, anonymizer, "
     "attacker, other"},
    {"IntelListDuplicateName",
     "transform:\n  enrichment:\n    intel_lists:\n"
     "      - {name: x, path: a.txt}\n      - {name: x, path: b.txt}\n",
     "fathom.yaml:5:9: transform.enrichment.intel_lists[1].name: duplicate intel list name 'x'"},
    {"IntelSeverityRange",
     "transform:\n  enrichment:\n    intel_lists:\n"
     "      - {name: x, path: a.txt, severity: 0}\n",
     "fathom.yaml:4:42: transform.enrichment.intel_lists[0].severity: 0 is out of range 1..100"},
    {"SamplingSmoothingRange", "transform:\n  sampling:\n    smoothing: 2\n",
     "fathom.yaml:3:16: transform.sampling.smoothing: 2 is out of range 0.01..1"},
    {"DedupInterfacesWithoutList",
     "tenants:\n  - id: 1\n    name: a\n    dedup:\n"
     "      - {exporter: 192.0.2.1, count: interfaces}\n",
     "fathom.yaml:5:9: tenants[0].dedup[0].input_interfaces: count: interfaces needs a "
     "non-empty input_interfaces list"},
    {"DedupUnknownCount",
     "tenants:\n  - id: 1\n    name: a\n    dedup:\n"
     "      - {exporter: 192.0.2.1, count: half}\n",
     "fathom.yaml:5:38: tenants[0].dedup[0].count: 'half' is not one of all, none, ingress, "
     "egress, interfaces"},
    {"YamlSyntax", "collect:\n  listeners: [\"0.0.0.0:2055\"\n",
     "fathom.yaml:3:1: end of sequence flow not found"},
};

INSTANTIATE_TEST_SUITE_P(Cases, ConfigRejects, ::testing::ValuesIn(kRejectCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ConfigLoader, DefaultTenantIsFreeUnderReject) {
  // The default tenant's id only has to be free when unknown exporters go to it.
  const ConfigLoad load = parse_config("tenants:\n  - {id: 65535, name: default}\n", "f.yaml");
  EXPECT_TRUE(load.ok()) << errors_text(load);
}

TEST(ConfigLoader, CollectsEveryErrorInFileOrder) {
  const ConfigLoad load = parse_config(
      "log_level: loud\n"
      "collect:\n"
      "  receive_threads: 0\n"
      "  recv_batch_size: 9999\n"
      "tenants:\n"
      "  - {id: 1, name: a, exporters: [10.0.0.300]}\n"
      "  - {id: 1, name: b}\n"
      "bogus: 1\n",
      "many.yaml");
  ASSERT_EQ(load.errors.size(), 6u) << errors_text(load);
  EXPECT_EQ(load.errors[0].key, "log_level");
  EXPECT_EQ(load.errors[1].key, "collect.receive_threads");
  EXPECT_EQ(load.errors[2].key, "collect.recv_batch_size");
  EXPECT_EQ(load.errors[3].key, "tenants[0].exporters[0]");
  EXPECT_EQ(load.errors[4].key, "tenants[1].id");
  EXPECT_EQ(load.errors[5].key, "bogus");
  EXPECT_EQ(load.errors[5].line, 8);
}

TEST(ConfigLoader, UnreadableFileIsOneError) {
  const ConfigLoad load = load_config_file("/nonexistent/fathom.yaml");
  ASSERT_EQ(load.errors.size(), 1u);
  EXPECT_EQ(load.errors[0].to_string(),
            "/nonexistent/fathom.yaml: cannot read: No such file or directory");
  const ConfigLoad dir = load_config_file(FATHOM_SOURCE_DIR);
  ASSERT_EQ(dir.errors.size(), 1u);
  EXPECT_EQ(dir.errors[0].message, "is a directory, not a config file");
}

TEST(ConfigLoader, ProductionExampleLoads) {
  const std::string path = std::string(FATHOM_SOURCE_DIR) + "/examples/fathom.yaml";
  const ConfigLoad load = load_config_file(path);
  ASSERT_TRUE(load.ok()) << errors_text(load);
  EXPECT_EQ(load.config.transform.tenants.size(), 2u);
  EXPECT_EQ(load.config.transform.unknown_exporters, transform::UnknownExporters::kReject);
  const transform::TenantMap map = transform::TenantMap::from_config(load.config.transform);
  EXPECT_EQ(map.resolve(ip("192.0.2.20"), 0), 1u);
  EXPECT_EQ(map.resolve(ip("198.51.100.7"), 2), 1u);
  EXPECT_EQ(map.resolve(ip("198.51.100.7"), 3), 2u);
  EXPECT_EQ(map.resolve(ip("198.51.100.7"), 4), 0u);  // rejected
  EXPECT_EQ(map.resolve(ip("203.0.113.1"), 0), 0u);
}

TEST(ConfigLoader, DemoExampleMatchesTheGeneratorScenario) {
  const ConfigLoad load = load_config_file(std::string(FATHOM_SOURCE_DIR) + "/examples/demo.yaml");
  ASSERT_TRUE(load.ok()) << errors_text(load);
  const transform::Config& t = load.config.transform;
  EXPECT_EQ(t.unknown_exporters, transform::UnknownExporters::kDefault);
  const transform::TenantMap map = transform::TenantMap::from_config(t);
  // Every exporter of examples/scenarios/demo.yaml lands in the tenant the scenario gives it.
  const YAML::Node scenario =
      YAML::LoadFile(std::string(FATHOM_SOURCE_DIR) + "/examples/scenarios/demo.yaml");
  size_t exporters = 0;
  for (const YAML::Node& tenant : scenario["tenants"]) {
    const uint32_t id = tenant["id"].as<uint32_t>();
    const std::string name = tenant["name"].as<std::string>();
    bool found = false;
    for (const transform::Tenant& mine : t.tenants) {
      if (mine.id == id) {
        EXPECT_EQ(mine.name, name);
        found = true;
      }
    }
    EXPECT_TRUE(found) << "scenario tenant " << id << " missing from examples/demo.yaml";
    for (const YAML::Node& exporter : tenant["exporters"]) {
      const std::string address = exporter["address"].as<std::string>();
      const uint32_t domain =
          exporter["observation_domain"] ? exporter["observation_domain"].as<uint32_t>() : 0;
      EXPECT_EQ(map.lookup(ip(address), domain), id) << address;
      ++exporters;
    }
  }
  EXPECT_GT(exporters, 0u);
  EXPECT_EQ(map.resolve(ip("127.0.0.99"), 0), t.default_tenant_id);
}

/// Writes `text` to a fresh file under the test's temp dir and returns its path.
std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

std::string read_all(std::FILE* f) {
  std::rewind(f);
  std::string text;
  char buf[512];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  return text;
}

TEST(ConfigCheck, PrintsASummaryOrEveryError) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  ASSERT_NE(out, nullptr);
  ASSERT_NE(err, nullptr);
  const std::string good = write_temp(
      "good.yaml", "tenants:\n  - {id: 1, name: a, exporters: [192.0.2.1, 192.0.2.2]}\n");
  EXPECT_EQ(run_config_check(good, out, err), 0);
  EXPECT_EQ(read_all(out), "ok: 1 tenants, 2 exporters\n");
  EXPECT_EQ(read_all(err), "");

  const std::string bad = write_temp("bad.yaml", "log_level: loud\ncollect: {x: 1}\n");
  EXPECT_EQ(run_config_check(bad, out, err), 1);
  EXPECT_EQ(read_all(err),
            bad +
                ":1:12: log_level: 'loud' is not one of trace, debug, info, warn, error, "
                "critical, off\n" +
                bad +
                ":2:11: collect.x: unknown key (known here: listeners, receive_threads, "
                "socket_receive_buffer_bytes, recv_batch_size, queue_capacity_batches, "
                "flush_interval_ms, state_file, node_id)\n");
  std::fclose(out);
  std::fclose(err);
}

TEST(ConfigCheck, RunRefusesAnInvalidConfigBeforeBinding) {
  std::FILE* err = std::tmpfile();
  ASSERT_NE(err, nullptr);
  RunOptions options;
  options.config_file = write_temp("run_bad.yaml", "collect:\n  receive_threads: 0\n");
  EXPECT_EQ(run_collector(options, err), 1);
  EXPECT_EQ(read_all(err), "fathom run: " + options.config_file +
                               ":2:20: collect.receive_threads: 0 is out of range 1..64\n");
  std::fclose(err);
}

}  // namespace
}  // namespace fathom::app
