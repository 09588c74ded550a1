// Checkpointed operator state: an application that saves its state after any record, and a new
// application of the same code that loads it and reads the remaining records, together emit exactly
// what one uninterrupted application emits — for every kind of pump.
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
    "RecordColumns": [{"Name": "TICKER", "Mapping": "$.TICKER", "SqlType": "VARCHAR(4)"},
                      {"Name": "PRICE", "Mapping": "$.PRICE", "SqlType": "REAL"},
                      {"Name": "N", "Mapping": "$.N", "SqlType": "INTEGER"},
                      {"Name": "EVENT_TIME", "Mapping": "$.EVENT_TIME", "SqlType": "TIMESTAMP"}]})J";

const char* kFlinkSource =
    "CREATE TABLE trades (EVENT_TIME TIMESTAMP(3), TICKER STRING, PRICE DOUBLE, N INT,\n"
    "  WATERMARK FOR EVENT_TIME AS EVENT_TIME - INTERVAL '2' SECOND) WITH ('connector' = 'kinesis', 'stream' = "
    "'in');\n";

struct Case {
  const char* name;
  bool flink;
  std::string code;
  std::string output;
};

std::vector<Case> cases() {
  const std::string src = "\"SOURCE_SQL_STREAM_001\"";
  return {
      {"tumbling_rowtime", false,
       "CREATE OR REPLACE STREAM \"OUT\" (TICKER VARCHAR(4), MX REAL, S INTEGER, C BIGINT, A REAL);\n"
       "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"OUT\" SELECT STREAM TICKER, MAX(PRICE), SUM(N), COUNT(*), "
       "AVG(PRICE)\n"
       "FROM " +
           src + " GROUP BY TICKER, STEP(" + src + ".ROWTIME BY INTERVAL '10' SECOND);",
       "OUT"},
      {"tumbling_event_time", false,
       "CREATE OR REPLACE STREAM \"OUT\" (TICKER VARCHAR(4), T TIMESTAMP, MN REAL);\n"
       "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"OUT\" SELECT STREAM TICKER, FLOOR(EVENT_TIME TO MINUTE), "
       "MIN(PRICE)\n"
       "FROM " +
           src + " GROUP BY TICKER, FLOOR(EVENT_TIME TO MINUTE);",
       "OUT"},
      {"sliding_range", false,
       "CREATE OR REPLACE STREAM \"OUT\" (TICKER VARCHAR(4), MX REAL, MN REAL, S INTEGER, A REAL, C BIGINT);\n"
       "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"OUT\" SELECT STREAM TICKER, MAX(PRICE) OVER W, MIN(PRICE) OVER "
       "W,\n"
       "SUM(N) OVER W, AVG(PRICE) OVER W, COUNT(*) OVER W FROM " +
           src +
           "\n"
           "WINDOW W AS (PARTITION BY TICKER RANGE INTERVAL '20' SECOND PRECEDING);",
       "OUT"},
      {"sliding_rows", false,
       "CREATE OR REPLACE STREAM \"OUT\" (TICKER VARCHAR(4), MX REAL, S INTEGER);\n"
       "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"OUT\" SELECT STREAM TICKER, MAX(PRICE) OVER W, SUM(N) OVER W "
       "FROM " +
           src +
           "\n"
           "WINDOW W AS (PARTITION BY TICKER ROWS 3 PRECEDING);",
       "OUT"},
      {"sliding_analytic", false,
       "CREATE OR REPLACE STREAM \"OUT\" (TICKER VARCHAR(4), L REAL, L2 INTEGER, NV REAL, E REAL, F REAL, A BOOLEAN);\n"
       "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"OUT\" SELECT STREAM TICKER, LAG(PRICE) OVER W,\n"
       "LAG(N, 2, -1) IGNORE NULLS OVER W, NTH_VALUE(PRICE, 2) FROM LAST OVER W, EXP_AVG(PRICE, INTERVAL '5' SECOND) "
       "OVER W,\n"
       "FIRST_VALUE(PRICE) OVER W, ANY(N > 5) OVER W FROM " +
           src +
           "\n"
           "WINDOW W AS (PARTITION BY TICKER RANGE INTERVAL '20' SECOND PRECEDING);",
       "OUT"},
      {"tumbling_monotonic", false,
       "CREATE OR REPLACE STREAM \"OUT\" (K BIGINT, C BIGINT, MX REAL);\n"
       "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"OUT\" SELECT STREAM MONOTONIC(UNIX_TIMESTAMP(EVENT_TIME) / "
       "7000), "
       "COUNT(*), MAX(PRICE) FROM " +
           src + " GROUP BY MONOTONIC(UNIX_TIMESTAMP(EVENT_TIME) / 7000);",
       "OUT"},
      {"anomaly_forest", false,
       "CREATE OR REPLACE STREAM \"OUT\" (TICKER VARCHAR(4), S DOUBLE, E VARCHAR(512));\n"
       "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"OUT\" SELECT STREAM TICKER, ANOMALY_SCORE, ANOMALY_EXPLANATION "
       "FROM TABLE(RANDOM_CUT_FOREST_WITH_EXPLANATION(CURSOR(SELECT STREAM * FROM " +
           src + "), 20, 16, 1000, 2, true));",
       "OUT"},
      {"hotspots", false,
       "CREATE OR REPLACE STREAM \"OUT\" (TICKER VARCHAR(4), H VARCHAR(4096));\n"
       "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"OUT\" SELECT STREAM TICKER, HOTSPOTS_RESULT "
       "FROM TABLE(HOTSPOTS(CURSOR(SELECT STREAM * FROM " +
           src + "), 40, 5.0, 3));",
       "OUT"},
      {"stream_join", false,
       "CREATE OR REPLACE STREAM \"CHEAP\" (TICKER VARCHAR(4), PRICE REAL);\n"
       "CREATE OR REPLACE PUMP \"C\" AS INSERT INTO \"CHEAP\" SELECT STREAM TICKER, PRICE FROM " +
           src +
           " WHERE N < 5;\n"
           "CREATE OR REPLACE STREAM \"OUT\" (T VARCHAR(4), A REAL, B REAL, AT TIMESTAMP);\n"
           "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"OUT\" SELECT STREAM a.TICKER, a.PRICE, b.PRICE, b.ROWTIME "
           "FROM " +
           src +
           " OVER (RANGE INTERVAL '20' SECOND PRECEDING) AS a FULL JOIN \"CHEAP\" OVER (ROWS 3 PRECEDING) AS b "
           "ON a.TICKER = b.TICKER AND a.PRICE > b.PRICE;",
       "OUT"},
      {"group_rank", false,
       "CREATE OR REPLACE STREAM \"OUT\" (TICKER VARCHAR(4), N INTEGER, R INTEGER);\n"
       "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"OUT\" SELECT STREAM TICKER, N, \"rank\" "
       "FROM TABLE(GROUP_RANK(CURSOR(SELECT STREAM * FROM " +
           src + "), 'N', 'rank', 'desc', 'asc', 0, 0));",
       "OUT"},
      {"stagger", false,
       "CREATE OR REPLACE STREAM \"OUT\" (TICKER VARCHAR(4), C BIGINT);\n"
       "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"OUT\" SELECT STREAM TICKER, COUNT(*) FROM " +
           src +
           "\n"
           "WINDOWED BY STAGGER (PARTITION BY TICKER RANGE INTERVAL '15' SECOND);",
       "OUT"},
      {"top_k", false,
       "CREATE OR REPLACE STREAM \"OUT\" (TICKER VARCHAR(4), HITS BIGINT);\n"
       "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"OUT\" SELECT STREAM * FROM TABLE (TOP_K_ITEMS_TUMBLING(\n"
       "CURSOR(SELECT STREAM * FROM " +
           src + "), 'TICKER', 2, 20));",
       "OUT"},
      {"multistage_order_by", false,
       "CREATE OR REPLACE STREAM \"MID\" (TICKER VARCHAR(4), PRICE REAL);\n"
       "CREATE OR REPLACE STREAM \"OUT\" (TICKER VARCHAR(4), PRICE REAL);\n"
       "CREATE OR REPLACE PUMP \"P1\" AS INSERT INTO \"MID\" SELECT STREAM TICKER, PRICE FROM " +
           src +
           " WHERE PRICE > 10;\n"
           "CREATE OR REPLACE PUMP \"P2\" AS INSERT INTO \"OUT\" SELECT STREAM TICKER, PRICE FROM \"MID\"\n"
           "ORDER BY STEP(\"MID\".ROWTIME BY INTERVAL '10' SECOND), PRICE DESC;",
       "OUT"},
      {"flink_tumble", true,
       std::string(kFlinkSource) + "CREATE TABLE o (ticker STRING, ws TIMESTAMP(3), mx DOUBLE, s BIGINT) WITH "
                                   "('connector' = 'kinesis', 'stream' = 'o');\n"
                                   "INSERT INTO o SELECT TICKER, window_start, MAX(PRICE), SUM(N) FROM "
                                   "TABLE(TUMBLE(TABLE trades, DESCRIPTOR(EVENT_TIME),\n"
                                   "INTERVAL '10' SECOND)) GROUP BY TICKER, window_start, window_end;",
       "o"},
      {"flink_hop", true,
       std::string(kFlinkSource) +
           "CREATE TABLE o (ticker STRING, we TIMESTAMP(3), mx DOUBLE) WITH ('connector' = 'kinesis', 'stream' = "
           "'o');\n"
           "INSERT INTO o SELECT TICKER, window_end, MAX(PRICE) FROM TABLE(HOP(TABLE trades, DESCRIPTOR(EVENT_TIME),\n"
           "INTERVAL '10' SECOND, INTERVAL '30' SECOND)) GROUP BY TICKER, window_start, window_end;",
       "o"},
      {"flink_over_rows", true,
       std::string(kFlinkSource) +
           "CREATE TABLE o (ticker STRING, t TIMESTAMP(3), s DOUBLE, c BIGINT) WITH ('connector' = 'kinesis', "
           "'stream' = 'o');\n"
           "INSERT INTO o SELECT TICKER, EVENT_TIME, SUM(PRICE) OVER w, COUNT(*) OVER w FROM trades\n"
           "WINDOW w AS (PARTITION BY TICKER ORDER BY EVENT_TIME ROWS BETWEEN 3 PRECEDING AND CURRENT ROW);",
       "o"},
      {"flink_over_range", true,
       std::string(kFlinkSource) +
           "CREATE TABLE o (ticker STRING, t TIMESTAMP(3), mx DOUBLE, mn DOUBLE) WITH ('connector' = 'kinesis', "
           "'stream' = 'o');\n"
           "INSERT INTO o SELECT TICKER, EVENT_TIME, MAX(PRICE) OVER w, MIN(PRICE) OVER w FROM trades\n"
           "WINDOW w AS (PARTITION BY TICKER ORDER BY EVENT_TIME RANGE BETWEEN INTERVAL '15' SECOND PRECEDING AND "
           "CURRENT ROW);",
       "o"},
      {"flink_cumulate", true,
       std::string(kFlinkSource) +
           "CREATE TABLE o (ticker STRING, we TIMESTAMP(3), c BIGINT) WITH ('connector' = 'kinesis', 'stream' = 'o');\n"
           "INSERT INTO o SELECT TICKER, window_end, COUNT(*) FROM TABLE(CUMULATE(TABLE trades, "
           "DESCRIPTOR(EVENT_TIME),\n"
           "INTERVAL '5' SECOND, INTERVAL '20' SECOND)) GROUP BY TICKER, window_start, window_end;",
       "o"},
      {"flink_session", true,
       std::string(kFlinkSource) +
           "CREATE TABLE o (ticker STRING, ws TIMESTAMP(3), we TIMESTAMP(3), c BIGINT) WITH ('connector' = 'kinesis', "
           "'stream' = 'o');\n"
           "INSERT INTO o SELECT TICKER, window_start, window_end, COUNT(*) FROM TABLE(SESSION(TABLE trades PARTITION "
           "BY TICKER,\n"
           "DESCRIPTOR(EVENT_TIME), INTERVAL '3' SECOND)) GROUP BY TICKER, window_start, window_end;",
       "o"},
  };
}

