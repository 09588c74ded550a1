#include "common/json_limits.h"

#include <algorithm>

namespace eddy {

bool json_nesting_within(std::string_view text, size_t max_depth) {
  // Nesting needs an opening bracket per level: records with few of them (nearly all: a seed
  // event has one) are answered without the scan, which otherwise costs 7 % of a parse.
  if (text.size() <= max_depth) return true;
  const auto opening = std::count(text.begin(), text.end(), '[') + std::count(text.begin(), text.end(), '{');
  if (static_cast<size_t>(opening) <= max_depth) return true;
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

}  // namespace eddy
