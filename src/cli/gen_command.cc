// `eddy gen sales|trades`: the seed producers as a command. Records go out as PutRecords batches
// paced by a token bucket at --rate, for --count records or --duration seconds (or until Ctrl-C),
// with a live progress line and the seed's summary line at the end.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <sstream>
#include <thread>

#include "api/json_codec.h"
#include "cli/app.h"
#include "cli/common_options.h"
#include "cli/event_generator.h"
#include "cli/progress.h"
#include "cli/token_bucket.h"
#include "common/digest.h"
#include "common/json_text.h"

namespace eddy::cli {
namespace {

// With --seed and no --start-time, event times start here (the seed's example day), so that the
// whole run is reproducible.
constexpr std::string_view kSeededStart = "2021-01-31T14:46:00Z";
constexpr int kMaxAttempts = 8;

struct GenOptions : ClientOptions {
  EventKind kind = EventKind::kSales;
  std::string stream;
  double rate = 100;
  int64_t count = 0;
  double duration = 0;
  uint64_t seed = 0;
  bool seeded = false;
  std::string start_time;
  int stores = 5;
  std::string categories;
  int batch = 0;
};

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_interrupt(int) {
  g_interrupted = 1;
}

int64_t wall_clock_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string cents_text(int64_t cents) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%02lld", static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return buf;
}

// Resolves --categories: empty (the seed's two), "all" (the 16-item list) or a comma-separated list.
bool resolve_categories(const std::string& spec, std::vector<std::string>& out, std::string& error) {
  if (spec.empty()) return true;
  if (spec == "all") {
    out = all_categories();
    return true;
  }
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) {
      error = "--categories takes 'all' or a comma-separated list like Books,Electronics,Toys (an item is empty)";
      return false;
    }
    out.push_back(item);
  }
  return true;
}

// The PutRecords body for `batch`.
std::string put_records_body(const std::string& stream, const std::vector<GeneratedRecord>& batch) {
  std::string body = "{\"StreamName\":";
  append_json_string(body, stream);
  body += ",\"Records\":[";
  for (size_t i = 0; i < batch.size(); ++i) {
    if (i) body += ',';
    body += "{\"Data\":\"";
    base64_encode_append(batch[i].data, body);
    body += "\",\"PartitionKey\":";
    append_json_string(body, batch[i].partition_key);
    body += '}';
  }
  body += "]}";
  return body;
}

int gen(const GenOptions& o) {
  if (o.count == 0 && o.duration == 0 && o.rate == 0) {
    return fail("--rate 0 (unpaced) needs --count or --duration, or it would flood the stream until Ctrl-C");
  }
  GeneratorOptions g;
  g.kind = o.kind;
  g.seed = o.seeded ? o.seed : std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32);
  g.stores = o.stores;
  std::string error;
  if (!resolve_categories(o.categories, g.categories, error)) return fail(error);
  if (!o.start_time.empty() || o.seeded) {
    const std::string_view text = o.start_time.empty() ? kSeededStart : std::string_view(o.start_time);
    if (text != "now") {
      g.start_us = parse_event_time_us(text);
      if (!g.start_us)
        return fail("--start-time must be an ISO-8601 UTC time like 2026-01-31T14:46:00Z or 'now', got '" +
                    std::string(text) + "'");
    } else {
      g.start_us = wall_clock_us();
    }
    // Synthetic event times advance at the nominal rate (1 ms apart when unpaced).
    g.spacing_us = o.rate > 0 ? static_cast<int64_t>(1e6 / o.rate) : 1000;
  }
  auto client = make_client(o, error);
  if (!client) return fail(error);
  const std::string stream = o.stream.empty() ? (o.kind == EventKind::kSales ? "sales" : "trades") : o.stream;

  // About 20 PutRecords calls a second at the given rate, at most 500 records each (the API's limit).
  const size_t batch_size = o.batch > 0  ? static_cast<size_t>(o.batch)
                            : o.rate > 0 ? std::clamp<size_t>(static_cast<size_t>(o.rate / 20), 1, 500)
                                         : 500;
  using Steady = std::chrono::steady_clock;
  const auto start = Steady::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(Steady::now() - start).count(); };
  TokenBucket bucket(o.rate, std::max<double>(static_cast<double>(batch_size), o.rate), 0);
  EventGenerator generator(g);
  Progress progress("gen: sent");
  uint64_t generated = 0, sent = 0, failed = 0;
  int64_t total_cents = 0;

  g_interrupted = 0;
  auto previous = std::signal(SIGINT, on_interrupt);
  std::vector<GeneratedRecord> batch;
  while (!g_interrupted) {
    if (o.count > 0 && generated >= static_cast<uint64_t>(o.count)) break;
    const double now = elapsed();
    if (o.duration > 0 && now >= o.duration) break;
    size_t want = batch_size;
    if (o.count > 0) want = std::min<size_t>(want, static_cast<size_t>(o.count) - generated);
    if (o.rate > 0) {
      if (const double wait = bucket.wait_for(want, now); wait > 0) {
        // Short sleeps: Ctrl-C and the end of --duration are noticed promptly.
        double nap = std::min(wait, 0.1);
        if (o.duration > 0) nap = std::min(nap, std::max(0.0, o.duration - now));
        std::this_thread::sleep_for(std::chrono::duration<double>(nap));
        continue;
      }
      want = bucket.take(want, now);
    }
    batch.clear();
    for (size_t i = 0; i < want; ++i) batch.push_back(generator.next(wall_clock_us()));
    generated += want;
    // Entries refused (throttling) are sent again with backoff, a bounded number of times.
    for (int attempt = 0; !batch.empty() && attempt < kMaxAttempts; ++attempt) {
      if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(50 << std::min(attempt, 5)));
      auto r = client->call(std::string(kKinesis) + "PutRecords", put_records_body(stream, batch));
      if (!r) {
        std::signal(SIGINT, previous);
        progress.finish(sent, failed);
        return fail(r.error().message + " (after " + std::to_string(sent) + " records)");
      }
      const auto results = nlohmann::json::parse(*r, nullptr, false);
      if (results.is_discarded() || !results.contains("Records")) {
        std::signal(SIGINT, previous);
        return fail("the endpoint's PutRecords answer has no Records: " + r->substr(0, 200));
      }
      std::vector<GeneratedRecord> retry;
      const auto& outcomes = results["Records"];
      for (size_t i = 0; i < batch.size(); ++i) {
        if (i >= outcomes.size() || outcomes[i].contains("ErrorCode")) {
          retry.push_back(std::move(batch[i]));
        } else {
          ++sent;
          total_cents += batch[i].cents;
        }
      }
      batch = std::move(retry);
    }
    failed += batch.size();
    progress.update(sent, failed);
  }
  std::signal(SIGINT, previous);
  progress.finish(sent, failed);
  // The seed's summary line: {"record_count": 1170, "tot_sales": 59109.61}.
  std::cout << "{\"record_count\": " << sent;
  if (o.kind == EventKind::kSales) std::cout << ", \"tot_sales\": " << cents_text(total_cents);
  std::cout << ", \"failed\": " << failed << "}" << std::endl;
  return failed == 0 ? 0 : 2;
}

