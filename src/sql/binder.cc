// Over 800 lines because binding and planning are still one pass here (names and types, then each
// pump's plan); issue 22 separates the planner. Scalar functions already live in functions.cc.

#include "sql/binder.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>

#include "sql/functions.h"
#include "sql/parser.h"

namespace eddy::sql {

using Bound = runtime::ExprPtr;
using runtime::PumpMode;
using runtime::PumpPlan;
using runtime::StreamDef;
using runtime::Value;

namespace {

tl::unexpected<Error> error_at(Location loc, const std::string& message) {
  return make_error(Errc::kInvalidArgument,
                    std::to_string(loc.line) + ":" + std::to_string(loc.column) + ": " + message);
}

std::string quote(const std::string& name) {
  return "\"" + name + "\"";
}

// A canonical text of an expression, to recognise a GROUP BY expression repeated in SELECT.
std::string fingerprint(const Expr& e) {
  std::string s = std::to_string(static_cast<int>(e.kind)) + ":" + e.text + ":" +
                  (e.kind == ExprKind::kColumn ? "" : e.qualifier) + ":" + std::to_string(e.interval_value) + ":" +
                  (e.negated ? "n" : "") + (e.distinct ? "d" : "") + (e.star ? "*" : "") + "(";
  for (const auto& a : e.args) s += fingerprint(*a) + ",";
  return s + ")";
}

bool castable(const SqlType& from, const SqlType& to) {
  if (from.id == TypeId::kNull || from == to) return true;
  if (from.is_string() || to.is_string()) return true;
  if (from.is_numeric() && to.is_numeric()) return true;
  if (from.is_datetime() && to.is_datetime()) return true;
  if (from.id == TypeId::kBoolean && (to.id == TypeId::kBoolean || to.is_integer())) return true;
  if (from.is_integer() && (to.id == TypeId::kBoolean || to.is_interval() || to.id == TypeId::kTimestamp)) return true;
  if (from.is_interval() && (to.is_interval() || to.is_integer())) return true;
  return false;
}

Result<Value> literal_value(const Expr& e) {
  const SqlType& t = e.type;
  switch (t.id) {
    case TypeId::kNull:
      return Value::null();
    case TypeId::kBoolean:
      return Value::boolean(e.text == "TRUE");
    case TypeId::kInteger:
    case TypeId::kBigint: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(e.text.data(), e.text.data() + e.text.size(), v);
      if (ec != std::errc()) return error_at(e.loc, "number " + e.text + " is out of range");
      return Value::integer(v);
    }
    case TypeId::kDecimal: {
      int64_t v = 0;
      if (!runtime::parse_decimal_text(e.text, t.scale, v))
        return error_at(e.loc, "number " + e.text + " is out of range");
      return Value::integer(v);
    }
    case TypeId::kDouble: {
      double d = 0;
      auto [p, ec] = std::from_chars(e.text.data(), e.text.data() + e.text.size(), d);
      if (ec != std::errc()) return error_at(e.loc, "invalid number " + e.text);
      return Value::real(d);
    }
    case TypeId::kChar:
      return Value::text(e.text);
    case TypeId::kTimestamp: {
      TimestampMs ms;
      if (!runtime::parse_timestamp_text(e.text, ms))
        return error_at(e.loc, "invalid TIMESTAMP literal '" + e.text + "'");
      return Value::integer(ms);
    }
    case TypeId::kDate: {
      int64_t d;
      if (!runtime::parse_date_text(e.text, d)) return error_at(e.loc, "invalid DATE literal '" + e.text + "'");
      return Value::integer(d);
    }
    case TypeId::kTime: {
      int64_t ms;
      if (!runtime::parse_time_text(e.text, ms)) return error_at(e.loc, "invalid TIME literal '" + e.text + "'");
      return Value::integer(ms);
    }
    default:
      return error_at(e.loc, "unsupported literal");
  }
}

enum class Place { kRow, kOutput };  // row: per input row; output: an aggregate query's result row

class QueryBinder {
 public:
  QueryBinder(const Select& select, PumpPlan& plan, const StreamDef& scope, std::string scope_alias)
      : select_(select), plan_(plan), scope_(scope), alias_(std::move(scope_alias)) {}

  Status bind_keys(const std::vector<sql::ExprPtr>& exprs) {
    for (const auto& k : exprs) {
      auto b = bind(*k, Place::kRow);
      if (!b) return tl::unexpected(b.error());
      key_prints_.push_back(fingerprint(*k));
      plan_.keys.push_back(std::move(*b));
    }
    return {};
  }

  bool aggregated = false;  // tumbling or stagger: the select list sees keys and aggregates
  bool sliding = false;

