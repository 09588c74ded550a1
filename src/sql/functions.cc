#include "sql/functions.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include <re2/re2.h>

#include "sql/parser.h"

namespace eddy::sql {

using runtime::EvalContext;
using Bound = runtime::ExprPtr;
using runtime::Value;

namespace {

tl::unexpected<Error> bad(const std::string& m) {
  return make_error(Errc::kInvalidArgument, m);
}
Status runtime_error(const std::string& m) {
  return make_error(Errc::kInvalidArgument, m);
}

// REGEX_REPLACE runs RE2: linear in the text whatever the pattern, so a record cannot make a row
// take unbounded time ("(a*)*b" over 25 KB of 'a'). RE2 has no backreferences or lookaround; such
// a pattern is an invalid regular expression (an error row). The compiled pattern of the last call
// is kept per thread: the pattern is nearly always a literal of the query.
std::shared_ptr<const RE2> cached_regex(const std::string& pattern) {
  thread_local std::shared_ptr<const RE2> last;
  if (last && last->pattern() == pattern) return last;
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(8 << 20);  // a pattern whose program needs more is refused (error row)
  last = std::make_shared<const RE2>(pattern, options);
  return last;
}

// Java's replacement syntax ($n a group, \c the character c) in RE2's (\n a group, \\ a backslash).
std::string re2_rewrite(const std::string& java) {
  std::string out;
  out.reserve(java.size());
  for (size_t i = 0; i < java.size(); ++i) {
    const char c = java[i];
    if (c == '$' && i + 1 < java.size() && java[i + 1] >= '0' && java[i + 1] <= '9') {
      out += '\\';
      out += java[++i];
    } else if (c == '\\' && i + 1 < java.size()) {
      const char next = java[++i];
      if (next == '\\')
        out += "\\\\";
      else
        out += next;
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out += c;
    }
  }
  return out;
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

struct Civil {
  int year;
  unsigned month, day;
  int hour, minute, second, ms;
};

Civil civil(TimestampMs t) {
  using namespace std::chrono;
  const auto tp = sys_time<milliseconds>{milliseconds{t}};
  const auto dp = floor<days>(tp);
  const year_month_day ymd{dp};
  const hh_mm_ss hms{tp - dp};
  return {static_cast<int>(ymd.year()),
          static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day()),
          static_cast<int>(hms.hours().count()),
          static_cast<int>(hms.minutes().count()),
          static_cast<int>(hms.seconds().count()),
          static_cast<int>(hms.subseconds().count())};
}

TimestampMs from_civil(int y, unsigned mo, unsigned d, int h, int mi, int s, int ms) {
  using namespace std::chrono;
  const auto days_since = sys_days{year_month_day{year{y}, month{mo}, day{d}}}.time_since_epoch().count();
  return ((static_cast<int64_t>(days_since) * 24 + h) * 60 + mi) * 60000LL + s * 1000LL + ms;
}

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

std::string pad(int v, int width) {
  std::string s = std::to_string(std::abs(v));
  if (static_cast<int>(s.size()) < width) s.insert(0, static_cast<size_t>(width) - s.size(), '0');
  return v < 0 ? "-" + s : s;
}

// java.text.SimpleDateFormat, the letters people use with KDA.
std::string format_with(const std::string& fmt, TimestampMs t) {
  static const char* kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                  "July",    "August",   "September", "October", "November", "December"};
  static const char* kDays[] = {"Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"};
  const Civil c = civil(t);
  std::string out;
  for (size_t i = 0; i < fmt.size();) {
    const char ch = fmt[i];
    if (ch == '\'') {
      const size_t end = fmt.find('\'', i + 1);
      if (end == i + 1)
        out.push_back('\'');
      else
        out += fmt.substr(i + 1, (end == std::string::npos ? fmt.size() : end) - i - 1);
      i = end == std::string::npos ? fmt.size() : end + 1;
      continue;
    }
    if (!std::isalpha(static_cast<unsigned char>(ch))) {
      out.push_back(ch);
      ++i;
      continue;
    }
    size_t n = 1;
    while (i + n < fmt.size() && fmt[i + n] == ch) ++n;
    const int w = static_cast<int>(n);
    switch (ch) {
      case 'y':
        out += n == 2 ? pad(c.year % 100, 2) : pad(c.year, w);
        break;
      case 'M':
        if (n >= 4)
          out += kMonths[c.month - 1];
        else if (n == 3)
          out += std::string(kMonths[c.month - 1]).substr(0, 3);
        else
          out += pad(static_cast<int>(c.month), w);
        break;
      case 'd':
        out += pad(static_cast<int>(c.day), w);
        break;
      case 'H':
        out += pad(c.hour, w);
        break;
      case 'h':
        out += pad(c.hour % 12 == 0 ? 12 : c.hour % 12, w);
        break;
      case 'm':
        out += pad(c.minute, w);
        break;
      case 's':
        out += pad(c.second, w);
        break;
      case 'S':
        out += pad(c.ms, 3).substr(0, std::min<size_t>(n, 3)) + std::string(n > 3 ? n - 3 : 0, '0');
        break;
      case 'a':
        out += c.hour < 12 ? "AM" : "PM";
        break;
      case 'E': {
        const int64_t day = floor_div(t, 86400000LL);
        const std::string name = kDays[((day % 7) + 7) % 7];
        out += n >= 4 ? name : name.substr(0, 3);
        break;
      }
      default:
        out += std::string(n, ch);
    }
    i += n;
  }
  return out;
}

// Parses `text` with a SimpleDateFormat pattern; missing fields default to 1970-01-01 00:00:00.000.
std::optional<TimestampMs> parse_with(const std::string& fmt, const std::string& text) {
  int y = 1970, mo = 1, d = 1, h = 0, mi = 0, s = 0, ms = 0;
  bool pm = false, has_ampm = false;
  size_t p = 0;
  auto read_num = [&](size_t max_digits, int& out) {
    while (p < text.size() && text[p] == ' ') ++p;  // SimpleDateFormat skips blanks before numbers
    size_t start = p;
    bool neg = false;
    if (p < text.size() && text[p] == '-') {
      neg = true;
      ++p;
    }
    int v = 0;
    while (p < text.size() && p - start < max_digits + (neg ? 1 : 0) &&
           std::isdigit(static_cast<unsigned char>(text[p]))) {
      v = v * 10 + (text[p] - '0');
      ++p;
    }
    if (p == start || (neg && p == start + 1)) return false;
    out = neg ? -v : v;
    return true;
  };
  for (size_t i = 0; i < fmt.size();) {
    const char ch = fmt[i];
    if (ch == '\'') {
      const size_t end = fmt.find('\'', i + 1);
      const std::string lit =
          end == i + 1 ? "'" : fmt.substr(i + 1, (end == std::string::npos ? fmt.size() : end) - i - 1);
      if (text.compare(p, lit.size(), lit) != 0) return std::nullopt;
      p += lit.size();
      i = end == std::string::npos ? fmt.size() : end + 1;
      continue;
    }
    if (!std::isalpha(static_cast<unsigned char>(ch))) {
      if (p >= text.size() || text[p] != ch) return std::nullopt;
      ++p;
      ++i;
      continue;
    }
    size_t n = 1;
    while (i + n < fmt.size() && fmt[i + n] == ch) ++n;
    // Adjacent numeric fields (yyyyMMdd) read exactly their width.
    const bool next_is_field = i + n < fmt.size() && std::isalpha(static_cast<unsigned char>(fmt[i + n]));
    const size_t width = next_is_field ? n : 9;
    bool ok = true;
    switch (ch) {
      case 'y':
        ok = read_num(n == 2 ? 2 : std::max<size_t>(width, 4), y);
        if (n == 2 && ok) y += 2000;
        break;
      case 'M':
        if (n >= 3) {  // month name, full or abbreviated, any case
          static const char* kNames[] = {"january", "february", "march",     "april",   "may",      "june",
                                         "july",    "august",   "september", "october", "november", "december"};
          ok = false;
          for (int m = 0; m < 12 && !ok; ++m) {
            const std::string full = kNames[m];
            for (size_t len : {full.size(), size_t{3}}) {
              std::string candidate = text.substr(p, len);
              for (auto& ch2 : candidate) ch2 = static_cast<char>(std::tolower(static_cast<unsigned char>(ch2)));
              if (candidate == full.substr(0, len)) {
                mo = m + 1;
                p += len;
                ok = true;
                break;
              }
            }
          }
        } else {
          ok = read_num(std::max<size_t>(width, 2), mo);
        }
        break;
      case 'd':
        ok = read_num(std::max<size_t>(width, 2), d);
        break;
      case 'H':
        ok = read_num(std::max<size_t>(width, 2), h);
        break;
      case 'h':
        ok = read_num(std::max<size_t>(width, 2), h);
        break;
      case 'm':
        ok = read_num(std::max<size_t>(width, 2), mi);
        break;
      case 's':
        ok = read_num(std::max<size_t>(width, 2), s);
        break;
      case 'S': {
        const size_t start = p;
        int v = 0;
        ok = read_num(std::max<size_t>(width, 3), v);
        const size_t digits = p - start;
        ms = digits >= 3 ? v / static_cast<int>(std::pow(10, digits - 3))
                         : v * static_cast<int>(std::pow(10, 3 - digits));
        break;
      }
      case 'a':
        has_ampm = true;
        if (text.compare(p, 2, "PM") == 0 || text.compare(p, 2, "pm") == 0)
          pm = true;
        else if (text.compare(p, 2, "AM") != 0 && text.compare(p, 2, "am") != 0)
          ok = false;
        p += 2;
        break;
      default:
        ok = false;
    }
    if (!ok) return std::nullopt;
    i += n;
  }
  // Like SimpleDateFormat.parse, text after the pattern is ignored.
  if (has_ampm) h = (h % 12) + (pm ? 12 : 0);
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
  return from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d), h, mi, s, ms);
}

