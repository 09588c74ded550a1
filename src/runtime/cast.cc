// Casts between SQL types: what CAST evaluates, and how input fields and window Top-N outputs
// take their columns' types.

#include "runtime/cast.h"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace eddy::runtime {
namespace {

tl::unexpected<Error> eval_error(std::string message) {
  return make_error(Errc::kInvalidArgument, std::move(message));
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

std::string utf8_prefix(const std::string& s, size_t chars) {
  size_t n = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xc0) != 0x80) {
      if (n == chars) break;
      ++n;
    }
  }
  return s.substr(0, i);
}

bool parse_int_text(std::string_view s, int64_t& v) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

bool parse_double_text(std::string_view s, double& v) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

Status check_integer_range(int64_t v, TypeId id, Value& out) {
  int64_t lo = INT64_MIN, hi = INT64_MAX;
  if (id == TypeId::kTinyint) lo = -128, hi = 127;
  if (id == TypeId::kSmallint) lo = -32768, hi = 32767;
  if (id == TypeId::kInteger) lo = INT32_MIN, hi = INT32_MAX;
  if (v < lo || v > hi)
    return eval_error("value " + std::to_string(v) + " is out of range for " + SqlType::of(id).to_string());
  out = Value::integer(v);
  return {};
}

}  // namespace

Status cast_value(const Value& v, const SqlType& from, const SqlType& to, Value& out) {
  if (v.is_null()) {
    out = Value::null();
    return {};
  }
  auto fail = [&]() {
    return eval_error("cannot convert " + from.to_string() + " value '" + to_text(v, from) + "' to " + to.to_string());
  };
  switch (to.id) {
    case TypeId::kNull:
      out = Value::null();
      return {};
    case TypeId::kBoolean:
      if (from.is_string()) {
        std::string s = v.s;
        for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        while (!s.empty() && s.back() == ' ') s.pop_back();
        if (s == "TRUE")
          out = Value::boolean(true);
        else if (s == "FALSE")
          out = Value::boolean(false);
        else
          return fail();
        return {};
      }
      if (from.id == TypeId::kBoolean || from.is_integer()) {
        out = Value::boolean(v.i != 0);
        return {};
      }
      return fail();
    case TypeId::kTinyint:
    case TypeId::kSmallint:
    case TypeId::kInteger:
    case TypeId::kBigint: {
      int64_t r;
      if (from.is_integer() || from.id == TypeId::kBoolean)
        r = v.i;
      else if (from.is_approx()) {
        if (!std::isfinite(v.d) || std::fabs(v.d) > 9.2e18) return fail();
        r = static_cast<int64_t>(std::trunc(v.d));
      } else if (from.id == TypeId::kDecimal)
        r = v.i / pow10(from.scale);
      else if (from.is_string()) {
        if (!parse_int_text(v.s, r)) {
          double d;
          if (!parse_double_text(v.s, d) || std::floor(d) != d || std::fabs(d) > 9.2e18) return fail();
          r = static_cast<int64_t>(d);
        }
      } else if (from.is_interval()) {
        r = from.id == TypeId::kIntervalDayTime ? v.i : v.i;
      } else
        return fail();
      return check_integer_range(r, to.id, out);
    }
    case TypeId::kReal:
    case TypeId::kDouble: {
      double d;
      if (from.is_integer() || from.id == TypeId::kBoolean)
        d = static_cast<double>(v.i);
      else if (from.is_approx())
        d = v.d;
      else if (from.id == TypeId::kDecimal)
        d = static_cast<double>(v.i) / static_cast<double>(pow10(from.scale));
      else if (from.is_string()) {
        if (!parse_double_text(v.s, d)) return fail();
      } else
        return fail();
      out = Value::real(to.id == TypeId::kReal ? static_cast<double>(static_cast<float>(d)) : d);
      return {};
    }
    case TypeId::kDecimal: {
      int64_t r;
      if (from.is_integer() || from.id == TypeId::kBoolean) {
        if (__builtin_mul_overflow(v.i, pow10(to.scale), &r)) return fail();
      } else if (from.is_approx()) {
        const double scaled = std::round(v.d * static_cast<double>(pow10(to.scale)));
        if (!std::isfinite(scaled) || std::fabs(scaled) > 9.2e18) return fail();
        r = static_cast<int64_t>(scaled);
      } else if (from.id == TypeId::kDecimal) {
        if (to.scale >= from.scale) {
          if (__builtin_mul_overflow(v.i, pow10(to.scale - from.scale), &r)) return fail();
        } else {
          const int64_t div = pow10(from.scale - to.scale);
          r = (v.i >= 0 ? v.i + div / 2 : v.i - div / 2) / div;
        }
      } else if (from.is_string()) {
        if (!parse_decimal_text(v.s, to.scale, r)) return fail();
      } else
        return fail();
      if (to.precision > 0 && to.precision < 18 && std::llabs(r) >= pow10(to.precision)) return fail();
      out = Value::integer(r);
      return {};
    }
    case TypeId::kChar:
    case TypeId::kVarchar: {
      std::string s = from.is_string() ? v.s : to_text(v, from);
      if (to.length > 0 && utf8_length(s) > static_cast<size_t>(to.length))
        s = utf8_prefix(s, static_cast<size_t>(to.length));
      if (to.id == TypeId::kChar && to.length > 0) {
        const size_t len = utf8_length(s);
        if (len < static_cast<size_t>(to.length)) s.append(static_cast<size_t>(to.length) - len, ' ');
      }
      out = Value::text(std::move(s));
      return {};
    }
    case TypeId::kTimestamp: {
      if (from.id == TypeId::kTimestamp)
        out = v;
      else if (from.id == TypeId::kDate)
        out = Value::integer(v.i * 86400000LL);
      else if (from.is_string()) {
        TimestampMs t;
        if (!parse_timestamp_text(v.s, t)) return fail();
        out = Value::integer(t);
      } else if (from.is_integer())
        out = Value::integer(v.i);
      else
        return fail();
      return {};
    }
    case TypeId::kDate: {
      if (from.id == TypeId::kDate)
        out = v;
      else if (from.id == TypeId::kTimestamp)
        out = Value::integer(v.i >= 0 ? v.i / 86400000LL : -((-v.i + 86399999) / 86400000LL));
      else if (from.is_string()) {
        TimestampMs t;
        if (!parse_timestamp_text(v.s, t)) return fail();
        out = Value::integer(t >= 0 ? t / 86400000LL : -((-t + 86399999) / 86400000LL));
      } else
        return fail();
      return {};
    }
    case TypeId::kTime: {
      if (from.id == TypeId::kTime)
        out = v;
      else if (from.id == TypeId::kTimestamp)
        out = Value::integer(((v.i % 86400000LL) + 86400000LL) % 86400000LL);
      else if (from.is_string()) {
        int64_t ms;
        if (!parse_time_text(v.s, ms)) return fail();
        out = Value::integer(ms);
      } else
        return fail();
      return {};
    }
    case TypeId::kIntervalDayTime:
    case TypeId::kIntervalYearMonth:
      if (from.id == to.id || from.is_integer()) {
        out = Value::integer(v.i);
        return {};
      }
      return fail();
  }
  return fail();
}

}  // namespace eddy::runtime
