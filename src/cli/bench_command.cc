// `eddy bench ingest`: a native load client speaking the Kinesis JSON API, so eddy and any other
// Kinesis-compatible server (kinesalite, AWS) are measured by the same client.
#include <simdjson.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <thread>

#include "api/json_codec.h"
#include "cli/app.h"
#include "cli/bench_latency.h"
#include "cli/common_options.h"
#include "common/digest.h"
#include "common/json_text.h"

namespace eddy::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchOptions : ClientOptions {
  std::string stream = "bench";
  int shards = 4;
  int connections = 8;
  int64_t records = 1'000'000;
  int batch = 500;
  int record_bytes = 100;
  bool skip_drain = false;
  bool drain_only = false;  // read back an existing stream (profiling GetRecords)
};

// Sales-like JSON records padded to about `bytes` bytes.
std::string sales_record(std::mt19937_64& rng, int bytes) {
  static const char* kCategories[] = {"Books", "Electronics", "Toys", "Garden", "Grocery"};
  char buf[256];
  int n = std::snprintf(
      buf, sizeof(buf),
      R"({"category":"%s","store_id":"store_%d","evnt_time":"2021-01-31T14:05:%02d.%06d","sales":%d.%02d)",
      kCategories[rng() % 5], static_cast<int>(rng() % 5 + 1), static_cast<int>(rng() % 60),
      static_cast<int>(rng() % 1000000), static_cast<int>(rng() % 100), static_cast<int>(rng() % 100));
  std::string r(buf, static_cast<size_t>(n));
  if (static_cast<int>(r.size()) + 1 < bytes)
    r += ",\"pad\":\"" + std::string(static_cast<size_t>(std::max(0, bytes - static_cast<int>(r.size()) - 10)), 'x') +
         "\"";
  r += '}';
  return r;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int bench_ingest(const BenchOptions& o) {
  std::string error;
  auto admin = make_client(o, error);
  if (!admin) return fail(error);
  auto call = [&](api::ApiClient& c, const char* op, const nlohmann::json& body) -> Result<nlohmann::json> {
    auto r = c.call(std::string(kKinesis) + op, body.dump());
    if (!r) return tl::unexpected(r.error());
    return r->empty() ? nlohmann::json::object() : nlohmann::json::parse(*r);
  };
  // A fresh stream, so the drain reads exactly what this run wrote.
  if (!o.drain_only) (void)call(*admin, "DeleteStream", {{"StreamName", o.stream}});
  for (int i = 0; i < 600 && !o.drain_only; ++i) {
    if (!call(*admin, "DescribeStreamSummary", {{"StreamName", o.stream}})) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (auto r = o.drain_only ? call(*admin, "DescribeStreamSummary", {{"StreamName", o.stream}})
                            : call(*admin, "CreateStream", {{"StreamName", o.stream}, {"ShardCount", o.shards}});
      !r) {
    return fail("cannot create stream " + o.stream + ": " + r.error().message);
  }
  for (int i = 0;; ++i) {
    auto d = call(*admin, "DescribeStreamSummary", {{"StreamName", o.stream}});
    if (d && (*d)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE") break;
    if (i == 600) return fail("stream " + o.stream + " did not become ACTIVE within 30 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  // Prebuilt request bodies, cycled, so the client spends its CPU on the wire, not on JSON.
  std::mt19937_64 rng{42};
  std::vector<std::string> bodies;
  size_t payload_bytes_per_batch = 0;
  for (int b = 0; b < 16; ++b) {
    std::string body = "{\"StreamName\":";
    append_json_string(body, o.stream);
    body += ",\"Records\":[";
    size_t payload = 0;
    for (int i = 0; i < o.batch; ++i) {
      const auto rec = sales_record(rng, o.record_bytes);
      char key[40];
      std::snprintf(key, sizeof(key), "%016llx", static_cast<unsigned long long>(rng()));
      if (i) body += ',';
      body += "{\"Data\":\"";
      base64_encode_append(rec, body);
      body += "\",\"PartitionKey\":\"";
      body += key;
      body += "\"}";
      payload += rec.size() + 16;
    }
    body += "]}";
    bodies.push_back(std::move(body));
    payload_bytes_per_batch = std::max(payload_bytes_per_batch, payload);
  }

  const int64_t batches = o.drain_only ? 0 : (o.records + o.batch - 1) / o.batch;
  std::atomic<int64_t> next_batch{0}, failed_records{0}, failed_calls{0};
  std::mutex lat_mu;
  std::vector<double> latencies;
  std::string first_error;
  const auto t0 = Clock::now();
  std::vector<std::thread> workers;
  for (int c = 0; c < o.connections; ++c) {
    workers.emplace_back([&, c] {
      std::string err;
      auto client = make_client(o, err);
      std::vector<double> mine;
      for (int64_t b = next_batch++; b < batches; b = next_batch++) {
        const auto& body = bodies[static_cast<size_t>(b + c) % bodies.size()];
        const auto start = Clock::now();
        auto r = client->post("Kinesis_20131202.PutRecords", body);
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        if (!r || r->status != 200) {
          ++failed_calls;
          failed_records += o.batch;
          std::lock_guard lock(lat_mu);
          if (first_error.empty()) first_error = r ? r->body.substr(0, 200) : r.error().message;
          continue;
        }
        // FailedRecordCount is near the start of eddy's answer; find it without a full parse.
        const auto pos = r->body.find("\"FailedRecordCount\":");
        if (pos != std::string::npos) failed_records += std::atoll(r->body.c_str() + pos + 20);
      }
      std::lock_guard lock(lat_mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& w : workers) w.join();
  const double put_secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const int64_t put_records = batches * o.batch - failed_records.load();
  const double put_rate = static_cast<double>(put_records) / put_secs;
  const double put_mb = static_cast<double>(batches) * static_cast<double>(payload_bytes_per_batch) / put_secs / 1e6;
  const double p50 = percentile(latencies, 0.50), p99 = percentile(latencies, 0.99);

  // Drain: every shard from TRIM_HORIZON, one thread per shard (up to --connections).
  double get_rate = 0;
  int64_t drained = 0;
  if (!o.skip_drain) {
    auto shards = call(*admin, "ListShards", {{"StreamName", o.stream}});
    if (!shards) return fail(shards.error().message);
    std::vector<std::string> ids;
    for (const auto& s : (*shards)["Shards"]) ids.push_back(s["ShardId"]);
    std::atomic<size_t> next_shard{0};
    std::atomic<int64_t> total{0};
    const auto g0 = Clock::now();
    std::vector<std::thread> readers;
    for (int c = 0; c < std::min<int>(o.connections, static_cast<int>(ids.size())); ++c) {
      readers.emplace_back([&] {
        std::string err;
        auto client = make_client(o, err);
        simdjson::dom::parser parser;
        for (size_t i = next_shard++; i < ids.size(); i = next_shard++) {
          nlohmann::json req = {{"StreamName", o.stream}, {"ShardId", ids[i]}, {"ShardIteratorType", "TRIM_HORIZON"}};
          auto it = client->call("Kinesis_20131202.GetShardIterator", req.dump());
          if (!it) continue;
          std::string iterator = std::string(parser.parse(*it)["ShardIterator"].get_string().value());
          for (int calls = 0; calls < 1'000'000; ++calls) {
            std::string body = "{\"ShardIterator\":\"" + iterator + "\",\"Limit\":10000}";
            auto r = client->post("Kinesis_20131202.GetRecords", body);
            if (!r || r->status != 200) break;
            simdjson::dom::element doc;
            if (parser.parse(r->body).get(doc)) break;
            simdjson::dom::array recs;
            if (doc["Records"].get(recs)) break;
            total += static_cast<int64_t>(recs.size());
            int64_t behind = 0;
            if (doc["MillisBehindLatest"].get(behind)) behind = 0;
            std::string_view next;
            if (doc["NextShardIterator"].get(next)) break;
            iterator = std::string(next);
            if (recs.size() == 0 && behind == 0) break;
          }
        }
      });
    }
    for (auto& r : readers) r.join();
    const double get_secs = std::chrono::duration<double>(Clock::now() - g0).count();
    drained = total.load();
    get_rate = static_cast<double>(drained) / get_secs;
  }

  std::printf("\n%-34s %s\n", "endpoint", o.endpoint.c_str());
  std::printf("%-34s %d shards, %d connections, batches of %d x ~%d B\n", "setup", o.shards, o.connections, o.batch,
              o.record_bytes);
  std::printf("%-34s %lld in %.2f s\n", "PutRecords records", static_cast<long long>(put_records), put_secs);
  std::printf("%-34s %.0f\n", "PutRecords records/s", put_rate);
  std::printf("%-34s %.1f\n", "PutRecords MB/s (payload)", put_mb);
  std::printf("%-34s %.2f / %.2f\n", "PutRecords call p50 / p99 (ms)", p50, p99);
  std::printf("%-34s %lld records, %lld failed calls\n", "failed", static_cast<long long>(failed_records.load()),
              static_cast<long long>(failed_calls.load()));
  if (!o.skip_drain) {
    std::printf("%-34s %lld\n", "GetRecords records drained", static_cast<long long>(drained));
    std::printf("%-34s %.0f\n", "GetRecords records/s", get_rate);
  }
  std::printf(
      "RESULT put_records_per_s=%.0f put_mb_per_s=%.1f put_p50_ms=%.2f put_p99_ms=%.2f get_records_per_s=%.0f\n",
      put_rate, put_mb, p50, p99, get_rate);
  if (!first_error.empty()) std::fprintf(stderr, "eddy: first failed call: %s\n", first_error.c_str());
  if (!o.skip_drain && !o.drain_only && drained != put_records) {
    std::fprintf(stderr, "eddy: drained %lld records but %lld were acknowledged\n", static_cast<long long>(drained),
                 static_cast<long long>(put_records));
    return 1;
  }
  return failed_calls.load() == 0 ? 0 : 1;
}

struct FirehoseBenchOptions : ClientOptions {
  std::string stream = "bench-delivery";
  std::string bucket_dir;  // <data-dir>/bucket of the server, to wait for delivery
  int connections = 8;
  int64_t records = 1'000'000;
  int batch = 500;
  int record_bytes = 100;
  bool gzip = false;
};

// PutRecordBatch load into a delivery stream writing to a bucket directory; then, given the
// server's bucket directory, the time until every record is in an object.
int bench_firehose(const FirehoseBenchOptions& o) {
  std::string error;
  auto endpoint = api::parse_endpoint(o.endpoint);
  if (!endpoint) return fail(endpoint.error().message);
  api::ApiClient admin(*endpoint, api::credentials_from_environment(), o.region, "firehose");
  (void)admin.call("Firehose_20150804.DeleteDeliveryStream", nlohmann::json{{"DeliveryStreamName", o.stream}}.dump());
  const std::string bucket = "eddy-bench";
  nlohmann::json create = {
      {"DeliveryStreamName", o.stream},
      {"ExtendedS3DestinationConfiguration",
       {{"RoleARN", "arn:aws:iam::000000000000:role/bench"},
        {"BucketARN", "arn:aws:s3:::" + bucket},
        {"Prefix", o.stream + "/"},
        {"CompressionFormat", o.gzip ? "GZIP" : "UNCOMPRESSED"},
        {"BufferingHints", {{"SizeInMBs", 64}, {"IntervalInSeconds", 1}}},
        {"ProcessingConfiguration", {{"Enabled", true}, {"Processors", {{{"Type", "AppendDelimiterToRecord"}}}}}}}}};
  if (auto r = admin.call("Firehose_20150804.CreateDeliveryStream", create.dump()); !r) return fail(r.error().message);
  std::mt19937_64 rng{7};
  std::vector<std::string> bodies;
  for (int b = 0; b < 16; ++b) {
    std::string body = R"({"DeliveryStreamName":")" + o.stream + R"(","Records":[)";
    for (int i = 0; i < o.batch; ++i) {
      if (i) body += ',';
      body += R"({"Data":")";
      base64_encode_append(sales_record(rng, o.record_bytes), body);
      body += "\"}";
    }
    body += "]}";
    bodies.push_back(std::move(body));
  }
  const int64_t batches = (o.records + o.batch - 1) / o.batch;
  std::atomic<int64_t> next{0}, failed{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> workers;
  for (int c = 0; c < o.connections; ++c) {
    workers.emplace_back([&, c] {
      api::ApiClient client(*endpoint, api::credentials_from_environment(), o.region, "firehose");
      for (int64_t b = next++; b < batches; b = next++) {
        auto r = client.post("Firehose_20150804.PutRecordBatch", bodies[static_cast<size_t>(b + c) % bodies.size()]);
        if (!r || r->status != 200 || r->body.find("\"FailedPutCount\":0") == std::string::npos) failed += o.batch;
      }
    });
  }
  for (auto& w : workers) w.join();
  const double put_secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const int64_t sent = batches * o.batch;
  double delivered_secs = 0;
  int64_t delivered = 0;
  if (!o.bucket_dir.empty()) {
    // Count newline-delimited records in the objects written (uncompressed runs only).
    const auto dir = std::filesystem::path(o.bucket_dir) / bucket / o.stream;
    for (int i = 0; i < 1200 && delivered < sent - failed.load(); ++i) {
      delivered = 0;
      std::error_code ec;
      for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
        if (!e.is_regular_file() || e.path().extension() == ".tmp") continue;
        if (o.gzip) {
          delivered += 1;
          continue;
        }
        std::ifstream in(e.path(), std::ios::binary);
        delivered += std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n');
      }
      if (o.gzip || delivered >= sent - failed.load()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    delivered_secs = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  const double rate = static_cast<double>(sent - failed.load()) / put_secs;
  const double mb = static_cast<double>(sent) * o.record_bytes / put_secs / 1e6;
  std::printf("\n%-34s %s\n", "endpoint", o.endpoint.c_str());
  std::printf("%-34s %lld records x ~%d B, batches of %d, %d connections, %s\n", "setup", static_cast<long long>(sent),
              o.record_bytes, o.batch, o.connections, o.gzip ? "GZIP" : "UNCOMPRESSED");
  std::printf("%-34s %.0f\n", "PutRecordBatch records/s", rate);
  std::printf("%-34s %.1f\n", "PutRecordBatch MB/s", mb);
  if (!o.bucket_dir.empty() && !o.gzip) {
    std::printf("%-34s %lld in %.2f s (%.0f records/s end to end)\n", "delivered into objects",
                static_cast<long long>(delivered), delivered_secs, static_cast<double>(delivered) / delivered_secs);
  }
  std::printf("RESULT put_records_per_s=%.0f put_mb_per_s=%.1f delivered=%lld failed=%lld\n", rate, mb,
              static_cast<long long>(delivered), static_cast<long long>(failed.load()));
  return failed.load() == 0 ? 0 : 1;
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<BenchOptions>();
  auto* cmd = app.add_subcommand("bench", "Benchmarks against a running Kinesis-compatible endpoint");
  cmd->require_subcommand(1);
  auto* ingest = cmd->add_subcommand("ingest", "PutRecords load over N connections, then a GetRecords drain");
  ingest->add_option("--endpoint", o->endpoint, "Server URL")->capture_default_str();
  ingest->add_option("--stream", o->stream, "Stream to (re)create")->capture_default_str();
  ingest->add_option("--shards", o->shards, "Shards")->capture_default_str();
  ingest->add_option("--connections", o->connections, "Concurrent connections")->capture_default_str();
  ingest->add_option("--records", o->records, "Records to put")->capture_default_str();
  ingest->add_option("--batch", o->batch, "Records per PutRecords")->capture_default_str()->check(CLI::Range(1, 500));
  ingest->add_option("--record-bytes", o->record_bytes, "Approximate record size")->capture_default_str();
  ingest->add_flag("--skip-drain", o->skip_drain, "Only measure PutRecords");
  ingest->add_flag("--drain-only", o->drain_only, "Only read back the existing --stream (no PutRecords)");
  ingest->callback([o, &exit_code] { exit_code = bench_ingest(*o); });
  add_bench_jetstream_command(*cmd, exit_code);

  auto f = std::make_shared<FirehoseBenchOptions>();
  auto* fh = cmd->add_subcommand("firehose", "PutRecordBatch load into a delivery stream writing a bucket directory");
  fh->add_option("--endpoint", f->endpoint, "Server URL")->capture_default_str();
  fh->add_option("--stream", f->stream, "Delivery stream to (re)create")->capture_default_str();
  fh->add_option("--bucket-dir", f->bucket_dir,
                 "The server's <data-dir>/bucket, to wait until every record is delivered");
  fh->add_option("--connections", f->connections, "Concurrent connections")->capture_default_str();
  fh->add_option("--records", f->records, "Records to put")->capture_default_str();
  fh->add_option("--batch", f->batch, "Records per PutRecordBatch")->capture_default_str()->check(CLI::Range(1, 500));
  fh->add_option("--record-bytes", f->record_bytes, "Approximate record size")->capture_default_str();
  fh->add_flag("--gzip", f->gzip, "GZIP objects");
  fh->callback([f, &exit_code] { exit_code = bench_firehose(*f); });

  auto l = std::make_shared<LatencyBenchOptions>();
  auto* lat =
      cmd->add_subcommand("latency", "Window close -> output row latency of a SQL application (the seed query)");
  lat->add_option("--endpoint", l->endpoint, "Server URL")->capture_default_str();
  lat->add_option("--seconds", l->seconds, "Seconds of steady load")->capture_default_str()->check(CLI::Range(2, 3600));
  lat->add_option("--rate", l->rate, "Events per second")->capture_default_str()->check(CLI::Range(100, 100000));
  lat->add_option("--window-seconds", l->window_seconds, "STEP window length")
      ->capture_default_str()
      ->check(CLI::Range(1, 60));
  lat->callback([l, &exit_code] { exit_code = bench_latency(*l); });
}

}  // namespace eddy::cli
