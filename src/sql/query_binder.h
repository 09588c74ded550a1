// Internal to sql/: binds the expressions of one query (names, types, casts) against the stream it
// reads, adding the aggregates, OVER windows and group keys it finds to its pump's plan. The binder
// (binder.cc) holds it and the statements; the planner (planner.cc) calls it for each clause.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "runtime/application.h"
#include "sql/ast.h"

namespace eddy::sql {

using Bound = runtime::ExprPtr;

// kInvalidArgument, "L:C: message" (line and column, 1-based).
tl::unexpected<Error> error_at(Location loc, const std::string& message);
std::string quote(const std::string& name);
// Whether a value of type `from` may be CAST to (or inserted into a column of) type `to`.
bool castable(const SqlType& from, const SqlType& to);

enum class Place { kRow, kOutput };  // row: per input row; output: an aggregate query's result row

// One side of a join as the joined rows hold it: columns [begin, end) of the scope.
struct JoinSide {
  std::string name, alias;
  size_t begin = 0, end = 0;
  size_t rowtime = SIZE_MAX;  // a stream's: the column holding its own ROWTIME (a table has none)
};

// The script's CREATE FUNCTIONs while bind_script binds it (sql_functions.cc): one script per
// thread at a time.
struct ScriptFunctions {
  explicit ScriptFunctions(const std::map<std::string, const CreateFunction*>* functions);
  ~ScriptFunctions();
  ScriptFunctions(const ScriptFunctions&) = delete;
  ScriptFunctions& operator=(const ScriptFunctions&) = delete;
};
const CreateFunction* script_function(const std::string& name);

class QueryBinder {
 public:
  QueryBinder(const Select& select, runtime::PumpPlan& plan, const runtime::StreamDef& scope, std::string scope_alias)
      : select_(select), plan_(plan), scope_(scope), alias_(std::move(scope_alias)) {}

  // The group keys (GROUP BY, or the stagger's PARTITION BY), into plan.keys.
  Status bind_keys(const std::vector<sql::ExprPtr>& exprs);

  bool aggregated = false;  // tumbling or stagger: the select list sees keys and aggregates
  bool sliding = false;
  bool flink = false;  // the Flink SQL dialect (FIRST_VALUE and LAST_VALUE skip NULLs)

  // A join's scope: names resolve within the side their qualifier names, and an unqualified name
  // must be in one side only.
  void set_sides(std::vector<JoinSide> sides) { sides_ = std::move(sides); }

  Result<Bound> bind(const Expr& e, Place place);
  Result<Bound> compare(const std::string& op, Bound a, Bound b, Location loc);

 private:
  Result<Bound> column(const Expr& e, Place place);
  Result<Bound> function(const Expr& e, Place place);
  Result<Bound> inline_function(const Expr& e, const CreateFunction& f, Place place);
  Result<Bound> aggregate(const Expr& e, Place place);
  Result<int> window_for(const Expr& e);
  Result<Bound> binary(const Expr& e, Place place);
  Result<Bound> arithmetic(char op, Bound a, Bound b, Location loc);
  Result<Bound> case_expr(const Expr& e, Place place);

  const Select& select_;
  runtime::PumpPlan& plan_;
  const runtime::StreamDef& scope_;
  std::string alias_;
  std::vector<std::string> key_prints_;
  std::vector<JoinSide> sides_;
};

}  // namespace eddy::sql
