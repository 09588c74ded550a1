// Checks a desired state before anything is changed: every application's code compiles against
// its input schema (errors point at the SQL's line in the file), outputs name in-application
// streams, and every stream or delivery stream referred to is declared or exists on the server.
#pragma once

#include <vector>

#include "pipeline/model.h"

namespace eddy::pipeline {

// The streams ('stream:NAME') and delivery streams ('delivery:NAME') a Flink SQL application's
// tables or a C++ job's source and sinks name; empty for KDA SQL or what does not compile or load.
std::vector<std::string> application_targets(const ApplicationSpec& application);

// Problems with the file alone (no server needed).
std::vector<FileError> validate_code(const DesiredState& desired);
// References to resources that are neither declared nor on the server.
std::vector<FileError> validate_references(const DesiredState& desired, const LiveState& live);

}  // namespace eddy::pipeline
