// eddy's pipeline file (YAML): streams, applications and delivery streams by name. The format is
// described in docs/pipelines.md and examples/*/pipeline.yaml.
#pragma once

#include <filesystem>
#include <string>

#include <tl/expected.hpp>

#include "pipeline/model.h"

namespace eddy::pipeline {

class YamlFile;

// Reads a parsed pipeline file; relative `sql_file` paths are relative to `base_dir`.
tl::expected<DesiredState, FileError> read_pipeline(const YamlFile& yaml, const std::filesystem::path& base_dir);

}  // namespace eddy::pipeline
