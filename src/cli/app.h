// The `eddy` command line: subcommands are thin wrappers over the library.
#pragma once

#include <optional>
#include <string>

#include "aws/sigv4.h"

namespace CLI {
class App;
}

namespace eddy::cli {

int run(int argc, char** argv);

// Each subcommand registers itself; the callbacks set the process exit code in `exit_code`.
void add_serve_command(CLI::App& app, int& exit_code);
void add_streams_command(CLI::App& app, int& exit_code);
void add_put_command(CLI::App& app, int& exit_code);
void add_tail_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);
void add_sql_command(CLI::App& app, int& exit_code);
void add_apps_command(CLI::App& app, int& exit_code);
void add_jobs_command(CLI::App& app, int& exit_code);
void add_pipeline_commands(CLI::App& app, int& exit_code);  // plan, apply, destroy
void add_gen_command(CLI::App& app, int& exit_code);
void add_cluster_command(CLI::App& app, int& exit_code);            // status, dev
void add_bench_jetstream_command(CLI::App& bench, int& exit_code);  // under `eddy bench`

// `eddy apply FILE` against `endpoint`, printing as it does; its exit code. eddy serve --apply.
int apply_pipeline_file(const std::string& file, const std::string& endpoint, const std::string& region,
                        std::optional<aws::AwsCredentials> credentials);

}  // namespace eddy::cli
