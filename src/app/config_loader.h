#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.h"

namespace fathom::app {

/// One problem found in a config file, with where it is.
struct ConfigError {
  std::string file;  ///< as given to the loader
  int line = 0;      ///< 1-based; 0 when unknown (e.g. the file cannot be read)
  int column = 0;    ///< 1-based; 0 when unknown
  std::string key;   ///< key path, e.g. "tenants[1].exporters[0]"; "" for the whole file
  std::string message;

  /// "fathom.yaml:14:5: tenants[1].exporters[0]: '10.0.0.300' is not an IP address or CIDR".
  std::string to_string() const;
};

/// The outcome of loading: a config that is meaningful only when `errors` is empty.
struct ConfigLoad {
  Config config;
  std::vector<ConfigError> errors;  ///< in file order as far as possible; empty on success

  bool ok() const noexcept { return errors.empty(); }
};

/// Reads and validates a fathom.yaml. Keys missing from the file keep the defaults of
/// `Config`; unknown keys, wrong types and bad values are errors. Errors are collected across
/// the whole file (a bad value does not hide the next one). Never throws: YAML syntax errors
/// and unreadable files become a single error.
ConfigLoad load_config_file(const std::string& path);

/// As `load_config_file`, from text; `file_name` is used in error messages only.
ConfigLoad parse_config(std::string_view yaml, std::string_view file_name);

/// Every key path the loader accepts, in schema form: "collect.listeners",
/// "tenants[].exporters[].address". docs/configuration.md documents exactly these.
std::span<const std::string_view> config_keys() noexcept;

/// "N tenants, M exporters" for a loaded config.
std::string describe_config(const Config& config);

/// Runs `fathom config check FILE`: prints "ok: N tenants, M exporters" to `out` and returns
/// 0, or prints every error to `err`, one per line, and returns 1.
int run_config_check(const std::string& path, std::FILE* out, std::FILE* err);

}  // namespace fathom::app
