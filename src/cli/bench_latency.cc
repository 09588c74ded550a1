// `eddy bench latency`: how long after a window closes its row is in the output stream. A SQL
// application (the seed query on a short STEP window) runs on the server; sales events are put at
// a steady rate; each output record's ApproximateArrivalTimestamp minus its window's end (the
// row's "timestamp", which is the window end on the server's arrival clock) is the latency. Both
// times come from the server's clock, so the client's clock and network do not enter.
#include "cli/bench_latency.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>

#include "api/client.h"
#include "cli/common_options.h"
#include "common/digest.h"
#include "common/time_format.h"

namespace eddy::cli {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kIn = "bench-latency-in";
constexpr const char* kOut = "bench-latency-out";
constexpr const char* kApp = "bench-latency";

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())) - 1))];
}

// Polls `check` every 100 ms for up to 30 s.
template <class F>
bool wait_until(F check) {
  for (int i = 0; i < 300; ++i) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace

int bench_latency(const LatencyBenchOptions& o) {
  auto endpoint = api::parse_endpoint(o.endpoint);
  if (!endpoint) return fail(endpoint.error().message);
  const auto credentials = api::credentials_from_environment();
  api::ApiClient kinesis(*endpoint, credentials, o.region, "kinesis");
  api::ApiClient analytics(*endpoint, credentials, o.region, "kinesisanalytics");
  const std::string account_region = o.region + ":000000000000";
  auto stream_arn = [&](const std::string& name) { return "arn:aws:kinesis:" + account_region + ":stream/" + name; };

  // A clean slate: the application and both streams from an earlier run go first.
  if (auto d =
          analytics.call("KinesisAnalytics_20150814.DescribeApplication", json{{"ApplicationName", kApp}}.dump())) {
    const auto created = json::parse(*d)["ApplicationDetail"].value("CreateTimestamp", json(0));
    if (auto r = analytics.call("KinesisAnalytics_20150814.DeleteApplication",
                                json{{"ApplicationName", kApp}, {"CreateTimestamp", created}}.dump());
        !r) {
      return fail("cannot delete the application of an earlier run: " + r.error().message);
    }
  }
  for (const char* s : {kIn, kOut}) {
    (void)kinesis.call("Kinesis_20131202.DeleteStream", json{{"StreamName", s}}.dump());
    if (!wait_until([&] {
          return !kinesis.call("Kinesis_20131202.DescribeStreamSummary", json{{"StreamName", s}}.dump());
        })) {
      return fail(std::string("stream ") + s + " from an earlier run is not going away; delete it and retry");
    }
    if (auto r = kinesis.call("Kinesis_20131202.CreateStream", json{{"StreamName", s}, {"ShardCount", 1}}.dump()); !r) {
      return fail("CreateStream " + std::string(s) + ": " + r.error().message);
    }
  }
  if (!wait_until([&] {
        auto r = kinesis.call("Kinesis_20131202.DescribeStreamSummary", json{{"StreamName", kIn}}.dump());
        return r && r->find("ACTIVE") != std::string::npos;
      })) {
    return fail("the input stream did not become ACTIVE within 30 s");
  }

  const std::string sql =
      "CREATE OR REPLACE STREAM \"DEST\" (\"store_id\" VARCHAR(16), \"revenue\" REAL, \"timestamp\" TIMESTAMP);\n"
      "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"DEST\"\n"
      "SELECT STREAM \"store_id\", SUM(\"sales\") AS \"revenue\", ROWTIME AS \"timestamp\" FROM \"SALES_001\"\n"
      "GROUP BY STEP(\"SALES_001\".ROWTIME BY INTERVAL '" +
      std::to_string(o.window_seconds) + "' SECOND), \"store_id\";\n";
  const json schema = {
      {"RecordFormat",
       {{"RecordFormatType", "JSON"}, {"MappingParameters", {{"JSONMappingParameters", {{"RecordRowPath", "$"}}}}}}},
      {"RecordEncoding", "UTF-8"},
      {"RecordColumns", json::array({{{"Name", "store_id"}, {"Mapping", "$.store_id"}, {"SqlType", "VARCHAR(16)"}},
                                     {{"Name", "sales"}, {"Mapping", "$.sales"}, {"SqlType", "REAL"}}})}};
  const json create = {
      {"ApplicationName", kApp},
      {"ApplicationCode", sql},
      {"Inputs",
       json::array({{{"NamePrefix", "SALES"},
                     {"KinesisStreamsInput",
                      {{"ResourceARN", stream_arn(kIn)}, {"RoleARN", "arn:aws:iam::000000000000:role/bench"}}},
                     {"InputSchema", schema}}})},
      {"Outputs",
       json::array({{{"Name", "DEST"},
                     {"KinesisStreamsOutput",
                      {{"ResourceARN", stream_arn(kOut)}, {"RoleARN", "arn:aws:iam::000000000000:role/bench"}}},
                     {"DestinationSchema", {{"RecordFormatType", "JSON"}}}}})}};
  if (auto r = analytics.call("KinesisAnalytics_20150814.CreateApplication", create.dump()); !r) {
    return fail("CreateApplication: " + r.error().message);
  }
  if (auto r = analytics.call(
          "KinesisAnalytics_20150814.StartApplication",
          json{{"ApplicationName", kApp},
               {"InputConfigurations",
                json::array(
                    {{{"Id", "1.1"}, {"InputStartingPositionConfiguration", {{"InputStartingPosition", "NOW"}}}}})}}
              .dump());
      !r) {
    return fail("StartApplication: " + r.error().message);
  }
  if (!wait_until([&] {
        auto r =
            analytics.call("KinesisAnalytics_20150814.DescribeApplication", json{{"ApplicationName", kApp}}.dump());
        return r && r->find("\"RUNNING\"") != std::string::npos;
      })) {
    return fail("the application did not reach RUNNING within 30 s");
  }

  // Steady load: a PutRecords every 10 ms carrying rate/100 events.
  std::fprintf(stderr, "bench latency: putting %d events/s for %d s (windows of %d s)\n", o.rate, o.seconds,
               o.window_seconds);
  std::mt19937_64 rng(11);
  const int per_tick = std::max(1, o.rate / 100);
  int64_t sent = 0, failed = 0;
  const auto start = SteadyClock::now();
  const auto stop = start + std::chrono::seconds(o.seconds);
  auto tick = start;
  int64_t shown = -1;
  while (SteadyClock::now() < stop) {
    json records = json::array();
    for (int i = 0; i < per_tick; ++i) {
      char data[128];
      std::snprintf(data, sizeof data, R"({"store_id":"store_%d","sales":%d.%02d})", static_cast<int>(rng() % 5 + 1),
                    static_cast<int>(rng() % 100), static_cast<int>(rng() % 100));
      records.push_back({{"Data", base64_encode(data)}, {"PartitionKey", std::to_string(rng())}});
    }
    auto r = kinesis.call("Kinesis_20131202.PutRecords", json{{"StreamName", kIn}, {"Records", records}}.dump());
    sent += per_tick;
    if (!r)
      failed += per_tick;
    else
      failed += json::parse(*r).value("FailedRecordCount", 0);
    tick += std::chrono::milliseconds(10);
    std::this_thread::sleep_until(tick);
    const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(SteadyClock::now() - start).count();
    if (elapsed != shown) {  // progress once a second
      shown = elapsed;
      std::fprintf(stderr, "\rbench latency: %lld events sent (%d/s), %lld failed, %lld s of %d",
                   static_cast<long long>(sent), o.rate, static_cast<long long>(failed),
                   static_cast<long long>(elapsed), o.seconds);
    }
  }
  std::fprintf(stderr, "\n");
  // The last window closes on the wall clock (no more input): wait for it, then read everything.
  std::this_thread::sleep_for(std::chrono::seconds(o.window_seconds + 3));

  auto it = kinesis.call(
      "Kinesis_20131202.GetShardIterator",
      json{{"StreamName", kOut}, {"ShardId", "shardId-000000000000"}, {"ShardIteratorType", "TRIM_HORIZON"}}.dump());
  if (!it) return fail("GetShardIterator: " + it.error().message);
  std::string iterator = json::parse(*it).value("ShardIterator", "");
  struct Row {
    TimestampMs window_end;
    double arrival_ms;
  };
  std::vector<Row> rows;
  for (int calls = 0; calls < 10000 && !iterator.empty(); ++calls) {
    auto r = kinesis.call("Kinesis_20131202.GetRecords", json{{"ShardIterator", iterator}}.dump());
    if (!r) return fail("GetRecords: " + r.error().message);
    const auto page = json::parse(*r);
    for (const auto& rec : page["Records"]) {
      auto data = base64_decode(rec.value("Data", ""));
      if (!data) continue;
      const auto row = json::parse(*data, nullptr, false);
      if (row.is_discarded() || !row.contains("timestamp")) continue;
      auto end = parse_iso8601_ms(row["timestamp"].get<std::string>());
      if (!end) continue;
      rows.push_back({*end, rec.value("ApproximateArrivalTimestamp", 0.0) * 1000.0});
    }
    iterator = page.value("NextShardIterator", "");
    if (page["Records"].empty() && page.value("MillisBehindLatest", 0) == 0) break;
  }
  (void)analytics.call("KinesisAnalytics_20150814.StopApplication", json{{"ApplicationName", kApp}}.dump());
  if (rows.empty()) return fail("no output rows were read from " + std::string(kOut) + ": is the application running?");

  // Windows that closed while events kept arriving, and the last one, closed by the clock.
  const TimestampMs last_end = std::max_element(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
                                 return a.window_end < b.window_end;
                               })->window_end;
  std::vector<double> flowing, idle;
  for (const auto& r : rows)
    (r.window_end == last_end ? idle : flowing).push_back(r.arrival_ms - static_cast<double>(r.window_end));
  std::printf("\n%-44s %s\n", "endpoint", o.endpoint.c_str());
  std::printf("%-44s %lld events at %d/s over %d s, windows of %d s, %lld failed puts\n", "load",
              static_cast<long long>(sent), o.rate, o.seconds, o.window_seconds, static_cast<long long>(failed));
  std::printf("%-44s %zu rows\n", "output rows (window x store)", rows.size());
  std::printf("%-44s p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n", "latency after window end, ms (input flowing)",
              percentile(flowing, 0.5), percentile(flowing, 0.9), percentile(flowing, 0.99),
              flowing.empty() ? 0.0 : *std::max_element(flowing.begin(), flowing.end()));
  std::printf("%-44s max %.0f\n", "latency of the last window (closed by clock)",
              idle.empty() ? 0.0 : *std::max_element(idle.begin(), idle.end()));
  std::printf("RESULT rows=%zu p50_ms=%.0f p99_ms=%.0f idle_close_ms=%.0f failed=%lld\n", rows.size(),
              percentile(flowing, 0.5), percentile(flowing, 0.99),
              idle.empty() ? 0.0 : *std::max_element(idle.begin(), idle.end()), static_cast<long long>(failed));
  return failed == 0 ? 0 : 1;
}

}  // namespace eddy::cli