void add_kind(CLI::App& gen_cmd, const char* name, EventKind kind, const char* description, int& exit_code) {
  auto o = std::make_shared<GenOptions>();
  o->kind = kind;
  auto* cmd = gen_cmd.add_subcommand(name, description);
  cmd->add_option("--stream", o->stream, std::string("Stream to write (default: ") + name + ")");
  cmd->add_option("--endpoint", o->endpoint,
                  "Kinesis endpoint URL (env EDDY_ENDPOINT, AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL); credentials "
                  "from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
      ->capture_default_str();
  cmd->add_option("--region", o->region, "Region the requests are signed for (env AWS_REGION)")->capture_default_str();
  cmd->add_option("--rate", o->rate, "Records per second (0: as fast as the endpoint takes them)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  auto* count = cmd->add_option("--count", o->count, "Stop after this many records")
                    ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  cmd->add_option("--duration", o->duration, "Stop after this many seconds")
      ->check(CLI::Range(0.001, 1e7))
      ->excludes(count);
  cmd->add_option("--seed", o->seed,
                  "Seed for a reproducible run: the same records (values, partition keys and, unless --start-time now, "
                  "event times)")
      ->each([o](const std::string&) { o->seeded = true; });
  cmd->add_option("--start-time", o->start_time,
                  "Synthetic event times: the first record's (ISO-8601 UTC, or 'now'), then one every 1/rate s "
                  "(default: the wall clock; with --seed 2021-01-31T14:46:00Z)");
  cmd->add_option("--batch", o->batch, "Records per PutRecords call (default: about 20 calls a second)")
      ->check(CLI::Range(1, 500));
  if (kind == EventKind::kSales) {
    cmd->add_option("--stores", o->stores, "Number of stores: store_1 .. store_N")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    cmd->add_option("--categories", o->categories,
                    "Categories: 'all' (16 items) or a comma-separated list (default: Books,Electronics)");
  }
  cmd->callback([o, &exit_code] { exit_code = gen(*o); });
}

}  // namespace

void add_gen_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("gen", "Produce the seed projects' events into a stream (PutRecords, paced)");
  cmd->require_subcommand(1);
  add_kind(*cmd, "sales", EventKind::kSales,
           "Sales events: store_id, category, sales in [0, 100), evnt_time; random UUID partition keys", exit_code);
  add_kind(*cmd, "trades", EventKind::kTrades,
           "Trades: EVENT_TIME, TICKER (AMZN GOOG AZRE ORCL BABA), PRICE in [0, 100)", exit_code);
}

}  // namespace eddy::cli
