#include "runtime/input_schema.h"

#include <gtest/gtest.h>

#include "flat_schema_for_test.h"

#include <string>
#include <vector>

namespace eddy::runtime {
namespace {

InputSchema schema(const std::string& columns) {
  return flat_schema(columns);
}

// map_flat (the hot path) must give exactly what map_document (the general path) gives, whatever
// the field order, with the same hints carried from record to record as an application does.
void expect_same(const InputSchema& s, const std::vector<std::string>& records) {
  ASSERT_TRUE(s.flat);
  simdjson::dom::parser parser;
  std::vector<Value> values;
  std::vector<int> hints;
  for (const auto& text : records) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS) << text;
    auto general = map_document(s, doc);
    simdjson::dom::object obj;
    ASSERT_EQ(doc.get(obj), simdjson::SUCCESS);
    auto st = map_flat(s, obj, values, hints);
    ASSERT_EQ(general.has_value(), st.has_value()) << text;
    if (!general) {
      EXPECT_EQ(general.error().message, st.error().message) << text;
      continue;
    }
    ASSERT_EQ(general->size(), 1u);
    EXPECT_EQ((*general)[0], values) << text;
  }
}

TEST(InputSchema, FlatMappingEqualsTheGeneralPath) {
  const auto s = schema(R"js([{"Name": "store_id", "Mapping": "$.store_id", "SqlType": "VARCHAR(8)"},
      {"Name": "sales", "Mapping": "$.sales", "SqlType": "REAL"},
      {"Name": "t", "Mapping": "$.evnt_time", "SqlType": "TIMESTAMP"},
      {"Name": "n", "Mapping": "$.n", "SqlType": "INTEGER"},
      {"Name": "ok", "Mapping": "$.ok", "SqlType": "BOOLEAN"}])js");
  EXPECT_TRUE(s.unique_paths);
  expect_same(
      s,
      {
          R"({"store_id": "store_1", "sales": 12.5, "evnt_time": "2021-01-31T14:05:47.190114", "n": 3, "ok": true})",
          R"({"store_id": "store_2", "sales": 1, "evnt_time": "2021-01-31 14:05:48", "n": 4, "ok": false})",
          R"({"n": 5, "ok": "TRUE", "sales": "7.25", "store_id": "a-very-long-store-name", "evnt_time": "2021-01-31"})",
          R"({"store_id": null, "extra": [1, 2], "sales": 2})",
          R"({"store_id": "first", "store_id": "second", "sales": 3.5, "sales": 4.5})",
          R"({"store_id": 42, "sales": 1e3, "evnt_time": "not a time"})",
          R"({"store_id": "x", "n": 1.5})",
          R"({"n": 2147483647})",
          R"({"n": 2147483648})",
          R"({"n": -2147483649})",
          R"({"n": 18446744073709551615})",
          R"({"n": 2.0})",
          R"({"store_id": {"nested": true}, "sales": true})",
          R"({})",
          R"({"store_id": "store_1", "sales": 12.5, "evnt_time": "2021-01-31T14:05:47.190114", "n": 3, "ok": true})",
      });
}

TEST(InputSchema, TwoColumnsFromOneField) {
  const auto s = schema(R"js([{"Name": "a", "Mapping": "$.x", "SqlType": "VARCHAR(4)"},
      {"Name": "b", "Mapping": "$.x", "SqlType": "VARCHAR(2)"}, {"Name": "c", "Mapping": "$.y", "SqlType": "DOUBLE"}])js");
  EXPECT_FALSE(s.unique_paths);
  expect_same(s, {R"({"x": "abcdef", "y": 1})", R"({"y": 2, "x": "z"})", R"({"x": "q"})"});
}

TEST(InputSchema, NumbersOfEveryKindIntoRealAndDouble) {
  const auto s = schema(R"js([{"Name": "r", "Mapping": "$.r", "SqlType": "REAL"},
      {"Name": "d", "Mapping": "$.d", "SqlType": "DOUBLE"}, {"Name": "t", "Mapping": "$.t", "SqlType": "TIMESTAMP"}])js");
  expect_same(s, {R"({"r": 1, "d": -2, "t": "2021-01-31 14:05:48.5"})",
                  R"({"r": 18446744073709551615, "d": 18446744073709551615, "t": 1612101948000})",
                  R"({"r": 0.1, "d": 0.1, "t": "2021-01-31T14:05:48Z"})", R"({"r": "2.5", "d": "x"})",
                  R"({"r": 3.4028235e39, "d": -1e308, "t": null})"});
}

// More than 64 columns: map_flat's general loop, not the one with a bit mask.
TEST(InputSchema, ManyColumns) {
  std::string columns = "[";
  std::string full = "{", reversed = "}";
  for (int c = 0; c < 70; ++c) {
    const std::string name = "f" + std::to_string(c);
    columns += std::string(c ? "," : "") + R"({"Name": ")" + name + R"(", "Mapping": "$.)" + name +
               R"(", "SqlType": ")" + (c % 2 ? "INTEGER" : "VARCHAR(3)") + "\"}";
    const std::string field = "\"" + name + "\": " + (c % 2 ? std::to_string(c) : "\"v" + std::to_string(c) + "\"");
    full += (c ? ", " : "") + field;
    reversed = field + (c ? ", " : "") + reversed;
  }
  columns += "]";
  full += "}";
  reversed = "{" + reversed;
  const auto s = schema(columns);
  ASSERT_EQ(s.columns.size(), 70u);
  expect_same(s, {full, reversed, R"({"f69": 1, "f0": "abcdef", "f0": "x", "f68": "y"})", R"({"f1": "no"})", full});
}

}  // namespace
}  // namespace eddy::runtime
