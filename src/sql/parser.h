// Recursive-descent parser for KDA SQL applications. Errors carry line and column.
#pragma once

#include <string_view>

#include "common/error.h"
#include "sql/ast.h"

namespace eddy::sql {

Result<Script> parse_script(std::string_view sql);

// Interval arithmetic helpers shared with the binder: milliseconds per unit ("SECOND" -> 1000);
// 0 for YEAR/MONTH (month-based) or an unknown unit.
int64_t unit_ms(std::string_view unit);
bool is_month_unit(std::string_view unit);

}  // namespace eddy::sql
