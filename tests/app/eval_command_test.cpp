#include "app/eval_command.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "app/temp_dir.h"

namespace fathom::app {
namespace {

namespace fs = std::filesystem;

using testing::slurp;

struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("evaltest") {}
};

TEST(EvalCommand, ScoresTheDemoScenarioAgainstItsGroundTruth) {
  TempDir dir;
  EvalOptions o;
  o.scenario = std::string(FATHOM_SOURCE_DIR) + "/examples/scenarios/demo.yaml";
  o.report_output = dir.path + "/report.md";
  o.incidents_output = dir.path + "/incidents.jsonl";
  o.work_dir = dir.path + "/work";
  ASSERT_EQ(run_eval(o, stderr), 0);
  const std::string report = slurp(o.report_output);
  // Every fast flood is found with no false incident (docs/accuracy.md).
  EXPECT_NE(report.find("| syn_flood | 1 | 1 | 1.00 |"), std::string::npos) << report;
  EXPECT_NE(report.find("| amplification | 3 | 3 | 1.00 |"), std::string::npos) << report;
  EXPECT_NE(report.find(", false 0 ("), std::string::npos) << report;
  EXPECT_NE(slurp(o.incidents_output).find("\"event\":\"open\""), std::string::npos);
  // The work directory keeps the generated capture and truth when named.
  EXPECT_TRUE(fs::exists(o.work_dir + "/eval.pcap"));
  EXPECT_TRUE(fs::exists(o.work_dir + "/truth.csv"));
}

TEST(EvalCommand, ReplaysACaptureWithItsTruth) {
  TempDir dir;
  // First generate a capture the way a user would have one, then evaluate it as an input.
  EvalOptions gen;
  gen.scenario = std::string(FATHOM_SOURCE_DIR) + "/examples/scenarios/demo.yaml";
  gen.report_output = dir.path + "/first.md";
  gen.work_dir = dir.path;
  ASSERT_EQ(run_eval(gen, stderr), 0);
  std::ofstream(dir.path + "/fathom.yaml")
      << "tenants:\n"
         "  - {id: 1, name: acme, exporters: [127.0.0.11, 127.0.0.12], internal_networks: "
         "[10.1.0.0/16, 2001:db8:1::/48]}\n"
         "  - {id: 2, name: globex, exporters: [127.0.0.21], internal_networks: [10.2.0.0/16]}\n"
         "  - {id: 3, name: initech, exporters: [127.0.0.31], internal_networks: [10.3.0.0/16, "
         "2001:db8:3::/48]}\n";
  EvalOptions o;
  o.inputs = {dir.path + "/eval.pcap"};
  o.truth = dir.path + "/truth.csv";
  o.config_file = dir.path + "/fathom.yaml";
  o.report_output = dir.path + "/report.md";
  ASSERT_EQ(run_eval(o, stderr), 0);
  const std::string report = slurp(o.report_output);
  EXPECT_NE(report.find("| syn_flood | 1 | 1 | 1.00 |"), std::string::npos) << report;
}

TEST(EvalCommand, RejectsBadOptions) {
  EvalOptions none;
  EXPECT_EQ(run_eval(none, stderr), 2);
  EvalOptions no_truth;
  no_truth.inputs = {"x.pcap"};
  EXPECT_EQ(run_eval(no_truth, stderr), 2);
  EvalOptions resample;
  resample.inputs = {"x.pcap"};
  resample.truth = "t.csv";
  resample.sampling = {"100"};
  EXPECT_EQ(run_eval(resample, stderr), 2);
  EvalOptions bad_rate;
  bad_rate.scenario = "s.yaml";
  bad_rate.sampling = {"fast"};
  EXPECT_EQ(run_eval(bad_rate, stderr), 2);
  EvalOptions missing;
  missing.scenario = "/nonexistent/scenario.yaml";
  EXPECT_EQ(run_eval(missing, stderr), 1);
}

}  // namespace
}  // namespace fathom::app
