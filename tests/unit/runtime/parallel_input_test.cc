// Application::push_records parses and maps a batch on several threads: the rows, ROWTIMEs and
// error rows must be exactly those of push_record one record at a time, for any thread count.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "runtime/application.h"
#include "runtime/row_format.h"
#include "sql/compile.h"

namespace eddy::runtime {
namespace {

const char* kSchema = R"J({"RecordFormat": {"RecordFormatType": "JSON",
    "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
    "RecordColumns": [{"Name": "STORE_ID", "Mapping": "$.store_id", "SqlType": "VARCHAR(8)"},
                      {"Name": "SALES", "Mapping": "$.sales", "SqlType": "REAL"}]})J";

const char* kCode =
    "CREATE OR REPLACE STREAM \"T\" (store_id VARCHAR(8), revenue REAL, n BIGINT);\n"
    "CREATE OR REPLACE PUMP \"P1\" AS INSERT INTO \"T\" SELECT STREAM store_id, SUM(sales), COUNT(*)\n"
    "FROM \"SOURCE_SQL_STREAM_001\" GROUP BY store_id, STEP(\"SOURCE_SQL_STREAM_001\".ROWTIME BY INTERVAL '10' "
    "SECOND);\n"
    "CREATE OR REPLACE STREAM \"S\" (store_id VARCHAR(8), mx REAL);\n"
    "CREATE OR REPLACE PUMP \"P2\" AS INSERT INTO \"S\" SELECT STREAM store_id, MAX(sales) OVER W FROM "
    "\"SOURCE_SQL_STREAM_001\"\n"
    "WINDOW W AS (PARTITION BY store_id RANGE INTERVAL '5' SECOND PRECEDING);\n";

std::vector<std::string> records() {
  std::vector<std::string> out;
  for (int i = 0; i < 3000; ++i) {
    char buf[128];
    if (i % 97 == 5)
      std::snprintf(buf, sizeof buf, "{\"store_id\": \"s%d\", ", i % 7);  // not JSON
    else if (i % 89 == 3)
      std::snprintf(buf, sizeof buf, R"({"store_id": "s%d", "sales": "x"})", i % 7);  // coercion
    else if (i % 83 == 1)
      std::snprintf(buf, sizeof buf, "[1, 2]");  // not an object
    else if (i % 79 == 2)
      std::snprintf(buf, sizeof buf, R"({"sales": %d.5, "store_id": "s%d"})", i % 50, i % 7);  // other order
    else
      std::snprintf(buf, sizeof buf, R"({"store_id": "s%d", "sales": %d.25})", i % 7, i % 100);
    out.push_back(buf);
  }
  return out;
}

std::vector<std::string> run(size_t threads) {
  ManualClock clock{0};
  ApplicationInput in;
  in.schema = *parse_input_schema(kSchema);
  in.parallelism = 2;  // two lanes: records of shard s feed SOURCE_SQL_STREAM_00(s mod 2 + 1)
  auto app = sql::compile_application(kCode, {in}, clock);
  EXPECT_TRUE(app.has_value()) << (app ? "" : app.error().message);
  std::vector<std::string> out;
  for (const char* name : {"T", "S", kErrorStream}) {
    const StreamDef def = *(*app)->stream(name);
    (void)(*app)->subscribe(name, [&out, def, name](const Row& r) {
      Row copy = r;
      if (std::string(name) == kErrorStream) copy.values[0] = Value::integer(0);  // ERROR_TIME
      out.push_back(std::string(name) + " " + std::to_string(r.rowtime) + " " + row_json(def, copy));
    });
  }
  const auto recs = records();
  if (threads == 0) {  // the reference: one by one
    for (size_t i = 0; i < recs.size(); ++i)
      (*app)->push_record(0, recs[i], static_cast<TimestampMs>(i * 37), static_cast<int64_t>(i), i % 3);
  } else {
    WorkerPool pool(threads);
    std::vector<SourceRecord> batch;
    for (size_t i = 0; i < recs.size(); ++i) {
      batch.push_back({recs[i], static_cast<TimestampMs>(i * 37), static_cast<int64_t>(i), i % 3});
      if (batch.size() == 700 || i + 1 == recs.size()) {  // batches of uneven size
        (*app)->push_records(0, batch, pool);
        batch.clear();
      }
    }
  }
  (*app)->flush();
  return out;
}

TEST(ParallelInput, BatchesOnAnyNumberOfThreadsEqualOneByOne) {
  const auto reference = run(0);
  ASSERT_GT(reference.size(), 1500u);  // the pumps read lane 0 (SOURCE_SQL_STREAM_001) only
  for (size_t threads : {1, 2, 4}) EXPECT_EQ(run(threads), reference) << threads << " thread(s)";
}

TEST(ParallelInput, WorkerPoolRunsEveryPartOnce) {
  WorkerPool pool(3);
  for (size_t parts : {1, 2, 3}) {
    std::vector<int> hits(parts, 0);
    for (int round = 0; round < 200; ++round) pool.run(parts, [&](size_t p) { ++hits[p]; });
    for (size_t p = 0; p < parts; ++p) EXPECT_EQ(hits[p], 200) << parts << " parts, part " << p;
  }
}

TEST(ParallelInput, ARecordItsReaderRejectedIsAnErrorRowWithTheReason) {
  for (size_t threads : {1, 2}) {
    ManualClock clock{0};
    ApplicationInput in;
    in.schema = *parse_input_schema(kSchema);
    auto app = sql::compile_application(kCode, {in}, clock);
    ASSERT_TRUE(app.has_value());
    std::vector<std::string> errors;
    const StreamDef def = *(*app)->stream(kErrorStream);
    (void)(*app)->subscribe(kErrorStream, [&](const Row& r) { errors.push_back(row_json(def, r)); });
    std::vector<std::string> rows;
    (void)(*app)->subscribe("S", [&](const Row& r) { rows.push_back(row_json(*(*app)->stream("S"), r)); });
    WorkerPool pool(threads);
    const std::string good = R"({"store_id": "s1", "sales": 2.5})";
    const std::string corrupt = "\xF3\x89\x9A\xC2 not a protobuf";
    std::vector<SourceRecord> batch = {{good, 1000, 0, 0, {}},
                                       {corrupt, 2000, 1, 0, "KPL aggregated record cannot be unpacked: bad digest"},
                                       {good, 3000, 2, 0, {}}};
    (*app)->push_records(0, batch, pool);
    (*app)->flush();
    EXPECT_EQ(rows.size(), 2u) << threads;  // the records on either side go on
    ASSERT_EQ(errors.size(), 1u) << threads;
    EXPECT_NE(errors[0].find("Record_Parse_Error"), std::string::npos) << errors[0];
    EXPECT_NE(errors[0].find("KPL aggregated record cannot be unpacked: bad digest"), std::string::npos) << errors[0];
  }
}

}  // namespace
}  // namespace eddy::runtime
