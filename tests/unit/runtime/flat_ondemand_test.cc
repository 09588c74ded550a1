#include "runtime/flat_ondemand.h"

#include <gtest/gtest.h>

#include "flat_schema_for_test.h"

#include <random>
#include <string>
#include <vector>

namespace eddy::runtime {
namespace {

InputSchema schema(const std::string& columns) {
  return flat_schema(columns);
}

// The seed's schema, plus a DOUBLE.
InputSchema seed_schema() {
  return schema(R"js([{"Name": "store_id", "Mapping": "$.store_id", "SqlType": "VARCHAR(8)"},
      {"Name": "category", "Mapping": "$.category", "SqlType": "VARCHAR(16)"},
      {"Name": "evnt_time", "Mapping": "$.evnt_time", "SqlType": "TIMESTAMP"},
      {"Name": "sales", "Mapping": "$.sales", "SqlType": "REAL"},
      {"Name": "d", "Mapping": "$.d", "SqlType": "DOUBLE"}])js");
}

// Maps `text` on-demand; true if the path took it.
bool ondemand(const InputSchema& s, const std::string& text, std::vector<Value>& values, std::vector<int>& hints,
              int strict_column = -1) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(text);
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc)) return false;
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj)) return false;
  return map_flat_ondemand(s, obj, values, hints, strict_column);
}

// Wherever the on-demand path takes a record, the general path (a full parse, then the
// mapping) takes it too and gives the same row; where it declines, the general path decides.
void expect_agrees(const InputSchema& s, const std::string& text, std::vector<Value>& values, std::vector<int>& hints,
                   int* taken = nullptr) {
  if (!ondemand(s, text, values, hints)) return;
  if (taken) ++*taken;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS) << "taken on-demand, but not valid JSON: " << text;
  auto general = map_document(s, doc);
  ASSERT_TRUE(general.has_value()) << "taken on-demand, but the general mapping fails: " << text;
  ASSERT_EQ(general->size(), 1u);
  std::vector<Value> row(values.begin(), values.begin() + static_cast<long>(s.columns.size()));
  EXPECT_EQ((*general)[0], row) << text;
}

TEST(FlatOnDemand, TheSeedsRecordsAreTakenAndEqualTheGeneralPath) {
  const auto s = seed_schema();
  ASSERT_TRUE(s.ondemand);
  std::vector<Value> values;
  std::vector<int> hints;
  for (const std::string text : {
           R"({"category":"Electronics","store_id":"store_3","evnt_time":"2021-01-31T14:05:47.190114","sales":22.78})",
           R"({"store_id": "store_1", "category": "Books", "sales": 12, "evnt_time": "2021-01-31 14:05:48.500"})",
           R"({"sales": -0.5, "d": 1e300, "store_id": null, "evnt_time": "2021-01-31T14:05:48Z"})",
           R"({"extra": "ignored", "n": 12, "ok": true, "z": null, "store_id": "s"})",
           R"({"store_id": "first", "store_id": "second", "sales": 3.5})",
           R"({})",
           // more than 19 significant digits: simdjson 3.0's On-Demand misreads these by itself
           R"({"sales": 0.42508639012344567890, "d": -1234567890.12345678901234e-5})",
           R"({"sales": 1.0000000000000000000000001, "d": 0.000000000000000000000000123456789})",
       }) {
    ASSERT_TRUE(ondemand(s, text, values, hints)) << text;
    expect_agrees(s, text, values, hints);
  }
}

TEST(FlatOnDemand, DeclinesWhatTheGeneralPathMustDecide) {
  const auto s = seed_schema();
  std::vector<Value> values;
  std::vector<int> hints;
  for (const std::string text : {
           R"({"store\u005fid": "escaped key"})",           // might name a column
           R"({"store_id": "a-long-store-name"})",          // VARCHAR(8): truncation rules
           R"({"store_id": 42})",                           // a number for VARCHAR
           R"({"sales": "7.25"})",                          // a string for REAL
           R"({"sales": 18446744073709551615})",            // unsigned
           R"({"sales": 123456789012345678901234567890})",  // beyond 64 bits
           R"({"evnt_time": "not a time"})",
           R"({"evnt_time": 1612101948000})",
           R"({"nested": {"a": [1, 2]}, "store_id": "s"})",  // contents unchecked here
           R"({"x": 01, "store_id": "s"})",                  // a malformed unmapped number
           R"({"x": tru, "store_id": "s"})",
           R"({"x": nul, "store_id": "s"})",
           R"({"x": "bad \q escape", "store_id": "s"})",
           R"({"store_id": "s", "store_id": 01})",  // a malformed repeated key
           R"({"sales": 1.5e})",
           R"([1, 2])",
           R"("text")",
       }) {
    EXPECT_FALSE(ondemand(s, text, values, hints)) << text;
  }
}

