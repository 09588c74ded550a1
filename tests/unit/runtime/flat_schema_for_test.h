// A JSON InputSchema with RecordRowPath "$" and the given RecordColumns (a JSON array), for the
// tests of the input mapping.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "runtime/input_schema.h"

namespace eddy::runtime {

inline InputSchema flat_schema(const std::string& columns) {
  auto s = parse_input_schema(R"({"RecordFormat": {"RecordFormatType": "JSON",
      "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}}, "RecordColumns": )" +
                              columns + "}");
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
  return s ? *s : InputSchema{};
}

}  // namespace eddy::runtime
