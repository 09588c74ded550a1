// Keyed pumps run as N partitions (sql::compile_application's parallelism, keyed_pump.h): every output
// stream and error_stream must hold the same rows in the same order as with one pump, for N = 2,
// 3 and 4, whatever the batching — tumbling GROUP BY, sliding OVER PARTITION BY, a pump reading
// another pump's output, Flink windows on event time over several shards with late rows.
#include <gtest/gtest.h>

#include <algorithm>
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
    "RecordColumns": [{"Name": "TICKER", "Mapping": "$.TICKER", "SqlType": "VARCHAR(8)"},
                      {"Name": "PRICE", "Mapping": "$.PRICE", "SqlType": "DOUBLE"},
                      {"Name": "N", "Mapping": "$.N", "SqlType": "INTEGER"},
                      {"Name": "EVENT_TIME", "Mapping": "$.EVENT_TIME", "SqlType": "TIMESTAMP"}]})J";

const std::string kSrc = "\"SOURCE_SQL_STREAM_001\"";

// Three keyed pumps (one with an aggregate that divides by zero now and then, one reading the
// first one's output) and a plain projection writing the same stream as a keyed one.
const std::string kKdaCode =
    "CREATE OR REPLACE STREAM \"MINUTE\" (TICKER VARCHAR(8), MX DOUBLE, Q INTEGER, C BIGINT);\n"
    "CREATE OR REPLACE PUMP \"P1\" AS INSERT INTO \"MINUTE\" SELECT STREAM TICKER, MAX(PRICE), SUM(60 / N), COUNT(*)\n"
    "FROM " +
    kSrc + " WHERE PRICE > 3 GROUP BY TICKER, STEP(" + kSrc +
    ".ROWTIME BY INTERVAL '20' SECOND);\n"
    "CREATE OR REPLACE STREAM \"SLIDE\" (TICKER VARCHAR(8), MX DOUBLE, A DOUBLE, C BIGINT);\n"
    "CREATE OR REPLACE PUMP \"P2\" AS INSERT INTO \"SLIDE\" SELECT STREAM TICKER, MAX(PRICE) OVER W, AVG(PRICE) OVER "
    "W,\n"
    "COUNT(*) OVER W FROM " +
    kSrc +
    " WINDOW W AS (PARTITION BY TICKER RANGE INTERVAL '30' SECOND PRECEDING);\n"
    "CREATE OR REPLACE STREAM \"LATER\" (TICKER VARCHAR(8), S BIGINT);\n"
    "CREATE OR REPLACE PUMP \"P3\" AS INSERT INTO \"LATER\" SELECT STREAM TICKER, SUM(C) FROM \"MINUTE\"\n"
    "GROUP BY TICKER, STEP(\"MINUTE\".ROWTIME BY INTERVAL '1' MINUTE);\n"
    "CREATE OR REPLACE PUMP \"P4\" AS INSERT INTO \"SLIDE\" SELECT STREAM TICKER, PRICE, PRICE, N FROM " +
    kSrc + " WHERE N = 6;\n";

const std::string kFlinkCode =
    "CREATE TABLE trades (EVENT_TIME TIMESTAMP(3), TICKER STRING, PRICE DOUBLE, N INT,\n"
    "  WATERMARK FOR EVENT_TIME AS EVENT_TIME - INTERVAL '2' SECOND) WITH ('connector' = 'kinesis', 'stream' = 'in');\n"
    "CREATE TABLE hop (ticker STRING, we TIMESTAMP(3), mx DOUBLE, c BIGINT) WITH ('connector' = 'kinesis', 'stream' = "
    "'o');\n"
    "CREATE TABLE cum (ticker STRING, we TIMESTAMP(3), s BIGINT) WITH ('connector' = 'kinesis', 'stream' = 'p');\n"
    "INSERT INTO hop SELECT TICKER, window_end, MAX(PRICE), COUNT(*) FROM TABLE(HOP(TABLE trades, "
    "DESCRIPTOR(EVENT_TIME),\n"
    "INTERVAL '10' SECOND, INTERVAL '90' SECOND)) GROUP BY TICKER, window_start, window_end;\n"
    "INSERT INTO cum SELECT TICKER, window_end, SUM(N) FROM TABLE(CUMULATE(TABLE trades, DESCRIPTOR(EVENT_TIME),\n"
    "INTERVAL '5' SECOND, INTERVAL '30' SECOND)) GROUP BY TICKER, window_start, window_end;\n";

// Deterministic trades: 23 tickers, event times up to 6 s out of order (some late for a 2 s
// watermark delay), arrival one record per 200 ms, three shards.
std::vector<std::string> records() {
  std::vector<std::string> out;
  uint64_t x = 7;
  for (int i = 0; i < 2400; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const int64_t event_ms = 600'000 + i * 200 - static_cast<int64_t>((x >> 33) % 6000);  // from 10:09:54
    const int64_t s = event_ms / 1000;
    char json[200];
    std::snprintf(json, sizeof json,
                  R"({"TICKER":"T%02d","PRICE":%d.%02d,"N":%d,"EVENT_TIME":"2021-01-31 10:%02lld:%02lld.%03lld"})",
                  static_cast<int>((x >> 40) % 23), static_cast<int>((x >> 20) % 100),
                  static_cast<int>((x >> 10) % 100), static_cast<int>((x >> 50) % 7),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60),
                  static_cast<long long>(event_ms % 1000));
    out.push_back(json);
  }
  return out;
}

// How records reach the application.
enum class Feed { kOneByOne, kBatches, kThreadsTakingTurns };