// Deterministic trades: five tickers, event times a little out of order, a quiet gap now and then
// (so that sessions end), arrival times one second apart.
std::vector<std::pair<std::string, TimestampMs>> records() {
  const char* tickers[] = {"AMZN", "GOOG", "AZRE", "ORCL", "BABA"};
  std::vector<std::pair<std::string, TimestampMs>> out;
  uint64_t x = 42;
  int64_t t = 0;
  for (int i = 0; i < 160; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    t += (i % 37 == 36) ? 9 : 1;
    const int64_t event = t - static_cast<int64_t>((x >> 33) % 2);
    char json[160];
    std::snprintf(
        json, sizeof json, R"({"TICKER":"%s","PRICE":%d.%02d,"N":%d,"EVENT_TIME":"2021-01-31 09:%02lld:%02lld.000"})",
        tickers[(x >> 40) % 5], static_cast<int>((x >> 20) % 100), static_cast<int>((x >> 10) % 100),
        static_cast<int>((x >> 50) % 7), static_cast<long long>(event / 60), static_cast<long long>(event % 60));
    out.emplace_back(json, 1'612'085'400'000 + t * 1000);
  }
  return out;
}

struct Instance {
  ManualClock clock{1'612'085'400'000};
  std::unique_ptr<Application> app;
  std::vector<std::string>* rows;

