// Built-in scalar functions of the KDA dialect, bound to run-time expressions with their
// argument and result types checked here.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "runtime/expr.h"

namespace eddy::sql {

// `unit` carries FLOOR/CEIL ... TO <unit>, EXTRACT(<field> ...) and TRIM's side.
// Unknown function or wrong arguments: kInvalidArgument with a message (no location; the
// binder adds it).
Result<runtime::ExprPtr> bind_function(const std::string& name, std::vector<runtime::ExprPtr> args,
                                       const std::string& unit);

bool is_aggregate_function(const std::string& name);

// x [NOT] LIKE p ESCAPE c and x [NOT] SIMILAR TO p [ESCAPE c]: args are the value, the pattern and
// the escape character if any (pattern_match.cc).
Result<runtime::ExprPtr> bind_pattern_match(bool similar, bool negated, std::vector<runtime::ExprPtr> args);

}  // namespace eddy::sql
