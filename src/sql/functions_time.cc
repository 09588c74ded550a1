// Date and time functions (sqlref/sql-reference-date-time-functions).
#include <algorithm>
#include <cmath>

#include "sql/date_format.h"
#include "sql/function_call.h"
#include "sql/parser.h"

namespace eddy::sql {

using runtime::EvalContext;
using runtime::Value;

namespace {

// FLOOR/CEIL of a timestamp to a calendar or clock unit.
Result<TimestampMs> floor_to(TimestampMs t, const std::string& unit) {
  if (const int64_t u = unit_ms(unit); u > 0 && unit != "WEEK") return floor_div(t, u) * u;
  const Civil c = civil(t);
  if (unit == "MONTH") return from_civil(c.year, c.month, 1, 0, 0, 0, 0);
  if (unit == "QUARTER") return from_civil(c.year, (c.month - 1) / 3 * 3 + 1, 1, 0, 0, 0, 0);
  if (unit == "YEAR") return from_civil(c.year, 1, 1, 0, 0, 0, 0);
  if (unit == "WEEK") {  // weeks start on Sunday, as in SQLstream
    const int64_t day = floor_div(t, 86400000LL);
    const int64_t dow = ((day + 4) % 7 + 7) % 7;  // 1970-01-01 was a Thursday
    return (day - dow) * 86400000LL;
  }
  return bad("unknown time unit " + unit);
}

Result<TimestampMs> ceil_to(TimestampMs t, const std::string& unit) {
  auto f = floor_to(t, unit);
  if (!f || *f == t) return f;
  if (const int64_t u = unit_ms(unit); u > 0) return *f + u;
  const Civil c = civil(*f);
  if (unit == "MONTH")
    return c.month == 12 ? from_civil(c.year + 1, 1, 1, 0, 0, 0, 0) : from_civil(c.year, c.month + 1, 1, 0, 0, 0, 0);
  if (unit == "QUARTER")
    return c.month >= 10 ? from_civil(c.year + 1, 1, 1, 0, 0, 0, 0) : from_civil(c.year, c.month + 3, 1, 0, 0, 0, 0);
  if (unit == "YEAR") return from_civil(c.year + 1, 1, 1, 0, 0, 0, 0);
  return bad("unknown time unit " + unit);
}

}  // namespace

std::optional<Result<Bound>> FunctionCall::bind_time() {
  if (name == "CURRENT_ROW_TIMESTAMP") {
    return fn(name, {}, ts(), [](const std::vector<Value>&, const EvalContext& c, Value& o) {
      o = Value::integer(c.clock ? c.clock->now_ms() : 0);
      return Status{};
    });
  }
  if (name == "LOCALTIMESTAMP" || name == "CURRENT_TIMESTAMP") {
    return fn(name, {}, ts(), [](const std::vector<Value>&, const EvalContext& c, Value& o) {
      o = Value::integer(c.query_start);
      return Status{};
    });
  }
  if (name == "CURRENT_DATE") {
    return fn(name, {}, SqlType::of(TypeId::kDate), [](const std::vector<Value>&, const EvalContext& c, Value& o) {
      o = Value::integer(floor_div(c.query_start, 86400000LL));
      return Status{};
    });
  }
  if (name == "LOCALTIME" || name == "CURRENT_TIME") {
    return fn(name, {}, SqlType::of(TypeId::kTime), [](const std::vector<Value>&, const EvalContext& c, Value& o) {
      o = Value::integer(((c.query_start % 86400000LL) + 86400000LL) % 86400000LL);
      return Status{};
    });
  }
  if (name == "STEP") {
    if (auto st = arity(2, 2); !st) return tl::unexpected(st.error());
    const SqlType t = args[0]->type;
    if (t.id == TypeId::kTimestamp) {
      if (args[1]->type.id != TypeId::kIntervalDayTime)
        return bad("STEP(timestamp BY ...) needs a day-to-second INTERVAL");
      return fn(name, std::move(args), t, [](const std::vector<Value>& a, const EvalContext&, Value& o) {
        if (a[1].i <= 0) return runtime_error("STEP interval must be positive");
        o = Value::integer(floor_div(a[0].i, a[1].i) * a[1].i);
        return Status{};
      });
    }
    if (t.is_integer()) {
      to_type(1, SqlType::of(TypeId::kBigint));
      return fn(name, std::move(args), t, [](const std::vector<Value>& a, const EvalContext&, Value& o) {
        if (a[1].i <= 0) return runtime_error("STEP step must be positive");
        o = Value::integer(floor_div(a[0].i, a[1].i) * a[1].i);
        return Status{};
      });
    }
    return bad("STEP needs a TIMESTAMP or an integer, got " + t.to_string());
  }
  if ((name == "FLOOR" || name == "CEIL" || name == "CEILING")) {
    if (auto st = arity(1, 1); !st) return tl::unexpected(st.error());
    const bool up = name != "FLOOR";
    const SqlType t = args[0]->type;
    if (!unit.empty()) {
      if (t.is_datetime()) {
        const bool date = t.id == TypeId::kDate;
        return fn(name, std::move(args), t,
                  [unit = unit, up, date](const std::vector<Value>& a, const EvalContext&, Value& o) {
                    const TimestampMs v = date ? a[0].i * 86400000LL : a[0].i;
                    auto r = up ? ceil_to(v, unit) : floor_to(v, unit);
                    if (!r) return Status(tl::unexpected(r.error()));
                    o = Value::integer(date ? floor_div(*r, 86400000LL) : *r);
                    return Status{};
                  });
      }
      if (t.id == TypeId::kIntervalDayTime) {
        const int64_t u = unit_ms(unit);
        if (u == 0) return bad("FLOOR of a day-to-second interval needs DAY, HOUR, MINUTE or SECOND");
        return fn(name, std::move(args), t, [u, up](const std::vector<Value>& a, const EvalContext&, Value& o) {
          int64_t q = floor_div(a[0].i, u);
          if (up && q * u != a[0].i) ++q;
          o = Value::integer(q * u);
          return Status{};
        });
      }
      return bad(name + " ... TO " + unit + " needs a TIMESTAMP, DATE, TIME or INTERVAL, got " + t.to_string());
    }
    if (t.is_integer()) return std::move(args[0]);
    if (t.id == TypeId::kDecimal) {
      const int scale = t.scale;
      return fn(name, std::move(args), SqlType::decimal(t.precision, 0),
                [scale, up](const std::vector<Value>& a, const EvalContext&, Value& o) {
                  int64_t q = floor_div(a[0].i, runtime::pow10(scale));
                  if (up && q * runtime::pow10(scale) != a[0].i) ++q;
                  o = Value::integer(q);
                  return Status{};
                });
    }
    if (t.is_approx()) {
      return fn(name, std::move(args), t, [up](const std::vector<Value>& a, const EvalContext&, Value& o) {
        o = Value::real(up ? std::ceil(a[0].d) : std::floor(a[0].d));
        return Status{};
      });
    }
    return bad(name + " needs a number, or a time value with TO <unit>");
  }
  if (name == "EXTRACT") {
    if (auto st = arity(1, 1); !st) return tl::unexpected(st.error());
    const SqlType t = args[0]->type;
    const std::string field = unit;
    if (t.is_interval()) {
      const bool months = t.id == TypeId::kIntervalYearMonth;
      return fn(name, std::move(args), SqlType::of(TypeId::kBigint),
                [field, months](const std::vector<Value>& a, const EvalContext&, Value& o) {
                  const int64_t v = a[0].i;
                  int64_t r = 0;
                  if (months)
                    r = field == "YEAR" ? v / 12 : field == "MONTH" ? v % 12 : 0;
                  else if (field == "DAY")
                    r = v / 86400000LL;
                  else if (field == "HOUR")
                    r = v / 3600000LL % 24;
                  else if (field == "MINUTE")
                    r = v / 60000LL % 60;
                  else if (field == "SECOND")
                    r = v / 1000 % 60;
                  o = Value::integer(r);
                  return Status{};
                });
    }
    if (!t.is_datetime()) return bad("EXTRACT needs a date, time, timestamp or interval");
    static constexpr std::string_view kFields[] = {"YEAR",        "MONTH",   "DAY",  "HOUR", "MINUTE", "SECOND",
                                                   "MILLISECOND", "QUARTER", "WEEK", "DOY",  "DOW",    "EPOCH"};
    if (std::find(std::begin(kFields), std::end(kFields), field) == std::end(kFields))
      return bad("unknown EXTRACT field " + field);
    const bool date = t.id == TypeId::kDate;
    // SECOND returns DECIMAL(5,3) (sqlref/sql-reference-extract): seconds with milliseconds.
    const SqlType result = field == "SECOND" ? SqlType::decimal(5, 3) : SqlType::of(TypeId::kBigint);
    return fn(name, std::move(args), result, [field, date](const std::vector<Value>& a, const EvalContext&, Value& o) {
      const TimestampMs v = date ? a[0].i * 86400000LL : a[0].i;
      const Civil c = civil(v);
      int64_t r = 0;
      if (field == "YEAR")
        r = c.year;
      else if (field == "MONTH")
        r = c.month;
      else if (field == "DAY")
        r = c.day;
      else if (field == "HOUR")
        r = c.hour;
      else if (field == "MINUTE")
        r = c.minute;
      else if (field == "SECOND")
        r = c.second * 1000 + c.ms;
      else if (field == "MILLISECOND")
        r = c.second * 1000 + c.ms;
      else if (field == "QUARTER")
        r = (c.month - 1) / 3 + 1;
      else if (field == "EPOCH")
        r = floor_div(v, 1000);
      else if (field == "DOW")
        r = (((floor_div(v, 86400000LL) + 4) % 7) + 7) % 7 + 1;
      else if (field == "DOY")
        r = floor_div(v - from_civil(c.year, 1, 1, 0, 0, 0, 0), 86400000LL) + 1;
      else if (field == "WEEK")
        r = floor_div(v - from_civil(c.year, 1, 1, 0, 0, 0, 0), 7 * 86400000LL) + 1;
      o = Value::integer(r);
      return Status{};
    });
  }
  if (name == "TSDIFF") {
    if (auto st = arity(2, 2); !st) return tl::unexpected(st.error());
    for (size_t i = 0; i < 2; ++i) {
      if (args[i]->type.is_integer())
        to_type(i, SqlType::of(TypeId::kBigint));
      else if (args[i]->type.id != TypeId::kTimestamp && args[i]->type.id != TypeId::kNull)
        return bad("TSDIFF takes TIMESTAMP or BIGINT (epoch ms) arguments");
    }
    // decisions.md 5: endTime - startTime in milliseconds.
    return fn(name, std::move(args), SqlType::of(TypeId::kBigint),
              [](const std::vector<Value>& a, const EvalContext&, Value& o) {
                o = Value::integer(a[1].i - a[0].i);
                return Status{};
              });
  }
  if (name == "UNIX_TIMESTAMP") {
    if (auto st = arity(1, 1); !st) return tl::unexpected(st.error());
    to_type(0, ts());
    return fn(name, std::move(args), SqlType::of(TypeId::kBigint),
              [](const std::vector<Value>& a, const EvalContext&, Value& o) {
                o = Value::integer(a[0].i);
                return Status{};
              });
  }
  if (name == "TO_TIMESTAMP") {
    if (auto st = arity(1, 1); !st) return tl::unexpected(st.error());
    if (auto st = need_integer(0); !st) return tl::unexpected(st.error());
    return fn(name, std::move(args), ts(), [](const std::vector<Value>& a, const EvalContext&, Value& o) {
      o = Value::integer(a[0].i);
      return Status{};
    });
  }
  if (name == "CHAR_TO_TIMESTAMP" || name == "CHAR_TO_DATE" || name == "CHAR_TO_TIME") {
    if (auto st = arity(2, 2); !st) return tl::unexpected(st.error());
    if (auto st = need_string(0); !st) return tl::unexpected(st.error());
    if (auto st = need_string(1); !st) return tl::unexpected(st.error());
    const TypeId id = name == "CHAR_TO_DATE"   ? TypeId::kDate
                      : name == "CHAR_TO_TIME" ? TypeId::kTime
                                               : TypeId::kTimestamp;
    return fn(name, std::move(args), SqlType::of(id), [id](const std::vector<Value>& a, const EvalContext&, Value& o) {
      auto t = parse_date(a[0].s, a[1].s);
      if (!t) return runtime_error("'" + a[1].s + "' does not match the format '" + a[0].s + "'");
      o = Value::integer(id == TypeId::kDate   ? floor_div(*t, 86400000LL)
                         : id == TypeId::kTime ? ((*t % 86400000LL) + 86400000LL) % 86400000LL
                                               : *t);
      return Status{};
    });
  }
  if (name == "TIMESTAMP_TO_CHAR" || name == "DATE_TO_CHAR" || name == "TIME_TO_CHAR") {
    if (auto st = arity(2, 2); !st) return tl::unexpected(st.error());
    if (auto st = need_string(0); !st) return tl::unexpected(st.error());
    const TypeId id = name == "DATE_TO_CHAR"   ? TypeId::kDate
                      : name == "TIME_TO_CHAR" ? TypeId::kTime
                                               : TypeId::kTimestamp;
    if (!args[1]->type.is_datetime() && !args[1]->type.is_string() && args[1]->type.id != TypeId::kNull)
      return bad(name + " formats a " + SqlType::of(id).to_string() + ", got " + args[1]->type.to_string());
    to_type(1, SqlType::of(id));
    return fn(name, std::move(args), SqlType::varchar(),
              [id](const std::vector<Value>& a, const EvalContext&, Value& o) {
                std::string error;
                auto text = format_date(a[0].s, id == TypeId::kDate ? a[1].i * 86400000LL : a[1].i, &error);
                if (!text) return runtime_error(error);
                o = Value::text(std::move(*text));
                return Status{};
              });
  }

  return std::nullopt;
}

}  // namespace eddy::sql
