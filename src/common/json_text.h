// JSON string literals written directly (no DOM): the API's responses and the runtime's output rows.
#pragma once

#include <string>
#include <string_view>

namespace eddy {

// Appends `s` as a quoted JSON string: `"` and `\\` escaped, control characters as \u00XX; other
// bytes (UTF-8 included) as they are.
void append_json_string(std::string& out, std::string_view s);

}  // namespace eddy