  Result<Bound> bind(const Expr& e, Place place) {
    if (aggregated && place == Place::kOutput) {
      const auto fp = fingerprint(e);
      for (size_t i = 0; i < key_prints_.size(); ++i) {
        if (key_prints_[i] == fp) return runtime::make_key_ref(i, plan_.keys[i]->type, plan_.keys[i]->uses_rowtime());
      }
    }
    switch (e.kind) {
      case ExprKind::kLiteral: {
        auto v = literal_value(e);
        if (!v) return tl::unexpected(v.error());
        SqlType t = e.type;
        if (t.id == TypeId::kChar) t = SqlType{TypeId::kChar, static_cast<int>(e.text.size())};
        return runtime::make_constant(std::move(*v), t);
      }
      case ExprKind::kInterval:
        return runtime::make_constant(Value::integer(e.interval_value), e.type);
      case ExprKind::kColumn:
        return column(e, place);
      case ExprKind::kFunction:
        return function(e, place);
      case ExprKind::kUnary: {
        auto a = bind(*e.args[0], place);
        if (!a) return a;
        if (e.text == "NOT") {
          if ((*a)->type.id != TypeId::kBoolean && (*a)->type.id != TypeId::kNull)
            return error_at(e.loc, "NOT needs a BOOLEAN");
          std::vector<Bound> v;
          v.push_back(std::move(*a));
          return runtime::make_logic("NOT", std::move(v));
        }
        const SqlType t = (*a)->type;
        if (!t.is_numeric() && !t.is_interval()) return error_at(e.loc, "unary minus needs a number or interval");
        return runtime::make_arithmetic('-', runtime::make_constant(Value::integer(0), SqlType::of(TypeId::kInteger)),
                                        std::move(*a), t.is_interval() ? t : t);
      }
      case ExprKind::kBinary:
        return binary(e, place);
      case ExprKind::kCase:
        return case_expr(e, place);
      case ExprKind::kCast: {
        auto a = bind(*e.args[0], place);
        if (!a) return a;
        if (!castable((*a)->type, e.type)) {
          return error_at(e.loc, "cannot CAST " + (*a)->type.to_string() + " to " + e.type.to_string());
        }
        return runtime::make_cast(std::move(*a), e.type);
      }
      case ExprKind::kBetween: {
        auto v = bind(*e.args[0], place);
        auto lo = bind(*e.args[1], place);
        auto hi = bind(*e.args[2], place);
        if (!v) return v;
        if (!lo) return lo;
        if (!hi) return hi;
        auto v2 = bind(*e.args[0], place);
        auto ge = compare(">=", std::move(*v), std::move(*lo), e.loc);
        if (!ge) return ge;
        auto le = compare("<=", std::move(*v2), std::move(*hi), e.loc);
        if (!le) return le;
        std::vector<Bound> both;
        both.push_back(std::move(*ge));
        both.push_back(std::move(*le));
        auto r = runtime::make_logic("AND", std::move(both));
        if (!e.negated) return r;
        std::vector<Bound> one;
        one.push_back(std::move(r));
        return runtime::make_logic("NOT", std::move(one));
      }
      case ExprKind::kIn: {
        auto v = bind(*e.args[0], place);
        if (!v) return v;
        SqlType t = (*v)->type;
        std::vector<Bound> list;
        for (size_t i = 1; i < e.args.size(); ++i) {
          auto x = bind(*e.args[i], place);
          if (!x) return x;
          auto c = common_type(t, (*x)->type);
          if (!c)
            return error_at(e.args[i]->loc, "IN list value of type " + (*x)->type.to_string() +
                                                " cannot be compared with " + t.to_string());
          t = *c;
          list.push_back(std::move(*x));
        }
        if (t.id == TypeId::kChar) t = SqlType::varchar();
        for (auto& x : list) x = runtime::make_cast(std::move(x), t);
        return runtime::make_in(runtime::make_cast(std::move(*v), t), std::move(list), e.negated);
      }
      case ExprKind::kLike: {
        auto v = bind(*e.args[0], place);
        auto p = bind(*e.args[1], place);
        if (!v) return v;
        if (!p) return p;
        if (!(*v)->type.is_string() || !(*p)->type.is_string()) return error_at(e.loc, "LIKE needs character strings");
        return runtime::make_like(runtime::make_cast(std::move(*v), SqlType::varchar()),
                                  runtime::make_cast(std::move(*p), SqlType::varchar()), e.negated);
      }
      case ExprKind::kIsNull: {
        auto v = bind(*e.args[0], place);
        if (!v) return v;
        return runtime::make_is_null(std::move(*v), e.negated);
      }
      case ExprKind::kQualify: {
        const Expr& inner = *e.args[0];
        const int64_t unit = unit_ms(e.text);
        if (unit == 0)
          return error_at(e.loc, "(a - b) " + e.text + " is not supported; use SECOND, MINUTE, HOUR or DAY");
        if (inner.kind != ExprKind::kBinary || inner.text != "-") {
          return error_at(e.loc, "an interval qualifier after (...) needs a datetime difference (a - b)");
        }
        auto a = bind(*inner.args[0], place);
        auto b = bind(*inner.args[1], place);
        if (!a) return a;
        if (!b) return b;
        if (!(*a)->type.is_datetime() || !(*b)->type.is_datetime()) {
          return error_at(e.loc, "(a - b) " + e.text + " needs two datetime values");
        }
        const SqlType t = (*a)->type.id == TypeId::kDate && (*b)->type.id == TypeId::kDate
                              ? SqlType::of(TypeId::kDate)
                              : SqlType::of(TypeId::kTimestamp);
        return runtime::make_datetime_difference(runtime::make_cast(std::move(*a), t),
                                                 runtime::make_cast(std::move(*b), t), unit);
      }
    }
    return error_at(e.loc, "unsupported expression");
  }

  Result<Bound> compare(const std::string& op, Bound a, Bound b, Location loc) {
    const SqlType ta = a->type, tb = b->type;
    auto fail = [&] { return error_at(loc, "cannot compare " + ta.to_string() + " with " + tb.to_string()); };
    std::optional<SqlType> t;
    if (ta.is_datetime() && tb.is_string())
      t = ta;  // TIMESTAMP column = '2021-01-31 14:00:00'
    else if (tb.is_datetime() && ta.is_string())
      t = tb;
    else if (ta.is_string() != tb.is_string() && ta.id != TypeId::kNull && tb.id != TypeId::kNull)
      return fail();
    else
      t = common_type(ta, tb);
    if (!t) return fail();
    if (ta.id == TypeId::kChar && tb.id == TypeId::kChar) {
      return runtime::make_comparison(op, std::move(a), std::move(b));  // blank-padded comparison
    }
    if (t->id == TypeId::kChar) t = SqlType::varchar();
    return runtime::make_comparison(op, runtime::make_cast(std::move(a), *t), runtime::make_cast(std::move(b), *t));
  }

 private:
  Result<Bound> column(const Expr& e, Place place) {
    if (!e.qualifier.empty() && e.qualifier != scope_.name && e.qualifier != alias_) {
      return error_at(
          e.loc, "unknown stream or alias " + quote(e.qualifier) + " (the query reads " + quote(scope_.name) + ")");
    }
    if (e.text == "ROWTIME") return runtime::make_rowtime();
    for (size_t i = 0; i < scope_.columns.size(); ++i) {
      if (scope_.columns[i].name != e.text) continue;
      if (aggregated && place == Place::kOutput) {
        return error_at(e.loc,
                        "column " + quote(e.text) +
                            " must appear in GROUP BY (or the stagger PARTITION BY) or inside an aggregate function");
      }
      return runtime::make_column(i, scope_.columns[i].type);
    }
    std::string names;
    for (const auto& c : scope_.columns) names += (names.empty() ? "" : ", ") + quote(c.name);
    std::string hint;
    for (const auto& c : scope_.columns) {
      std::string upper = c.name;
      for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (upper == e.text && !e.quoted) hint = " (unquoted names are upper-cased: write " + quote(c.name) + ")";
    }
    return error_at(
        e.loc, "column " + quote(e.text) + " not found in " + quote(scope_.name) + hint + "; its columns are " + names);
  }

  Result<Bound> function(const Expr& e, Place place) {
    if (is_aggregate_function(e.text)) return aggregate(e, place);
    std::vector<Bound> args;
    for (const auto& a : e.args) {
      auto b = bind(*a, place);
      if (!b) return b;
      args.push_back(std::move(*b));
    }
    auto f = bind_function(e.text, std::move(args), e.qualifier);
    if (!f) return error_at(e.loc, f.error().message);
    return f;
  }

