// One call of a built-in scalar function being bound: its name, arguments and unit, with the
// checks every function uses. The functions are bound in three files by family (time, strings,
// the rest); each answers nullopt for a name that is not its own.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "runtime/expr.h"
#include "sql/ast.h"

namespace eddy::sql {

using Bound = runtime::ExprPtr;

inline tl::unexpected<Error> bad(const std::string& m) {
  return make_error(Errc::kInvalidArgument, m);
}
// An error while evaluating a row: the row goes to error_stream with this message.
inline Status runtime_error(const std::string& m) {
  return make_error(Errc::kInvalidArgument, m);
}

inline Bound fn(std::string name, std::vector<Bound> args, SqlType type, runtime::ScalarFn f, bool strict = true) {
  return runtime::make_function(std::move(name), std::move(args), type, std::move(f), strict);
}

inline SqlType ts() {
  return SqlType::of(TypeId::kTimestamp);
}

struct FunctionCall {
  const std::string& name;
  std::vector<Bound> args;
  const std::string& unit;  // FLOOR/CEIL ... TO <unit>, EXTRACT(<field> ...), TRIM's side

  Status arity(size_t lo, size_t hi) const {
    if (args.size() < lo || args.size() > hi) {
      return bad(name + " takes " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) +
                 " argument(s), got " + std::to_string(args.size()));
    }
    return {};
  }
  void to_type(size_t i, SqlType t) { args[i] = runtime::make_cast(std::move(args[i]), t); }
  Status need_string(size_t i) {
    if (!args[i]->type.is_string() && args[i]->type.id != TypeId::kNull) {
      return bad(name + " expects a character string as argument " + std::to_string(i + 1) + ", got " +
                 args[i]->type.to_string());
    }
    to_type(i, SqlType::varchar());
    return {};
  }
  Status need_integer(size_t i) {
    if (!args[i]->type.is_numeric() && args[i]->type.id != TypeId::kNull) {
      return bad(name + " expects a number as argument " + std::to_string(i + 1));
    }
    to_type(i, SqlType::of(TypeId::kBigint));
    return {};
  }

  std::optional<Result<Bound>> bind_time();     // functions_time.cc
  std::optional<Result<Bound>> bind_string();   // functions_string.cc
  std::optional<Result<Bound>> bind_general();  // functions.cc
};

}  // namespace eddy::sql
