#include "runtime/value.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>

#include "common/time_format.h"

namespace eddy::runtime {

int64_t pow10(int n) {
  int64_t v = 1;
  for (int i = 0; i < n; ++i) v *= 10;
  return v;
}

std::string format_timestamp(TimestampMs ms) {
  return format_sql_timestamp_ms(ms);
}

std::string format_date(int64_t days) {
  return format_timestamp(days * 86400000LL).substr(0, 10);
}

std::string format_time(int64_t ms) {
  return format_timestamp(ms).substr(11);
}

std::string format_decimal(int64_t unscaled, int scale) {
  const bool neg = unscaled < 0;
  const uint64_t mag = neg ? static_cast<uint64_t>(-(unscaled + 1)) + 1 : static_cast<uint64_t>(unscaled);
  std::string digits = std::to_string(mag);
  if (scale > 0) {
    if (static_cast<int>(digits.size()) <= scale) digits.insert(0, static_cast<size_t>(scale + 1) - digits.size(), '0');
    digits.insert(digits.size() - static_cast<size_t>(scale), ".");
  }
  return neg ? "-" + digits : digits;
}

std::string format_real(double v) {
  if (std::isnan(v) || std::isinf(v)) return std::isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), static_cast<float>(v));
  return std::string(buf, r.ptr);
}

std::string format_double(double v) {
  if (std::isnan(v) || std::isinf(v)) return std::isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string to_text(const Value& v, const SqlType& type) {
  if (v.is_null()) return "";
  switch (type.id) {
    case TypeId::kBoolean:
      return v.i ? "TRUE" : "FALSE";
    case TypeId::kReal:
      return format_real(v.d);
    case TypeId::kDouble:
      return format_double(v.d);
    case TypeId::kDecimal:
      return format_decimal(v.i, type.scale);
    case TypeId::kDate:
      return format_date(v.i);
    case TypeId::kTime:
      return format_time(v.i);
    case TypeId::kTimestamp:
      return format_timestamp(v.i);
    case TypeId::kChar:
    case TypeId::kVarchar:
      return v.s;
    default:
      if (v.kind == Value::Kind::kDouble) return format_double(v.d);
      if (v.kind == Value::Kind::kString) return v.s;
      return std::to_string(v.i);
  }
}

bool parse_timestamp_text(std::string_view s, TimestampMs& out) {
  // Accepted: yyyy-MM-dd, yyyy-MM-dd HH:mm:ss[.f...], and the same with 'T'; also a trailing Z or
  // offset (ISO-8601 as producers send it). Sub-millisecond digits are dropped.
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return parse_iso8601_ms(s, out);
}

bool parse_date_text(std::string_view s, int64_t& days) {
  TimestampMs ms;
  if (s.size() != 10 || !parse_timestamp_text(s, ms)) return false;
  days = ms / 86400000LL;
  return true;
}

bool parse_time_text(std::string_view s, int64_t& ms) {
  TimestampMs t;
  if (!parse_timestamp_text("1970-01-01 " + std::string(s), t)) return false;
  ms = t;
  return ms >= 0 && ms < 86400000LL;
}

bool parse_decimal_text(std::string_view s, int scale, int64_t& unscaled) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  __int128 v = 0;
  int frac = -1;
  bool digits = false;
  int round_digit = -1;
  for (char c : s) {
    if (c == '.') {
      if (frac >= 0) return false;
      frac = 0;
      continue;
    }
    if (c < '0' || c > '9') return false;
    digits = true;
    if (frac >= 0) {
      if (frac == scale) {
        if (round_digit < 0) round_digit = c - '0';
        continue;
      }
      ++frac;
    }
    v = v * 10 + (c - '0');
    if (v > (__int128)INT64_MAX * 10) return false;
  }
  if (!digits) return false;
  for (int f = std::max(frac, 0); f < scale; ++f) v *= 10;
  if (round_digit >= 5) v += 1;  // round half up
  if (v > INT64_MAX) return false;
  unscaled = static_cast<int64_t>(neg ? -v : v);
  return true;
}

int compare_values(const Value& a, const Value& b) {
  // NULL sorts first; used for group keys and MIN/MAX (which skip NULLs before calling).
  if (a.kind != b.kind) {
    if (a.is_null()) return -1;
    if (b.is_null()) return 1;
    const double x = a.kind == Value::Kind::kInt ? static_cast<double>(a.i) : a.d;
    const double y = b.kind == Value::Kind::kInt ? static_cast<double>(b.i) : b.d;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  switch (a.kind) {
    case Value::Kind::kNull:
      return 0;
    case Value::Kind::kInt:
      return a.i < b.i ? -1 : a.i > b.i ? 1 : 0;
    case Value::Kind::kDouble:
      return a.d < b.d ? -1 : a.d > b.d ? 1 : 0;
    case Value::Kind::kString:
      return a.s.compare(b.s) < 0 ? -1 : a.s.compare(b.s) > 0 ? 1 : 0;
  }
  return 0;
}

}  // namespace eddy::runtime
