// `eddy bench jetstream`: the engine's own ceiling for cluster mode. Publishes the batches an
// eddy node would append for `eddy bench ingest`'s PutRecords (per request, one message per shard
// in eddy's batch format) straight to JetStream with libnats, over N connections, and reports the
// same figures. No eddy server is involved.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "cli/app.h"
#include "cli/common_options.h"
#include "cluster/jetstream_shard.h"
#include "cluster/nats_connection.h"
#include "log/batch_format.h"

namespace eddy::cli {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct JetStreamBenchOptions {
  std::string cluster;
  int shards = 4;
  int connections = 8;
  int64_t records = 1'000'000;
  int batch = 500;
  int record_bytes = 100;
  int replicas = 1;
};

int bench_jetstream(const JetStreamBenchOptions& o) {
  const auto urls = split_list(o.cluster);
  auto admin = cluster::NatsConnection::connect({.urls = urls, .name = "eddy bench"});
  if (!admin) return fail(admin.error().message);
  // Fresh shard streams with the configuration eddy gives its own.
  const uint64_t id = std::random_device{}();
  for (int s = 0; s < o.shards; ++s) {
    jsErrCode code = static_cast<jsErrCode>(0);
    (void)js_DeleteStream((*admin)->jetstream(), cluster::shard_stream_name(id, s).c_str(), nullptr, &code);
    auto shard = cluster::JetStreamShard::open(**admin, {.stream = cluster::shard_stream_name(id, s),
                                                         .subject = cluster::shard_subject(id, s),
                                                         .description = "eddy bench jetstream",
                                                         .replicas = o.replicas});
    if (!shard) return fail(shard.error().message);
  }
  // Prebuilt messages: a request's records split over the shards, as eddy routes them.
  std::mt19937_64 rng{42};
  const int per_shard = std::max(1, o.batch / o.shards);
  std::vector<std::string> messages;
  for (int m = 0; m < 16; ++m) {
    std::vector<std::string> data, keys;
    for (int i = 0; i < per_shard; ++i) {
      data.push_back(std::string(static_cast<size_t>(o.record_bytes), static_cast<char>('a' + rng() % 26)));
      char key[40];
      std::snprintf(key, sizeof(key), "%016llx", static_cast<unsigned long long>(rng()));
      keys.push_back(key);
    }
    std::vector<log::AppendRecord> recs;
    for (int i = 0; i < per_shard; ++i) recs.push_back({keys[i], "", data[i]});
    std::string bytes;
    log::encode_batch(0, 0, recs, bytes);
    messages.push_back(std::move(bytes));
  }
  const int64_t requests = (o.records + o.batch - 1) / o.batch;
  std::atomic<int64_t> next{0}, failed{0};
  std::mutex mu;
  std::vector<double> latencies;
  std::string first_error;
  const auto t0 = SteadyClock::now();
  std::vector<std::thread> workers;
  for (int c = 0; c < o.connections; ++c) {
    workers.emplace_back([&, c] {
      auto nats = cluster::NatsConnection::connect({.urls = urls, .name = "eddy bench " + std::to_string(c)});
      if (!nats) {
        failed += requests;
        return;
      }
      std::vector<double> mine;
      for (int64_t r = next++; r < requests; r = next++) {
        const auto start = SteadyClock::now();
        for (int s = 0; s < o.shards; ++s) {
          const auto& msg = messages[static_cast<size_t>(r + s) % messages.size()];
          const std::string subject = cluster::shard_subject(id, s);
          jsErrCode code = static_cast<jsErrCode>(0);
          natsStatus st = js_Publish(nullptr, (*nats)->jetstream(), subject.c_str(), msg.data(),
                                     static_cast<int>(msg.size()), nullptr, &code);
          if (st != NATS_OK) {
            ++failed;
            std::lock_guard lock(mu);
            if (first_error.empty()) first_error = natsStatus_GetText(st);
          }
        }
        mine.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count());
      }
      std::lock_guard lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& w : workers) w.join();
  const double secs = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    return latencies.empty() ? 0.0
                             : latencies[std::min(latencies.size() - 1, static_cast<size_t>(p * latencies.size()))];
  };
  const int64_t records = requests * per_shard * o.shards;
  std::printf(
      "jetstream publish: %lld records in %.2f s = %.0f records/s, request (one message per shard) "
      "p50 %.2f ms p99 %.2f ms, %lld failed publishes%s%s\n",
      static_cast<long long>(records), secs, static_cast<double>(records) / secs, pct(0.5), pct(0.99),
      static_cast<long long>(failed.load()), first_error.empty() ? "" : ", first: ", first_error.c_str());
  for (int s = 0; s < o.shards; ++s) {
    jsErrCode code = static_cast<jsErrCode>(0);
    (void)js_DeleteStream((*admin)->jetstream(), cluster::shard_stream_name(id, s).c_str(), nullptr, &code);
  }
  return failed.load() == 0 ? 0 : 1;
}

}  // namespace

void add_bench_jetstream_command(CLI::App& bench, int& exit_code) {
  auto o = std::make_shared<JetStreamBenchOptions>();
  auto* cmd = bench.add_subcommand(
      "jetstream", "Publish eddy's batches straight to JetStream (the ceiling of cluster mode's ingest)");
  cmd->add_option("--cluster", o->cluster, "NATS URLs, comma-separated")->required();
  cmd->add_option("--shards", o->shards, "Shards (one JetStream stream each)")->capture_default_str();
  cmd->add_option("--connections", o->connections, "Concurrent connections")->capture_default_str();
  cmd->add_option("--records", o->records, "Records to publish")->capture_default_str();
  cmd->add_option("--batch", o->batch, "Records per request (split over the shards)")->capture_default_str();
  cmd->add_option("--record-bytes", o->record_bytes, "Record size")->capture_default_str();
  cmd->add_option("--replicas", o->replicas, "Copies of each shard stream")->capture_default_str();
  cmd->callback([o, &exit_code] { exit_code = bench_jetstream(*o); });
}

}  // namespace eddy::cli
