#pragma once

#include <string>

#include "gen/scenario.h"

namespace fathom::gen {

/// Loads a scenario file (YAML, keys in docs/generator.md). Unknown keys, wrong types and bad
/// values throw std::invalid_argument with "file:line: message"; the result is validated.
Scenario load_scenario(const std::string& path);

/// Same, from YAML text; `name` is used in error messages.
Scenario parse_scenario(const std::string& text, const std::string& name);

/// Parses a duration: "90s", "10m", "1h", "250ms", "1d", or a bare number of seconds.
/// Throws std::invalid_argument on bad input.
int64_t parse_duration_ns(const std::string& text);

/// Reads an intel list: one address per line, '#' comments; throws on a bad line.
std::vector<flow::IpAddress> load_intel_list(const std::string& path);

}  // namespace fathom::gen