  Result<Bound> aggregate(const Expr& e, Place place) {
    const bool windowed = e.window || !e.window_name.empty();
    if (windowed && !sliding) return error_at(e.loc, "OVER windows cannot be combined with GROUP BY or WINDOWED BY");
    if (!windowed && !(aggregated && place == Place::kOutput)) {
      if (sliding) return error_at(e.loc, "aggregate " + e.text + " needs OVER (...) in a query with sliding windows");
      return error_at(e.loc,
                      "aggregate " + e.text +
                          " needs a GROUP BY window (STEP/FLOOR of ROWTIME), WINDOWED BY STAGGER, or OVER (...)");
    }
    if (e.distinct) return error_at(e.loc, e.text + "(DISTINCT ...) is not allowed in streaming aggregation");
    runtime::AggregateSpec spec;
    const std::string& n = e.text;
    using runtime::AggregateKind;
    if (n == "COUNT")
      spec.kind = e.star ? AggregateKind::kCountStar : AggregateKind::kCount;
    else if (n == "SUM")
      spec.kind = AggregateKind::kSum;
    else if (n == "AVG")
      spec.kind = AggregateKind::kAvg;
    else if (n == "MIN")
      spec.kind = AggregateKind::kMin;
    else if (n == "MAX")
      spec.kind = AggregateKind::kMax;
    else if (n == "FIRST_VALUE")
      spec.kind = AggregateKind::kFirstValue;
    else if (n == "LAST_VALUE")
      spec.kind = AggregateKind::kLastValue;
    else if (n == "STDDEV_POP")
      spec.kind = AggregateKind::kStddevPop;
    else if (n == "STDDEV_SAMP" || n == "STDDEV")
      spec.kind = AggregateKind::kStddevSamp;
    else if (n == "VAR_POP")
      spec.kind = AggregateKind::kVarPop;
    else
      spec.kind = AggregateKind::kVarSamp;
    SqlType arg_type = SqlType::of(TypeId::kBigint);
    if (!e.star) {
      if (e.args.size() != 1) return error_at(e.loc, n + " takes one argument");
      auto arg = bind(*e.args[0], Place::kRow);
      if (!arg) return arg;
      arg_type = (*arg)->type;
      const bool numeric_only = spec.kind == AggregateKind::kSum || spec.kind == AggregateKind::kAvg ||
                                spec.kind >= AggregateKind::kStddevPop;
      if (numeric_only && !arg_type.is_numeric() && !(spec.kind == AggregateKind::kSum && arg_type.is_interval())) {
        return error_at(e.loc, n + " needs a numeric argument, got " + arg_type.to_string());
      }
      if (arg_type.id == TypeId::kChar) {
        *arg = runtime::make_cast(std::move(*arg), SqlType::varchar());
        arg_type = SqlType::varchar();
      }
      spec.arg = std::move(*arg);
    }
    spec.result_type = runtime::aggregate_result_type(spec.kind, arg_type);
    const SqlType result = spec.result_type;
    int window = -1;
    if (windowed) {
      auto w = window_for(e);
      if (!w) return tl::unexpected(w.error());
      window = *w;
    }
    plan_.aggregates.push_back(std::move(spec));
    plan_.aggregate_window.push_back(window);
    return runtime::make_aggregate_ref(plan_.aggregates.size() - 1, result);
  }

  Result<int> window_for(const Expr& e) {
    const WindowSpec* spec = e.window.get();
    std::string name = e.window_name;
    if (!spec) {
      for (const auto& [wname, w] : select_.windows) {
        if (wname == name) spec = &w;
      }
      if (!spec) return error_at(e.loc, "window " + quote(name) + " is not defined in a WINDOW clause");
    } else {
      name = "#" + std::to_string(reinterpret_cast<uintptr_t>(spec));
    }
    for (size_t i = 0; i < plan_.windows.size(); ++i) {
      if (plan_.windows[i].name == name) return static_cast<int>(i);
    }
    runtime::SlidingWindowSpec w;
    w.name = name;
    w.rows = spec->rows;
    w.rows_preceding = spec->rows_preceding;
    w.range_ms = spec->range_ms;
    for (const auto& p : spec->partition_by) {
      auto b = bind(*p, Place::kRow);
      if (!b) return tl::unexpected(b.error());
      w.partition_by.push_back(std::move(*b));
    }
    plan_.windows.push_back(std::move(w));
    return static_cast<int>(plan_.windows.size() - 1);
  }

  Result<Bound> binary(const Expr& e, Place place) {
    auto a = bind(*e.args[0], place);
    if (!a) return a;
    auto b = bind(*e.args[1], place);
    if (!b) return b;
    const std::string& op = e.text;
    if (op == "AND" || op == "OR") {
      for (const auto* x : {&*a, &*b}) {
        if ((*x)->type.id != TypeId::kBoolean && (*x)->type.id != TypeId::kNull)
          return error_at(e.loc, op + " needs BOOLEAN operands");
      }
      std::vector<Bound> v;
      v.push_back(std::move(*a));
      v.push_back(std::move(*b));
      return runtime::make_logic(op, std::move(v));
    }
    if (op == "=" || op == "<>" || op == "<" || op == "<=" || op == ">" || op == ">=") {
      return compare(op, std::move(*a), std::move(*b), e.loc);
    }
    if (op == "||") {
      return runtime::make_concat(runtime::make_cast(std::move(*a), SqlType::varchar()),
                                  runtime::make_cast(std::move(*b), SqlType::varchar()));
    }
    return arithmetic(op[0], std::move(*a), std::move(*b), e.loc);
  }

  Result<Bound> arithmetic(char op, Bound a, Bound b, Location loc) {
    SqlType ta = a->type, tb = b->type;
    if (ta.id == TypeId::kNull) ta = tb;
    if (tb.id == TypeId::kNull) tb = ta;
    auto fail = [&] {
      return error_at(
          loc, std::string("cannot apply '") + op + "' to " + a->type.to_string() + " and " + b->type.to_string());
    };
    if (ta.is_datetime() || tb.is_datetime()) {
      if (ta.is_datetime() && tb.is_datetime() && op == '-') {
        return runtime::make_datetime_difference(runtime::make_cast(std::move(a), SqlType::of(TypeId::kTimestamp)),
                                                 runtime::make_cast(std::move(b), SqlType::of(TypeId::kTimestamp)), 1);
      }
      const bool ok = (ta.is_datetime() && tb.is_interval() && (op == '+' || op == '-')) ||
                      (tb.is_datetime() && ta.is_interval() && op == '+');
      if (!ok) return fail();
      const SqlType result = ta.is_datetime() ? ta : tb;
      return runtime::make_arithmetic(op, std::move(a), std::move(b), result);
    }
    if (ta.is_interval() || tb.is_interval()) {
      if (ta.is_interval() && tb.is_interval()) {
        if (ta.id != tb.id || (op != '+' && op != '-')) return fail();
        return runtime::make_arithmetic(op, std::move(a), std::move(b), ta);
      }
      const SqlType& other = ta.is_interval() ? tb : ta;
      if (!other.is_numeric() || (op != '*' && !(op == '/' && ta.is_interval()))) return fail();
      return runtime::make_arithmetic(op, std::move(a), std::move(b), ta.is_interval() ? ta : tb);
    }
    if (!ta.is_numeric() || !tb.is_numeric()) return fail();
    auto t = common_type(ta, tb);
    if (!t) return fail();
    SqlType result = *t;
    if (t->id == TypeId::kDecimal) {
      const int sa = ta.id == TypeId::kDecimal ? ta.scale : 0;
      const int sb = tb.id == TypeId::kDecimal ? tb.scale : 0;
      int scale = std::max(sa, sb);
      if (op == '*') scale = std::min(sa + sb, 12);
      if (op == '/') scale = std::min(std::max({sa, sb, 6}), 12);
      result = SqlType::decimal(18, scale);
      // Integer operands stay integers (scale 0); DECIMAL operands keep their own scale.
      if (!ta.is_integer()) a = runtime::make_cast(std::move(a), ta.id == TypeId::kDecimal ? ta : result);
      if (!tb.is_integer()) b = runtime::make_cast(std::move(b), tb.id == TypeId::kDecimal ? tb : result);
      return runtime::make_arithmetic(op, std::move(a), std::move(b), result);
    }
    if (result.is_integer() && result.id != TypeId::kBigint && (ta.id == TypeId::kBigint || tb.id == TypeId::kBigint)) {
      result = SqlType::of(TypeId::kBigint);
    }
    return runtime::make_arithmetic(op, runtime::make_cast(std::move(a), result),
                                    runtime::make_cast(std::move(b), result), result);
  }

