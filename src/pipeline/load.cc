#include "pipeline/load.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "pipeline/cloudformation.h"
#include "pipeline/pipeline_file.h"
#include "pipeline/yaml_util.h"

namespace eddy::pipeline {

tl::expected<Loaded, FileError> load_pipeline(const std::string& path, const LoadOptions& options) {
  std::ifstream in(path);
  if (!in) return tl::unexpected(FileError{{path, 0, 0}, "cannot read the file; check the path"});
  std::stringstream ss;
  ss << in.rdbuf();
  return load_pipeline_text(path, ss.str(), options);
}

tl::expected<Loaded, FileError> load_pipeline_text(const std::string& path, std::string text,
                                                   const LoadOptions& options) {
  try {
    YamlFile yaml(path, std::move(text));
    const YAML::Node& root = yaml.root();
    const bool is_template = root.IsMap() && (root["Resources"] || root["AWSTemplateFormatVersion"]);
    Loaded out;
    out.template_file = is_template;
    if (is_template) {
      auto d = read_template(yaml, options.parameters, options.region, options.stack_name);
      if (!d) return tl::unexpected(d.error());
      out.desired = std::move(*d);
      out.desired.pipeline_name = options.stack_name;
      return out;
    }
    if (!options.parameters.empty() || !options.stack_name.empty()) {
      return tl::unexpected(FileError{{path, 0, 0},
                                      "--param and --stack apply to CloudFormation templates; a pipeline file "
                                      "names itself with a top-level 'name:'"});
    }
    auto d = read_pipeline(yaml, std::filesystem::absolute(path).parent_path());
    if (!d) return tl::unexpected(d.error());
    out.desired = std::move(*d);
    return out;
  } catch (const FileErrorException& e) {
    return tl::unexpected(e.error);
  }
}

}  // namespace eddy::pipeline