  // `parallelism` > 1 or `key_groups`: keyed pumps run in key groups on that many partitions
  // (keyed_pump.h), as the server's applications do.
  Instance(const Case& c, std::vector<std::string>& sink, size_t parallelism = 1, bool key_groups = false)
      : rows(&sink) {
    std::vector<ApplicationInput> inputs;
    if (!c.flink) {
      ApplicationInput in;
      in.schema = *parse_input_schema(kSchema);
      inputs.push_back(std::move(in));
    }
    auto a = sql::compile_application(c.code, std::move(inputs), clock, parallelism, key_groups);
    EXPECT_TRUE(a.has_value()) << c.name << ": " << (a ? "" : a.error().message);
    if (!a) return;
    app = std::move(*a);
    const StreamDef def = *app->stream(c.output);
    (void)app->subscribe(c.output, [this, def](const Row& r) { rows->push_back(row_json(def, r)); });
  }
  void push(const std::vector<std::pair<std::string, TimestampMs>>& recs, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      clock.set(recs[i].second);
      app->push_record(0, recs[i].first, recs[i].second, static_cast<int64_t>(i), 0);
    }
  }
};

// Also with keyed pumps run in key groups on several threads: a checkpoint (the groups' states,
// the merged watermark, rows not yet run) taken at one parallelism resumes at another into the
// rows one pump emits.
TEST(CheckpointState, ResumingFromSavedStateEmitsWhatAnUninterruptedRunEmits) {
  const auto recs = records();
  struct At {
    size_t parallelism;
    bool key_groups;
  };
  // Saved at, resumed at; key groups at 1 thread as the server has them.
  const std::pair<At, At> parallelisms[] = {{{1, false}, {1, false}},
                                            {{2, false}, {3, false}},
                                            {{3, false}, {2, false}},
                                            {{1, true}, {2, false}},
                                            {{2, false}, {1, true}}};
  for (const auto& c : cases()) {
    std::vector<std::string> whole;
    {
      Instance r(c, whole);
      ASSERT_TRUE(r.app) << c.name;
      r.push(recs, 0, recs.size());
      r.app->flush();
    }
    ASSERT_GT(whole.size(), 3u) << c.name << ": the case must emit rows to be a test";
    const std::string name(c.name);
    const bool keyed = name == "tumbling_rowtime" || name.starts_with("sliding") || name == "flink_tumble" ||
                       name == "flink_hop" || name == "flink_cumulate" || name.starts_with("flink_over");
    for (const auto& [saved_at, resumed_at] : parallelisms) {
      for (size_t cut : {size_t{1}, size_t{17}, size_t{38}, size_t{80}, size_t{121}, recs.size() - 1}) {
        std::vector<std::string> rows;
        std::string state;
        {
          Instance first(c, rows, saved_at.parallelism, saved_at.key_groups);
          first.push(recs, 0, cut);
          state = first.app->save_state();
        }
        EXPECT_EQ(state.find("; key groups 128") != std::string::npos,
                  keyed && (saved_at.parallelism > 1 || saved_at.key_groups))
            << c.name << ": keyed pumps, and only they, run in key groups above parallelism 1 or when asked";
        Instance second(c, rows, resumed_at.parallelism, resumed_at.key_groups);
        second.clock.set(recs[cut - 1].second);
        auto notes = second.app->load_state(state);
        ASSERT_TRUE(notes.has_value()) << c.name << " cut " << cut << ": " << notes.error().message;
        EXPECT_TRUE(notes->empty()) << c.name;
        second.push(recs, cut, recs.size());
        second.app->flush();
        EXPECT_EQ(rows, whole) << c.name << " saved at parallelism " << saved_at.parallelism << "/"
                               << saved_at.key_groups << ", resumed at " << resumed_at.parallelism << "/"
                               << resumed_at.key_groups << " after record " << cut;
      }
    }
  }
}

