#include "cli/serve_config.h"

#include <yaml-cpp/yaml.h>
#include <CLI/CLI.hpp>

#include <cstdlib>

namespace eddy::cli {
namespace {

std::vector<std::string>& command_line() {
  static std::vector<std::string> args;
  return args;
}

bool on_command_line(const std::string& long_name) {
  const std::string flag = "--" + long_name;
  for (const auto& a : command_line()) {
    if (a == flag || a.starts_with(flag + "=")) return true;
  }
  return false;
}

bool skipped(const std::string& name) {
  return name.empty() || name == "help" || name == "config";
}

bool secret(const std::string& name) {
  return name.find("secret") != std::string::npos || name.find("password") != std::string::npos;
}

// A YAML scalar as the text CLI11 parses (booleans as true/false, numbers as written).
Result<std::string> scalar_text(const YAML::Node& node, const std::string& key, const std::string& file) {
  if (!node.IsScalar()) {
    return make_error(Errc::kInvalidArgument,
                      file + ": '" + key + "' must be a single value (a list only where the flag repeats)");
  }
  return node.Scalar();
}

}  // namespace

std::string environment_name(const std::string& long_name) {
  std::string env = "EDDY_";
  for (char c : long_name) env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return env;
}

void add_environment_names(CLI::App& cmd) {
  for (CLI::Option* opt : cmd.get_options()) {
    const std::string& name = opt->get_single_name();
    if (name.empty() || name == "help" || name == "print-config") continue;
    opt->envname(environment_name(name));
  }
}

void set_command_line(int argc, char** argv) {
  command_line().assign(argv, argv + argc);
}

Status ServeConfig::apply_file(CLI::App& cmd, const std::string& file) {
  file_ = file;
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::Exception& e) {
    return make_error(Errc::kInvalidArgument, "--config " + file + ": " + e.what());
  }
  if (root.IsNull()) return {};
  if (!root.IsMap())
    return make_error(Errc::kInvalidArgument, "--config " + file + ": the file must be a mapping of settings");
  for (const auto& entry : root) {
    const std::string key = entry.first.as<std::string>();
    CLI::Option* opt = skipped(key) || key == "print-config" ? nullptr : cmd.get_option_no_throw("--" + key);
    if (!opt) {
      return make_error(Errc::kInvalidArgument, "--config " + file + ": unknown setting '" + key +
                                                    "' (the settings are eddy serve's flags without the dashes; "
                                                    "see eddy serve --help)");
    }
    if (opt->count() > 0) continue;  // the command line or the environment said otherwise
    std::vector<std::string> values;
    if (entry.second.IsSequence()) {
      if (opt->get_items_expected_max() <= 1) {
        return make_error(Errc::kInvalidArgument, "--config " + file + ": '" + key + "' takes one value, not a list");
      }
      for (const auto& v : entry.second) {
        auto text = scalar_text(v, key, file);
        if (!text) return tl::unexpected(text.error());
        values.push_back(*text);
      }
    } else {
      auto text = scalar_text(entry.second, key, file);
      if (!text) return tl::unexpected(text.error());
      values.push_back(*text);
    }
    try {
      for (const auto& v : values) opt->add_result(v);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      return make_error(Errc::kInvalidArgument, "--config " + file + ": '" + key + "': " + e.what());
    }
    from_file_[key] = true;
  }
  return {};
}

std::string ServeConfig::describe(const CLI::App& cmd) const {
  std::string out = "# eddy serve: the effective settings (flag > environment > config file > default)\n";
  for (const CLI::Option* opt : cmd.get_options()) {
    const std::string& name = opt->get_single_name();
    if (skipped(name) || name == "print-config") continue;
    std::string value;
    std::string source = "default";
    if (opt->count() > 0) {
      for (const auto& r : opt->results()) value += (value.empty() ? "" : ",") + r;
      const char* env = std::getenv(environment_name(name).c_str());
      source = from_file_.count(name)  ? "config " + file_
               : on_command_line(name) ? "flag"
               : env                   ? "env " + environment_name(name)
                                       : "flag";
    } else {
      value = opt->get_default_str();
    }
    if (secret(name) && !value.empty()) value = "****";
    out += name + ": " + (value.empty() ? "\"\"" : value) + "  # " + source + "\n";
  }
  return out;
}

}  // namespace eddy::cli
