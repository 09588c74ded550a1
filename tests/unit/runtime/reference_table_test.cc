#include "runtime/reference_table.h"

#include <gtest/gtest.h>

#include <string>

namespace eddy::runtime {
namespace {

InputSchema csv_schema() {
  auto s = parse_input_schema(R"J({"RecordFormat": {"RecordFormatType": "CSV", "MappingParameters":
      {"CSVMappingParameters": {"RecordRowDelimiter": "\n", "RecordColumnDelimiter": ","}}},
      "RecordColumns": [{"Name": "id", "SqlType": "INTEGER"}, {"Name": "name", "SqlType": "VARCHAR(8)"}]})J");
  EXPECT_TRUE(s.has_value());
  return *s;
}

InputSchema json_schema() {
  auto s = parse_input_schema(R"J({"RecordFormat": {"RecordFormatType": "JSON", "MappingParameters":
      {"JSONMappingParameters": {"RecordRowPath": "$.items[0:]"}}},
      "RecordColumns": [{"Name": "id", "Mapping": "$.id", "SqlType": "INTEGER"}]})J");
  EXPECT_TRUE(s.has_value());
  return *s;
}

TEST(ReferenceTable, CsvRowsWithAHeaderAndWindowsLineEndings) {
  auto t = load_reference_table(csv_schema(), "id,name\r\n1,one\r\n\r\n2,two\r\nthree,3\r\n");
  ASSERT_TRUE(t.has_value()) << t.error().message;
  ASSERT_EQ(t->rows.size(), 2u);
  EXPECT_EQ(t->rows[0].values[0].i, 1);
  EXPECT_EQ(t->rows[1].values[1].s, "two");
  EXPECT_EQ(t->skipped, 2u);  // the header and "three,3": INTEGER columns that do not parse
  ASSERT_EQ(t->skip_reasons.size(), 2u);
  EXPECT_NE(t->skip_reasons[0].find("record 1"), std::string::npos) << t->skip_reasons[0];
}

TEST(ReferenceTable, JsonDocumentsConcatenatedOrOnLinesEachWithRowsByRowPath) {
  auto t = load_reference_table(json_schema(), R"({"items": [{"id": 1}, {"id": 2}]}{"items": [{"id": 3}]}
{"items": []})");
  ASSERT_TRUE(t.has_value()) << t.error().message;
  ASSERT_EQ(t->rows.size(), 3u);
  EXPECT_EQ(t->rows[2].values[0].i, 3);
}

TEST(ReferenceTable, AnObjectWhereNothingMapsIsAnErrorAndAnEmptyOneIsAnEmptyTable) {
  auto bad = load_reference_table(csv_schema(), "a,b\nc,d\n");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("no record"), std::string::npos) << bad.error().message;
  auto empty = load_reference_table(csv_schema(), "");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->rows.empty());
}

TEST(ReferenceTable, MalformedJsonKeepsWhatCameBeforeIt) {
  auto t = load_reference_table(json_schema(), R"({"items": [{"id": 1}]} {"items": [{"id": )");
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->rows.size(), 1u);
  EXPECT_EQ(t->skipped, 1u);
}

TEST(ReferenceTable, DeepJsonIsRefusedNotACrash) {
  std::string deep = "{\"items\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  auto t = load_reference_table(json_schema(), deep);
  EXPECT_FALSE(t.has_value());
}

}  // namespace
}  // namespace eddy::runtime