TEST(CheckpointState, ChangedCodeSaysWhichStateItDropped) {
  const auto all = cases();
  const Case& tumbling = all[0];
  std::vector<std::string> rows;
  Instance first(tumbling, rows);
  first.push(records(), 0, 20);
  const std::string state = first.app->save_state();

  Case changed = tumbling;  // the same pump now groups by a second key: another shape
  changed.code =
      "CREATE OR REPLACE STREAM \"OUT\" (TICKER VARCHAR(4), N INTEGER, C BIGINT);\n"
      "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"OUT\" SELECT STREAM TICKER, N, COUNT(*) FROM "
      "\"SOURCE_SQL_STREAM_001\"\n"
      "GROUP BY TICKER, N, STEP(\"SOURCE_SQL_STREAM_001\".ROWTIME BY INTERVAL '10' SECOND);\n"
      "CREATE OR REPLACE PUMP \"Q\" AS INSERT INTO \"OUT\" SELECT STREAM TICKER, N, COUNT(*) OVER (ROWS 2 PRECEDING) "
      "FROM \"SOURCE_SQL_STREAM_001\";\n"
      // A new projection keeps nothing between rows: nothing to say about it.
      "CREATE OR REPLACE PUMP \"R\" AS INSERT INTO \"OUT\" SELECT STREAM TICKER, N, N FROM \"SOURCE_SQL_STREAM_001\";";
  std::vector<std::string> more;
  Instance second(changed, more);
  auto notes = second.app->load_state(state);
  ASSERT_TRUE(notes.has_value()) << notes.error().message;
  ASSERT_EQ(notes->size(), 2u);
  EXPECT_NE((*notes)[0].find("pump P changed shape"), std::string::npos) << (*notes)[0];
  EXPECT_NE((*notes)[1].find("pump Q is new"), std::string::npos) << (*notes)[1];
}

