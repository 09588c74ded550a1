// A log-parsing function in a select list (REGEX_LOG_PARSE, FAST_REGEX_LOG_PARSER,
// FIXED_COLUMN_LOG_PARSE, VARIABLE_COLUMN_LOG_PARSE, SYS_LOG_PARSE, W3C_LOG_PARSE): one item that
// stands for the several columns of the row it parses, each an expression of its own. The line is
// parsed once per row, whichever columns read it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sql/ast.h"
#include "sql/function_call.h"

namespace eddy::sql {

struct LogParseColumns {
  std::vector<std::string> names;  // COLUMN1.. or the declared names
  std::vector<SqlType> types;
};

// nullopt: `e` is not a call of a log-parsing function; else its columns, or why its constant
// arguments are wrong.
std::optional<Result<LogParseColumns>> log_parse_columns(const Expr& e);

// The columns' expressions; each reads the line through its own binding of the call's first
// argument (`bind_text`), and the line is parsed once per row for all of them.
Result<std::vector<Bound>> log_parse_outputs(const Expr& e, const std::function<Result<Bound>()>& bind_text);

}  // namespace eddy::sql
