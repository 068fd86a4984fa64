#include "app/cli.h"

#include <cstdio>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "api/auth.h"
#include "app/analyze_command.h"
#include "app/api_command.h"
#include "app/config_loader.h"
#include "app/db_command.h"
#include "app/decode_command.h"
#include "app/eval_command.h"
#include "app/run_command.h"
#include "app/train_command.h"

namespace fathom::app {
namespace {

/// Exit code for a bad command line (files and runtime problems use 1).
constexpr int kExitUsage = 2;

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"Fathom: threat detection from sampled flow telemetry"};
  app.require_subcommand(1);
  app.add_subcommand("version", "Print the version")->callback([] {
    std::cout << "fathom 0.1.0\n";
  });

  CLI::App* token_cmd = app.add_subcommand(
      "token",
      "API tokens (docs/api.md): `new` prints a random token and its SHA-256 for "
      "api.tokens; `hash` prints the SHA-256 of a token read from stdin");
  std::string token_action;
  token_cmd->add_option("ACTION", token_action, "new or hash")
      ->required()
      ->check(CLI::IsMember({"new", "hash"}));

  DecodeOptions decode;
  std::string format = "json";
  CLI::App* decode_cmd = app.add_subcommand(
      "decode",
      "Decode pcap/pcapng captures of NetFlow/IPFIX/sFlow export packets and AWS VPC flow logs "
      "(.gz too; '-' for stdin) and print one record per line");
  decode_cmd->add_option("FILE", decode.files, "Capture or flow log files, '-' for stdin")
      ->required();
  decode_cmd->add_option("--format", format, "Output format: json (default) or csv")
      ->check(CLI::IsMember({"json", "csv"}));
  decode_cmd->add_flag("--stats", decode.stats,
                       "Print per-exporter and per-file counters to stderr");
  decode_cmd->add_option("--limit", decode.limit, "Stop after N records (0: all)")
      ->check(CLI::NonNegativeNumber);
  decode_cmd->add_flag("--no-reverse", decode.no_reverse,
                       "Leave out the reverse direction of RFC 5103 biflows");

  RunOptions run;
  double interval_s = 5.0;
  CLI::App* run_cmd =
      app.add_subcommand("run",
                         "Collect flow exports (UDP, or --replay files): decode, map to tenants, "
                         "publish; /metrics and /healthz over HTTP; a summary line every 5 s");
  run_cmd->add_option("--config", run.config_file,
                      "fathom.yaml to load (see docs/configuration.md); flags override it");
  run_cmd->add_option("--listen", run.listen,
                      "UDP endpoint HOST:PORT, [V6]:PORT or PORT (repeatable; default: "
                      "collect.listeners, i.e. all addresses, ports 2055, 4739, 6343)");
  run_cmd->add_option("--state-file", run.state_file,
                      "Decoder state (templates, sampling rates): loaded at start, saved at exit");
  run_cmd->add_option("--data-dir", run.data_dir,
                      "Directory of the database and the spools (overrides data_dir)");
  run_cmd->add_option("--store-url", run.store_url,
                      "Database URL, e.g. postgresql://... (overrides store.url)");
  run_cmd->add_option("--interval", interval_s, "Seconds between summary lines")
      ->check(CLI::Range(0.1, 3600.0));
  run_cmd->add_option("--replay", run.replay,
                      "Read these files instead of listening (repeatable): pcap/pcapng captures "
                      "of export packets or AWS VPC flow logs, maybe gzip; '-' is stdin");
  run_cmd->add_option("--speed", run.speed,
                      "Replay speed: 'max' (default) or a factor of the capture's timing "
                      "(1x real time, 10x, 0.5x)");
  run_cmd->add_option("--vpc-exporter", run.vpc_exporter,
                      "Exporter address given to VPC flow log records for tenant mapping "
                      "(default ::)");
  run_cmd->add_option("--flows", run.flows_output,
                      "Write accepted flow records as JSON lines to FILE ('-' = stdout); "
                      "overrides output.flows");
  run_cmd->add_option("--estimates", run.estimates_output,
                      "Write every closed tenant estimate window as JSON lines to FILE ('-' = "
                      "stdout); overrides output.estimates");
  run_cmd->add_option("--incidents", run.incidents_output,
                      "Write every incident event (open, update, close) as JSON lines to FILE "
                      "('-' = stdout); overrides output.incidents");
  run_cmd->add_option("--metrics-listen", run.metrics_listen,
                      "HTTP endpoint of /metrics and /healthz (HOST:PORT, or 'off'); "
                      "overrides metrics_listen");
  run_cmd->add_option("--api-listen", run.api_listen,
                      "HOST:PORT of the REST API and dashboard (port 0: any free one), or off; "
                      "overrides api.listen");
  run_cmd->add_option("--log-format", run.log_format, "Log format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  run_cmd->add_flag("-v,--verbose", run.verbose,
                    "More log detail (repeatable: -v debug, -vv trace); overrides log_level");

