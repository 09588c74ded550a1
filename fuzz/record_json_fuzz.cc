// Fuzz target: a record as a JSON value, the way C++ job sources and the dashboard take records
// (nesting checked first, then nlohmann parses, copies and prints it), and as a Lambda's answer.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/json_limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (!eddy::json_nesting_within(text)) return 0;  // an error row / shown as text
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return 0;
  const nlohmann::json copy = j;
  (void)copy.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  (void)(copy == j);
  return 0;
}
