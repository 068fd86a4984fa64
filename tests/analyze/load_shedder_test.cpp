#include "analyze/load_shedder.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fathom::analyze {
namespace {

TEST(LoadShedder, AnOverrunCutsTheFactorToFitAndRelaxesOnceBatchesFit) {
  LoadShedder s;
  EXPECT_DOUBLE_EQ(s.observe(0.5), 1.0);  // fits: nothing to relax
  EXPECT_DOUBLE_EQ(s.observe(2.0), 0.4);  // 1 × 0.8 / 2
  EXPECT_EQ(s.overruns(), 1u);
  EXPECT_EQ(s.tightened(), 1u);
  EXPECT_DOUBLE_EQ(s.observe(0.9), 0.4);  // between the marks: held
  EXPECT_DOUBLE_EQ(s.observe(0.3), 0.5);  // × 1.25
  EXPECT_DOUBLE_EQ(s.observe(0.3), 0.625);
  for (int i = 0; i < 10; ++i) s.observe(0.1);
  EXPECT_DOUBLE_EQ(s.factor(), 1.0);  // never above 1
}

TEST(LoadShedder, RepeatedOverrunsKeepTighteningDownToTheFloor) {
  LoadShedder s;
  for (int i = 0; i < 100; ++i) s.observe(50.0);
  EXPECT_DOUBLE_EQ(s.factor(), 0.01);
  EXPECT_EQ(s.overruns(), 100u);
}

TEST(LoadShedder, AnOverrunThatWouldLoosenChangesNothing) {
  LoadShedder s;
  s.observe(4.0);  // 0.2
  EXPECT_DOUBLE_EQ(s.factor(), 0.2);
  s.observe(1.01);  // 0.2 × 0.8 / 1.01 < 0.2: tightens a little
  EXPECT_LT(s.factor(), 0.2);
  EXPECT_DOUBLE_EQ(s.observe(std::nan("")), s.factor());
  EXPECT_DOUBLE_EQ(s.observe(-1.0), s.factor());
}

}  // namespace
}  // namespace fathom::analyze
