#include "sql/functions.h"

#include <algorithm>
#include <cmath>

#include "sql/function_call.h"

namespace eddy::sql {

using runtime::EvalContext;
using runtime::Value;

bool is_aggregate_function(const std::string& name) {
  static constexpr std::string_view kNames[] = {
      "COUNT",   "SUM",      "AVG",    "MIN",      "MAX", "FIRST_VALUE", "LAST_VALUE", "STDDEV_POP", "STDDEV_SAMP",
      "VAR_POP", "VAR_SAMP", "STDDEV", "VARIANCE", "ANY", "EVERY",       "LAG",        "NTH_VALUE",  "EXP_AVG"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

std::optional<Result<Bound>> FunctionCall::bind_general() {
  if (name == "MONOTONIC") {
    // The value itself; the declaration matters to GROUP BY (planner.cc), sqlref/sql-reference-monotonic.
    if (auto st = arity(1, 1); !st) return tl::unexpected(st.error());
    return std::move(args[0]);
  }
  if (name == "COALESCE") {
    if (args.empty()) return bad("COALESCE needs at least one argument");
    SqlType t = args[0]->type;
    for (const auto& a : args) {
      auto c = common_type(t, a->type);
      if (!c) return bad("COALESCE arguments have incompatible types");
      t = *c;
    }
    for (size_t i = 0; i < args.size(); ++i) to_type(i, t);
    return fn(
        name, std::move(args), t,
        [](const std::vector<Value>& a, const EvalContext&, Value& o) {
          o = Value::null();
          for (const auto& v : a) {
            if (!v.is_null()) {
              o = v;
              break;
            }
          }
          return Status{};
        },
        /*strict=*/false);
  }
  if (name == "NULLIF") {
    if (auto st = arity(2, 2); !st) return tl::unexpected(st.error());
    auto t = common_type(args[0]->type, args[1]->type);
    if (!t) return bad("NULLIF arguments have incompatible types");
    to_type(0, *t);
    to_type(1, *t);
    return fn(
        name, std::move(args), *t,
        [](const std::vector<Value>& a, const EvalContext&, Value& o) {
          o = (!a[0].is_null() && !a[1].is_null() && runtime::compare_values(a[0], a[1]) == 0) ? Value::null() : a[0];
          return Status{};
        },
        false);
  }
  if (name == "ABS") {
    if (auto st = arity(1, 1); !st) return tl::unexpected(st.error());
    const SqlType t = args[0]->type;
    if (!t.is_numeric() && !t.is_interval()) return bad("ABS needs a number");
    return fn(name, std::move(args), t, [](const std::vector<Value>& a, const EvalContext&, Value& o) {
      o = a[0].kind == Value::Kind::kDouble ? Value::real(std::fabs(a[0].d)) : Value::integer(std::llabs(a[0].i));
      return Status{};
    });
  }
  if (name == "MOD") {
    if (auto st = arity(2, 2); !st) return tl::unexpected(st.error());
    if (auto st = need_integer(0); !st) return tl::unexpected(st.error());
    if (auto st = need_integer(1); !st) return tl::unexpected(st.error());
    return fn(name, std::move(args), SqlType::of(TypeId::kBigint),
              [](const std::vector<Value>& a, const EvalContext&, Value& o) {
                if (a[1].i == 0) return runtime_error("division by zero");
                o = Value::integer(a[0].i % a[1].i);
                return Status{};
              });
  }
  if (name == "POWER" || name == "SQRT" || name == "LN" || name == "EXP" || name == "LOG10" || name == "ROUND") {
    const size_t want = name == "POWER" ? 2 : 1;
    if (auto st = arity(want, name == "ROUND" ? 2 : want); !st) return tl::unexpected(st.error());
    for (size_t i = 0; i < args.size(); ++i) {
      if (!args[i]->type.is_numeric() && args[i]->type.id != TypeId::kNull) return bad(name + " needs numbers");
      to_type(i, SqlType::of(TypeId::kDouble));
    }
    return fn(name, std::move(args), SqlType::of(TypeId::kDouble),
              [name = name](const std::vector<Value>& a, const EvalContext&, Value& o) {
                double r = 0;
                if (name == "POWER")
                  r = std::pow(a[0].d, a[1].d);
                else if (name == "SQRT")
                  r = std::sqrt(a[0].d);
                else if (name == "LN")
                  r = std::log(a[0].d);
                else if (name == "EXP")
                  r = std::exp(a[0].d);
                else if (name == "LOG10")
                  r = std::log10(a[0].d);
                else {
                  const double scale = a.size() > 1 ? std::pow(10.0, a[1].d) : 1.0;
                  r = std::round(a[0].d * scale) / scale;
                }
                // LN(0), LOG10(-1), POWER(0, -1), SQRT(-1): the pages raise an error (an error row).
                if (!std::isfinite(r) && std::isfinite(a[0].d) && (a.size() < 2 || std::isfinite(a[1].d)))
                  return runtime_error(name + " is not defined for these arguments");
                o = Value::real(r);
                return Status{};
              });
  }
  return bad("unknown function " + name);
  return std::nullopt;
}

Result<Bound> bind_function(const std::string& name, std::vector<Bound> args, const std::string& unit) {
  FunctionCall call{name, std::move(args), unit};
  if (auto r = call.bind_time()) return std::move(*r);
  if (auto r = call.bind_string()) return std::move(*r);
  if (auto r = call.bind_general()) return std::move(*r);
  return bad("unknown function " + name);
}

}  // namespace eddy::sql