// Every row of every stream the code writes, as "<stream> <rowtime> <json>", stream by stream in
// the order written; error_stream's rows pump by pump (a keyed pump's partitions report at the end
// of a batch, so its error rows come after those other pumps reported during the batch).
std::vector<std::string> run(const std::string& code, bool flink, size_t parallelism, Feed feed, size_t batch = 1) {
  ManualClock clock{1'612'087'200'000};
  std::vector<ApplicationInput> inputs;
  if (!flink) {
    ApplicationInput in;
    in.schema = *parse_input_schema(kSchema);
    inputs.push_back(std::move(in));
  }
  auto app = sql::compile_application(code, std::move(inputs), clock, parallelism);
  EXPECT_TRUE(app.has_value()) << (app ? "" : app.error().message);
  if (!app) return {};
  std::vector<std::string> out;
  for (const auto& name : (*app)->stream_names()) {
    const StreamDef def = *(*app)->stream(name);
    if (def.is_input) continue;
    (void)(*app)->subscribe(name, [&out, def, name](const Row& r) {
      Row copy = r;
      if (name == kErrorStream) copy.values[0] = Value::integer(0);  // ERROR_TIME is the wall clock
      out.push_back(name + " " + std::to_string(r.rowtime) + " " + row_json(def, copy));
    });
  }
  if (flink) (*app)->set_source_shards(0, {0, 1, 2});
  const auto recs = records();
  WorkerPool pool(2);
  std::vector<SourceRecord> pending;
  // kThreadsTakingTurns: the pending records in batches of `batch`, each parsed by one of the
  // pool's threads and run through the pumps in its turn.
  auto push = [&] {
    if (feed == Feed::kBatches) {
      (*app)->push_records(0, pending, pool);
    } else if (!pending.empty()) {
      size_t next = 0;
      std::vector<size_t> from(pool.size());
      BatchSource source;
      source.claim = [&](size_t k) {
        from[k] = next;
        next = std::min(pending.size(), next + batch);
        return from[k] < pending.size();
      };
      source.fill = [&](size_t k, std::vector<SourceRecord>& out) {
        out.assign(pending.begin() + static_cast<std::ptrdiff_t>(from[k]),
                   pending.begin() + static_cast<std::ptrdiff_t>(std::min(pending.size(), from[k] + batch)));
      };
      source.done = [](size_t, const std::vector<SourceRecord>&, size_t) { return true; };
      (*app)->push_batches(0, pool, source);
    }
    pending.clear();
  };
  for (size_t i = 0; i < recs.size(); ++i) {
    const auto arrival = static_cast<TimestampMs>(1'612'087'200'000 + i * 200);
    clock.set(arrival);
    if (feed == Feed::kOneByOne) {
      (*app)->push_record(0, recs[i], arrival, static_cast<int64_t>(i), i % 3);
    } else {
      pending.push_back({recs[i], arrival, static_cast<int64_t>(i), i % 3});
      if (pending.size() == (feed == Feed::kBatches ? batch : 4 * batch)) push();
    }
    if (i % 500 == 499) {  // a quiet spell: ROWTIME windows close
      push();
      (*app)->advance_time(arrival + 20'000);
    }
  }
  push();
  (*app)->flush();
  std::stable_sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    auto group = [](const std::string& r) {
      const auto pump = r.find("\"PUMP_NAME\"");
      return r.substr(0, r.find(' ')) + (pump == std::string::npos ? "" : r.substr(pump));
    };
    return group(a) < group(b);
  });
  return out;
}

void expect_same_for_any_parallelism(const std::string& code, bool flink) {
  const auto one = run(code, flink, 1, Feed::kOneByOne);
  ASSERT_GT(one.size(), 500u);
  const std::pair<Feed, size_t> feeds[] = {
      {Feed::kOneByOne, 1}, {Feed::kBatches, 97}, {Feed::kBatches, 1000}, {Feed::kThreadsTakingTurns, 61}};
  for (size_t parallelism : {size_t{2}, size_t{3}, size_t{4}}) {
    for (const auto& [feed, batch] : feeds) {
      const auto got = run(code, flink, parallelism, feed, batch);
      const std::string how = "parallelism " + std::to_string(parallelism) + ", feed " +
                              std::to_string(static_cast<int>(feed)) + ", batches of " + std::to_string(batch);
      ASSERT_EQ(got.size(), one.size()) << how;
      for (size_t i = 0; i < one.size(); ++i) ASSERT_EQ(got[i], one[i]) << "row " << i << " at " << how;
    }
  }
}

TEST(KeyedPartitions, KdaPumpsEmitWhatOnePumpEmits) {
  const auto rows = run(kKdaCode, false, 1, Feed::kOneByOne);
  size_t errors = 0, later = 0;
  for (const auto& r : rows) {
    errors += r.starts_with("error_stream ");
    later += r.starts_with("LATER ");
  }
  EXPECT_GT(errors, 10u) << "the test needs rows that fail in a partition (60 / N with N = 0)";
  EXPECT_GT(later, 20u) << "the test needs a keyed pump fed by a keyed pump";
  expect_same_for_any_parallelism(kKdaCode, false);
}

TEST(KeyedPartitions, FlinkWindowsOnEventTimeEmitWhatOnePumpEmits) {
  const auto rows = run(kFlinkCode, true, 1, Feed::kOneByOne);
  size_t late = 0;
  for (const auto& r : rows) late += r.find("Late_Row") != std::string::npos;
  EXPECT_GT(late, 10u) << "the test needs late rows, decided by the merged watermark";
  expect_same_for_any_parallelism(kFlinkCode, true);
}

}  // namespace
}  // namespace eddy::runtime
