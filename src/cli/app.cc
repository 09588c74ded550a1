#include "cli/app.h"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "cli/serve_config.h"
#include "common/build_info.h"

namespace eddy::cli {

int run(int argc, char** argv) {
  set_command_line(argc, argv);
  CLI::App app{"eddy: Kinesis-compatible streams, streaming SQL and delivery in one binary"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("eddy ") + build_version() + " (" + build_commit() + ")");
  int exit_code = 0;
  // Client commands trust this CA for https:// endpoints, as the AWS CLI's --ca-bundle (the HTTPS
  // transport reads AWS_CA_BUNDLE). Given before or after the subcommand.
  app.fallthrough();
  app.add_option_function<std::string>(
         "--ca-bundle", [](const std::string& file) { ::setenv("AWS_CA_BUNDLE", file.c_str(), 1); },
         "CA certificate (PEM) to trust for https:// endpoints, e.g. eddy serve --tls-self-signed's (env "
         "AWS_CA_BUNDLE)")
      ->check(CLI::ExistingFile);
  add_serve_command(app, exit_code);
  add_streams_command(app, exit_code);
  add_put_command(app, exit_code);
  add_gen_command(app, exit_code);
  add_tail_command(app, exit_code);
  add_bench_command(app, exit_code);
  add_sql_command(app, exit_code);
  add_apps_command(app, exit_code);
  add_jobs_command(app, exit_code);
  add_pipeline_commands(app, exit_code);
  add_cluster_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}

}  // namespace eddy::cli