  Result<Bound> case_expr(const Expr& e, Place place) {
    size_t i = 0;
    Bound operand;
    if (e.has_operand) {
      auto o = bind(*e.args[0], place);
      if (!o) return o;
      operand = std::move(*o);
      i = 1;
    }
    const size_t end = e.args.size() - (e.has_else ? 1 : 0);
    std::vector<Bound> conds, results;
    SqlType t = SqlType::of(TypeId::kNull);
    for (; i < end; i += 2) {
      Bound cond;
      if (e.has_operand) {
        auto lhs = bind(*e.args[0], place);
        auto rhs = bind(*e.args[i], place);
        if (!lhs) return lhs;
        if (!rhs) return rhs;
        auto c = compare("=", std::move(*lhs), std::move(*rhs), e.args[i]->loc);
        if (!c) return c;
        cond = std::move(*c);
      } else {
        auto c = bind(*e.args[i], place);
        if (!c) return c;
        if ((*c)->type.id != TypeId::kBoolean && (*c)->type.id != TypeId::kNull)
          return error_at(e.args[i]->loc, "WHEN needs a BOOLEAN condition");
        cond = std::move(*c);
      }
      auto r = bind(*e.args[i + 1], place);
      if (!r) return r;
      auto c = common_type(t, (*r)->type);
      if (!c) return error_at(e.args[i + 1]->loc, "CASE results have incompatible types");
      t = *c;
      conds.push_back(std::move(cond));
      results.push_back(std::move(*r));
    }
    Bound otherwise;
    if (e.has_else) {
      auto r = bind(*e.args.back(), place);
      if (!r) return r;
      auto c = common_type(t, (*r)->type);
      if (!c) return error_at(e.args.back()->loc, "CASE results have incompatible types");
      t = *c;
      otherwise = std::move(*r);
    }
    if (t.id == TypeId::kChar) t = SqlType::varchar();
    for (auto& r : results) r = runtime::make_cast(std::move(r), t);
    if (otherwise) otherwise = runtime::make_cast(std::move(otherwise), t);
    return runtime::make_case(std::move(conds), std::move(results), std::move(otherwise), t);
  }

