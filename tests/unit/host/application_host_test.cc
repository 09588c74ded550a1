// Running applications inside the server: the output of the seed query does not depend on the
// number of source shards or on how records were batched into PutRecords calls. The host runs in
// stepped mode: each test drives the applications' rounds itself, with the ManualClock, and no
// test sleeps for time to pass (but one, which checks the runners' own threads).
#include "host/application_host.h"
#include "common/path_names.h"
#include "stream/kpl_aggregation.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <thread>
#include <utility>

namespace eddy::host {
namespace {

namespace fs = std::filesystem;

const char* kSeedSql = R"j(
CREATE OR REPLACE STREAM "DEST_SQL_STREAM_BY_STORE_ID" ("store_id" VARCHAR(16), "revenue" REAL, "timestamp" TIMESTAMP);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DEST_SQL_STREAM_BY_STORE_ID"
SELECT STREAM "store_id", SUM("sales") AS "revenue", ROWTIME AS "timestamp" FROM "STORE_REVENUE_PER_MIN_001"
GROUP BY STEP("STORE_REVENUE_PER_MIN_001".ROWTIME BY INTERVAL '60' SECOND), "store_id";
)j";

const char* kSchema =
    R"j({"RecordFormat": {"RecordFormatType": "JSON", "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
 "RecordEncoding": "UTF-8",
 "RecordColumns": [{"Name": "store_id", "Mapping": "$.store_id", "SqlType": "VARCHAR(16)"},
                   {"Name": "category", "Mapping": "$.category", "SqlType": "VARCHAR(16)"},
                   {"Name": "evnt_time", "Mapping": "$.evnt_time", "SqlType": "TIMESTAMP"},
                   {"Name": "sales", "Mapping": "$.sales", "SqlType": "REAL"}]})j";

// Records {"store_id": ..., "d": ...} mapped to two columns.
constexpr const char* kStoreAndNumberSchema =
    R"j({"RecordFormat": {"RecordFormatType": "JSON", "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
 "RecordEncoding": "UTF-8",
 "RecordColumns": [{"Name": "store_id", "Mapping": "$.store_id", "SqlType": "VARCHAR(16)"},
                   {"Name": "d", "Mapping": "$.d", "SqlType": "INTEGER"}]})j";

class ApplicationHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("eddy-host-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    stream::StoreOptions o;
    o.dir = dir_ / "streams";
    o.retention_check_ms = 1'000'000'000;
    store_ = std::move(*stream::StreamStore::open(o, clock_, committer_));
    host_ = std::make_unique<ApplicationHost>(dir_ / "apps", *store_, committer_, clock_);
    host_->set_stepped(true);
    ASSERT_TRUE(host_->load().has_value());
  }

  // Rounds of each application until a round finds nothing new: everything in the source has
  // been read, and windows the clock has passed are closed and written. Bounded.
  void run_until_idle(const std::vector<std::string>& apps) {
    for (const auto& app : apps) {
      size_t rounds = 0;
      for (;;) {
        auto n = host_->step(app);
        ASSERT_TRUE(n.has_value()) << n.error().message;
        if (*n == 0) break;
        ASSERT_LT(++rounds, 100'000u) << app << " never caught up";
      }
    }
  }
  void TearDown() override {
    host_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void create_stream(const std::string& name, int shards) {
    ASSERT_TRUE(store_->create_stream(name, shards, stream::StreamMode::kProvisioned, {}, std::nullopt).has_value());
    for (int i = 0; i < 1000; ++i) {
      if (store_->describe(name)->status == stream::StreamStatus::kActive) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // A seed sales record: a random store of five, `sales` below `whole` in cents that are
  // multiples of `cent_step`.
  static std::string sale(std::mt19937& rng, unsigned whole, unsigned cent_step) {
    const unsigned store = rng() % 5 + 1;
    const unsigned units = rng() % whole;
    const unsigned cents = rng() % (100 / cent_step) * cent_step;
    char buf[200];
    std::snprintf(
        buf, sizeof(buf),
        R"j({"category":"Books","store_id":"store_%u","evnt_time":"2021-01-31T14:05:47.190114","sales":%u.%02u})j",
        store, units, cents);
    return buf;
  }

  static std::string arn(const std::string& s) { return "arn:aws:kinesis:us-east-1:000000000000:stream/" + s; }

  void create_app(const std::string& name, const std::string& source, const std::string& dest) {
    auto app = host_->create(app_config(name, source, dest));
    ASSERT_TRUE(app.has_value()) << app.error().message;
  }
  static nlohmann::json app_config(const std::string& name, const std::string& source, const std::string& dest) {
    return {{"ApplicationName", name},
            {"ApplicationCode", kSeedSql},
            {"Inputs",
             {{{"InputId", "1.1"},
               {"NamePrefix", "STORE_REVENUE_PER_MIN"},
               {"KinesisStreamsInput", {{"ResourceARN", arn(source)}, {"RoleARN", "r"}}},
               {"InputSchema", nlohmann::json::parse(kSchema)}}}},
            {"Outputs",
             {{{"OutputId", "1.1"},
               {"Name", "DEST_SQL_STREAM_BY_STORE_ID"},
               {"KinesisStreamsOutput", {{"ResourceARN", arn(dest)}, {"RoleARN", "r"}}},
               {"DestinationSchema", {{"RecordFormatType", "JSON"}}}}}}};
  }

  // Starts application `name` of `code` over stream `source` (input `prefix` with `schema`) on
  // `threads` threads, writing in-application stream `output` to stream `out` and error_stream
  // to stream `err` (both made here).
  void start_app_with_errors(const std::string& name, const char* code, const std::string& prefix, const char* schema,
                             int threads, const std::string& output, const std::string& out, const std::string& err,
                             const std::string& source = "src") {
    create_stream(out, 1);
    create_stream(err, 1);
    auto to = [](const std::string& stream) { return nlohmann::json{{"ResourceARN", arn(stream)}, {"RoleARN", "r"}}; };
    nlohmann::json config = {
        {"ApplicationName", name},
        {"ApplicationCode", code},
        {"Inputs",
         {{{"InputId", "1.1"},
           {"NamePrefix", prefix},
           {"KinesisStreamsInput", to(source)},
           {"InputSchema", nlohmann::json::parse(schema)}}}},
        {"Outputs",
         {{{"Name", output}, {"KinesisStreamsOutput", to(out)}, {"DestinationSchema", {{"RecordFormatType", "JSON"}}}},
          {{"Name", "error_stream"},
           {"KinesisStreamsOutput", to(err)},
           {"DestinationSchema", {{"RecordFormatType", "JSON"}}}}}}};
    ASSERT_TRUE(host_->create(config).has_value());
    host_->set_parallelism(threads);  // the runner's pool is made when it starts
    ASSERT_TRUE(host_->start(name, "TRIM_HORIZON").has_value());
  }

  // A one-shard stream's records in order.
  std::vector<std::string> in_order(const std::string& stream) {
    std::vector<std::string> rows;
    auto r = store_->read_shard(stream, 0, 0, 100000);
    for (const auto& rec : r->read.records) rows.emplace_back(rec.data);
    return rows;
  }

  std::vector<std::string> read_all(const std::string& stream) {
    std::vector<std::string> rows;
    const auto shards = store_->shards(stream);
    for (const auto& s : *shards) {
      auto r = store_->read_shard(stream, s.index, 0, 100000);
      for (const auto& rec : r->read.records) rows.emplace_back(rec.data);
    }
    std::sort(rows.begin(), rows.end());
    return rows;
  }

  ManualClock clock_{1'612'100'000'000};  // 2021-01-31 13:33:20
  log::GroupCommitter committer_{{log::FsyncMode::kInterval, 50}};
  fs::path dir_;
  std::unique_ptr<stream::StreamStore> store_;
  std::unique_ptr<ApplicationHost> host_;
};

TEST_F(ApplicationHostTest, SeedResultsDoNotDependOnShardsOrBatching) {
  create_stream("one", 1);
  create_stream("four", 4);
  create_stream("out_one", 1);
  create_stream("out_four", 2);
  // The same records at the same arrival times: one by one into a 1-shard stream, in PutRecords
  // batches of 1..7 records into a 4-shard stream. Records of one millisecond then come in put
  // order from one shard and in shard order from four, so sales are whole quarters: their REAL
  // sums are exact in any order, and the test checks windows and groups, not rounding luck.
  std::mt19937 rng(7);
  const int kRecords = 600;
  std::vector<std::string> data, keys;
  for (int i = 0; i < kRecords; ++i) {
    data.push_back(sale(rng, 100, 25));
    keys.push_back("k" + std::to_string(rng()));
  }
  for (int i = 0; i < kRecords;) {
    const int n = std::min<int>(static_cast<int>(rng() % 7 + 1), kRecords - i);
    clock_.advance(static_cast<TimestampMs>(rng() % 3000 + 1));
    std::vector<stream::PutEntry> batch;
    for (int j = i; j < i + n; ++j) {
      stream::PutEntry e{keys[static_cast<size_t>(j)], "", data[static_cast<size_t>(j)]};
      ASSERT_TRUE(store_->put("one", std::span(&e, 1)).has_value());
      batch.push_back(e);
    }
    ASSERT_TRUE(store_->put("four", batch).has_value());
    i += n;
  }
  create_app("app_one", "one", "out_one");
  create_app("app_four", "four", "out_four");
  // Every window closes once the wall clock is well past the last record.
  clock_.advance(10 * 60 * 1000);
  ASSERT_TRUE(host_->start("app_one", "TRIM_HORIZON").has_value());
  ASSERT_TRUE(host_->start("app_four", "TRIM_HORIZON").has_value());
  run_until_idle({"app_one", "app_four"});
  const auto one = read_all("out_one"), four = read_all("out_four");
  ASSERT_GT(one.size(), 15u);  // several minutes x 5 stores
  EXPECT_EQ(one, four);
  ASSERT_TRUE(host_->stop("app_one").has_value());
  ASSERT_TRUE(host_->stop("app_four").has_value());
}

// --parallelism: with several batches to a round, each batch is parsed on one thread and the
// batches take turns through the pumps. Rows and error rows come out the same, in the same
// order, whatever the number of threads. From four shards the runner merges a round's reads;
// from one, each thread reads the shard's next range itself (ApplicationRunner::push_ranges).
TEST_F(ApplicationHostTest, ResultsDoNotDependOnParallelism) {
  for (int shards : {4, 1}) {
    const std::string src = "src" + std::to_string(shards);
    create_stream(src, shards);
    std::mt19937 rng(11);
    const int kRecords = 24000;  // rounds of up to 4 x 2000 records: several batches each
    for (int i = 0; i < kRecords;) {
      std::vector<std::string> data;
      std::vector<stream::PutEntry> batch;
      for (int j = 0; j < 500; ++j, ++i) {
        char buf[200];
        if (i % 97 == 5) {
          std::snprintf(buf, sizeof(buf), R"j({"store_id":"store_1","sales":)j");  // not JSON
        } else {
          std::snprintf(
              buf, sizeof(buf),
              R"j({"category":"Books","store_id":"store_%d","evnt_time":"2021-01-31T14:05:47.190114","sales":%s})j",
              static_cast<int>(rng() % 5 + 1),
              i % 89 == 3 ? "\"many\"" : std::to_string(rng() % 10000 / 100.0).c_str());
        }
        data.emplace_back(buf);
      }
      std::vector<std::string> keys;  // PutEntry holds views: the keys live here
      for (size_t j = 0; j < data.size(); ++j) keys.push_back("k" + std::to_string(rng()));
      for (size_t j = 0; j < data.size(); ++j) batch.push_back({keys[j], "", data[j]});
      clock_.advance(static_cast<TimestampMs>(rng() % 15000 + 1));
      ASSERT_TRUE(store_->put(src, batch).has_value());
    }
    clock_.advance(10 * 60 * 1000);
    const std::vector<int> threads = {1, 2, 4};
    const std::string tag = "_s" + std::to_string(shards) + "_p";
    for (int p : threads) {
      const std::string n = tag + std::to_string(p);
      start_app_with_errors("app" + n, kSeedSql, "STORE_REVENUE_PER_MIN", kSchema, p, "DEST_SQL_STREAM_BY_STORE_ID",
                            "out" + n, "err" + n, src);
    }
    const size_t kErrors = kRecords / 97 + kRecords / 89;  // about: both kinds, a few overlap
    run_until_idle({"app" + tag + "1", "app" + tag + "2", "app" + tag + "4"});
    const auto rows = in_order("out" + tag + "1"), errors = in_order("err" + tag + "1");
    ASSERT_GT(rows.size(), 20u);
    ASSERT_GT(errors.size(), kErrors - 5);
    for (int p : {2, 4}) {
      EXPECT_EQ(in_order("out" + tag + std::to_string(p)), rows) << p << " threads, " << shards << " shards";
      EXPECT_EQ(in_order("err" + tag + std::to_string(p)), errors) << p << " threads, " << shards << " shards";
    }
    for (int p : threads) ASSERT_TRUE(host_->stop("app" + tag + std::to_string(p)).has_value());
  }
}

// error_stream at any parallelism: a plain pump failing on rows, a keyed pump failing on rows
// and when its windows fire, and a pump downstream of it failing on every row it emits. Their
// error rows interleave in the same order at 1, 2 and 4 threads (a keyed pump keeps key groups at
// every parallelism in the server, and reports its errors at the end of each batch).
TEST_F(ApplicationHostTest, ErrorRowsInterleaveTheSameAtAnyParallelism) {
  const char* sql = R"j(
CREATE OR REPLACE STREAM "RATIOS" ("store_id" VARCHAR(16), "r" INTEGER);
CREATE OR REPLACE PUMP "P_RATIO" AS INSERT INTO "RATIOS"
SELECT STREAM "store_id", 100 / "d" FROM "SRC_001";
CREATE OR REPLACE STREAM "TOTALS" ("store_id" VARCHAR(16), "t" INTEGER, "q" INTEGER);
CREATE OR REPLACE PUMP "P_TOTAL" AS INSERT INTO "TOTALS"
SELECT STREAM "store_id", SUM(1000 / "d"), SUM("d") / (COUNT(*) - 3)
FROM "SRC_001"
GROUP BY STEP("SRC_001".ROWTIME BY INTERVAL '10' SECOND), "store_id";
CREATE OR REPLACE STREAM "SHARES" ("store_id" VARCHAR(16), "s" INTEGER);
CREATE OR REPLACE PUMP "P_SHARE" AS INSERT INTO "SHARES"
SELECT STREAM "store_id", "t" / ("q" - "q") FROM "TOTALS";
)j";
  const char* schema = kStoreAndNumberSchema;
  create_stream("src", 4);
  std::mt19937 rng(3);
  for (int i = 0; i < 12000;) {
    std::vector<std::string> data, keys;
    for (int j = 0; j < 300; ++j, ++i) {
      data.push_back("{\"store_id\":\"store_" + std::to_string(rng() % 7) + "\",\"d\":" + std::to_string(rng() % 6) +
                     "}");
      keys.push_back("k" + std::to_string(rng()));
    }
    std::vector<stream::PutEntry> batch;
    for (size_t j = 0; j < data.size(); ++j) batch.push_back({keys[j], "", data[j]});
    clock_.advance(static_cast<TimestampMs>(rng() % 4000 + 1));
    ASSERT_TRUE(store_->put("src", batch).has_value());
  }
  clock_.advance(10 * 60 * 1000);
  const std::vector<int> threads = {1, 2, 4};
  for (int p : threads) {
    const std::string n = std::to_string(p);
    start_app_with_errors("app_p" + n, sql, "SRC", schema, p, "TOTALS", "totals_p" + n, "err_p" + n);
  }
  run_until_idle({"app_p1", "app_p2", "app_p4"});
  const auto totals = in_order("totals_p1"), errors = in_order("err_p1");
  ASSERT_GT(totals.size(), 40u);    // 7 stores x 10 s windows over about 80 s
  ASSERT_GT(errors.size(), 2000u);  // a sixth of the rows twice, and every total once more
  for (const char* pump : {"P_RATIO", "P_TOTAL", "P_SHARE"}) {
    EXPECT_TRUE(std::any_of(errors.begin(), errors.end(), [&](const std::string& e) {
      return e.find(pump) != std::string::npos;
    })) << pump;
  }
  for (int p : {2, 4}) {
    EXPECT_EQ(in_order("totals_p" + std::to_string(p)), totals) << p << " threads";
    const auto other = in_order("err_p" + std::to_string(p));
    EXPECT_EQ(other.size(), errors.size()) << p << " threads";
    size_t same = 0;
    while (same < std::min(other.size(), errors.size()) && other[same] == errors[same]) ++same;
    EXPECT_EQ(same, errors.size()) << p << " threads: error rows differ from row " << same << ": "
                                   << (same < errors.size() ? errors[same] : "") << " / "
                                   << (same < other.size() ? other[same] : "");
  }
  for (int p : threads) ASSERT_TRUE(host_->stop("app_p" + std::to_string(p)).has_value());
}

// KPL aggregates in the source are read as their user records, at every read size and parallelism,
// and a corrupt aggregate reaches error_stream as a record the program cannot read.
TEST_F(ApplicationHostTest, KplAggregatesAreReadAsTheirUserRecords) {
  const char* sql = R"j(
CREATE OR REPLACE STREAM "OUT" ("store_id" VARCHAR(16), "d" INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM "store_id", "d" FROM "SRC_001";
)j";
  const char* schema = kStoreAndNumberSchema;
  create_stream("src", 2);
  std::mt19937 rng(13);
  std::vector<std::string> expected;
  for (int aggregate = 0; aggregate < 40; ++aggregate) {
    std::vector<stream::kpl::UserRecordIn> users;
    for (int i = 0; i < 1 + static_cast<int>(rng() % 60); ++i) {
      const std::string store = "store_" + std::to_string(rng() % 5), d = std::to_string(rng() % 100);
      users.push_back({store, "", R"({"store_id":")" + store + R"(","d":)" + d + "}"});
      expected.push_back(R"({"store_id":")" + store + R"(","d":)" + d + "}");
    }
    const std::string packed = stream::kpl::aggregate(users);
    const std::string key = "k" + std::to_string(aggregate);
    std::string corrupt = packed;
    corrupt[corrupt.size() / 2] ^= 1;  // the digest no longer matches
    std::vector<stream::PutEntry> one = {{key, "", packed}};
    if (aggregate == 20) one.push_back({key, "", corrupt});
    ASSERT_TRUE(store_->put("src", one).has_value());
    clock_.advance(static_cast<TimestampMs>(rng() % 3000 + 1));
  }
  std::sort(expected.begin(), expected.end());
  for (auto [read, threads] : {std::pair<size_t, int>{2000, 1}, {7, 2}}) {
    const std::string tag = std::to_string(read) + "_" + std::to_string(threads);
    host_->set_read_batch(read);
    start_app_with_errors("app_" + tag, sql, "SRC", schema, threads, "OUT", "out_" + tag, "err_" + tag);
    run_until_idle({"app_" + tag});
    EXPECT_EQ(read_all("out_" + tag), expected) << tag;
    const auto errors = read_all("err_" + tag);
    ASSERT_EQ(errors.size(), 1u) << tag;
    EXPECT_NE(errors[0].find("Record_Parse_Error"), std::string::npos) << errors[0];
    EXPECT_NE(errors[0].find("f3899ac2"), std::string::npos)
        << "the record's bytes, in hex: " << errors[0].substr(0, 400);
    ASSERT_TRUE(host_->stop("app_" + tag).has_value());
  }
}

// Where an application's reads of a shard end must not change the order of the records that
// arrived in the same millisecond on several shards (here each PutRecords: 400 records at one
// arrival time over 4 shards, about 100 a shard), so not the sums either: reads of 2000, 41 and
// 333 records, on 1, 2 or 4 threads, give the same rows in the same order. (A restart reads on from a checkpoint's
// positions: its reads end elsewhere than a run's without the restart. Reads of fewer than a
// quarter of a shard's records of one millisecond would not: a round buffers four reads a shard.)
TEST_F(ApplicationHostTest, ResultsDoNotDependOnWhereReadsEnd) {
  for (int shards : {4, 1}) {
    const std::string src = "src" + std::to_string(shards);
    create_stream(src, shards);
    std::mt19937 rng(5);
    const int kRecords = 12000;
    for (int i = 0; i < kRecords;) {
      std::vector<std::string> data, keys;
      for (int j = 0; j < 400; ++j, ++i) {
        data.push_back(sale(rng, 1000, 1));
        keys.push_back("k" + std::to_string(rng()));
      }
      std::vector<stream::PutEntry> batch;
      for (size_t j = 0; j < data.size(); ++j) batch.push_back({keys[j], "", data[j]});
      clock_.advance(static_cast<TimestampMs>(rng() % 20000 + 1));
      ASSERT_TRUE(store_->put(src, batch).has_value());
    }
    clock_.advance(10 * 60 * 1000);  // every window closes
    std::vector<std::string> first;
    // Read sizes, and threads (which read a round's ranges of each shard side by side, or of the
    // one shard each on its own).
    for (auto [read, threads] : {std::pair<size_t, int>{2000, 1}, {41, 1}, {333, 1}, {41, 2}, {333, 4}, {2000, 2}}) {
      const std::string tag = src + "_" + std::to_string(read) + "_" + std::to_string(threads);
      const std::string out = "out_" + tag, app = "app_" + tag;
      create_stream(out, 1);
      host_->set_parallelism(threads);
      create_app(app, src, out);
      host_->set_read_batch(read);
      ASSERT_TRUE(host_->start(app, "TRIM_HORIZON").has_value());
      run_until_idle({app});
      const auto rows = in_order(out);
      ASSERT_TRUE(host_->stop(app).has_value());
      if (first.empty()) {
        ASSERT_GT(rows.size(), 20u);
        first = rows;
      } else {
        EXPECT_EQ(rows, first) << "reads of " << read << " records on " << threads << " threads, " << shards
                               << " shards";
      }
    }
  }
}

TEST_F(ApplicationHostTest, InputParallelismSplitsShardsAcrossInputStreams) {
  create_stream("src", 2);
  create_stream("dst", 1);
  for (int i = 0; i < 40; ++i) {
    const std::string data = "{\"n\": " + std::to_string(i) + "}";
    const std::string key = "key" + std::to_string(i);
    stream::PutEntry e{key, "", data};
    clock_.advance(10);
    ASSERT_TRUE(store_->put("src", std::span(&e, 1)).has_value());
  }
  nlohmann::json config = {{"ApplicationName", "par"},
                           {"ApplicationCode", R"j(CREATE OR REPLACE STREAM "OUT" ("n" INTEGER, "lane" VARCHAR(8));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
  SELECT STREAM "n", 'one' FROM "S_001" UNION ALL SELECT STREAM "n", 'two' FROM "S_002";)j"},
                           {"Inputs",
                            {{{"InputId", "1.1"},
                              {"NamePrefix", "S"},
                              {"InputParallelism", {{"Count", 2}}},
                              {"KinesisStreamsInput", {{"ResourceARN", arn("src")}, {"RoleARN", "r"}}},
                              {"InputSchema",
                               {{"RecordFormat", {{"RecordFormatType", "JSON"}}},
                                {"RecordColumns", {{{"Name", "n"}, {"Mapping", "$.n"}, {"SqlType", "INTEGER"}}}}}}}}},
                           {"Outputs",
                            {{{"OutputId", "1.1"},
                              {"Name", "OUT"},
                              {"KinesisStreamsOutput", {{"ResourceARN", arn("dst")}, {"RoleARN", "r"}}},
                              {"DestinationSchema", {{"RecordFormatType", "JSON"}}}}}}};
  ASSERT_TRUE(host_->create(config).has_value());
  // This one runs as the server does, on the runner's own thread, polling its source.
  host_->set_stepped(false);
  ASSERT_TRUE(host_->start("par", "TRIM_HORIZON").has_value());
  std::vector<std::string> rows;
  for (int i = 0; i < 1000 && rows.size() < 40; ++i) {  // bounded: the runner works on its own thread
    rows = read_all("dst");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(rows.size(), 40u);
  const auto one = std::count_if(rows.begin(), rows.end(),
                                 [](const std::string& r) { return r.find("\"one\"") != std::string::npos; });
  EXPECT_GT(one, 0);  // both shards carry records, one per lane
  EXPECT_LT(one, 40);
  ASSERT_TRUE(host_->stop("par").has_value());
}

TEST_F(ApplicationHostTest, CodeErrorsAndVersions) {
  create_stream("src", 1);
  create_stream("dst", 1);
  nlohmann::json bad = {{"ApplicationName", "bad"},
                        {"ApplicationCode", "CREATE OR REPLACE STREAM \"X\" (a INTEGER"},
                        {"Inputs", nlohmann::json::array()},
                        {"Outputs", nlohmann::json::array()}};
  auto r = host_->create(bad);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kCodeValidation);
  create_app("ok", "src", "dst");
  EXPECT_EQ(host_->create({{"ApplicationName", "ok"}}).error().code, Errc::kResourceInUse);
  auto st = host_->update("ok", 5, [](nlohmann::json&) { return Status{}; });
  EXPECT_EQ(st.error().code, Errc::kConcurrentModification);
  ASSERT_TRUE(host_
                  ->update("ok", 1,
                           [](nlohmann::json& c) {
                             c["ApplicationDescription"] = "v2";
                             return Status{};
                           })
                  .has_value());
  EXPECT_EQ(host_->describe("ok")->version, 2);
  EXPECT_EQ(host_->remove("ok", 1).error().code, Errc::kInvalidArgument);
  ASSERT_TRUE(host_->remove("ok", host_->describe("ok")->created_ms).has_value());
  EXPECT_EQ(host_->describe("ok").error().code, Errc::kResourceNotFound);
}

// KDA v2's CheckpointConfiguration: CUSTOM sets an application's own interval; the others keep
// the server's. Checkpoints cannot be turned off (exactly-once outputs depend on them).
TEST_F(ApplicationHostTest, CheckpointIntervalPerApplication) {
  host_->set_checkpoint_interval_ms(3'600'000);
  create_stream("src", 1);
  create_stream("dst", 1);
  create_app("server-interval", "src", "dst");
  create_app("own-interval", "src", "dst");
  ASSERT_TRUE(
      host_
          ->update("own-interval", 1,
                   [](nlohmann::json& c) {
                     c["CheckpointConfiguration"] = {{"ConfigurationType", "CUSTOM"}, {"CheckpointInterval", 1000}};
                     return Status{};
                   })
          .has_value());
  EXPECT_EQ(host_->checkpoint_interval_of(host_->describe("own-interval")->config), 1000);
  EXPECT_EQ(host_->checkpoint_interval_of(host_->describe("server-interval")->config), 3'600'000);
  auto off = host_->update("own-interval", 2, [](nlohmann::json& c) {
    c["CheckpointConfiguration"]["CheckpointingEnabled"] = false;
    return Status{};
  });
  ASSERT_FALSE(off.has_value());
  EXPECT_EQ(off.error().code, Errc::kInvalidArgument);

  // A fresh start checkpoints at once (at the start's time); the next one comes after the interval.
  ASSERT_TRUE(host_->start("server-interval", "TRIM_HORIZON").has_value());
  ASSERT_TRUE(host_->start("own-interval", "TRIM_HORIZON").has_value());
  auto last_checkpoint = [&](const std::string& name) {
    for (const auto& m : host_->metrics()) {
      if (m.name == name) return m.last_checkpoint_ms;
    }
    return TimestampMs{0};
  };
  const TimestampMs started = clock_.now_ms();
  run_until_idle({"own-interval", "server-interval"});
  EXPECT_EQ(last_checkpoint("own-interval"), started);
  EXPECT_EQ(last_checkpoint("server-interval"), started);
  auto checkpointed = [&](const std::string& name) { return last_checkpoint(name) > started; };
  clock_.advance(999);
  run_until_idle({"own-interval", "server-interval"});
  EXPECT_FALSE(checkpointed("own-interval"));
  clock_.advance(1);
  run_until_idle({"own-interval", "server-interval"});
  EXPECT_TRUE(checkpointed("own-interval"));
  EXPECT_FALSE(checkpointed("server-interval"));

  // A restart goes back to the checkpoint taken at the stop: until the next one, that is the
  // latest (in cluster mode, a new owner's figures say so too).
  const TimestampMs stopped = clock_.now_ms();
  host_.reset();
  clock_.advance(500);
  host_ = std::make_unique<ApplicationHost>(dir_ / "apps", *store_, committer_, clock_);
  host_->set_stepped(true);
  ASSERT_TRUE(host_->load().has_value());
  run_until_idle({"own-interval", "server-interval"});
  EXPECT_EQ(last_checkpoint("server-interval"), stopped);
  EXPECT_EQ(last_checkpoint("own-interval"), stopped);
}

// A destination that refuses writes (here: deleted) stops the application's progress with the
// reason visible in describe() and metrics(); its rows stay pending, no ordinal moves past them,
// and once the destination is back they are written, once, under the ordinals they would have had.
TEST_F(ApplicationHostTest, AnOutputThatCannotBeWrittenIsAFaultAndNothingAdvancesPastIt) {
  create_stream("src", 1);
  create_stream("dst", 1);
  create_app("app", "src", "dst");
  std::mt19937 rng(9);
  auto put_minute = [&] {
    for (int i = 0; i < 20; ++i) {
      const std::string data = sale(rng, 100, 25);
      stream::PutEntry e{"k", "", data};
      ASSERT_TRUE(store_->put("src", std::span(&e, 1)).has_value());
    }
    clock_.advance(60'000);
  };
  ASSERT_TRUE(host_->start("app", "TRIM_HORIZON").has_value());
  put_minute();
  run_until_idle({"app"});
  const size_t before = read_all("dst").size();
  ASSERT_GT(before, 0u);
  EXPECT_FALSE(host_->describe("app")->fault);

  ASSERT_TRUE(store_->delete_stream("dst").has_value());
  for (int i = 0; i < 1000 && store_->describe("dst"); ++i)  // the store removes it on its own thread
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  put_minute();
  put_minute();
  run_until_idle({"app"});
  const auto faulty = host_->describe("app");
  ASSERT_TRUE(faulty->fault.has_value());
  EXPECT_NE(faulty->fault->reason.find("dst"), std::string::npos) << faulty->fault->reason;
  EXPECT_EQ(faulty->fault->since_ms, clock_.now_ms());
  auto metrics = host_->metrics();
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_TRUE(metrics[0].fault.has_value());
  const auto errors = host_->recent_errors("app");
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors.back().find("Output_Error"), std::string::npos);

  create_stream("dst", 1);
  run_until_idle({"app"});
  EXPECT_FALSE(host_->describe("app")->fault);
  EXPECT_FALSE(host_->metrics()[0].fault);
  // The rows of the two minutes written while the stream was gone, in order, with the ordinals
  // that follow the rows written before.
  auto read = store_->read_shard("dst", 0, 0, 1000);
  ASSERT_TRUE(read.has_value());
  ASSERT_GE(read->read.records.size(), 2u);
  for (size_t i = 0; i < read->read.records.size(); ++i) {
    EXPECT_EQ(read->read.records[i].partition_key, "app/DEST_SQL_STREAM_BY_STORE_ID:" + std::to_string(before + i));
  }
}

// A checkpoint that cannot be saved is a fault too, reported and retried at the next interval;
// one that is saved clears it.
TEST_F(ApplicationHostTest, ACheckpointThatCannotBeSavedIsAFaultUntilOneIs) {
  host_->set_checkpoint_interval_ms(1000);
  create_stream("src", 1);
  create_stream("dst", 1);
  create_app("app", "src", "dst");
  ASSERT_TRUE(host_->start("app", "TRIM_HORIZON").has_value());
  run_until_idle({"app"});
  const fs::path checkpoint = dir_ / "apps" / path_component("app") / "checkpoint";
  ASSERT_TRUE(fs::exists(checkpoint));
  // The checkpoint's place taken by a non-empty folder: its atomic rename fails.
  fs::remove(checkpoint);
  fs::create_directories(checkpoint / "blocked");
  clock_.advance(1000);
  run_until_idle({"app"});
  auto faulty = host_->describe("app");
  ASSERT_TRUE(faulty->fault.has_value());
  EXPECT_NE(host_->recent_errors("app").back().find("Checkpoint_Error"), std::string::npos);
  fs::remove_all(checkpoint);
  clock_.advance(999);
  run_until_idle({"app"});
  EXPECT_TRUE(host_->describe("app")->fault.has_value());  // not retried before the interval
  clock_.advance(1);
  run_until_idle({"app"});
  EXPECT_FALSE(host_->describe("app")->fault.has_value());
  EXPECT_TRUE(fs::exists(checkpoint));
}

// Placement (common/placement.h): an application placed on another node is checked and recorded
// as RUNNING here, but runs no runner on this node.
TEST_F(ApplicationHostTest, AnApplicationPlacedElsewhereRunsNoRunnerHere) {
  struct Elsewhere : Placement {
    bool runs_here(WorkKind, const std::string& name) const override { return name != "there"; }
  };
  host_->set_placement(std::make_shared<Elsewhere>());
  create_stream("src", 1);
  create_stream("dst", 1);
  create_app("here", "src", "dst");
  create_app("there", "src", "dst");
  ASSERT_TRUE(host_->start("here", "TRIM_HORIZON").has_value());
  ASSERT_TRUE(host_->start("there", "TRIM_HORIZON").has_value());
  EXPECT_EQ(host_->describe("there")->status, "RUNNING");
  EXPECT_TRUE(host_->step("here").has_value());
  auto step = host_->step("there");
  ASSERT_FALSE(step.has_value());
  EXPECT_EQ(step.error().code, Errc::kResourceInUse);
  ASSERT_TRUE(host_->stop("there").has_value());
  EXPECT_EQ(host_->describe("there")->status, "READY");
  // Two creates of one name: one wins, the other is told the name is taken.
  EXPECT_EQ(host_->create({{"ApplicationName", "here"}}).error().code, Errc::kResourceInUse);
}

// Cluster mode: a read of the shared store that began before this node created an application
// (a watch event of an earlier removal of the same name, say) finds no document. That stale
// absence must not remove what the node has just created; a removal read afterwards does.
TEST_F(ApplicationHostTest, AStaleAbsenceDoesNotRemoveAnApplicationJustCreated) {
  struct MemoryStore : MetadataStore {
    std::map<std::string, Document, std::less<>> docs;
    uint64_t next = 1;
    mutable std::function<void()> during_get;  // runs after get has read, before it answers
    Result<std::vector<std::string>> names() const override {
      std::vector<std::string> out;
      for (const auto& [name, _] : docs) out.push_back(name);
      return out;
    }
    Result<std::optional<Document>> get(std::string_view name) const override {
      std::optional<Document> seen;
      if (auto it = docs.find(name); it != docs.end()) seen = it->second;
      if (auto f = std::exchange(during_get, nullptr)) f();
      return seen;
    }
    Result<uint64_t> put(std::string_view name, std::string_view value, uint64_t expected) override {
      auto it = docs.find(name);
      if ((it == docs.end() ? 0 : it->second.revision) != expected) {
        return make_error(expected == 0 ? Errc::kResourceInUse : Errc::kConcurrentModification, "changed");
      }
      docs[std::string(name)] = {std::string(value), next};
      return next++;
    }
    Status remove(std::string_view name, uint64_t) override {
      if (auto it = docs.find(name); it != docs.end()) docs.erase(it);
      return {};
    }
  };
  create_stream("src", 1);
  create_stream("dst", 1);
  ApplicationHost node(dir_ / "node", *store_, committer_, clock_);
  node.set_stepped(true);
  auto memory = std::make_unique<MemoryStore>();
  MemoryStore* shared = memory.get();
  node.set_metadata_store(std::move(memory));
  node.set_shared(true);
  ASSERT_TRUE(node.load().has_value());
  shared->during_get = [&] { ASSERT_TRUE(node.create(app_config("x", "src", "dst")).has_value()); };
  node.learn("x");  // reads "no such document", then the create lands, then the read is applied
  EXPECT_TRUE(node.describe("x").has_value()) << "a stale absence removed the application";
  shared->docs.erase("x");  // removed by another node: read afterwards, it is applied
  node.learn("x");
  EXPECT_FALSE(node.describe("x").has_value());
}

}  // namespace
}  // namespace eddy::host
