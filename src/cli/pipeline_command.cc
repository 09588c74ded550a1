// `eddy plan | apply | destroy FILE`: a pipeline file or a CloudFormation template against a
// running server. The logic is in src/pipeline/; this only prints.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/app.h"
#include "cli/common_options.h"
#include "pipeline/executor.h"
#include "pipeline/load.h"
#include "pipeline/plan.h"
#include "pipeline/server.h"
#include "pipeline/validate.h"

namespace eddy::cli {
namespace {

struct PipelineOptions : ClientOptions {
  std::string file;
  std::vector<std::string> params;
  std::string stack;
  bool exit_code = false;                          // plan: 2 when there are changes (for CI)
  std::optional<aws::AwsCredentials> credentials;  // eddy serve --apply: the server's own key
};

enum class Verb { kPlan, kApply, kDestroy };

int print_errors(const std::vector<pipeline::FileError>& errors) {
  for (const auto& e : errors) std::cerr << "eddy: " << e.text() << "\n";
  std::cerr << "eddy: nothing was changed on the server; fix the file and run the command again\n";
  return 1;
}

int run_pipeline(const PipelineOptions& o, Verb verb) {
  pipeline::LoadOptions load;
  load.region = o.region;
  load.stack_name = o.stack;
  for (const auto& p : o.params) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) return fail("--param " + p + ": write it as NAME=VALUE");
    load.parameters[p.substr(0, eq)] = p.substr(eq + 1);
  }
  auto loaded = pipeline::load_pipeline(o.file, load);
  if (!loaded) return print_errors({loaded.error()});
  const pipeline::DesiredState& desired = loaded->desired;
  for (const auto& s : desired.skipped)
    std::cout << "skipped " << s.logical_id << " (" << s.type << "): " << s.reason << "\n";
  if (verb != Verb::kDestroy) {
    if (auto errors = pipeline::validate_code(desired); !errors.empty()) return print_errors(errors);
  }
  auto endpoint = api::parse_endpoint(o.endpoint);
  if (!endpoint) return fail(endpoint.error().message);
  pipeline::Server server(*endpoint, o.region, o.credentials);
  auto live = pipeline::read_live_state(server, desired);
  if (!live) return fail(live.error().message);
  if (verb != Verb::kDestroy) {
    if (auto errors = pipeline::validate_references(desired, *live); !errors.empty()) return print_errors(errors);
  }
  const pipeline::Plan plan =
      verb == Verb::kDestroy ? pipeline::plan_destroy(desired, *live) : pipeline::plan_apply(desired, *live);
  std::cout << pipeline::render(plan, verb == Verb::kDestroy);
  // Inline Lambda code is written even when nothing else changes: the server runs it from there.
  if (verb == Verb::kApply) {
    if (auto st = pipeline::write_files(desired); !st)
      return fail(st.error().message + "; nothing was changed on the server");
  }
  if (verb == Verb::kPlan || plan.empty()) {
    if (verb == Verb::kApply && loaded->template_file) {
      for (const auto& out : desired.outputs) std::cout << "output " << out.name << " = " << out.value << "\n";
    }
    return verb == Verb::kPlan && o.exit_code && !plan.empty() ? 2 : 0;
  }
  std::cout << (verb == Verb::kApply ? "applying " : "destroying ") << plan.changes.size() << " change(s)...\n"
            << std::flush;
  size_t n = 0;
  auto report = pipeline::execute(server, plan, desired, *live, [&](const std::string& done) {
    std::cout << "  [" << ++n << "/" << plan.changes.size() << "] done: " << done << "\n" << std::flush;
  });
  for (const auto& w : report.warnings) std::cout << "warning: " << w << "\n";
  if (!report.ok()) {
    std::cerr << "eddy: " << (verb == Verb::kApply ? "apply" : "destroy") << " stopped part-way\n" << report.summary();
    return 1;
  }
  if (verb == Verb::kApply) {
    std::cout << "applied: streams ACTIVE, applications RUNNING\n";
    for (const auto& out : desired.outputs) std::cout << "output " << out.name << " = " << out.value << "\n";
  } else {
    std::cout << "destroyed\n";
  }
  return 0;
}

}  // namespace

int apply_pipeline_file(const std::string& file, const std::string& endpoint, const std::string& region,
                        std::optional<aws::AwsCredentials> credentials) {
  PipelineOptions o;
  o.file = file;
  o.endpoint = endpoint;
  o.region = region;
  o.credentials = std::move(credentials);
  return run_pipeline(o, Verb::kApply);
}

void add_pipeline_commands(CLI::App& app, int& exit_code) {
  struct Spec {
    const char* name;
    const char* help;
    Verb verb;
  };
  for (const Spec& s :
       {Spec{"plan", "Show what applying a pipeline file or CloudFormation template would change on a server",
             Verb::kPlan},
        Spec{"apply",
             "Create or update what a pipeline file or CloudFormation template declares; waits until ACTIVE/RUNNING",
             Verb::kApply},
        Spec{"destroy", "Delete what a pipeline file or CloudFormation template declares", Verb::kDestroy}}) {
    auto o = std::make_shared<PipelineOptions>();
    auto* cmd = app.add_subcommand(s.name, s.help);
    cmd->add_option("file", o->file, "Pipeline YAML file, or CloudFormation template (YAML or JSON)")->required();
    cmd->add_option("--endpoint", o->endpoint,
                    "Server URL (env EDDY_ENDPOINT, AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL)")
        ->capture_default_str();
    cmd->add_option("--param", o->params, "Template parameter NAME=VALUE (repeatable)");
    cmd->add_option(
        "--stack", o->stack,
        "Template: a stack name; apply then deletes what an earlier apply of the same stack created and the "
        "template no longer declares");
    if (s.verb == Verb::kPlan) {
      cmd->add_flag("--exit-code", o->exit_code,
                    "Exit with 2 when the server differs from the file (0: no changes, 1: error)");
    }
    const Verb verb = s.verb;
    cmd->callback([o, &exit_code, verb] { exit_code = run_pipeline(*o, verb); });
  }
}

}  // namespace eddy::cli
