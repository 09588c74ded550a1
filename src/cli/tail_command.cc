#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "cli/app.h"
#include "cli/common_options.h"
#include "common/digest.h"
#include "common/time_format.h"
#include "stream/kpl_aggregation.h"

namespace eddy::cli {
namespace {

struct TailOptions : ClientOptions {
  std::string stream;
  std::string from = "trim-horizon";
  int64_t count = 0;
  bool no_follow = false;
};

struct ShardReader {
  std::vector<std::string> parents;
  std::string iterator;
  bool started = false;
  bool done = false;
};

int tail(const TailOptions& o) {
  std::string error;
  auto client = make_client(o, error);
  if (!client) return fail(error);
  auto call = [&](const char* op, const nlohmann::json& body) -> Result<nlohmann::json> {
    auto r = client->call(std::string(kKinesis) + op, body.dump());
    if (!r) return tl::unexpected(r.error());
    return r->empty() ? nlohmann::json::object() : nlohmann::json::parse(*r);
  };

  nlohmann::json start = {{"ShardIteratorType", "TRIM_HORIZON"}};
  const bool latest = o.from == "latest";
  if (latest) {
    start = {{"ShardIteratorType", "LATEST"}};
  } else if (o.from != "trim-horizon") {
    double seconds;
    if (auto ms = parse_iso8601_ms(o.from)) {
      seconds = static_cast<double>(*ms) / 1000.0;
    } else {
      try {
        size_t used = 0;
        seconds = std::stod(o.from, &used);
        if (used != o.from.size()) throw std::invalid_argument("trailing");
      } catch (const std::exception&) {
        return fail(
            "--from must be trim-horizon, latest, an ISO-8601 time (2021-01-31T14:05:00Z) or epoch seconds; got '" +
            o.from + "'");
      }
    }
    start = {{"ShardIteratorType", "AT_TIMESTAMP"}, {"Timestamp", seconds}};
  }

  std::map<std::string, ShardReader> shards;
  auto discover = [&]() -> Status {
    nlohmann::json body = {{"StreamName", o.stream}};
    for (int page = 0; page < 1000; ++page) {
      auto r = call("ListShards", body);
      if (!r) return tl::unexpected(r.error());
      for (const auto& s : (*r)["Shards"]) {
        auto& reader = shards[s["ShardId"].get<std::string>()];
        reader.parents.clear();
        if (s.contains("ParentShardId")) reader.parents.push_back(s["ParentShardId"]);
        if (s.contains("AdjacentParentShardId")) reader.parents.push_back(s["AdjacentParentShardId"]);
        if (latest && !reader.started && s["SequenceNumberRange"].contains("EndingSequenceNumber")) reader.done = true;
      }
      if (!r->contains("NextToken")) break;
      body = {{"NextToken", (*r)["NextToken"]}};
    }
    return {};
  };
  if (auto st = discover(); !st) return fail(st.error().message);

  // A shard is read once every parent it has (among retained shards) is read to its end, so
  // records come out in order per partition key across splits and merges.
  auto ready = [&](const ShardReader& r) {
    for (const auto& p : r.parents) {
      auto it = shards.find(p);
      if (it != shards.end() && !it->second.done) return false;
    }
    return true;
  };

  int64_t printed = 0;
  int idle_rounds = 0;
  while (true) {
    bool any_records = false, all_caught_up = true;
    for (auto& [id, r] : shards) {
      if (r.done || !ready(r)) continue;
      if (!r.started) {
        nlohmann::json body = start;
        if (latest && !r.parents.empty()) body = {{"ShardIteratorType", "TRIM_HORIZON"}};
        body["StreamName"] = o.stream;
        body["ShardId"] = id;
        auto it = call("GetShardIterator", body);
        if (!it) return fail(it.error().message);
        r.iterator = (*it)["ShardIterator"];
        r.started = true;
      }
      auto res = call("GetRecords", {{"ShardIterator", r.iterator}});
      if (!res) {
        if (res.error().message.starts_with("ExpiredIteratorException")) {
          r.started = false;  // refetching from the start would repeat records; rare in a live tail
          continue;
        }
        return fail(res.error().message);
      }
      for (const auto& rec : (*res)["Records"]) {
        auto data = base64_decode(rec["Data"].get<std::string>());
        any_records = true;
        // A KPL aggregate is shown as its user records, as a KCL consumer sees them; a corrupt
        // one is reported, not printed as bytes.
        std::vector<std::string_view> lines;
        if (data && stream::kpl::is_aggregated(*data)) {
          auto users = stream::kpl::deaggregate(*data);
          if (!users) {
            std::cerr << "eddy: record " << rec.value("SequenceNumber", "") << " of " << id << ": "
                      << users.error().message << "; skipped\n";
            continue;
          }
          for (const auto& u : *users) lines.push_back(u.data);
        } else {
          lines.push_back(data ? std::string_view(*data) : std::string_view());
        }
        for (const auto line : lines) {
          std::cout << line << '\n';
          if (o.count > 0 && ++printed >= o.count) {
            std::cout.flush();
            return 0;
          }
        }
      }
      if (res->value("MillisBehindLatest", 0) > 0) all_caught_up = false;
      if (res->contains("NextShardIterator") && !(*res)["NextShardIterator"].is_null()) {
        r.iterator = (*res)["NextShardIterator"];
      } else {
        r.done = true;
        all_caught_up = false;  // its children start on the next round
        if (auto st = discover(); !st) return fail(st.error().message);
      }
    }
    std::cout.flush();
    if (any_records || !all_caught_up) {
      idle_rounds = 0;
      continue;
    }
    if (o.no_follow) return 0;
    if (++idle_rounds % 25 == 0) {
      if (auto st = discover(); !st) return fail(st.error().message);  // pick up reshards
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

void add_tail_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<TailOptions>();
  auto* cmd = app.add_subcommand("tail", "Print a stream's records, one per line, following new ones");
  cmd->add_option("stream", o->stream, "Stream name")->required();
  cmd->add_option("--from", o->from, "trim-horizon, latest, or a time (ISO-8601 or epoch seconds)")
      ->capture_default_str();
  cmd->add_option("--count", o->count, "Stop after this many records");
  cmd->add_flag("--no-follow", o->no_follow, "Stop once every shard is caught up");
  cmd->add_option("--endpoint", o->endpoint,
                  "Server URL (env EDDY_ENDPOINT, AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL)")
      ->capture_default_str();
  cmd->callback([o, &exit_code] { exit_code = tail(*o); });
}

}  // namespace eddy::cli
