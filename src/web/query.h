// URL pieces for the dashboard's endpoints: percent-decoding and `a=1&b=x` query strings.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace eddy::web {

// "%2F" -> "/", "+" -> " " (in queries only); nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

// "limit=5&output=DEST" -> {limit: 5, output: DEST}; nullopt on a malformed escape.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view query);

}  // namespace eddy::web