TEST(CheckpointState, OnePumpsStateCannotMoveIntoKeyGroupsAndSaysSo) {
  const auto all = cases();
  const Case& tumbling = all[0];
  std::vector<std::string> rows;
  Instance one(tumbling, rows, 1);
  one.push(records(), 0, 20);
  Instance two(tumbling, rows, 2);
  auto notes = two.app->load_state(one.app->save_state());
  ASSERT_TRUE(notes.has_value()) << notes.error().message;
  ASSERT_EQ(notes->size(), 1u);
  EXPECT_EQ((*notes)[0],
            "pump P was saved without key groups and its state cannot move into them: it starts with "
            "no state (a checkpoint of eddy serve at --parallelism 1 before key groups were kept at "
            "every parallelism)");
  notes = one.app->load_state(two.app->save_state());
  ASSERT_TRUE(notes.has_value()) << notes.error().message;
  ASSERT_EQ(notes->size(), 1u);
  EXPECT_NE((*notes)[0].find("saved with key groups"), std::string::npos) << (*notes)[0];
}

// A checkpoint file carries a CRC (flipped bits are caught there); here: a cut-short state.
TEST(CheckpointState, TruncatedStateIsRefused) {
  const auto all = cases();
  for (const auto& c : all) {
    for (size_t parallelism : {size_t{1}, size_t{2}}) {
      std::vector<std::string> rows;
      Instance first(c, rows, parallelism);
      first.push(records(), 0, 50);
      const std::string state = first.app->save_state();
      for (size_t len = 0; len < state.size(); len += 1 + state.size() / 97) {
        std::vector<std::string> sink;
        Instance second(c, sink, parallelism);
        EXPECT_FALSE(second.app->load_state(std::string_view(state).substr(0, len)).has_value())
            << c.name << " parallelism " << parallelism << " length " << len;
      }
    }
  }
}

}  // namespace
}  // namespace eddy::runtime
