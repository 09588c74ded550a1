// Resolves names and types of a parsed application against its in-application streams, and has
// the planner (planner.h) turn every pump into a run-time plan (runtime::PumpPlan).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "runtime/application.h"
#include "sql/ast.h"

namespace eddy::sql {

// `streams` holds the input streams on entry; CREATE STREAM statements are added to it.
// Errors are kInvalidArgument, "L:C: ..." (line and column, 1-based).
Result<std::vector<std::unique_ptr<runtime::PumpPlan>>> bind_script(const Script& script,
                                                                    std::map<std::string, runtime::StreamDef>& streams);

}  // namespace eddy::sql
