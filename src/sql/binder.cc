// Binds names and types: streams and tables a script declares, each pump's target columns, and
// every expression of a query (QueryBinder) against the stream it reads. Planning each query's
// pump is planner.cc's.

#include "sql/binder.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>

#include "sql/functions.h"
#include "sql/parser.h"
#include "sql/planner.h"
#include "sql/query_binder.h"

namespace eddy::sql {

using runtime::PumpPlan;
using runtime::StreamDef;
using runtime::Value;

tl::unexpected<Error> error_at(Location loc, const std::string& message) {
  return make_error(Errc::kInvalidArgument,
                    std::to_string(loc.line) + ":" + std::to_string(loc.column) + ": " + message);
}

std::string quote(const std::string& name) {
  return "\"" + name + "\"";
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

namespace {

// A canonical text of an expression, to recognise a GROUP BY expression repeated in SELECT.
std::string fingerprint(const Expr& e) {
  std::string s = std::to_string(static_cast<int>(e.kind)) + ":" + e.text + ":" +
                  (e.kind == ExprKind::kColumn ? "" : e.qualifier) + ":" + std::to_string(e.interval_value) + ":" +
                  (e.negated ? "n" : "") + (e.distinct ? "d" : "") + (e.star ? "*" : "") + "(";
  for (const auto& a : e.args) s += fingerprint(*a) + ",";
  return s + ")";
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

}  // namespace

Status QueryBinder::bind_keys(const std::vector<sql::ExprPtr>& exprs) {
  for (const auto& k : exprs) {
    auto b = bind(*k, Place::kRow);
    if (!b) return tl::unexpected(b.error());
    key_prints_.push_back(fingerprint(*k));
    plan_.keys.push_back(std::move(*b));
  }
  return {};
}

Result<Bound> QueryBinder::bind(const Expr& e, Place place) {
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
      if (!(*v)->type.is_string() || !(*p)->type.is_string())
        return error_at(e.loc, e.text + " needs character strings");
      if (e.text == "SIMILAR TO" || e.args.size() > 2) {
        std::vector<runtime::ExprPtr> args;
        args.push_back(std::move(*v));
        args.push_back(std::move(*p));
        if (e.args.size() > 2) {
          auto escape = bind(*e.args[2], place);
          if (!escape) return escape;
          args.push_back(std::move(*escape));
        }
        auto bound = bind_pattern_match(e.text == "SIMILAR TO", e.negated, std::move(args));
        if (!bound) return error_at(e.loc, bound.error().message);
        return bound;
      }
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
      if (unit == 0) return error_at(e.loc, "(a - b) " + e.text + " is not supported; use SECOND, MINUTE, HOUR or DAY");
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

Result<Bound> QueryBinder::compare(const std::string& op, Bound a, Bound b, Location loc) {
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

Result<Bound> QueryBinder::column(const Expr& e, Place place) {
  // The columns the name may be: all of the scope's, or (a join) those of the side it qualifies.
  size_t begin = 0, end = scope_.columns.size();
  if (!sides_.empty()) {
    if (!e.qualifier.empty()) {
      auto side = std::find_if(sides_.begin(), sides_.end(),
                               [&](const JoinSide& s) { return e.qualifier == s.name || e.qualifier == s.alias; });
      if (side == sides_.end()) {
        return error_at(e.loc, "unknown stream or alias " + quote(e.qualifier) + " (the query joins " +
                                   quote(sides_.front().name) + " and " + quote(sides_.back().name) + ")");
      }
      if (e.text == "ROWTIME") {
        if (side->rowtime != SIZE_MAX) return runtime::make_column(side->rowtime, SqlType::of(TypeId::kTimestamp));
        if (side != sides_.begin())
          return error_at(e.loc, quote(side->name) + " is a reference table: it has no ROWTIME");
      }
      begin = side->begin;
      end = side->end;
    } else {
      int found = 0;
      for (const auto& side : sides_) {
        for (size_t i = side.begin; i < side.end; ++i) found += scope_.columns[i].name == e.text;
      }
      if (found > 1) {
        return error_at(e.loc, "column " + quote(e.text) + " is in both " + quote(sides_.front().name) + " and " +
                                   quote(sides_.back().name) + ": qualify it with a stream name or alias");
      }
    }
  } else if (!e.qualifier.empty() && e.qualifier != scope_.name && e.qualifier != alias_) {
    return error_at(e.loc,
                    "unknown stream or alias " + quote(e.qualifier) + " (the query reads " + quote(scope_.name) + ")");
  }
  if (e.text == "ROWTIME") return runtime::make_rowtime();
  for (size_t i = begin; i < end; ++i) {
    if (scope_.columns[i].name != e.text) continue;
    if (aggregated && place == Place::kOutput) {
      return error_at(e.loc,
                      "column " + quote(e.text) +
                          " must appear in GROUP BY (or the stagger PARTITION BY) or inside an aggregate function");
    }
    return runtime::make_column(i, scope_.columns[i].type);
  }
  std::string names;
  if (!sides_.empty()) {  // a join: each side's columns under its own name, hidden columns left out
    std::string where;
    for (const auto& side : sides_) {
      std::string these;
      for (size_t i = side.begin; i < side.end; ++i)
        these += (these.empty() ? "" : ", ") + quote(scope_.columns[i].name);
      where += (where.empty() ? "" : "; ") + quote(side.alias.empty() ? side.name : side.alias) + " has " + these;
    }
    return error_at(e.loc, "column " + quote(e.text) + " not found in the join: " + where);
  }
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

Result<Bound> QueryBinder::function(const Expr& e, Place place) {
  if (const CreateFunction* f = script_function(e.text)) return inline_function(e, *f, place);
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

Result<Bound> QueryBinder::aggregate(const Expr& e, Place place) {
  const bool windowed = e.window || !e.window_name.empty();
  if (windowed && !sliding) return error_at(e.loc, "OVER windows cannot be combined with GROUP BY or WINDOWED BY");
  if (!windowed && !(aggregated && place == Place::kOutput)) {
    if (sliding) return error_at(e.loc, "aggregate " + e.text + " needs OVER (...) in a query with sliding windows");
    return error_at(e.loc, "aggregate " + e.text +
                               " needs a GROUP BY window (STEP/FLOOR of ROWTIME), WINDOWED BY STAGGER, or OVER (...)");
  }
  if (e.distinct) return error_at(e.loc, e.text + "(DISTINCT ...) is not allowed in streaming aggregation");
  runtime::AggregateSpec spec;
  const std::string& n = e.text;
  using runtime::AggregateKind;
  // KDA's FIRST_VALUE and LAST_VALUE respect NULLs unless told otherwise; Flink's skip them.
  const bool ignore_nulls = e.nulls == Expr::Nulls::kIgnore || (e.nulls == Expr::Nulls::kDefault && flink);
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
    spec.kind = ignore_nulls ? AggregateKind::kFirstValue : AggregateKind::kFirstValueNulls;
  else if (n == "LAST_VALUE")
    spec.kind = ignore_nulls ? AggregateKind::kLastValue : AggregateKind::kLastValueNulls;
  else if (n == "STDDEV_POP")
    spec.kind = AggregateKind::kStddevPop;
  else if (n == "STDDEV_SAMP" || n == "STDDEV")
    spec.kind = AggregateKind::kStddevSamp;
  else if (n == "VAR_POP")
    spec.kind = AggregateKind::kVarPop;
  else if (n == "ANY")
    spec.kind = AggregateKind::kAny;
  else if (n == "EVERY")
    spec.kind = AggregateKind::kEvery;
  else if (n == "LAG")
    spec.kind = AggregateKind::kLag;
  else if (n == "NTH_VALUE")
    spec.kind = AggregateKind::kNthValue;
  else if (n == "EXP_AVG")
    spec.kind = AggregateKind::kExpAvg;
  else
    spec.kind = AggregateKind::kVarSamp;
  spec.ignore_nulls = ignore_nulls;
  spec.from_last = e.from_last;
  if (runtime::is_analytic(spec.kind) && !windowed)
    return error_at(e.loc, n + " is an analytic function: it needs OVER (...) or OVER window_name");
  SqlType arg_type = SqlType::of(TypeId::kBigint);
  if (!e.star) {
    const size_t most = spec.kind == AggregateKind::kLag ? 3 : 1;
    const size_t least = spec.kind == AggregateKind::kNthValue || spec.kind == AggregateKind::kExpAvg ? 2 : 1;
    if (e.args.size() < least || e.args.size() > std::max(least, most)) {
      return error_at(e.loc, n + (spec.kind == AggregateKind::kLag        ? " takes (expr [, N [, default]])"
                                  : spec.kind == AggregateKind::kNthValue ? " takes (expr, n)"
                                  : spec.kind == AggregateKind::kExpAvg   ? " takes (expr, INTERVAL half-life)"
                                                                          : " takes one argument"));
    }
    auto arg = bind(*e.args[0], Place::kRow);
    if (!arg) return arg;
    arg_type = (*arg)->type;
    const bool numeric_only = spec.kind == AggregateKind::kSum || spec.kind == AggregateKind::kAvg ||
                              spec.kind == AggregateKind::kExpAvg ||
                              (spec.kind >= AggregateKind::kStddevPop && spec.kind <= AggregateKind::kVarSamp);
    if (numeric_only && !arg_type.is_numeric() && !(spec.kind == AggregateKind::kSum && arg_type.is_interval())) {
      return error_at(e.loc, n + " needs a numeric argument, got " + arg_type.to_string());
    }
    if ((spec.kind == AggregateKind::kAny || spec.kind == AggregateKind::kEvery) && arg_type.id != TypeId::kBoolean &&
        arg_type.id != TypeId::kNull) {
      return error_at(e.loc, n + " needs a BOOLEAN condition, got " + arg_type.to_string());
    }
    if (arg_type.id == TypeId::kChar) {
      *arg = runtime::make_cast(std::move(*arg), SqlType::varchar());
      arg_type = SqlType::varchar();
    }
    spec.arg = std::move(*arg);
    if ((spec.kind == AggregateKind::kLag || spec.kind == AggregateKind::kNthValue) && e.args.size() > 1) {
      const Expr& count = *e.args[1];
      int64_t v = -1;
      if (count.kind == ExprKind::kLiteral && count.type.is_integer())
        v = std::strtoll(count.text.c_str(), nullptr, 10);
      const int64_t least_n = spec.kind == AggregateKind::kLag ? 0 : 1;
      if (v < least_n || v > 1000000)
        return error_at(count.loc, n + "'s " + (spec.kind == AggregateKind::kLag ? "N" : "n") +
                                       " must be an integer from " + std::to_string(least_n) + " to 1000000");
      spec.offset = v;
    }
    if (spec.kind == AggregateKind::kLag && e.args.size() > 2) {
      auto fallback = bind(*e.args[2], Place::kRow);
      if (!fallback) return fallback;
      if (!castable((*fallback)->type, arg_type))
        return error_at(e.args[2]->loc, "LAG's default must have the type of its expression, " + arg_type.to_string());
      spec.fallback = runtime::make_cast(std::move(*fallback), arg_type);
    }
    if (spec.kind == AggregateKind::kExpAvg) {
      const Expr& half = *e.args[1];
      if (half.kind != ExprKind::kInterval || half.type.id != TypeId::kIntervalDayTime || half.interval_value <= 0)
        return error_at(half.loc,
                        "EXP_AVG's half-life is a positive day-to-second INTERVAL literal, e.g. INTERVAL '10' SECOND");
      spec.half_life_ms = half.interval_value;
    }
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

Result<int> QueryBinder::window_for(const Expr& e) {
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
  // Flink orders an OVER window by its time attribute (the planner checks which); KDA's windows
  // follow ROWTIME, so ORDER BY can only say so.
  if (spec->order_by.size() > 1 || (!spec->order_by.empty() && spec->order_by[0].second)) {
    return error_at(spec->order_by[0].first->loc, "an OVER window is ordered by one time column, ascending");
  }
  if (!spec->order_by.empty()) {
    const Expr& o = *spec->order_by[0].first;
    auto b = bind(o, Place::kRow);
    if (!b) return tl::unexpected(b.error());
    if (flink) {
      if ((*b)->column_index() < 0) return error_at(o.loc, "ORDER BY in OVER names the table's event-time column");
      w.order_column = (*b)->column_index();
    } else if (!(*b)->uses_rowtime() || (*b)->column_index() >= 0) {
      return error_at(o.loc, "a window is ordered by ROWTIME: leave out ORDER BY or write ORDER BY ROWTIME");
    }
  } else if (flink) {
    return error_at(spec->loc, "a Flink OVER window needs ORDER BY the table's event-time column");
  }
  plan_.windows.push_back(std::move(w));
  return static_cast<int>(plan_.windows.size() - 1);
}

Result<Bound> QueryBinder::binary(const Expr& e, Place place) {
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

Result<Bound> QueryBinder::arithmetic(char op, Bound a, Bound b, Location loc) {
  SqlType ta = a->type, tb = b->type;
  if (ta.id == TypeId::kNull) ta = tb;
  if (tb.id == TypeId::kNull) tb = ta;
  auto fail = [&] {
    return error_at(loc,
                    std::string("cannot apply '") + op + "' to " + a->type.to_string() + " and " + b->type.to_string());
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

Result<Bound> QueryBinder::case_expr(const Expr& e, Place place) {
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
  // CREATE FUNCTION: inlined where called, while this script is bound.
  std::map<std::string, const CreateFunction*> functions;
  for (const auto& st : script.statements) {
    if (!st.create_function) continue;
    const auto& f = *st.create_function;
    if (!functions.emplace(f.name.name, &f).second)
      return error_at(f.name.loc, "function " + quote(f.name.name) + " is defined twice");
  }
  ScriptFunctions in_scope(&functions);
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
    if (target->second.is_input || target->second.is_table || target->first == runtime::kErrorStream) {
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
      PumpPlans hidden;
      auto plan = plan_select(*s, p, target->second, columns, streams, script.flink, event_time, hidden);
      if (!plan) return tl::unexpected(plan.error());
      for (auto& h : hidden) plans.push_back(std::move(h));
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
