#include "api/metrics_text.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace fathom::api {
namespace {

/// One parsed sample line.
struct ParsedSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  ///< unescaped, in line order
  std::string value;
};

/// One family as read back: its HELP (unescaped), TYPE and samples.
struct ParsedFamily {
  std::string name;
  std::string help;
  std::string type;
  std::vector<ParsedSample> samples;
};

/// A strict reader of the text format 0.0.4 as MetricsText writes it: every family is
/// "# HELP", then "# TYPE", then its samples (named as the family); no family twice; every
/// line ends in '\n'. Fails the test (and returns what it read so far) on anything else.
std::vector<ParsedFamily> parse_exposition(const std::string& text) {
  std::vector<ParsedFamily> families;
  std::set<std::string> seen;
  if (text.empty()) return families;
  EXPECT_EQ(text.back(), '\n') << "the last line must end in a newline";
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) break;
    const std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;

    if (line.starts_with("# HELP ")) {
      const size_t space = line.find(' ', 7);
      EXPECT_NE(space, std::string::npos) << line;
      if (space == std::string::npos) return families;
      ParsedFamily family;
      family.name = line.substr(7, space - 7);
      EXPECT_TRUE(is_valid_metric_name(family.name)) << line;
      EXPECT_TRUE(seen.insert(family.name).second) << "HELP twice for " << family.name;
      const std::string raw = line.substr(space + 1);
      for (size_t idx = 0; idx < raw.size(); ++idx) {
        if (raw[idx] == '\\' && idx + 1 < raw.size()) {
          const char next = raw[++idx];
          EXPECT_TRUE(next == '\\' || next == 'n') << "bad HELP escape in " << line;
          family.help.push_back(next == 'n' ? '\n' : next);
        } else {
          family.help.push_back(raw[idx]);
        }
      }
      families.push_back(std::move(family));
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      EXPECT_FALSE(families.empty()) << "TYPE before HELP: " << line;
      if (families.empty()) return families;
      ParsedFamily& family = families.back();
      EXPECT_TRUE(family.type.empty()) << "TYPE twice: " << line;
      EXPECT_TRUE(family.samples.empty()) << "TYPE after samples: " << line;
      const std::string prefix = "# TYPE " + family.name + " ";
      EXPECT_TRUE(line.starts_with(prefix)) << "TYPE of another family: " << line;
      family.type = line.substr(prefix.size());
      EXPECT_TRUE(family.type == "counter" || family.type == "gauge") << line;
      continue;
    }
    EXPECT_FALSE(line.starts_with("#")) << "unexpected comment: " << line;

    // A sample: name, optional {labels}, space, value.
    EXPECT_FALSE(families.empty()) << "sample before any family: " << line;
    if (families.empty()) return families;
    ParsedFamily& family = families.back();
    EXPECT_FALSE(family.type.empty()) << "sample before TYPE: " << line;
    ParsedSample sample;
    size_t idx = 0;
    while (idx < line.size() && line[idx] != '{' && line[idx] != ' ') ++idx;
    sample.name = line.substr(0, idx);
    EXPECT_EQ(sample.name, family.name) << "sample outside its family: " << line;
    if (idx < line.size() && line[idx] == '{') {
      ++idx;
      while (idx < line.size() && line[idx] != '}') {
        const size_t eq = line.find('=', idx);
        EXPECT_NE(eq, std::string::npos) << line;
        if (eq == std::string::npos) return families;
        std::string label_name = line.substr(idx, eq - idx);
        EXPECT_TRUE(is_valid_label_name(label_name)) << label_name << " in " << line;
        idx = eq + 1;
        EXPECT_EQ(line[idx], '"') << line;
        ++idx;
        std::string value;
        while (idx < line.size() && line[idx] != '"') {
          if (line[idx] == '\\') {
            const char next = line[++idx];
            EXPECT_TRUE(next == '\\' || next == '"' || next == 'n') << "bad escape: " << line;
            value.push_back(next == 'n' ? '\n' : next);
          } else {
            value.push_back(line[idx]);
          }
          ++idx;
        }
        EXPECT_LT(idx, line.size()) << "unterminated label value: " << line;
        ++idx;  // closing quote
        sample.labels.emplace_back(std::move(label_name), std::move(value));
        if (idx < line.size() && line[idx] == ',') ++idx;
      }
      EXPECT_LT(idx, line.size()) << line;
      ++idx;  // '}'
    }
    EXPECT_EQ(line[idx], ' ') << line;
    sample.value = line.substr(idx + 1);
    EXPECT_FALSE(sample.value.empty()) << line;
    EXPECT_EQ(sample.value.find(' '), std::string::npos) << "no timestamps expected: " << line;
    family.samples.push_back(std::move(sample));
  }
  return families;
}

