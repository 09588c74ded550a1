// Where `eddy serve`'s settings come from: its flags, then EDDY_* environment variables (EDDY_PORT
// for --port, EDDY_DATA_DIR for --data-dir, ...), then a YAML file (--config eddy.yaml, whose keys
// are the flags' names without the dashes), then the defaults. `--print-config` shows the result.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/error.h"

namespace CLI {
class App;
}

namespace eddy::cli {

// The environment variable that sets option `--name`: EDDY_NAME, dashes as underscores.
std::string environment_name(const std::string& long_name);

// Gives every option of `cmd` (but --help and --print-config) its environment variable.
void add_environment_names(CLI::App& cmd);

// The arguments as given (run() records them): to tell a flag from its environment variable.
void set_command_line(int argc, char** argv);

class ServeConfig {
 public:
  // Reads `file` (a YAML mapping) and sets the options of `cmd` that neither the command line nor
  // the environment set. An unknown key, a value of the wrong kind or one the option refuses is an
  // error naming the key and the file.
  Status apply_file(CLI::App& cmd, const std::string& file);
  // Every setting with its value and where it came from ("flag", "env EDDY_PORT", "config FILE",
  // "default"); secrets (options naming a secret or password) show as "****".
  std::string describe(const CLI::App& cmd) const;

 private:
  std::string file_;
  std::map<std::string, bool> from_file_;  // long names set by the file
};

}  // namespace eddy::cli
