// run_file_source: lines of a file into input 0 with their line numbers and arrival times, the
// same on one thread or several, stopping at the first record without an arrival time.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/file_source.h"
#include "runtime/row_format.h"
#include "sql/compile.h"

namespace eddy::runtime {
namespace {

const char* kJsonSchema = R"J({"RecordFormat": {"RecordFormatType": "JSON",
    "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
    "RecordColumns": [{"Name": "K", "Mapping": "$.k", "SqlType": "VARCHAR(8)"},
                      {"Name": "V", "Mapping": "$.v", "SqlType": "INTEGER"}]})J";

const char* kCsvSchema = R"J({"RecordFormat": {"RecordFormatType": "CSV",
    "MappingParameters": {"CSVMappingParameters": {"RecordRowDelimiter": "\n", "RecordColumnDelimiter": ","}}},
    "RecordColumns": [{"Name": "K", "SqlType": "VARCHAR(8)"}, {"Name": "V", "SqlType": "INTEGER"},
                      {"Name": "T", "SqlType": "VARCHAR(32)"}]})J";

const char* kCode =
    "CREATE OR REPLACE STREAM \"D\" (k VARCHAR(8), v INTEGER);\n"
    "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"D\" SELECT STREAM k, v FROM \"SOURCE_SQL_STREAM_001\";\n";

// A file holding `text`, open for reading; removed when closed.
int file_with(const std::string& text) {
  char path[] = "/tmp/eddy_file_source_XXXXXX";
  const int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  ::unlink(path);
  EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::lseek(fd, 0, SEEK_SET);
  return fd;
}

struct Run {
  Result<FileSourceEnd> end = FileSourceEnd{};
  std::vector<std::string> rows;  // "line rowtime json"
};

Run run(const char* schema, const std::string& text, const std::string& arrival_field, int parallelism,
        const char* code = kCode) {
  ApplicationInput in;
  in.schema = *parse_input_schema(schema);
  ManualClock clock{0};
  auto app = sql::compile_application(code, {in}, clock);
  EXPECT_TRUE(app.has_value()) << (app ? "" : app.error().message);
  Run r;
  for (const char* name : {"D", kErrorStream}) {
    const StreamDef def = *(*app)->stream(name);
    (void)(*app)->subscribe(name, [&r, def, name](const Row& row) {
      Row copy = row;
      if (std::string(name) == kErrorStream) copy.values[0] = Value::integer(0);  // ERROR_TIME
      r.rows.push_back(std::to_string(row.origin) + " " + std::to_string(row.rowtime) + " " + row_json(def, copy));
    });
  }
  const int fd = file_with(text);
  FileSourceOptions o;
  o.arrival_field = arrival_field;
  o.parallelism = parallelism;
  r.end = run_file_source(fd, **app, o);
  ::close(fd);
  (*app)->flush();
  return r;
}

std::string json_lines(int n) {
  std::string text;
  for (int i = 1; i <= n; ++i) {
    if (i % 50 == 7) text += "\n";  // an empty line still counts as a line
    if (i % 61 == 3) text += "{not json\n";
    text += R"({"k": "k)" + std::to_string(i % 5) + R"(", "v": )" + std::to_string(i) + R"(, "t": )" +
            std::to_string(1000 + i) + "}\n";
  }
  return text;
}

TEST(FileSource, JsonLinesWithTheirLineNumbersAndArrivalTimesOnAnyThreads) {
  const auto one = run(kJsonSchema, json_lines(3000), "t", 1);
  ASSERT_TRUE(one.end.has_value());
  EXPECT_EQ(one.end->missing_arrival, 0);
  EXPECT_EQ(one.end->records, 3000u + 3000 / 61 + 1);
  ASSERT_FALSE(one.rows.empty());
  EXPECT_EQ(one.rows.front(), R"(1 1001 {"K":"k1","V":1})");
  for (int threads : {2, 4}) {
    const auto many = run(kJsonSchema, json_lines(3000), "t", threads);
    ASSERT_TRUE(many.end.has_value());
    EXPECT_EQ(many.end->records, one.end->records);
    EXPECT_EQ(many.rows, one.rows) << threads << " threads";
  }
}

TEST(FileSource, StopsAtTheFirstRecordWithoutAnArrivalTime) {
  std::string text = json_lines(10) + R"({"k": "x", "v": 1})" + "\n" + json_lines(10);
  const int line = 10 + 2 + 1;  // json_lines(10) has an empty line (i = 7) and one not JSON (i = 3)
  for (int threads : {1, 2}) {
    const auto r = run(kJsonSchema, text, "t", threads);
    ASSERT_TRUE(r.end.has_value());
    EXPECT_EQ(r.end->missing_arrival, line) << threads << " threads";
  }
  const auto csv = run(kCsvSchema, "a,1,2024-01-01 00:00:01.000\nb,2,\nc,3,5\n", "3", 1);
  ASSERT_TRUE(csv.end.has_value());
  EXPECT_EQ(csv.end->missing_arrival, 2);
  EXPECT_EQ(csv.end->records, 1u);
}

