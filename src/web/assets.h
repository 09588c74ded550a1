// The dashboard's static files (web/ and uPlot from node_modules), embedded at build time by
// cmake/embed_web.cmake, so eddy serves them itself: no CDN, works offline.
#pragma once

#include <span>
#include <string_view>

namespace eddy::web {

struct Asset {
  std::string_view path;  // URL path, e.g. "/" or "/vendor/uPlot.iife.min.js"
  std::string_view content_type;
  std::string_view body;
};

// nullptr if no asset has this path.
const Asset* find_asset(std::string_view path);

}  // namespace eddy::web

namespace eddy::embedded {
std::span<const web::Asset> web_assets();
}
