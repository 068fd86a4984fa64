#include "app/train_command.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "app/pipeline.h"
#include "app/temp_dir.h"

namespace fathom::app {
namespace {

namespace fs = std::filesystem;

using testing::slurp;

struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("traintest") {}
};

TrainCommandOptions short_day(const std::string& out) {
  TrainCommandOptions o;
  o.scenario = std::string(FATHOM_SOURCE_DIR) + "/examples/scenarios/day.yaml";
  o.duration = "1h";
  o.epochs = 3;
  o.out = out;
  return o;
}

// The same scenario and seeds give the same model file, byte for byte, and it loads as a
// base model; another model seed gives another model.
TEST(TrainCommand, IsDeterministicAndWritesALoadableModel) {
  TempDir dir;
  ASSERT_EQ(run_train(short_day(dir.path + "/a.fmodel"), stderr), 0);
  ASSERT_EQ(run_train(short_day(dir.path + "/b.fmodel"), stderr), 0);
  const std::string a = slurp(dir.path + "/a.fmodel");
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, slurp(dir.path + "/b.fmodel"));
  std::string error;
  std::shared_ptr<const detect::Model> model;
  EXPECT_TRUE(load_base_model(dir.path + "/a.fmodel", model, error)) << error;
  EXPECT_NE(model, nullptr);
  TrainCommandOptions other = short_day(dir.path + "/c.fmodel");
  other.model_seed = 2;
  ASSERT_EQ(run_train(other, stderr), 0);
  EXPECT_NE(a, slurp(dir.path + "/c.fmodel"));
}

TEST(TrainCommand, BadOptionsAreRefused) {
  TempDir dir;
  TrainCommandOptions none;
  none.out = dir.path + "/x.fmodel";
  EXPECT_EQ(run_train(none, stderr), 2);  // neither a scenario nor captures
  TrainCommandOptions no_out = short_day("");
  EXPECT_EQ(run_train(no_out, stderr), 2);
  TrainCommandOptions missing = short_day(dir.path + "/y.fmodel");
  missing.scenario = dir.path + "/no-such-scenario.yaml";
  EXPECT_EQ(run_train(missing, stderr), 1);
  EXPECT_FALSE(fs::exists(dir.path + "/y.fmodel"));
  TrainCommandOptions unwritable = short_day("/proc/fathom-cannot-write-here.fmodel");
  EXPECT_EQ(run_train(unwritable, stderr), 1);
}

}  // namespace
}  // namespace fathom::app