  RunOptions collect;
  collect.collect_only = true;
  double collect_interval_s = 5.0;
  CLI::App* collect_cmd = app.add_subcommand(
      "collect",
      "Cluster collector (docs/scaling.md): receive, decode, map to tenants, sample and "
      "enrich like `run`, then publish every batch to Kafka (kafka.*) partitioned by tenant");
  collect_cmd->add_option("--config", collect.config_file,
                          "fathom.yaml to load (kafka.*, tenants, collect.*); flags override it");
  collect_cmd->add_option("--kafka-brokers", collect.kafka_brokers,
                          "host:port[,host:port...] of the Kafka brokers (overrides "
                          "kafka.brokers)");
  collect_cmd->add_option("--listen", collect.listen,
                          "UDP endpoint HOST:PORT, [V6]:PORT or PORT (repeatable; default: "
                          "collect.listeners)");
  collect_cmd->add_option("--state-file", collect.state_file,
                          "Decoder state (templates, sampling rates): loaded at start, saved at "
                          "exit");
  collect_cmd->add_option("--data-dir", collect.data_dir, "Overrides data_dir");
  collect_cmd->add_option("--store-url", collect.store_url,
                          "Database URL of the decoder and sampler state, e.g. "
                          "postgresql://... (overrides store.url)");
  collect_cmd->add_option("--interval", collect_interval_s, "Seconds between summary lines")
      ->check(CLI::Range(0.1, 3600.0));
  collect_cmd->add_option("--replay", collect.replay,
                          "Publish these files instead of listening (repeatable): pcap/pcapng "
                          "captures or AWS VPC flow logs, maybe gzip; '-' is stdin");
  collect_cmd->add_option("--speed", collect.speed,
                          "Replay speed: 'max' (default) or a factor (1x real time, 10x, 0.5x)");
  collect_cmd->add_option("--vpc-exporter", collect.vpc_exporter,
                          "Exporter address given to VPC flow log records (default ::)");
  collect_cmd->add_option("--flows", collect.flows_output,
                          "Also write accepted flow records as JSON lines to FILE ('-' = "
                          "stdout); overrides output.flows");
  collect_cmd->add_option("--metrics-listen", collect.metrics_listen,
                          "HTTP endpoint of /metrics and /healthz (HOST:PORT, or 'off')");
  collect_cmd->add_option("--log-format", collect.log_format, "Log format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  collect_cmd->add_flag("-v,--verbose", collect.verbose,
                        "More log detail (repeatable); overrides log_level");

  AnalyzeCommandOptions analyze;
  double analyze_interval_s = 5.0;
  CLI::App* analyze_cmd = app.add_subcommand(
      "analyze",
      "Cluster analyzer (docs/scaling.md): a member of the Kafka consumer group kafka.group_id "
      "that analyses the partitions it owns like `run` and stores incidents (store.*)");
  analyze_cmd->add_option("--config", analyze.config_file,
                          "fathom.yaml to load (kafka.*, store.*, analyze.*, tenants)");
  analyze_cmd->add_option("--kafka-brokers", analyze.kafka_brokers,
                          "host:port[,host:port...] of the Kafka brokers (overrides "
                          "kafka.brokers)");
  analyze_cmd->add_option("--store-url", analyze.store_url,
                          "Database URL, e.g. postgresql://... (overrides store.url)");
  analyze_cmd->add_option("--data-dir", analyze.data_dir, "Overrides data_dir (spools)");
  analyze_cmd->add_option("--metrics-listen", analyze.metrics_listen,
                          "HTTP endpoint of /metrics and /healthz (HOST:PORT, or 'off')");
  analyze_cmd->add_option("--interval", analyze_interval_s, "Seconds between summary lines")
      ->check(CLI::Range(0.1, 3600.0));
  analyze_cmd->add_option("--log-format", analyze.log_format, "Log format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  analyze_cmd->add_flag("-v,--verbose", analyze.verbose,
                        "More log detail (repeatable); overrides log_level");

