// Reads a file that declares a pipeline: eddy's pipeline YAML, or an AWS CloudFormation template
// (YAML or JSON, as written by hand or by `cdk synth`), told apart by the template's
// `Resources` / `AWSTemplateFormatVersion` keys.
#pragma once

#include <map>
#include <string>

#include <tl/expected.hpp>

#include "pipeline/model.h"

namespace eddy::pipeline {

struct LoadOptions {
  std::map<std::string, std::string> parameters;  // --param K=V (templates only)
  std::string region = "us-east-1";
  std::string stack_name;  // --stack: a template's pipeline name (AWS::StackName)
};

struct Loaded {
  DesiredState desired;
  bool template_file = false;  // a CloudFormation template
};

tl::expected<Loaded, FileError> load_pipeline(const std::string& path, const LoadOptions& options);
// The same for text already read; `path` names it in errors and anchors relative sql_file paths.
tl::expected<Loaded, FileError> load_pipeline_text(const std::string& path, std::string text,
                                                   const LoadOptions& options);

}  // namespace eddy::pipeline
