#pragma once

// A scratch directory for an end-to-end test, removed with everything in it at the end.

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace fathom::e2e {

struct TempDir {
  std::filesystem::path path;
  /// Creates a fresh directory named `prefix`-XXXXXX in the system's temporary directory.
  explicit TempDir(const std::string& prefix = "fathom") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace fathom::e2e
