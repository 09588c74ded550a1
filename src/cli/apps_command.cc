// `eddy apps`: the Kinesis Analytics applications of a running server.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>

#include "cli/app.h"
#include "cli/common_options.h"
#include "common/time_format.h"

namespace eddy::cli {
namespace {

struct AppsOptions : ClientOptions {
  std::string name;
  std::string position = "LAST_STOPPED_POINT";
};

Result<nlohmann::json> call(const ClientOptions& o, const std::string& op, const nlohmann::json& body) {
  auto endpoint = api::parse_endpoint(o.endpoint);
  if (!endpoint) return tl::unexpected(endpoint.error());
  api::ApiClient client(*endpoint, api::credentials_from_environment(), o.region, "kinesisanalytics");
  auto r = client.call("KinesisAnalytics_20150814." + op, body.dump());
  if (!r) return tl::unexpected(r.error());
  return r->empty() ? nlohmann::json::object() : nlohmann::json::parse(*r);
}

int list(const AppsOptions& o) {
  auto r = call(o, "ListApplications", nlohmann::json::object());
  if (!r) return fail(r.error().message);
  for (const auto& a : (*r)["ApplicationSummaries"]) {
    std::cout << a["ApplicationName"].get<std::string>() << "\t" << a["ApplicationStatus"].get<std::string>() << "\n";
  }
  return 0;
}

int describe(const AppsOptions& o) {
  auto r = call(o, "DescribeApplication", {{"ApplicationName", o.name}});
  if (!r) return fail(r.error().message);
  const auto& d = (*r)["ApplicationDetail"];
  std::cout << "application " << d["ApplicationName"].get<std::string>() << "\n"
            << "status      " << d["ApplicationStatus"].get<std::string>() << "\n"
            << "version     " << d["ApplicationVersionId"].get<int64_t>() << "\n";
  if (d.contains("EddyFault")) {
    const auto& f = d["EddyFault"];
    std::cout << "fault       " << f.value("Reason", "") << " (since "
              << format_iso8601_ms(static_cast<TimestampMs>(f.value("Since", 0.0) * 1000)) << "; it retries)\n";
  }
  if (d.contains("ParallelismConfigurationDescription")) {
    const auto& p = d["ParallelismConfigurationDescription"];
    std::cout << "parallelism " << p.value("CurrentParallelism", 1) << " ("
              << (p.value("ConfigurationType", "DEFAULT") == "CUSTOM" ? "its own" : "the server's --parallelism")
              << ")\n";
  }
  for (const auto& in : d["InputDescriptions"]) {
    std::cout << "input       " << in["InAppStreamNames"][0].get<std::string>() << " <- "
              << in.value("KinesisStreamsInputDescription", nlohmann::json::object()).value("ResourceARN", "?") << "\n";
  }
  for (const auto& out : d["OutputDescriptions"]) {
    std::cout << "output      " << out["Name"].get<std::string>() << " -> "
              << out.value("KinesisStreamsOutputDescription", nlohmann::json::object()).value("ResourceARN", "?")
              << "\n";
  }
  std::cout << "code:\n" << d.value("ApplicationCode", "") << "\n";
  return 0;
}

int start(const AppsOptions& o) {
  auto d = call(o, "DescribeApplication", {{"ApplicationName", o.name}});
  if (!d) return fail(d.error().message);
  nlohmann::json configs = nlohmann::json::array();
  for (const auto& in : (*d)["ApplicationDetail"]["InputDescriptions"]) {
    configs.push_back(
        {{"Id", in["InputId"]}, {"InputStartingPositionConfiguration", {{"InputStartingPosition", o.position}}}});
  }
  auto r = call(o, "StartApplication", {{"ApplicationName", o.name}, {"InputConfigurations", configs}});
  if (!r) return fail(r.error().message);
  std::cout << "started " << o.name << " from " << o.position << "\n";
  return 0;
}

int stop(const AppsOptions& o) {
  auto r = call(o, "StopApplication", {{"ApplicationName", o.name}});
  if (!r) return fail(r.error().message);
  std::cout << "stopped " << o.name << "\n";
  return 0;
}

int logs(const AppsOptions& o) {
  auto endpoint = api::parse_endpoint(o.endpoint);
  if (!endpoint) return fail(endpoint.error().message);
  // error_stream rows are not part of the AWS API: eddy serves them on a GET endpoint.
  api::ApiClient client(*endpoint, api::credentials_from_environment(), o.region, "kinesisanalytics");
  auto r = client.get("/eddy/v1/applications/" + o.name + "/errors");
  if (!r) return fail(r.error().message);
  if (r->status == 404) return fail("ResourceNotFoundException: Application " + o.name + " not found");
  for (const auto& row : nlohmann::json::parse(r->body)) std::cout << row.dump() << "\n";
  return 0;
}

}  // namespace

void add_apps_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<AppsOptions>();
  auto* cmd = app.add_subcommand("apps", "SQL applications on a running server (Kinesis Analytics API)");
  cmd->require_subcommand(1);
  cmd->add_option("--endpoint", o->endpoint,
                  "Server URL (env EDDY_ENDPOINT, AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL)")
      ->capture_default_str();
  cmd->add_subcommand("list", "List applications")->fallthrough()->callback([o, &exit_code] { exit_code = list(*o); });
  auto named = [&](const char* verb, const char* help, int (*fn)(const AppsOptions&)) {
    auto* c = cmd->add_subcommand(verb, help);
    c->add_option("name", o->name, "Application name")->required();
    c->fallthrough();
    c->callback([o, &exit_code, fn] { exit_code = fn(*o); });
    return c;
  };
  named("describe", "Show an application's status, inputs, outputs and code", describe);
  auto* s = named("start", "Start an application", start);
  s->add_option("--from", o->position, "NOW, TRIM_HORIZON or LAST_STOPPED_POINT")
      ->capture_default_str()
      ->check(CLI::IsMember({"NOW", "TRIM_HORIZON", "LAST_STOPPED_POINT"}));
  named("stop", "Stop an application", stop);
  named("logs", "Print the application's latest error_stream rows", logs);
}

}  // namespace eddy::cli
