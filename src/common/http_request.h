// An HTTP request as values: what the server hands its handlers and what a SigV4 signature covers.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace eddy {

struct HttpRequest {
  std::string method;
  std::string target;                                        // raw path and query as sent, e.g. "/" or "/a%20b?x=1"
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case, in order
  std::string body;                                          // capacity leaves room for simdjson's padding

  std::string_view header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers) {
      if (k == lower_name) return v;
    }
    return {};
  }
  bool has_header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers) {
      if (k == lower_name) return true;
    }
    return false;
  }
};

}  // namespace eddy