size_t utf8_len(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

Bound fn(std::string name, std::vector<Bound> args, SqlType type, runtime::ScalarFn f, bool strict = true) {
  return runtime::make_function(std::move(name), std::move(args), type, std::move(f), strict);
}

SqlType ts() {
  return SqlType::of(TypeId::kTimestamp);
}

}  // namespace

bool is_aggregate_function(const std::string& name) {
  static constexpr std::string_view kNames[] = {"COUNT",       "SUM",        "AVG",        "MIN",         "MAX",
                                                "FIRST_VALUE", "LAST_VALUE", "STDDEV_POP", "STDDEV_SAMP", "VAR_POP",
                                                "VAR_SAMP",    "STDDEV",     "VARIANCE"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

Result<Bound> bind_function(const std::string& name, std::vector<Bound> args, const std::string& unit) {
  auto arity = [&](size_t lo, size_t hi) -> Status {
    if (args.size() < lo || args.size() > hi) {
      return bad(name + " takes " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) +
                 " argument(s), got " + std::to_string(args.size()));
    }
    return {};
  };
  auto to_type = [&](size_t i, SqlType t) { args[i] = runtime::make_cast(std::move(args[i]), t); };
  auto need_string = [&](size_t i) -> Status {
    if (!args[i]->type.is_string() && args[i]->type.id != TypeId::kNull) {
      return bad(name + " expects a character string as argument " + std::to_string(i + 1) + ", got " +
                 args[i]->type.to_string());
    }
    to_type(i, SqlType::varchar());
    return {};
  };
  auto need_integer = [&](size_t i) -> Status {
    if (!args[i]->type.is_numeric() && args[i]->type.id != TypeId::kNull) {
      return bad(name + " expects a number as argument " + std::to_string(i + 1));
    }
    to_type(i, SqlType::of(TypeId::kBigint));
    return {};
  };

  // ---- time -------------------------------------------------------------------------------
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
                  [unit, up, date](const std::vector<Value>& a, const EvalContext&, Value& o) {
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
      auto t = parse_with(a[0].s, a[1].s);
      if (!t) return runtime_error("'" + a[1].s + "' does not match the format '" + a[0].s + "'");
      o = Value::integer(id == TypeId::kDate   ? floor_div(*t, 86400000LL)
                         : id == TypeId::kTime ? ((*t % 86400000LL) + 86400000LL) % 86400000LL
                                               : *t);
      return Status{};
    });
  }
  if (name == "TIMESTAMP_TO_CHAR") {
    if (auto st = arity(2, 2); !st) return tl::unexpected(st.error());
    if (auto st = need_string(0); !st) return tl::unexpected(st.error());
    to_type(1, ts());
    return fn(name, std::move(args), SqlType::varchar(), [](const std::vector<Value>& a, const EvalContext&, Value& o) {
      o = Value::text(format_with(a[0].s, a[1].i));
      return Status{};
    });
  }

  // ---- strings ----------------------------------------------------------------------------
  if (name == "UPPER" || name == "LOWER" || name == "INITCAP") {
    if (auto st = arity(1, 1); !st) return tl::unexpected(st.error());
    const int len = args[0]->type.length;
    if (auto st = need_string(0); !st) return tl::unexpected(st.error());
    return fn(name, std::move(args), SqlType::varchar(len),
              [name](const std::vector<Value>& a, const EvalContext&, Value& o) {
                std::string s = a[0].s;
                bool start = true;
                for (auto& c : s) {
                  const auto u = static_cast<unsigned char>(c);
                  if (name == "UPPER")
                    c = static_cast<char>(std::toupper(u));
                  else if (name == "LOWER")
                    c = static_cast<char>(std::tolower(u));
                  else {
                    c = static_cast<char>(start ? std::toupper(u) : std::tolower(u));
                    start = !std::isalnum(u);
                  }
                }
                o = Value::text(std::move(s));
                return Status{};
              });
  }
  if (name == "CHAR_LENGTH" || name == "CHARACTER_LENGTH" || name == "LENGTH") {
    if (auto st = arity(1, 1); !st) return tl::unexpected(st.error());
    if (auto st = need_string(0); !st) return tl::unexpected(st.error());
    return fn(name, std::move(args), SqlType::of(TypeId::kInteger),
              [](const std::vector<Value>& a, const EvalContext&, Value& o) {
                o = Value::integer(static_cast<int64_t>(utf8_len(a[0].s)));
                return Status{};
              });
  }
  if (name == "SUBSTRING") {
    if (auto st = arity(2, 3); !st) return tl::unexpected(st.error());
    const int len = args[0]->type.length;
    if (auto st = need_string(0); !st) return tl::unexpected(st.error());
    for (size_t i = 1; i < args.size(); ++i) {
      if (auto st = need_integer(i); !st) return tl::unexpected(st.error());
    }
    return fn(name, std::move(args), SqlType::varchar(len),
              [](const std::vector<Value>& a, const EvalContext&, Value& o) {
                // SQL semantics on characters: start may be < 1; FOR counts from `start`.
                const int64_t n = static_cast<int64_t>(a[0].s.size());
                int64_t from = a[1].i;
                int64_t to = a.size() > 2 ? from + a[2].i : n + 1;
                if (a.size() > 2 && a[2].i < 0) return runtime_error("SUBSTRING length must not be negative");
                from = std::max<int64_t>(from, 1);
                to = std::min<int64_t>(to, n + 1);
                o = Value::text(to > from ? a[0].s.substr(static_cast<size_t>(from - 1), static_cast<size_t>(to - from))
                                          : "");
                return Status{};
              });
  }
  if (name == "POSITION") {
    if (auto st = arity(2, 2); !st) return tl::unexpected(st.error());
    if (auto st = need_string(0); !st) return tl::unexpected(st.error());
    if (auto st = need_string(1); !st) return tl::unexpected(st.error());
    return fn(name, std::move(args), SqlType::of(TypeId::kInteger),
              [](const std::vector<Value>& a, const EvalContext&, Value& o) {
                const size_t p = a[1].s.find(a[0].s);
                o = Value::integer(p == std::string::npos ? 0 : static_cast<int64_t>(p) + 1);
                return Status{};
              });
  }
  if (name == "TRIM" || name == "LTRIM" || name == "RTRIM") {
    if (auto st = arity(1, 2); !st) return tl::unexpected(st.error());
    for (size_t i = 0; i < args.size(); ++i) {
      if (auto st = need_string(i); !st) return tl::unexpected(st.error());
    }
    const std::string side = name == "LTRIM" ? "LEADING" : name == "RTRIM" ? "TRAILING" : unit.empty() ? "BOTH" : unit;
    return fn(name, std::move(args), SqlType::varchar(),
              [side](const std::vector<Value>& a, const EvalContext&, Value& o) {
                const std::string chars = a.size() > 1 ? a[1].s : " ";
                std::string s = a[0].s;
                if (side != "TRAILING")
                  s.erase(0, s.find_first_not_of(chars) == std::string::npos ? s.size() : s.find_first_not_of(chars));
                if (side != "LEADING") {
                  const size_t last = s.find_last_not_of(chars);
                  s.erase(last == std::string::npos ? 0 : last + 1);
                }
                o = Value::text(std::move(s));
                return Status{};
              });
  }
  if (name == "OVERLAY") {
    if (auto st = arity(3, 4); !st) return tl::unexpected(st.error());
    if (auto st = need_string(0); !st) return tl::unexpected(st.error());
    if (auto st = need_string(1); !st) return tl::unexpected(st.error());
    for (size_t i = 2; i < args.size(); ++i) {
      if (auto st = need_integer(i); !st) return tl::unexpected(st.error());
    }
    return fn(name, std::move(args), SqlType::varchar(), [](const std::vector<Value>& a, const EvalContext&, Value& o) {
      const int64_t from = std::max<int64_t>(a[2].i, 1);
      const int64_t len = a.size() > 3 ? a[3].i : static_cast<int64_t>(a[1].s.size());
      std::string s = a[0].s;
      const size_t start = std::min(s.size(), static_cast<size_t>(from - 1));
      s.replace(start, std::min(s.size() - start, static_cast<size_t>(std::max<int64_t>(len, 0))), a[1].s);
      o = Value::text(std::move(s));
      return Status{};
    });
  }
  if (name == "REGEX_REPLACE") {
    if (auto st = arity(3, 3); !st) return tl::unexpected(st.error());
    for (size_t i = 0; i < 3; ++i) {
      if (auto st = need_string(i); !st) return tl::unexpected(st.error());
    }
    return fn(name, std::move(args), SqlType::varchar(), [](const std::vector<Value>& a, const EvalContext&, Value& o) {
      auto re = cached_regex(a[1].s);
      if (!re->ok()) return runtime_error("invalid regular expression: " + re->error());
      std::string text = a[0].s;
      RE2::GlobalReplace(&text, *re, re2_rewrite(a[2].s));
      o = Value::text(std::move(text));
      return Status{};
    });
  }

  // ---- general ----------------------------------------------------------------------------
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
              [name](const std::vector<Value>& a, const EvalContext&, Value& o) {
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
                o = Value::real(r);
                return Status{};
              });
  }
  return bad("unknown function " + name);
}

}  // namespace eddy::sql