  ApiCommandOptions api_role;
  double api_interval_s = 60.0;
  CLI::App* api_cmd = app.add_subcommand(
      "api",
      "Cluster API node (docs/scaling.md): the REST API and dashboard of `run`, served from the "
      "store (store.*) that the analyzers write; no collector or analysis of its own");
  api_cmd->add_option("--config", api_role.config_file,
                      "fathom.yaml to load (store.*, api.*, tenants); flags override it");
  api_cmd->add_option("--store-url", api_role.store_url,
                      "Database URL, e.g. postgresql://... (overrides store.url)");
  api_cmd->add_option("--api-listen", api_role.api_listen,
                      "HOST:PORT of the REST API and dashboard (port 0: any free one); "
                      "overrides api.listen");
  api_cmd->add_option("--data-dir", api_role.data_dir,
                      "Overrides data_dir (the SQLite file when store.url is empty, api-token)");
  api_cmd->add_option("--metrics-listen", api_role.metrics_listen,
                      "HTTP endpoint of /metrics and /healthz (HOST:PORT, or 'off')");
  api_cmd->add_option("--interval", api_interval_s, "Seconds between summary lines")
      ->check(CLI::Range(0.1, 3600.0));
  api_cmd->add_option("--log-format", api_role.log_format, "Log format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  api_cmd->add_flag("-v,--verbose", api_role.verbose,
                    "More log detail (repeatable); overrides log_level");

  EvalOptions eval;
  uint64_t eval_seed = 0;
  CLI::App* eval_cmd = app.add_subcommand(
      "eval",
      "Measure detection against ground truth: per-class precision, recall, F1, PR-AUC, "
      "latency and false incidents per tenant-day (docs/accuracy.md)");
  eval_cmd
      ->add_option("--scenario", eval.scenario,
                   "fathom-gen scenario to generate and analyse (tenants come from it)")
      ->check(CLI::ExistingFile);
  eval_cmd->add_option("--seed", eval_seed, "Scenario seed (overrides the scenario's)");
  eval_cmd->add_option("--duration", eval.duration, "Simulated duration (e.g. 6h)");
  eval_cmd
      ->add_option("--input", eval.inputs,
                   "Captures to replay instead of a scenario (repeatable; needs --truth)")
      ->check(CLI::ExistingFile);
  eval_cmd->add_option("--truth", eval.truth, "Ground-truth CSV of the captures (fathom-gen's)")
      ->check(CLI::ExistingFile);
  eval_cmd->add_option("--config", eval.config_file,
                       "fathom.yaml: analysis settings, and the tenants of --input captures");
  eval_cmd->add_option("--sampling", eval.sampling,
                       "'scenario' or 1-in-N rates, one run each (e.g. --sampling 1 100 1000)");
  eval_cmd->add_option("--incidents", eval.incidents_output,
                       "Write the last run's incident events as JSON lines to FILE");
  eval_cmd->add_option("--report", eval.report_output, "Write the Markdown report to FILE");
  eval_cmd->add_option("--work-dir", eval.work_dir,
                       "Keep generated captures and truth here (default: a temporary directory)");

