#include "common/json_limits.h"

#include <gtest/gtest.h>

#include <string>

namespace eddy {
namespace {

TEST(JsonLimits, CountsBracketsOutsideStrings) {
  EXPECT_TRUE(json_nesting_within(R"({"a":[1,{"b":[]}]})", 4));
  EXPECT_FALSE(json_nesting_within(R"({"a":[1,{"b":[]}]})", 3));
  EXPECT_TRUE(json_nesting_within(R"({"s":"[[[[[[[[[["})", 1));    // brackets in a string
  EXPECT_TRUE(json_nesting_within(R"({"s":"\"[[[[","t":1})", 1));  // an escaped quote does not end it
  EXPECT_TRUE(json_nesting_within(R"({"s":"\\"})", 1));            // an escaped backslash does
  EXPECT_TRUE(json_nesting_within("]]]]]", 0));                    // stray closers: not our business
  EXPECT_TRUE(json_nesting_within(std::string(256, '[') + std::string(256, ']')));
  EXPECT_FALSE(json_nesting_within(std::string(257, '[') + std::string(257, ']')));
  EXPECT_FALSE(json_nesting_within(std::string(100000, '[')));
}

}  // namespace
}  // namespace eddy
