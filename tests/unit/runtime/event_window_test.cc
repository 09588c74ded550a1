// Flink event-time windows across source shards: the watermark is the minimum over the shards,
// a shard idle for longer than 'scan.watermark.idle-timeout' (processing time, a manual clock
// here) stops holding it back, and 'eddy.late-rows' = 'drop' keeps late rows out of error_stream.
// Each at parallelism 1 and 2 (the pump in key groups, the watermark kept for them).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/application.h"
#include "runtime/input_schema.h"
#include "runtime/row_format.h"
#include "sql/compile.h"

namespace eddy::runtime {
namespace {

std::string code(const std::string& options) {
  return "CREATE TABLE t (ts TIMESTAMP(3), k STRING, WATERMARK FOR ts AS ts) WITH ('connector' = 'kinesis', 'stream' = "
         "'t'" +
         options +
         ");\n"
         "CREATE TABLE o (ws TIMESTAMP(3), n BIGINT) WITH ('connector' = 'kinesis', 'stream' = 'o');\n"
         "INSERT INTO o SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' "
         "SECOND))\n"
         "GROUP BY window_start, window_end, k;\n";
}

struct Pipeline {
  ManualClock clock{1'000'000};
  std::unique_ptr<Application> app;
  std::vector<std::string> rows, errors;
  int64_t origin = 0;

