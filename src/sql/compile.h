// The one entry point from SQL text to a runnable application: parse (either dialect), bind
// names and types, plan each pump or INSERT, and hand the plan to runtime::Application::assemble.
// The runtime never calls the front end; the host, `eddy sql run` and the pipeline checks call this.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "runtime/application.h"

namespace eddy::sql {

// Errors (kInvalidArgument) carry "L:C: ..." (line and column, 1-based).
// Flink SQL (CREATE TABLE / INSERT INTO): with no `inputs`, one is made per source table (a table
// no INSERT writes), JSON with a field per column, in the order of the script.
// `parallelism` (--parallelism): keyed pumps (see runtime/keyed_pump.h) run as that many
// partitions on as many threads; the results are the same for any value. `key_groups`: keyed
// pumps keep key groups at parallelism 1 too (as they do above it), so that a checkpoint moves
// between any parallelisms and error rows come in the same order at every one (the server's
// applications).
// `tables`: the application's reference tables (name and columns), which the code may join;
// their rows are given to the application afterwards (Application::set_table).
Result<std::unique_ptr<runtime::Application>> compile_application(std::string_view code,
                                                                  std::vector<runtime::ApplicationInput> inputs,
                                                                  const Clock& clock, size_t parallelism = 1,
                                                                  bool key_groups = false,
                                                                  const std::vector<runtime::StreamDef>& tables = {});

}  // namespace eddy::sql
