// Bounds on JSON a caller supplies. nlohmann::json copies, compares and prints values recursively,
// so a record of 100,000 nested brackets would overflow the stack of whichever thread touched it
// (and again after every restart, the record being durable): such text is refused before parsing.
#pragma once

#include <cstddef>
#include <string_view>

namespace eddy {

// Deepest nesting of arrays and objects accepted in a record, a function's answer or a request
// (AWS's own JSON parsers stop far earlier than this).
inline constexpr size_t kMaxJsonNesting = 256;

// Whether the brackets of `text` (outside strings) nest at most `max_depth` deep. Linear, no
// allocation; says nothing else about validity.
bool json_nesting_within(std::string_view text, size_t max_depth = kMaxJsonNesting);

}  // namespace eddy
