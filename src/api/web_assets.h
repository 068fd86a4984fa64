#pragma once

#include <span>
#include <string_view>

namespace fathom::api {

/// One file of the dashboard (web/) or the API description (docs/openapi.yaml), built into
/// the binary by src/CMakeLists.txt so `fathom run` serves the dashboard from anywhere.
struct WebAsset {
  std::string_view path;          ///< "/index.html", "/app.js", "/api/v1/openapi.yaml"
  std::string_view content_type;  ///< from the extension
  std::string_view bytes;
};

/// Every built-in asset, sorted by path.
std::span<const WebAsset> web_assets() noexcept;

/// The content type of a file name's extension (.html, .js, .css, .svg, .yaml, .json, .png);
/// "application/octet-stream" for others.
std::string_view content_type_of(std::string_view path) noexcept;

}  // namespace fathom::api