  // `parallelism` 2: the window pump runs in key groups (keyed_pump.h), the watermark kept for them.
  Pipeline(const std::string& options, size_t parallelism) {
    auto a = sql::compile_application(code(options), {}, clock, parallelism);
    EXPECT_TRUE(a.has_value()) << (a ? "" : a.error().message);
    app = std::move(*a);
    const StreamDef out = *app->stream("o");
    const StreamDef err = *app->stream(kErrorStream);
    (void)app->subscribe("o", [this, out](const Row& r) { rows.push_back(row_json(out, r)); });
    (void)app->subscribe(kErrorStream, [this](const Row& r) { errors.push_back(r.values[2].s); });
  }
  // A record of event time 09:30:<sec> from `shard`.
  void put(size_t shard, int sec) {
    char json[96];
    std::snprintf(json, sizeof json, R"({"ts": "2021-01-31 09:30:%02d.000", "k": "a"})", sec);
    app->push_record(0, json, clock.now_ms(), ++origin, shard);
  }
};

const char* kFirst = R"({"ws":"2021-01-31 09:30:00.000","n":2})";
const char* kSecond = R"({"ws":"2021-01-31 09:30:10.000","n":2})";

class EventWindows : public ::testing::TestWithParam<size_t> {};
INSTANTIATE_TEST_SUITE_P(Parallelism, EventWindows, ::testing::Values(1, 2));

TEST_P(EventWindows, TheSlowestShardHoldsTheWatermark) {
  Pipeline r("", GetParam());
  r.app->set_source_shards(0, {0, 1});  // as the host does: shard 1 holds the watermark before its first row
  r.put(0, 1);
  r.put(0, 12);
  r.put(1, 2);
  EXPECT_TRUE(r.rows.empty()) << "shard 1 is at 09:30:02: nothing may fire yet";
  r.put(1, 11);
  EXPECT_EQ(r.rows, std::vector<std::string>{kFirst});
  r.clock.advance(60'000);  // no idle timeout: a quiet shard holds the watermark for ever
  r.put(0, 25);
  r.app->advance_time(r.clock.now_ms());
  EXPECT_EQ(r.rows, std::vector<std::string>{kFirst});
  r.app->flush();
  EXPECT_EQ(r.rows.size(), 3u);
  EXPECT_TRUE(r.errors.empty());
}

TEST_P(EventWindows, TheApplicationsWatermarkIsWhatItsWindowsWaitFor) {
  Pipeline r("", GetParam());
  r.app->set_source_shards(0, {0, 1});
  EXPECT_FALSE(r.app->watermark().has_value());
  r.put(0, 12);
  EXPECT_FALSE(r.app->watermark().has_value()) << "shard 1 has not been seen";
  r.put(1, 4);
  ASSERT_TRUE(r.app->watermark().has_value());
  EXPECT_EQ(*r.app->watermark() % 60'000, 4'000) << "09:30:04, the slowest shard";
  r.app->advance_time(r.clock.now_ms());  // wall-clock progress does not move an event-time watermark
  EXPECT_EQ(*r.app->watermark() % 60'000, 4'000);
}

TEST_P(EventWindows, AROWTIMEApplicationsWatermarkIsTheROWTIMEReached) {
  ManualClock clock{1'000'000};
  ApplicationInput in;
  in.schema = *parse_input_schema(R"({"RecordFormat": {"RecordFormatType": "JSON"},
      "RecordColumns": [{"Name": "N", "Mapping": "$.N", "SqlType": "INTEGER"}]})");
  std::vector<ApplicationInput> inputs;
  inputs.push_back(std::move(in));
  auto a = sql::compile_application(
      "CREATE OR REPLACE STREAM \"OUT\" (N BIGINT);\n"
      "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"OUT\" SELECT STREAM COUNT(*) FROM \"SOURCE_SQL_STREAM_001\"\n"
      "GROUP BY STEP(\"SOURCE_SQL_STREAM_001\".ROWTIME BY INTERVAL '10' SECOND);",
      std::move(inputs), clock, GetParam());
  ASSERT_TRUE(a.has_value()) << a.error().message;
  EXPECT_FALSE((*a)->watermark().has_value());
  (*a)->push_record(0, "{}", 5'000, 1, 0);
  EXPECT_EQ((*a)->watermark(), std::optional<TimestampMs>(5'000));
  (*a)->advance_time(9'000);
  EXPECT_EQ((*a)->watermark(), std::optional<TimestampMs>(9'000));
}

TEST_P(EventWindows, AnIdleShardStopsHoldingTheWatermark) {
  Pipeline r(", 'scan.watermark.idle-timeout' = '5 s'", GetParam());
  r.app->set_source_shards(0, {0, 1});
  r.put(0, 1);
  r.put(1, 2);
  r.put(1, 11);
  r.put(0, 12);
  EXPECT_EQ(r.rows, std::vector<std::string>{kFirst});
  r.clock.advance(3'000);
  r.put(0, 25);  // shard 1 has been quiet for 3 s: still counts
  EXPECT_EQ(r.rows.size(), 1u);
  r.clock.advance(3'000);
  r.app->advance_time(r.clock.now_ms());  // 6 s: idle, the watermark follows shard 0 (09:30:25)
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[1], kSecond);
}

TEST_P(EventWindows, AShardReadToItsEndStopsHoldingTheWatermark) {
  Pipeline r("", GetParam());
  r.app->set_source_shards(0, {0, 1});
  r.put(0, 1);
  r.put(1, 2);
  r.put(0, 12);
  EXPECT_TRUE(r.rows.empty());
  r.app->set_source_shards(0, {0});  // shard 1 closed (a reshard) and drained
  EXPECT_EQ(r.rows, std::vector<std::string>{kFirst});
}

TEST_P(EventWindows, LateRowsAreReportedOrDropped) {
  for (const bool drop : {false, true}) {
    Pipeline r(drop ? ", 'eddy.late-rows' = 'drop'" : "", GetParam());
    r.put(0, 1);
    r.put(0, 15);
    r.put(0, 3);  // window [00, 10) has fired
    r.app->flush();
    EXPECT_EQ(r.rows.size(), 2u);
    EXPECT_EQ(r.errors, drop ? std::vector<std::string>{} : std::vector<std::string>{"Late_Row"});
  }
}

TEST(EventWindowOptions, BadOptionsAreCompileErrors) {
  ManualClock clock{0};
  auto a = sql::compile_application(code(", 'scan.watermark.idle-timeout' = 'soon'"), {}, clock);
  ASSERT_FALSE(a.has_value());
  EXPECT_NE(a.error().message.find("not a duration"), std::string::npos);
  a = sql::compile_application(code(", 'eddy.late-rows' = 'keep'"), {}, clock);
  ASSERT_FALSE(a.has_value());
}

}  // namespace
}  // namespace eddy::runtime