TEST(MetricsText, EmptyWhenNothingDeclared) {
  MetricsText text;
  EXPECT_EQ(text.str(), "");
}

TEST(MetricsText, WritesHelpTypeAndSamples) {
  MetricsText text;
  text.family("fathom_decode_packets_total", "Packets decoded.", MetricType::kCounter)
      .sample({{"exporter", "10.0.0.1"}, {"version", "9"}}, uint64_t{42})
      .sample({{"exporter", "10.0.0.2"}, {"version", "10"}}, 7);
  text.family("fathom_bus_queue_depth", "Batches waiting.", MetricType::kGauge).sample({}, 3.5);
  EXPECT_EQ(text.str(),
            "# HELP fathom_decode_packets_total Packets decoded.\n"
            "# TYPE fathom_decode_packets_total counter\n"
            "fathom_decode_packets_total{exporter=\"10.0.0.1\",version=\"9\"} 42\n"
            "fathom_decode_packets_total{exporter=\"10.0.0.2\",version=\"10\"} 7\n"
            "# HELP fathom_bus_queue_depth Batches waiting.\n"
            "# TYPE fathom_bus_queue_depth gauge\n"
            "fathom_bus_queue_depth 3.5\n");
}

TEST(MetricsText, GroupsSamplesAddedFromSeveralPlaces) {
  MetricsText text;
  // As the collector's and the decoder's metric code would interleave.
  text.family("a_total", "A.", MetricType::kCounter).sample({{"k", "1"}}, 1);
  text.family("b", "B.", MetricType::kGauge).sample({{"k", "1"}}, 10);
  text.family("a_total", "A.", MetricType::kCounter).sample({{"k", "2"}}, 2);
  text.family("c_total", "C.", MetricType::kCounter);  // declared, no samples yet
  text.family("b", "B.", MetricType::kGauge).sample({{"k", "2"}}, 20);
  text.family("a_total", "A.", MetricType::kCounter).sample({{"k", "3"}}, 3);

  const std::vector<ParsedFamily> families = parse_exposition(text.str());
  ASSERT_EQ(families.size(), 3u);
  EXPECT_EQ(families[0].name, "a_total");  // order of first declaration
  EXPECT_EQ(families[1].name, "b");
  EXPECT_EQ(families[2].name, "c_total");
  EXPECT_EQ(families[0].type, "counter");
  EXPECT_EQ(families[1].type, "gauge");
  ASSERT_EQ(families[0].samples.size(), 3u);  // order of addition within a family
  for (size_t sample_idx = 0; sample_idx < 3; ++sample_idx) {
    EXPECT_EQ(families[0].samples[sample_idx].labels.at(0).second, std::to_string(sample_idx + 1));
    EXPECT_EQ(families[0].samples[sample_idx].value, std::to_string(sample_idx + 1));
  }
  ASSERT_EQ(families[1].samples.size(), 2u);
  EXPECT_EQ(families[1].samples[1].value, "20");
  EXPECT_TRUE(families[2].samples.empty());
}

