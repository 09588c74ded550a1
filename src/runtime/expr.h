// Bound, typed expressions evaluated per row. The binder (sql/binder.cc) builds them from the
// syntax tree after resolving names and inserting casts, so evaluation never looks a name up.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "runtime/types.h"
#include "runtime/value.h"

namespace eddy::runtime {

struct EvalContext {
  const Row* row = nullptr;
  const std::vector<Value>* aggregates = nullptr;  // results of the query's aggregates
  const std::vector<Value>* keys = nullptr;        // GROUP BY / PARTITION BY key values
  const Clock* clock = nullptr;                    // wall clock (CURRENT_ROW_TIMESTAMP), read on use
  TimestampMs query_start = 0;                     // LOCALTIMESTAMP, CURRENT_DATE
};

class Expr {
 public:
  explicit Expr(SqlType type) : type(type) {}
  virtual ~Expr() = default;
  // Runtime failures (division by zero, an impossible cast) are errors the caller sends to
  // error_stream; kInvalidArgument with a message naming the problem.
  virtual Status eval(const EvalContext& ctx, Value& out) const = 0;
  // True if the value depends on ROWTIME (window keys are found this way).
  virtual bool uses_rowtime() const { return false; }
  // The row column this expression is, unchanged (a plain column reference); -1 otherwise.
  virtual int column_index() const { return -1; }

  SqlType type;
};
using ExprPtr = std::unique_ptr<Expr>;

ExprPtr make_column(size_t index, SqlType type);
ExprPtr make_rowtime();
ExprPtr make_constant(Value v, SqlType type);
ExprPtr make_aggregate_ref(size_t index, SqlType type);
ExprPtr make_key_ref(size_t index, SqlType type, bool uses_rowtime);
ExprPtr make_cast(ExprPtr child, SqlType target);
// + - * / % on numbers, datetimes and intervals; `type` is the result type chosen by the binder.
ExprPtr make_arithmetic(char op, ExprPtr a, ExprPtr b, SqlType type);
ExprPtr make_comparison(std::string op, ExprPtr a, ExprPtr b);  // operands already of one type
ExprPtr make_logic(std::string op, std::vector<ExprPtr> args);  // AND, OR, NOT (three-valued)
ExprPtr make_is_null(ExprPtr a, bool negated);
ExprPtr make_in(ExprPtr value, std::vector<ExprPtr> list, bool negated);
ExprPtr make_like(ExprPtr value, ExprPtr pattern, bool negated);
ExprPtr make_case(std::vector<ExprPtr> conditions, std::vector<ExprPtr> results, ExprPtr otherwise, SqlType type);
ExprPtr make_concat(ExprPtr a, ExprPtr b);
// (ts1 - ts2) <unit>: the difference as a day-time interval truncated to whole units.
ExprPtr make_datetime_difference(ExprPtr a, ExprPtr b, int64_t unit_ms);

// A scalar function implemented by `fn` over evaluated (non-short-circuit) arguments.
using ScalarFn = std::function<Status(const std::vector<Value>& args, const EvalContext& ctx, Value& out)>;
ExprPtr make_function(std::string name, std::vector<ExprPtr> args, SqlType type, ScalarFn fn, bool null_in_null_out);

}  // namespace eddy::runtime
