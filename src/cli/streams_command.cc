#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <thread>

#include "cli/app.h"
#include "cli/common_options.h"

namespace eddy::cli {
namespace {

struct StreamsOptions : ClientOptions {
  std::string name;
  int shards = 1;
  bool on_demand = false;
  bool wait = true;
};

int call(const ClientOptions& o, const std::string& op, const nlohmann::json& body, nlohmann::json* out) {
  std::string error;
  auto client = make_client(o, error);
  if (!client) return fail(error);
  auto r = client->call(std::string(kKinesis) + op, body.dump());
  if (!r) return fail(r.error().message);
  if (out) *out = r->empty() ? nlohmann::json::object() : nlohmann::json::parse(*r);
  return 0;
}

int create(const StreamsOptions& o) {
  nlohmann::json body = {{"StreamName", o.name}};
  if (o.on_demand) {
    body["StreamModeDetails"] = {{"StreamMode", "ON_DEMAND"}};
  } else {
    body["ShardCount"] = o.shards;
  }
  if (int rc = call(o, "CreateStream", body, nullptr)) return rc;
  if (o.wait) {
    for (int i = 0; i < 300; ++i) {  // bounded: 30 s
      nlohmann::json d;
      if (int rc = call(o, "DescribeStreamSummary", {{"StreamName", o.name}}, &d)) return rc;
      if (d["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  std::cout << "created stream " << o.name
            << (o.on_demand ? " (on demand)" : " with " + std::to_string(o.shards) + " shard(s)") << "\n";
  return 0;
}

int list(const StreamsOptions& o) {
  nlohmann::json body = nlohmann::json::object();
  for (int page = 0; page < 10000; ++page) {
    nlohmann::json r;
    if (int rc = call(o, "ListStreams", body, &r)) return rc;
    for (const auto& s : r["StreamSummaries"]) {
      std::cout << s["StreamName"].get<std::string>() << "\t" << s["StreamStatus"].get<std::string>() << "\t"
                << s["StreamModeDetails"]["StreamMode"].get<std::string>() << "\n";
    }
    if (!r.value("HasMoreStreams", false) || !r.contains("NextToken")) break;
    body = {{"NextToken", r["NextToken"]}};
  }
  return 0;
}

int describe(const StreamsOptions& o) {
  nlohmann::json summary, shards;
  if (int rc = call(o, "DescribeStreamSummary", {{"StreamName", o.name}}, &summary)) return rc;
  if (int rc = call(o, "ListShards", {{"StreamName", o.name}}, &shards)) return rc;
  const auto& s = summary["StreamDescriptionSummary"];
  std::cout << "stream     " << s["StreamName"].get<std::string>() << "\n"
            << "arn        " << s["StreamARN"].get<std::string>() << "\n"
            << "status     " << s["StreamStatus"].get<std::string>() << "\n"
            << "mode       " << s["StreamModeDetails"]["StreamMode"].get<std::string>() << "\n"
            << "retention  " << s["RetentionPeriodHours"].get<int>() << " h\n"
            << "open shards " << s["OpenShardCount"].get<int>() << "\n";
  for (const auto& sh : shards["Shards"]) {
    const bool closed = sh["SequenceNumberRange"].contains("EndingSequenceNumber");
    std::cout << "  " << sh["ShardId"].get<std::string>() << (closed ? " closed" : " open  ") << "  keys "
              << sh["HashKeyRange"]["StartingHashKey"].get<std::string>() << "-"
              << sh["HashKeyRange"]["EndingHashKey"].get<std::string>();
    if (sh.contains("ParentShardId")) std::cout << "  parent " << sh["ParentShardId"].get<std::string>();
    if (sh.contains("AdjacentParentShardId")) std::cout << "+" << sh["AdjacentParentShardId"].get<std::string>();
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

void add_streams_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<StreamsOptions>();
  auto* cmd = app.add_subcommand("streams", "Create, list, describe and delete streams on a running server");
  cmd->require_subcommand(1);
  cmd->add_option("--endpoint", o->endpoint,
                  "Server URL (env EDDY_ENDPOINT, AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL)")
      ->capture_default_str();

  auto* c = cmd->add_subcommand("create", "Create a stream and wait until it is ACTIVE");
  c->add_option("name", o->name, "Stream name")->required();
  c->add_option("--shards", o->shards, "Number of shards")->capture_default_str()->check(CLI::Range(1, 500));
  c->add_flag("--on-demand", o->on_demand, "On-demand capacity mode (4 shards)");
  c->callback([o, &exit_code] { exit_code = create(*o); });
  c->fallthrough();  // lets --endpoint follow the subcommand too

  cmd->add_subcommand("list", "List streams")->fallthrough()->callback([o, &exit_code] { exit_code = list(*o); });

  auto* d = cmd->add_subcommand("describe", "Show a stream and its shards");
  d->add_option("name", o->name, "Stream name")->required();
  d->callback([o, &exit_code] { exit_code = describe(*o); });
  d->fallthrough();

  auto* del = cmd->add_subcommand("delete", "Delete a stream and its data");
  del->add_option("name", o->name, "Stream name")->required();
  del->fallthrough();
  del->callback([o, &exit_code] {
    exit_code = call(*o, "DeleteStream", {{"StreamName", o->name}}, nullptr);
    if (exit_code == 0) std::cout << "deleted stream " << o->name << "\n";
  });
}

}  // namespace eddy::cli