// Integer columns take JSON integers in their type's range; anything else (a fraction, an
// exponent, a string, a value out of range) is the general path's to convert or report.
TEST(FlatOnDemand, IntegerColumnsTakeIntegersInTheirRange) {
  const auto s = schema(R"js([{"Name": "t", "Mapping": "$.t", "SqlType": "TINYINT"},
      {"Name": "m", "Mapping": "$.m", "SqlType": "SMALLINT"},
      {"Name": "i", "Mapping": "$.i", "SqlType": "INTEGER"},
      {"Name": "b", "Mapping": "$.b", "SqlType": "BIGINT"}])js");
  ASSERT_TRUE(s.ondemand);
  std::vector<Value> values;
  std::vector<int> hints;
  for (const std::string text : {
           R"({"t": 127, "m": -32768, "i": 2147483647, "b": -9223372036854775808})",
           R"({"t": -128, "m": 32767, "i": -2147483648, "b": 9223372036854775807})",
           R"({"t": 0, "m": -0, "i": null, "qty": 5})",
       }) {
    ASSERT_TRUE(ondemand(s, text, values, hints)) << text;
    expect_agrees(s, text, values, hints);
  }
  ASSERT_TRUE(ondemand(s, R"({"i": 53})", values, hints));
  EXPECT_EQ(values[2], Value::integer(53));
  for (const std::string text : {
           R"({"t": 128})",
           R"({"m": -32769})",
           R"({"i": 2147483648})",
           R"({"b": 9223372036854775808})",
           R"({"i": 3.0})",
           R"({"i": 1e2})",
           R"({"i": "7"})",
           R"({"i": true})",
       }) {
    EXPECT_FALSE(ondemand(s, text, values, hints)) << text;
  }
}

TEST(FlatOnDemand, AStrictTimestampColumnDeclinesSpaces) {
  const auto s = seed_schema();
  std::vector<Value> values;
  std::vector<int> hints;
  const std::string spaced = R"({"evnt_time": " 2021-01-31 14:05:48"})";
  EXPECT_TRUE(ondemand(s, spaced, values, hints));  // a column trims, as the general path does
  expect_agrees(s, spaced, values, hints);
  EXPECT_FALSE(ondemand(s, spaced, values, hints, 2));  // an arrival time does not
  EXPECT_EQ(ondemand_timestamp_column(s, "evnt_time"), 2);
  EXPECT_EQ(ondemand_timestamp_column(s, "store_id"), -1);  // not a TIMESTAMP
  EXPECT_EQ(ondemand_timestamp_column(s, "absent"), -1);
}

TEST(FlatOnDemand, OnlySchemasOfFastColumnsWithPlainShortNames) {
  EXPECT_FALSE(schema(R"js([{"Name": "n", "Mapping": "$.n", "SqlType": "BOOLEAN"}])js").ondemand);
  EXPECT_FALSE(schema(R"js([{"Name": "n", "Mapping": "$.n", "SqlType": "DECIMAL(8,2)"}])js").ondemand);
  EXPECT_FALSE(schema(R"js([{"Name": "a", "Mapping": "$.x", "SqlType": "VARCHAR(4)"},
      {"Name": "b", "Mapping": "$.x", "SqlType": "VARCHAR(2)"}])js")
                   .ondemand);
  EXPECT_FALSE(schema(R"js([{"Name": "q", "Mapping": "$.a\\b", "SqlType": "VARCHAR(4)"}])js").ondemand);
  EXPECT_FALSE(
      schema(R"js([{"Name": "q", "Mapping": "$.)js" + std::string(40, 'k') + R"js(", "SqlType": "REAL"}])js").ondemand);
  EXPECT_FALSE(schema(R"js([{"Name": "q", "Mapping": "$.a.b", "SqlType": "REAL"}])js").ondemand);
}

// Records assembled from pieces, many of them malformed: every record the path takes is one the
// general path takes, with the same row (hints carried over as an application carries them).
TEST(FlatOnDemand, RandomRecordsAgreeWithTheGeneralPath) {
  const auto s = seed_schema();
  const std::vector<std::string> keys = {"store_id", "category",       "evnt_time", "sales", "d",
                                         "other",    "store\\u005fid", "sales ",    "",      "STORE_ID"};
  const std::vector<std::string> vals = {"\"store_1\"",
                                         "\"Electronics\"",
                                         "\"2021-01-31T14:05:47.190114\"",
                                         "\"2021-01-31 14:05:47\"",
                                         "22.78",
                                         "-0",
                                         "0",
                                         "1e3",
                                         "-1.5E-3",
                                         "12345678901234567890",
                                         "1e999",
                                         "01",
                                         "-",
                                         "true",
                                         "false",
                                         "null",
                                         "nul",
                                         "tru",
                                         "\"\\u00e9t\\u00e9\"",
                                         "\"a\\\"b\"",
                                         "\"\\x\"",
                                         "{}",
                                         "[1,{\"a\":2}]",
                                         "{\"a\":01}",
                                         "\"a-very-long-value\"",
                                         "\" 2021-01-31 14:05:47 \"",
                                         "\"\"",
                                         "0.42508639012344567890",
                                         "-98765432109876543210.5e-3",
                                         "123456789012345678901234"};
  std::mt19937 rng(7);
  std::vector<Value> values;
  std::vector<int> hints;
  int taken = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string text = "{";
    const int fields = static_cast<int>(rng() % 7);
    for (int f = 0; f < fields; ++f) {
      if (f) text += rng() % 10 ? "," : " , ";
      text += "\"" + keys[rng() % keys.size()] + "\":" + vals[rng() % vals.size()];
    }
    text += "}";
    expect_agrees(s, text, values, hints, &taken);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(taken, 500);  // the pieces give the path enough records to take
}

}  // namespace
}  // namespace eddy::runtime