  const Select& select_;
  PumpPlan& plan_;
  const StreamDef& scope_;
  std::string alias_;
  std::vector<std::string> key_prints_;
};

bool has_windowed_aggregate(const Expr& e) {
  if (e.kind == ExprKind::kFunction && (e.window || !e.window_name.empty())) return true;
  for (const auto& a : e.args) {
    if (has_windowed_aggregate(*a)) return true;
  }
  return false;
}

Result<int64_t> integer_literal(const Expr& e, const char* what) {
  if (e.kind != ExprKind::kLiteral || !e.type.is_integer())
    return error_at(e.loc, std::string(what) + " must be a whole number");
  return std::stoll(e.text);
}

bool mentions_window_columns(const Expr& e) {
  if (e.kind == ExprKind::kColumn && (e.text == "window_start" || e.text == "window_end" || e.text == "window_time"))
    return true;
  for (const auto& a : e.args) {
    if (mentions_window_columns(*a)) return true;
  }
  return false;
}

// An aggregate function call whose argument reads a window column (then windows cannot be built
// from slices).
bool aggregate_reads_window(const Expr& e) {
  if (e.kind == ExprKind::kFunction && is_aggregate_function(e.text)) {
    for (const auto& a : e.args) {
      if (mentions_window_columns(*a)) return true;
    }
  }
  for (const auto& a : e.args) {
    if (aggregate_reads_window(*a)) return true;
  }
  return false;
}

// A Flink table's event-time attribute (WATERMARK FOR column AS column - delay).
struct EventTime {
  std::string column;
  int64_t delay_ms = 0;
  int64_t idle_timeout_ms = 0;  // WITH ('scan.watermark.idle-timeout' = '10 s')
  bool drop_late = false;       // WITH ('eddy.late-rows' = 'drop'); default 'error-stream'
};

// "10 s", "500 ms", "1 min", "2 h" (Flink's duration syntax); nullopt if it is not one.
std::optional<int64_t> duration_ms(const std::string& text) {
  size_t used = 0;
  int64_t n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::string unit = text.substr(used);
  unit.erase(0, unit.find_first_not_of(' '));
  if (n < 0) return std::nullopt;
  if (unit == "ms" || unit == "milli" || unit == "millis") return n;
  if (unit.empty() || unit == "s" || unit == "sec" || unit == "second" || unit == "seconds") return n * 1000;
  if (unit == "min" || unit == "minute" || unit == "minutes") return n * 60'000;
  if (unit == "h" || unit == "hour" || unit == "hours") return n * 3'600'000;
  return std::nullopt;
}

// The Flink window TVF in FROM: its table, window kind and intervals into the plan, and the scope
// the query sees (the table's columns, then window_start, window_end, window_time).
Status bind_window_tvf(const FromItem& from, PumpPlan& plan, const std::map<std::string, StreamDef>& streams,
                       const std::map<std::string, EventTime>& event_time, StreamDef& derived) {
  auto src = streams.find(from.tvf_table.name);
  if (src == streams.end())
    return error_at(from.tvf_table.loc, "table " + quote(from.tvf_table.name) + " does not exist");
  auto et = event_time.find(from.tvf_table.name);
  if (et == event_time.end()) {
    return error_at(
        from.tvf_table.loc,
        "table " + quote(from.tvf_table.name) +
            " has no WATERMARK: window functions need an event-time column (WATERMARK FOR ts AS ts - INTERVAL ...)");
  }
  if (from.descriptor.name != et->second.column) {
    return error_at(from.descriptor.loc, "DESCRIPTOR(" + from.descriptor.name +
                                             ") must name the table's event-time column " + quote(et->second.column) +
                                             " (the one with the WATERMARK)");
  }
  const auto& cols = src->second.columns;
  auto tc = std::find_if(cols.begin(), cols.end(), [&](const auto& c) { return c.name == et->second.column; });
  if (tc == cols.end()) return error_at(from.descriptor.loc, "column " + quote(et->second.column) + " not found");
  auto& ev = plan.event;
  ev.time_column = static_cast<size_t>(tc - cols.begin());
  ev.watermark_delay_ms = et->second.delay_ms;
  ev.idle_timeout_ms = et->second.idle_timeout_ms;
  ev.drop_late = et->second.drop_late;
  ev.source_width = cols.size();
  std::vector<int64_t> ms;
  for (const auto& a : from.function_args) {
    if (a->kind != ExprKind::kInterval || a->type.id != TypeId::kIntervalDayTime || a->interval_value < 0) {
      return error_at(a->loc, "window sizes are day-to-second INTERVAL literals, e.g. INTERVAL '10' MINUTES");
    }
    ms.push_back(a->interval_value);
  }
  const std::string& kind = from.window_tvf;
  auto args = [&](size_t lo, size_t hi, const char* shape) -> Status {
    if (ms.size() < lo || ms.size() > hi)
      return error_at(from.loc, kind + " takes (TABLE t, DESCRIPTOR(ts), " + shape + ")");
    return {};
  };
  if (kind == "TUMBLE") {
    if (auto st = args(1, 2, "size [, offset]"); !st) return st;
    ev.kind = runtime::EventWindowSpec::Kind::kTumble;
    ev.size_ms = ms[0];
    ev.slide_ms = ms[0];
  } else if (kind == "HOP" || kind == "CUMULATE") {
    if (auto st = args(2, 3, kind == "HOP" ? "slide, size [, offset]" : "step, max size [, offset]"); !st) return st;
    ev.kind = kind == "HOP" ? runtime::EventWindowSpec::Kind::kHop : runtime::EventWindowSpec::Kind::kCumulate;
    ev.slide_ms = ms[0];
    ev.size_ms = ms[1];
    // CUMULATE needs whole steps; HOP does not (the seed's job slides 90 s windows every 60 s, as
    // Flink's legacy HOP group window and DataStream sliding windows allow).
    if (ev.slide_ms <= 0 || (kind == "CUMULATE" && ev.size_ms % ev.slide_ms != 0)) {
      return error_at(from.loc, kind == "HOP"
                                    ? std::string("HOP's slide must be positive")
                                    : std::string("CUMULATE's max size must be a whole multiple of its step"));
    }
  } else if (kind == "SESSION") {
    if (auto st = args(1, 1, "gap"); !st) return st;
    ev.kind = runtime::EventWindowSpec::Kind::kSession;
    ev.size_ms = ms[0];
  } else {
    return error_at(from.loc, kind + " is not a window function (TUMBLE, HOP, CUMULATE, SESSION)");
  }
  if (ev.size_ms <= 0) return error_at(from.loc, "the window size must be positive");
  if (kind != "SESSION" && ms.size() == (kind == "TUMBLE" ? 2u : 3u)) ev.offset_ms = ms.back();
  if (ev.offset_ms >= ev.size_ms) return error_at(from.loc, "the window offset must be smaller than the window size");
  plan.source = src->first;
  plan.mode = PumpMode::kEventWindow;
  derived = src->second;
  derived.columns.push_back({"window_start", SqlType::of(TypeId::kTimestamp)});
  derived.columns.push_back({"window_end", SqlType::of(TypeId::kTimestamp)});
  derived.columns.push_back({"window_time", SqlType::of(TypeId::kTimestamp)});
  return {};
}

Result<std::unique_ptr<PumpPlan>> bind_select(const Select& select, const CreatePump& pump, const StreamDef& target,
                                              const std::vector<size_t>& target_columns,
                                              std::map<std::string, StreamDef>& streams, bool flink,
                                              const std::map<std::string, EventTime>& event_time);

// The name a select item gives its column: its alias, or the column it names.
std::string item_name(const SelectItem& item) {
  if (!item.alias.name.empty()) return item.alias.name;
  return item.expr && item.expr->kind == ExprKind::kColumn ? item.expr->text : std::string();
}

// Flink's window Top-N (flink-sql.md 3), the one shape it has:
//   SELECT <* | columns> FROM (
//     SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY c [DESC]) AS rn
//     FROM (<a window aggregation>)) WHERE rn <= N
// planned as the window aggregation whose windows emit their first N groups by c, numbered.
Result<std::unique_ptr<PumpPlan>> bind_top_n(const Select& outer, const CreatePump& pump, const StreamDef& target,
                                             const std::vector<size_t>& target_columns,
                                             std::map<std::string, StreamDef>& streams,
                                             const std::map<std::string, EventTime>& event_time) {
  const std::string shape =
      "FROM (subquery) is supported for window Top-N: SELECT ... FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY "
      "window_start, "
      "window_end ORDER BY c [DESC]) AS rn FROM (<window aggregation>)) WHERE rn <= N";
  const Select& mid = *outer.from.subquery;
  if (!mid.from.subquery || mid.where || !mid.group_by.empty() || mid.items.size() != 2)
    return error_at(outer.from.loc, shape);
  const SelectItem* star = nullptr;
  const SelectItem* number = nullptr;
  for (const auto& item : mid.items) (item.star ? star : number) = &item;
  if (!star || !number || !number->expr || number->expr->kind != ExprKind::kFunction ||
      number->expr->text != "ROW_NUMBER" || !number->expr->window || number->alias.name.empty()) {
    return error_at(mid.loc, shape);
  }
  const WindowSpec& w = *number->expr->window;
  std::set<std::string> parts;
  for (const auto& p : w.partition_by) {
    if (p->kind == ExprKind::kColumn) parts.insert(p->text);
  }
  if (parts != std::set<std::string>{"window_start", "window_end"} || w.partition_by.size() != 2) {
    return error_at(w.loc, "window Top-N must PARTITION BY window_start, window_end");
  }
  if (w.order_by.size() != 1 || w.order_by[0].first->kind != ExprKind::kColumn) {
    return error_at(w.loc, "window Top-N orders by one column of the aggregation (ORDER BY c [DESC])");
  }
  const std::string rn = number->alias.name;
  int64_t n = 0;
  if (!outer.where || outer.where->kind != ExprKind::kBinary || outer.where->args[0]->kind != ExprKind::kColumn ||
      outer.where->args[0]->text != rn || (outer.where->text != "<=" && outer.where->text != "<")) {
    return error_at(outer.loc, "window Top-N needs WHERE " + rn + " <= N");
  }
  auto limit = integer_literal(*outer.where->args[1], "N");
  if (!limit) return tl::unexpected(limit.error());
  n = *limit - (outer.where->text == "<" ? 1 : 0);
  if (n < 1 || n > 100000) return error_at(outer.where->loc, "N must be 1 to 100000");

  // The aggregation, planned into an intermediate row of its own columns and types.
  const Select& inner = *mid.from.subquery;
  StreamDef inner_def;
  inner_def.name = target.name;
  std::vector<size_t> inner_columns;
  for (const auto& item : inner.items) {
    if (item.star) return error_at(inner.loc, "the aggregation under a window Top-N names its columns");
    inner_def.columns.push_back({item_name(item), SqlType::of(TypeId::kNull)});
    inner_columns.push_back(inner_columns.size());
  }
  auto plan = bind_select(inner, pump, inner_def, inner_columns, streams, true, event_time);
  if (!plan) return tl::unexpected(plan.error());
  auto& ev = (*plan)->event;
  if ((*plan)->mode != PumpMode::kEventWindow) return error_at(inner.loc, shape);
  const auto& cols = inner_def.columns;
  auto find = [&](const std::string& name) -> int {
    for (size_t i = 0; i < cols.size(); ++i) {
      if (cols[i].name == name) return static_cast<int>(i);
    }
    return -2;
  };
  const int order = find(w.order_by[0].first->text);
  if (order < 0)
    return error_at(w.order_by[0].first->loc,
                    "ORDER BY " + w.order_by[0].first->text + " is not a column of the aggregation");
  ev.top_n = n;
  ev.top_order = static_cast<size_t>(order);
  ev.top_desc = w.order_by[0].second;
  ev.top_inner_types = (*plan)->target_types;
  // The outer select list: * (the aggregation's columns, then the row number) or named columns.
  std::vector<int> sources;
  if (outer.items.size() == 1 && outer.items[0].star) {
    for (size_t i = 0; i < cols.size(); ++i) sources.push_back(static_cast<int>(i));
    sources.push_back(-1);
  } else {
    for (const auto& item : outer.items) {
      if (item.star || !item.expr || item.expr->kind != ExprKind::kColumn)
        return error_at(outer.loc, "select * or columns over a window Top-N");
      const int c = item.expr->text == rn ? -1 : find(item.expr->text);
      if (c == -2) return error_at(item.expr->loc, "column " + quote(item.expr->text) + " not found");
      sources.push_back(c);
    }
  }
  if (sources.size() != target_columns.size()) {
    return error_at(outer.loc, "INSERT INTO " + quote(target.name) + " expects " +
                                   std::to_string(target_columns.size()) + " column(s) but the SELECT produces " +
                                   std::to_string(sources.size()));
  }
  ev.top_columns.assign(target.columns.size(), -3);  // -3: a target column no output writes (NULL)
  ev.top_types.clear();
  for (const auto& c : target.columns) ev.top_types.push_back(c.type);
  for (size_t i = 0; i < sources.size(); ++i) {
    const auto& col = target.columns[target_columns[i]];
    const SqlType from =
        sources[i] < 0 ? SqlType::of(TypeId::kBigint) : ev.top_inner_types[static_cast<size_t>(sources[i])];
    if (!castable(from, col.type)) {
      return error_at(outer.loc, "cannot insert " + from.to_string() + " into column " + quote(col.name) + " " +
                                     col.type.to_string());
    }
    ev.top_columns[target_columns[i]] = sources[i];
  }
  return plan;
}

Result<std::unique_ptr<PumpPlan>> bind_select(const Select& select, const CreatePump& pump, const StreamDef& target,
                                              const std::vector<size_t>& target_columns,
                                              std::map<std::string, StreamDef>& streams, bool flink,
                                              const std::map<std::string, EventTime>& event_time) {
  if (flink && select.from.subquery) return bind_top_n(select, pump, target, target_columns, streams, event_time);
  auto plan = std::make_unique<PumpPlan>();
  plan->name = pump.name.name;
  plan->target = target.name;
  plan->target_width = target.columns.size();
  if (!select.stream && !flink) return error_at(select.loc, "a pump's query must be SELECT STREAM");

  // The stream (or the table function's derived stream) the select list sees.
  StreamDef derived;
  const StreamDef* scope = nullptr;
  std::string alias = select.from.alias;
  if (!select.from.window_tvf.empty()) {
    if (auto st = bind_window_tvf(select.from, *plan, streams, event_time, derived); !st)
      return tl::unexpected(st.error());
    scope = &derived;
  } else if (!select.from.table_function.empty()) {
    const std::string& fname = select.from.table_function;
    const bool top_k = fname == "TOP_K_ITEMS_TUMBLING";
    if (!top_k && fname != "COUNT_DISTINCT_ITEMS_TUMBLING") {
      return error_at(select.from.loc, "unknown table function " + fname +
                                           " (supported: TOP_K_ITEMS_TUMBLING, COUNT_DISTINCT_ITEMS_TUMBLING)");
    }
    const Select& cursor = *select.from.cursor;
    auto src = streams.find(cursor.from.stream.name);
    if (src == streams.end())
      return error_at(cursor.from.stream.loc, "stream " + quote(cursor.from.stream.name) + " does not exist");
    if (cursor.items.size() != 1 || !cursor.items[0].star) {
      return error_at(cursor.loc, "the CURSOR of " + fname + " must be SELECT STREAM * FROM <stream> [WHERE ...]");
    }
    const size_t want = top_k ? 3 : 2;
    if (select.from.function_args.size() != want) {
      return error_at(select.from.loc,
                      fname + " takes (CURSOR(...), 'column', " + (top_k ? "K, " : "") + "windowSize)");
    }
    const Expr& col = *select.from.function_args[0];
    if (col.kind != ExprKind::kLiteral || !col.type.is_string())
      return error_at(col.loc, "the column name must be a string literal");
    const auto& cols = src->second.columns;
    auto it = std::find_if(cols.begin(), cols.end(), [&](const auto& c) { return c.name == col.text; });
    if (it == cols.end()) {
      std::string upper = col.text;
      for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      it = std::find_if(cols.begin(), cols.end(), [&](const auto& c) { return c.name == upper; });
    }
    if (it == cols.end())
      return error_at(col.loc, "column " + quote(col.text) + " not found in " + quote(src->second.name));
    plan->source = src->second.name;
    plan->mode = top_k ? PumpMode::kTopK : PumpMode::kCountDistinct;
    plan->tf_column = static_cast<size_t>(it - cols.begin());
    plan->tf_column_type = it->type;
    if (top_k) {
      auto k = integer_literal(*select.from.function_args[1], "K");
      if (!k) return tl::unexpected(k.error());
      if (*k < 1 || *k > 100000) return error_at(select.from.function_args[1]->loc, "K must be between 1 and 100000");
      plan->tf_k = *k;
    }
    auto size = integer_literal(*select.from.function_args.back(), "windowSize");
    if (!size) return tl::unexpected(size.error());
    if (*size < 1 || *size > 3600)
      return error_at(select.from.function_args.back()->loc, "windowSize must be 1 to 3600 seconds");
    plan->tf_window_ms = *size * 1000;
    if (cursor.where) {
      QueryBinder cb(cursor, *plan, src->second, cursor.from.alias);
      auto w = cb.bind(*cursor.where, Place::kRow);
      if (!w) return tl::unexpected(w.error());
      plan->where = std::move(*w);
    }
    derived.name = fname;
    if (top_k) derived.columns.push_back({it->name, it->type});
    derived.columns.push_back(
        {top_k ? "MOST_FREQUENT_VALUES" : "NUMBER_OF_DISTINCT_ITEMS", SqlType::of(TypeId::kBigint)});
    scope = &derived;
  } else {
    auto src = streams.find(select.from.stream.name);
    if (src == streams.end()) {
      return error_at(select.from.stream.loc,
                      "stream " + quote(select.from.stream.name) +
                          " does not exist (create it with CREATE STREAM, or check the input's name prefix)");
    }
    if (src->first == runtime::kErrorStream)
      return error_at(select.from.stream.loc, "error_stream cannot be read by the application");
    plan->source = src->first;
    scope = &src->second;
  }

  QueryBinder qb(select, *plan, *scope, alias);
  const bool table_function = !select.from.table_function.empty();
  if (!table_function && select.where) {
    auto w = qb.bind(*select.where, Place::kRow);
    if (!w) return tl::unexpected(w.error());
    if ((*w)->type.id != TypeId::kBoolean && (*w)->type.id != TypeId::kNull)
      return error_at(select.where->loc, "WHERE needs a BOOLEAN condition");
    plan->where = std::move(*w);
  }
  if (!select.group_by.empty() && select.stagger)
    return error_at(select.loc, "use either GROUP BY or WINDOWED BY, not both");
  bool sliding = false;
  for (const auto& item : select.items) {
    if (item.expr && has_windowed_aggregate(*item.expr)) sliding = true;
  }
  if (plan->mode == PumpMode::kEventWindow) {
    // GROUP BY window_start, window_end[, keys]: the window is the group's time part.
    bool start = false, end = false;
    for (const auto& k : select.group_by) {
      start |= k->kind == ExprKind::kColumn && k->text == "window_start";
      end |= k->kind == ExprKind::kColumn && k->text == "window_end";
    }
    if (!start || !end) {
      return error_at(select.loc, "a window function's query must GROUP BY window_start, window_end (and any keys)");
    }
    if (sliding || select.stagger) return error_at(select.loc, "OVER and STAGGER cannot follow a window function");
    // SESSION: per PARTITION BY value (the legacy GROUP BY SESSION form: per group key).
    auto& ev = plan->event;
    if (ev.kind == runtime::EventWindowSpec::Kind::kSession) {
      if (select.from.session_by_group_keys) {
        for (const auto& k : select.group_by) {
          if (k->kind == ExprKind::kColumn && (k->text == "window_start" || k->text == "window_end")) continue;
          auto b = qb.bind(*k, Place::kRow);
          if (!b) return tl::unexpected(b.error());
          ev.session_partition.push_back(std::move(*b));
        }
      }
      for (const auto& k : select.from.tvf_partition_by) {
        auto b = qb.bind(*k, Place::kRow);
        if (!b) return tl::unexpected(b.error());
        ev.session_partition.push_back(std::move(*b));
      }
    } else if (!select.from.tvf_partition_by.empty()) {
      return error_at(select.from.loc, "PARTITION BY is for SESSION windows");
    }
    if (select.where && mentions_window_columns(*select.where)) {
      return error_at(
          select.where->loc,
          "WHERE is applied before the window function: it cannot read window_start, window_end or window_time");
    }
    qb.aggregated = true;
    if (auto st = qb.bind_keys(select.group_by); !st) return tl::unexpected(st.error());
    ev.panes = ev.kind != runtime::EventWindowSpec::Kind::kSession;
    for (const auto& k : select.group_by) {
      const bool bare = k->kind == ExprKind::kColumn;
      const int slot = !bare                       ? 0
                       : k->text == "window_start" ? 1
                       : k->text == "window_end"   ? 2
                       : k->text == "window_time"  ? 3
                                                   : 0;
      ev.window_slot.push_back(slot);
      if (slot == 0 && mentions_window_columns(*k)) ev.panes = false;
    }
    for (const auto& item : select.items) {
      if (item.expr && aggregate_reads_window(*item.expr)) ev.panes = false;
    }
    if (select.having && aggregate_reads_window(*select.having)) ev.panes = false;
  } else if (!table_function) {
    if (!select.group_by.empty()) {
      plan->mode = PumpMode::kTumbling;
      qb.aggregated = true;
      if (auto st = qb.bind_keys(select.group_by); !st) return tl::unexpected(st.error());
      for (size_t i = 0; i < plan->keys.size(); ++i) {
        if (plan->keys[i]->uses_rowtime()) {
          plan->window_key = static_cast<int>(i);
          plan->window_on_rowtime = true;
          break;
        }
      }
      if (plan->window_key < 0) {
        for (size_t i = 0; i < plan->keys.size(); ++i) {
          if (plan->keys[i]->type.is_datetime()) {
            plan->window_key = static_cast<int>(i);
            break;
          }
        }
      }
      if (plan->window_key < 0) {
        return error_at(select.group_by.front()->loc,
                        "a streaming GROUP BY needs a monotonic time-based key, e.g. STEP(\"" + scope->name +
                            "\".ROWTIME BY INTERVAL '60' SECOND) or FLOOR(\"" + scope->name + "\".ROWTIME TO MINUTE)");
      }
    } else if (select.stagger) {
      plan->mode = PumpMode::kStagger;
      qb.aggregated = true;
      plan->stagger_range_ms = select.stagger->range_ms;
      if (auto st = qb.bind_keys(select.stagger->partition_by); !st) return tl::unexpected(st.error());
    } else if (sliding) {
      plan->mode = PumpMode::kSliding;
      qb.sliding = true;
    }
  }
  if (!select.order_by.empty()) {
    if (plan->mode != PumpMode::kProject) {
      return error_at(select.order_by.front().first->loc,
                      "streaming ORDER BY is supported on plain SELECT STREAM queries");
    }
    for (const auto& [expr, desc] : select.order_by) {
      auto k = qb.bind(*expr, Place::kRow);
      if (!k) return tl::unexpected(k.error());
      plan->order_keys.push_back(std::move(*k));
      plan->order_desc.push_back(desc);
    }
    if (!plan->order_keys.front()->uses_rowtime()) {
      return error_at(select.order_by.front().first->loc,
                      "a streaming ORDER BY must start with a monotonic time key, e.g. FLOOR(\"" + scope->name +
                          "\".ROWTIME TO MINUTE)");
    }
  }
  if (select.having) {
    if (!qb.aggregated) return error_at(select.having->loc, "HAVING needs GROUP BY or WINDOWED BY");
    auto h = qb.bind(*select.having, Place::kOutput);
    if (!h) return tl::unexpected(h.error());
    plan->having = std::move(*h);
  }
  // Select list, with * expanded to the stream's columns (never ROWTIME).
  std::vector<Bound> outputs;
  std::vector<Location> locs;
  for (const auto& item : select.items) {
    if (item.star) {
      if (qb.aggregated) return error_at(select.loc, "SELECT * cannot be used with GROUP BY or WINDOWED BY");
      for (size_t i = 0; i < scope->columns.size(); ++i) {
        if (scope->columns[i].name == "APPROXIMATE_ARRIVAL_TIME") continue;
        outputs.push_back(runtime::make_column(i, scope->columns[i].type));
        locs.push_back(select.loc);
      }
      continue;
    }
    auto b = qb.bind(*item.expr, qb.aggregated ? Place::kOutput : Place::kRow);
    if (!b) return tl::unexpected(b.error());
    outputs.push_back(std::move(*b));
    locs.push_back(item.expr->loc);
  }
  if (outputs.size() != target_columns.size()) {
    return error_at(select.loc, "INSERT INTO " + quote(target.name) + " expects " +
                                    std::to_string(target_columns.size()) + " column(s) but the SELECT produces " +
                                    std::to_string(outputs.size()));
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& col = target.columns[target_columns[i]];
    if (col.type.id == TypeId::kNull) {  // an intermediate row (window Top-N): the output's own type
      plan->target_types.push_back(outputs[i]->type);
      plan->outputs.push_back(std::move(outputs[i]));
      plan->target_columns.push_back(target_columns[i]);
      continue;
    }
    if (!castable(outputs[i]->type, col.type)) {
      return error_at(locs[i], "cannot insert " + outputs[i]->type.to_string() + " into column " + quote(col.name) +
                                   " " + col.type.to_string() + " of " + quote(target.name));
    }
    plan->outputs.push_back(runtime::make_cast(std::move(outputs[i]), col.type));
    plan->target_columns.push_back(target_columns[i]);
    plan->target_types.push_back(col.type);
  }
  return plan;
}

}  // namespace