TEST(MetricsText, FamilyHandlesStayValid) {
  MetricsText text;
  MetricsText::Family& first = text.family("first", "First.", MetricType::kGauge);
  for (int family_idx = 0; family_idx < 1000; ++family_idx) {
    text.family("g" + std::to_string(family_idx), "G.", MetricType::kGauge);
  }
  EXPECT_EQ(&text.family("first", "First.", MetricType::kGauge), &first);
  first.sample({}, 1);
  EXPECT_EQ(first.size(), 1u);
  MetricsText moved = std::move(text);
  EXPECT_EQ(&moved.family("first", "First.", MetricType::kGauge), &first);
  EXPECT_EQ(parse_exposition(moved.str()).size(), 1001u);
}

TEST(MetricsText, EscapesLabelValuesAndReadsThemBack) {
  const std::vector<std::string> values = {"back\\slash",        "double\"quote", "new\nline",
                                           "all \\\"\n three",   "\\n literal",   "",
                                           "tab\tand\rcarriage", "utf-8 é ✓ 𝄞"};
  MetricsText text;
  MetricsText::Family& family = text.family("escapes", "Escapes.", MetricType::kGauge);
  for (size_t value_idx = 0; value_idx < values.size(); ++value_idx) {
    family.sample({{"value", values[value_idx]}}, value_idx);
  }
  const std::string out = text.str();
  EXPECT_NE(out.find("escapes{value=\"back\\\\slash\"} 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("escapes{value=\"double\\\"quote\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("escapes{value=\"new\\nline\"} 2\n"), std::string::npos) << out;

  const std::vector<ParsedFamily> families = parse_exposition(out);
  ASSERT_EQ(families.size(), 1u);
  ASSERT_EQ(families[0].samples.size(), values.size());
  for (size_t value_idx = 0; value_idx < values.size(); ++value_idx) {
    EXPECT_EQ(families[0].samples[value_idx].labels.at(0).second, values[value_idx]);
  }
}

TEST(MetricsText, EscapesHelpButNotItsQuotes) {
  MetricsText text;
  text.family("h", "Says \"hi\"\\\nthen more.", MetricType::kGauge);
  EXPECT_EQ(text.str(), "# HELP h Says \"hi\"\\\\\\nthen more.\n# TYPE h gauge\n");
  const std::vector<ParsedFamily> families = parse_exposition(text.str());
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].help, "Says \"hi\"\\\nthen more.");
}