  TrainCommandOptions train;
  uint64_t train_seed = 0;
  CLI::App* train_cmd = app.add_subcommand(
      "train",
      "Train the autoencoders' base model on benign traffic of a scenario or of captures "
      "(docs/ai-detection.md); the same inputs and seeds give the same file");
  train_cmd
      ->add_option("--scenario", train.scenario,
                   "fathom-gen scenario to generate the traffic from (e.g. the day "
                   "scenario: several differing tenants)")
      ->check(CLI::ExistingFile);
  train_cmd->add_option("--seed", train_seed, "Scenario seed (overrides the scenario's)");
  train_cmd->add_option("--duration", train.duration, "Simulated duration (e.g. 6h)");
  train_cmd->add_option("--input", train.inputs, "Captures instead of a scenario (repeatable)")
      ->check(CLI::ExistingFile);
  train_cmd
      ->add_option("--truth", train.truth,
                   "Ground truth of the captures: attack parties are left out")
      ->check(CLI::ExistingFile);
  train_cmd->add_option("--config", train.config_file,
                        "fathom.yaml: analysis settings, and the captures' tenants");
  train_cmd->add_option("--out", train.out, "Model file to write")->required();
  train_cmd
      ->add_option("--model-seed", train.model_seed,
                   "Seed of the initial weights and the shuffling")
      ->capture_default_str();
  train_cmd->add_option("--epochs", train.epochs, "Passes over the training vectors")
      ->capture_default_str();
  train_cmd
      ->add_option("--max-per-tenant", train.max_per_tenant,
                   "Host vectors kept per tenant (a seeded reservoir sample)")
      ->capture_default_str();
  train_cmd->add_option("--work-dir", train.work_dir,
                        "Keep the generated capture here (default: a temporary directory)");

  DbCommandOptions db;
  CLI::App* db_cmd = app.add_subcommand(
      "db", "Maintain the store (docs/storage.md): migrate, vacuum, prune, export, status");
  db_cmd->add_option("ACTION", db.action, "migrate, vacuum, prune, export or status")->required();
  db_cmd->add_option("--config", db.config_file, "fathom.yaml (its store and data_dir)");
  db_cmd->add_option("--url", db.url, "Database URL (overrides store.url)");
  db_cmd->add_option("--data-dir", db.data_dir, "Overrides data_dir");
  db_cmd->add_option("--out", db.out, "export: JSON-lines file (default '-': stdout)");

  std::string config_path;
  CLI::App* config_cmd = app.add_subcommand("config", "Work with fathom.yaml");
  config_cmd->require_subcommand(1);
  CLI::App* check_cmd = config_cmd->add_subcommand(
      "check",
      "Validate a config file without starting: prints 'ok: N tenants, M exporters' "
      "or every error with its file, line and key");
  check_cmd->add_option("FILE", config_path, "Config file")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;  // --help is a success; anything else is bad usage
  }
  if (decode_cmd->parsed()) {
    decode.format = format == "csv" ? OutputFormat::kCsv : OutputFormat::kJson;
    return run_decode(decode, stdout, stderr);
  }
  if (db_cmd->parsed()) return run_db(db, stdout, stderr);
  if (token_cmd->parsed()) {
    std::string token;
    if (token_action == "new") {
      token = api::new_token();
      if (token.empty()) {
        std::fprintf(stderr, "fathom token: no random source\n");
        return 1;
      }
      std::printf("token:  %s\nsha256: %s\n", token.c_str(), api::sha256_hex(token).c_str());
      return 0;
    }
    std::getline(std::cin, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.empty()) {
      std::fprintf(stderr, "fathom token hash: give the token on stdin\n");
      return 2;
    }
    std::printf("%s\n", api::sha256_hex(token).c_str());
    return 0;
  }
  if (check_cmd->parsed()) return run_config_check(config_path, stdout, stderr);
  if (train_cmd->parsed()) {
    if (train_cmd->count("--seed") != 0) train.seed = train_seed;
    return run_train(train, stderr);
  }
  if (eval_cmd->parsed()) {
    if (eval_cmd->count("--seed") != 0) eval.seed = eval_seed;
    return run_eval(eval, stderr);
  }
  if (api_cmd->parsed()) {
    api_role.interval_ms = static_cast<int64_t>(api_interval_s * 1000.0);
    return run_api(api_role, stderr);
  }
  if (analyze_cmd->parsed()) {
    analyze.interval_ms = static_cast<int64_t>(analyze_interval_s * 1000.0);
    return run_analyze(analyze, stderr);
  }
  if (collect_cmd->parsed()) {
    collect.interval_ms = static_cast<int64_t>(collect_interval_s * 1000.0);
    return run_collector(collect, stderr);
  }
  if (run_cmd->parsed()) {
    run.interval_ms = static_cast<int64_t>(interval_s * 1000.0);
    return run_collector(run, stderr);
  }
  return 0;
}

}  // namespace fathom::app