TEST(FileSource, CsvColumnsAsArrivalTimes) {
  const auto r = run(kCsvSchema, "a,1,2024-01-01 00:00:01.000\n\nb,2,1704067202500\n", "3", 2);
  ASSERT_TRUE(r.end.has_value());
  EXPECT_EQ(r.end->records, 2u);
  EXPECT_EQ(r.rows,
            (std::vector<std::string>{R"(1 1704067201000 {"K":"a","V":1})", R"(3 1704067202500 {"K":"b","V":2})"}));
}

// Records of a schema read on-demand (flat_ondemand.h) give exactly the rows, ROWTIMEs, line
// numbers and error rows of the general path, which the same schema with one more column (an
// BOOLEAN, which the on-demand path does not take) must use: for records the path takes and for
// every kind it declines.
TEST(FileSource, OnDemandRecordsEqualTheGeneralPath) {
  const char* fast = R"J({"RecordFormat": {"RecordFormatType": "JSON",
      "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
      "RecordColumns": [{"Name": "K", "Mapping": "$.k", "SqlType": "VARCHAR(8)"},
                        {"Name": "V", "Mapping": "$.v", "SqlType": "REAL"},
                        {"Name": "T", "Mapping": "$.t", "SqlType": "TIMESTAMP"}]})J";
  const char* general = R"J({"RecordFormat": {"RecordFormatType": "JSON",
      "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
      "RecordColumns": [{"Name": "K", "Mapping": "$.k", "SqlType": "VARCHAR(8)"},
                        {"Name": "V", "Mapping": "$.v", "SqlType": "REAL"},
                        {"Name": "T", "Mapping": "$.t", "SqlType": "TIMESTAMP"},
                        {"Name": "X", "Mapping": "$.absent", "SqlType": "BOOLEAN"}]})J";
  ASSERT_TRUE(parse_input_schema(fast)->ondemand);
  ASSERT_FALSE(parse_input_schema(general)->ondemand);
  const char* code =
      "CREATE OR REPLACE STREAM \"D\" (k VARCHAR(8), v REAL, t TIMESTAMP);\n"
      "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"D\" SELECT STREAM k, v, t FROM \"SOURCE_SQL_STREAM_001\";\n";
  const std::vector<std::string> odd = {
      R"({"k\u0031": "escaped key", "t": "2024-01-01 00:00:05"})", R"({"k": "a", "v": 01, "t": "2024-01-01 00:00:05"})",
      R"({"k": "a", "t": "2024-01-01 00:00:05"} {"k": "b", "t": "2024-01-01 00:00:05"})",
      R"({"k": "toolongvalue", "v": "2.5", "t": "2024-01-01 00:00:05"})",
      R"({"k": 12, "v": true, "t": "2024-01-01T00:00:05.123456Z"})",
      R"({"k": "n", "v": 123456789012345678901234567890, "t": "2024-01-01 00:00:05"})",
      R"({"k": "o", "nested": {"a": [1, {"b": 01}]}, "t": "2024-01-01 00:00:05"})",
      R"({"k": "p", "t": "2024-01-01 00:00:05", "t": "not a time"})",
      R"({"k": "q", "v": null, "t": "2024-01-01 00:00:05.5"})", R"({"k": "r", "v": 1.5e, "t": "2024-01-01 00:00:05"})",
      "{\"k\": \"bad utf-8 \xff\", \"t\": \"2024-01-01 00:00:05\"}",
      // hostile: 100,000 levels deep in an unmapped and in a mapped field, a 40 KB value
      R"({"k": "d", "x": )" + std::string(100000, '[') + std::string(100000, ']') + R"(, "t": "2024-01-01 00:00:05"})",
      R"({"k": )" + std::string(100000, '[') + std::string(100000, ']') + R"(, "t": "2024-01-01 00:00:05"})",
      R"({"k": ")" + std::string(40000, 'x') + R"(", "t": "2024-01-01 00:00:05"})",
      R"(["not", "an", "object"])",  // last: with an arrival field, the input stops here
  };
  std::string text;
  for (int i = 0; i < 2000; ++i) {
    const int s = 1 + i / 100;
    text += R"({"k": "k)" + std::to_string(i % 7) + R"(", "v": )" + std::to_string(i) +
            ".25, \"t\": \"2024-01-01 00:00:" + (s < 10 ? "0" : "") + std::to_string(s) + "\"}\n";
    if (i % 97 == 5) text += odd[static_cast<size_t>(i / 97) % odd.size()] + "\n";
    if (i % 333 == 1) text += "\n";
  }
  for (const std::string arrival : {"", "t"}) {
    for (int threads : {1, 2}) {
      const auto expected = run(general, text, arrival, threads, code);
      const auto got = run(fast, text, arrival, threads, code);
      ASSERT_TRUE(expected.end.has_value() && got.end.has_value());
      EXPECT_EQ(got.end->records, expected.end->records);
      EXPECT_EQ(got.end->missing_arrival, expected.end->missing_arrival);
      ASSERT_GT(got.rows.size(), arrival.empty() ? 2000u : 1000u);
      if (arrival.empty()) continue;  // rows stamped with the wall clock: compared only for counts
      EXPECT_EQ(got.rows, expected.rows) << "arrival field '" << arrival << "', " << threads << " threads";
    }
  }
}

}  // namespace
}  // namespace eddy::runtime
