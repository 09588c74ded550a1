#include "web/assets.h"

namespace eddy::web {

const Asset* find_asset(std::string_view path) {
  for (const auto& a : embedded::web_assets()) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

}  // namespace eddy::web