TEST(MetricsText, ReplacesIllFormedUtf8InLabelValues) {
  // Prometheus rejects a whole scrape with a label value that is not UTF-8; these can come
  // from exporters (interface names, VPC log fields).
  MetricsText text;
  text.family("u", "U.", MetricType::kGauge)
      .sample({{"v", std::string("a\xFF"
                                 "b")}},
              1)
      .sample({{"v", std::string("\xC3")}}, 2)              // truncated sequence
      .sample({{"v", std::string("\xED\xA0\x80")}}, 3)      // surrogate
      .sample({{"v", std::string("\xC0\xAF")}}, 4)          // overlong '/'
      .sample({{"v", std::string("\xE2\x9C\x93 ok")}}, 5);  // well-formed, kept
  const std::vector<ParsedFamily> families = parse_exposition(text.str());
  ASSERT_EQ(families.size(), 1u);
  ASSERT_EQ(families[0].samples.size(), 5u);
  EXPECT_EQ(families[0].samples[0].labels[0].second,
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(families[0].samples[1].labels[0].second, "\xEF\xBF\xBD");
  EXPECT_EQ(families[0].samples[2].labels[0].second, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(families[0].samples[3].labels[0].second, "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(families[0].samples[4].labels[0].second, "\xE2\x9C\x93 ok");
}

TEST(MetricsText, PrintsIntegersExactly) {
  MetricsText text;
  text.family("i", "I.", MetricType::kGauge)
      .sample({{"k", "u64max"}}, std::numeric_limits<uint64_t>::max())
      .sample({{"k", "2^53+1"}}, uint64_t{9007199254740993u})
      .sample({{"k", "i64min"}}, std::numeric_limits<int64_t>::min())
      .sample({{"k", "zero"}}, 0)
      .sample({{"k", "u8"}}, uint8_t{255})
      .sample({{"k", "neg"}}, -5);
  const std::vector<ParsedFamily> families = parse_exposition(text.str());
  ASSERT_EQ(families.size(), 1u);
  std::map<std::string, std::string> by_key;
  for (const ParsedSample& s : families[0].samples) by_key[s.labels.at(0).second] = s.value;
  EXPECT_EQ(by_key["u64max"], "18446744073709551615");
  EXPECT_EQ(by_key["2^53+1"], "9007199254740993");  // a double would print ...992
  EXPECT_EQ(by_key["i64min"], "-9223372036854775808");
  EXPECT_EQ(by_key["zero"], "0");
  EXPECT_EQ(by_key["u8"], "255");
  EXPECT_EQ(by_key["neg"], "-5");
}

TEST(MetricsText, PrintsSpecialDoublesAsPrometheusSpellsThem) {
  MetricsText text;
  text.family("d", "D.", MetricType::kGauge)
      .sample({{"k", "nan"}}, std::numeric_limits<double>::quiet_NaN())
      .sample({{"k", "inf"}}, std::numeric_limits<double>::infinity())
      .sample({{"k", "-inf"}}, -std::numeric_limits<double>::infinity())
      .sample({{"k", "tenth"}}, 0.1)
      .sample({{"k", "whole"}}, 2.0)
      .sample({{"k", "tiny"}}, 5e-324)
      .sample({{"k", "huge"}}, 1.7976931348623157e308)
      .sample({{"k", "float"}}, 0.25f);
  const std::vector<ParsedFamily> families = parse_exposition(text.str());
  ASSERT_EQ(families.size(), 1u);
  std::map<std::string, std::string> by_key;
  for (const ParsedSample& s : families[0].samples) by_key[s.labels.at(0).second] = s.value;
  EXPECT_EQ(by_key["nan"], "NaN");
  EXPECT_EQ(by_key["inf"], "+Inf");
  EXPECT_EQ(by_key["-inf"], "-Inf");
  EXPECT_EQ(by_key["tenth"], "0.1");
  EXPECT_EQ(by_key["whole"], "2");
  EXPECT_EQ(std::strtod(by_key["tiny"].c_str(), nullptr), 5e-324);
  EXPECT_EQ(std::strtod(by_key["huge"].c_str(), nullptr), 1.7976931348623157e308);
  EXPECT_EQ(by_key["float"], "0.25");
}

TEST(MetricsText, DoublesReadBackToTheSameValue) {
  const uint32_t seed = 20261123;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<uint64_t> bits;
  MetricsText text;
  MetricsText::Family& family = text.family("r", "R.", MetricType::kGauge);
  std::vector<double> values;
  while (values.size() < 2000) {
    const uint64_t raw = bits(rng);
    double value = 0;
    static_assert(sizeof(value) == sizeof(raw));
    std::memcpy(&value, &raw, sizeof(value));
    if (!std::isfinite(value)) continue;
    family.sample({{"i", std::to_string(values.size())}}, value);
    values.push_back(value);
  }
  const std::vector<ParsedFamily> families = parse_exposition(text.str());
  ASSERT_EQ(families.size(), 1u);
  ASSERT_EQ(families[0].samples.size(), values.size());
  for (size_t value_idx = 0; value_idx < values.size(); ++value_idx) {
    const std::string& printed = families[0].samples[value_idx].value;
    EXPECT_EQ(std::strtod(printed.c_str(), nullptr), values[value_idx])
        << "seed " << seed << " value " << value_idx << " printed " << printed;
  }
}

TEST(MetricsText, KeepsLabelOrderAndTakesRuntimeLabels) {
  std::vector<std::string> storage = {"zone", "eu", "exporter", "10.0.0.1"};
  const std::vector<Label> labels = {{storage[0], storage[1]}, {storage[2], storage[3]}};
  MetricsText text;
  text.family("o_total", "O.", MetricType::kCounter).sample(std::span<const Label>(labels), 1);
  storage.clear();  // the text holds copies, not views
  EXPECT_EQ(text.str(),
            "# HELP o_total O.\n# TYPE o_total counter\n"
            "o_total{zone=\"eu\",exporter=\"10.0.0.1\"} 1\n");
}

TEST(MetricsText, ValidatesNames) {
  EXPECT_TRUE(is_valid_metric_name("fathom_decode_packets_total"));
  EXPECT_TRUE(is_valid_metric_name("job:rate5m"));
  EXPECT_TRUE(is_valid_metric_name("_x"));
  EXPECT_FALSE(is_valid_metric_name(""));
  EXPECT_FALSE(is_valid_metric_name("1x"));
  EXPECT_FALSE(is_valid_metric_name("a-b"));
  EXPECT_FALSE(is_valid_metric_name("a b"));
  EXPECT_TRUE(is_valid_label_name("exporter"));
  EXPECT_TRUE(is_valid_label_name("_"));
  EXPECT_FALSE(is_valid_label_name("__name__"));  // reserved
  EXPECT_FALSE(is_valid_label_name("a:b"));       // colons are for metric names only
  EXPECT_FALSE(is_valid_label_name("9"));
  EXPECT_FALSE(is_valid_label_name(""));
}

#ifdef NDEBUG
// Release builds repair programmer errors so the scrape still parses.
TEST(MetricsText, RepairsInvalidNamesInRelease) {
  MetricsText text;
  text.family("bad-name", "B.", MetricType::kGauge).sample({{"bad label", "v"}}, 1);
  text.family("9lives", "N.", MetricType::kGauge).sample({{"__reserved", "v"}}, 2);
  text.family("bad-name", "B.", MetricType::kGauge).sample({{"bad label", "w"}}, 3);
  const std::vector<ParsedFamily> families = parse_exposition(text.str());
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "bad_name");
  ASSERT_EQ(families[0].samples.size(), 2u);
  EXPECT_EQ(families[0].samples[0].labels[0].first, "bad_label");
  EXPECT_EQ(families[1].name, "_9lives");
  EXPECT_EQ(families[1].samples.at(0).labels[0].first, "x__reserved");
}

TEST(MetricsText, DropsRepeatedSeriesAndLabelsInRelease) {
  MetricsText text;
  text.family("s", "S.", MetricType::kGauge)
      .sample({{"a", "1"}, {"b", "2"}}, 1)
      .sample({{"b", "2"}, {"a", "1"}}, 2)  // the same series, labels in another order
      .sample({{"a", "1"}, {"a", "2"}}, 3)  // a label twice
      .sample({{"a", "2"}, {"b", "2"}}, 4);
  const std::vector<ParsedFamily> families = parse_exposition(text.str());
  ASSERT_EQ(families.size(), 1u);
  ASSERT_EQ(families[0].samples.size(), 2u);
  EXPECT_EQ(families[0].samples[0].value, "1");
  EXPECT_EQ(families[0].samples[1].value, "4");
}
#else
TEST(MetricsTextDeathTest, AssertsOnProgrammerErrors) {
  EXPECT_DEATH(MetricsText().family("bad-name", "B.", MetricType::kGauge), "metric name");
  EXPECT_DEATH(MetricsText().family("packets", "P.", MetricType::kCounter), "_total");
  EXPECT_DEATH(MetricsText().family("g", "G.", MetricType::kGauge).sample({{"a b", "v"}}, 1),
               "label name");
  EXPECT_DEATH(
      {
        MetricsText text;
        text.family("g", "G.", MetricType::kGauge).sample({{"a", "1"}}, 1).sample({{"a", "1"}}, 2);
      },
      "twice");
  EXPECT_DEATH(
      {
        MetricsText text;
        text.family("g", "G.", MetricType::kGauge);
        text.family("g", "G.", MetricType::kCounter);
      },
      "different types");
}
#endif

}  // namespace
}  // namespace fathom::api
