// `eddy jobs deploy libjob.so`: hands a C++ job (job/job.h) to a running server, which runs it as
// an application (see `eddy apps` for its status and errors), through the Kinesis Analytics v2
// API (api/job_deploy_client.h).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>

#include "api/client.h"
#include "api/job_deploy_client.h"
#include "cli/app.h"
#include "cli/common_options.h"
#include "common/file_util.h"

namespace eddy::cli {
namespace {

struct JobsOptions : ClientOptions {
  std::string library;
  std::string name;
  std::vector<std::vector<std::string>> groups;  // each: NAME k=v k=v ...
  int parallelism = 0;                           // 0: the server's
};

// "libtrades_max.so" -> "trades_max"
std::string default_name(const std::string& library) {
  std::string stem = std::filesystem::path(library).stem().string();
  if (stem.starts_with("lib")) stem = stem.substr(3);
  return stem;
}

int deploy(const JobsOptions& o) {
  auto bytes = read_file(o.library);
  if (!bytes) return fail("cannot read " + o.library + ": " + bytes.error().message);
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : o.groups) {
    if (g.size() < 2) return fail("--property-group needs a group name, then 1 to 50 key=value pairs");
    nlohmann::json map = nlohmann::json::object();
    for (size_t i = 1; i < g.size(); ++i) {
      const auto eq = g[i].find('=');
      if (eq == std::string::npos || eq == 0)
        return fail("property '" + g[i] + "' of group " + g[0] + " is not key=value");
      map[g[i].substr(0, eq)] = g[i].substr(eq + 1);
    }
    groups.push_back({{"PropertyGroupId", g[0]}, {"PropertyMap", map}});
  }
  const std::string name = o.name.empty() ? default_name(o.library) : o.name;
  auto endpoint = api::parse_endpoint(o.endpoint);
  if (!endpoint) return fail(endpoint.error().message);
  api::ApiClient analytics(*endpoint, api::credentials_from_environment(), o.region, "kinesisanalytics");
  auto detail = api::deploy_job_library(analytics, name, *bytes, groups, o.parallelism);
  if (!detail) return fail("deploy of " + name + " refused: " + detail.error().message);
  std::cout << "deployed " << name << " (version " << detail->value("ApplicationVersionId", 0) << ", "
            << detail->value("ApplicationStatus", "?") << "); see `eddy apps describe " << name
            << "` and `eddy apps logs " << name << "`\n";
  return 0;
}

}  // namespace

void add_jobs_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<JobsOptions>();
  auto* cmd = app.add_subcommand("jobs", "C++ jobs (job/job.h) on a running server");
  cmd->require_subcommand(1);
  cmd->add_option("--endpoint", o->endpoint,
                  "Server URL (env EDDY_ENDPOINT, AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL)")
      ->capture_default_str();
  auto* d = cmd->add_subcommand("deploy", "Deploy (or redeploy, keeping compatible state) a job library and start it");
  d->add_option("library", o->library, "The job's shared library (built with EDDY_JOB(env) { ... })")
      ->required()
      ->check(CLI::ExistingFile);
  d->add_option("--name", o->name, "Application name (default: the library's name without lib and .so)");
  d->add_option("--property-group", o->groups, "A property group for the job: NAME key=value ... (repeatable)")
      ->expected(1, -1)
      ->allow_extra_args();
  d->add_option("--parallelism", o->parallelism,
                "Threads the job runs on, as KDA's ParallelismConfiguration (default 0: the server's --parallelism)")
      ->check(CLI::Range(0, 64));
  d->fallthrough();
  d->callback([o, &exit_code] { exit_code = deploy(*o); });
}

}  // namespace eddy::cli