Result<std::vector<std::unique_ptr<PumpPlan>>> bind_script(const Script& script,
                                                           std::map<std::string, StreamDef>& streams) {
  std::set<std::string> created;
  for (const auto& st : script.statements) {
    if (!st.create_stream) continue;
    const auto& cs = *st.create_stream;
    if (streams.count(cs.name.name) && !created.count(cs.name.name)) {
      return error_at(cs.name.loc,
                      "stream " + quote(cs.name.name) + " already exists (it is an input or system stream)");
    }
    StreamDef def;
    def.name = cs.name.name;
    std::set<std::string> names;
    for (const auto& c : cs.columns) {
      if (!names.insert(c.name.name).second) return error_at(c.name.loc, "duplicate column " + quote(c.name.name));
      if (c.name.name == "ROWTIME") return error_at(c.name.loc, "ROWTIME is a system column and cannot be declared");
      def.columns.push_back({c.name.name, c.type});
    }
    created.insert(def.name);
    streams[def.name] = std::move(def);
  }
  // Flink: tables written by an INSERT are outputs; the others are the inputs the caller created
  // (flink_inputs). Event-time attributes come from their WATERMARKs.
  std::map<std::string, EventTime> event_time;
  if (script.flink) {
    std::set<std::string> targets;
    for (const auto& st : script.statements) {
      if (st.insert) targets.insert(st.insert->target.name);
    }
    for (const auto& st : script.statements) {
      if (!st.create_table) continue;
      const auto& t = *st.create_table;
      if (t.watermark) {
        EventTime e{t.watermark->column.name, t.watermark->delay_ms};
        for (const auto& [k, v] : t.options) {
          if (k == "scan.watermark.idle-timeout") {
            auto ms = duration_ms(v);
            if (!ms)
              return error_at(t.name.loc,
                              "'scan.watermark.idle-timeout' = '" + v + "' is not a duration (e.g. '10 s')");
            e.idle_timeout_ms = *ms;
          } else if (k == "eddy.late-rows") {
            if (v != "drop" && v != "error-stream")
              return error_at(t.name.loc, "'eddy.late-rows' is 'error-stream' or 'drop'");
            e.drop_late = v == "drop";
          }
        }
        event_time[t.name.name] = e;
      }
      if (!targets.count(t.name.name)) continue;
      if (created.count(t.name.name) || (streams.count(t.name.name) && streams[t.name.name].is_input)) {
        return error_at(t.name.loc, "table " + quote(t.name.name) + " is declared twice");
      }
      StreamDef def;
      def.name = t.name.name;
      for (const auto& c : t.columns) def.columns.push_back({c.name.name, c.type});
      created.insert(def.name);
      streams[def.name] = std::move(def);
    }
  }
  std::vector<std::unique_ptr<PumpPlan>> plans;
  std::set<std::string> pump_names;
  auto bind_insert = [&](const CreatePump& p, const Select* select) -> Status {
    if (!pump_names.insert(p.name.name).second) return error_at(p.name.loc, "duplicate pump " + quote(p.name.name));
    auto target = streams.find(p.target.name);
    if (target == streams.end()) {
      return error_at(p.target.loc, (script.flink ? "table " : "stream ") + quote(p.target.name) +
                                        " does not exist; create it with " +
                                        (script.flink ? "CREATE TABLE" : "CREATE STREAM"));
    }
    if (target->second.is_input || target->first == runtime::kErrorStream) {
      return error_at(p.target.loc, "pumps cannot insert into " + quote(p.target.name));
    }
    std::vector<size_t> columns;
    if (p.columns.empty()) {
      for (size_t i = 0; i < target->second.columns.size(); ++i) columns.push_back(i);
    } else {
      for (const auto& c : p.columns) {
        const auto& cols = target->second.columns;
        auto it = std::find_if(cols.begin(), cols.end(), [&](const auto& x) { return x.name == c.name; });
        if (it == cols.end())
          return error_at(c.loc, "column " + quote(c.name) + " not found in " + quote(target->first));
        columns.push_back(static_cast<size_t>(it - cols.begin()));
      }
    }
    for (const Select* s = select; s; s = s->union_all.get()) {
      auto plan = bind_select(*s, p, target->second, columns, streams, script.flink, event_time);
      if (!plan) return tl::unexpected(plan.error());
      plans.push_back(std::move(*plan));
    }
    return {};
  };
  int inserts = 0;
  for (const auto& st : script.statements) {
    if (st.create_pump) {
      if (auto s = bind_insert(*st.create_pump, st.create_pump->select.get()); !s) return tl::unexpected(s.error());
    } else if (st.insert) {
      CreatePump p;  // an INSERT INTO runs as a pump named after its place in the script
      p.name = {"INSERT_" + std::to_string(++inserts), true, st.loc};
      p.target = st.insert->target;
      p.columns = st.insert->columns;
      if (auto s = bind_insert(p, st.insert->select.get()); !s) return tl::unexpected(s.error());
    }
  }
  return plans;
}

}  // namespace eddy::sql
