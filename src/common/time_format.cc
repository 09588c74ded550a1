#include "common/time_format.h"

#include <chrono>
#include <cstdio>

namespace eddy {
namespace {

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<TimestampMs> parse_iso8601_ms(std::string_view s) {
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d)) {
    return std::nullopt;
  }
  size_t p = 10;
  int ms = 0;
  if (p < s.size() && (s[p] == 'T' || s[p] == ' ')) {
    if (!digits(s, p + 1, 2, h) || s.size() < p + 9 || s[p + 3] != ':' || !digits(s, p + 4, 2, mi) ||
        s[p + 6] != ':' || !digits(s, p + 7, 2, sec)) {
      return std::nullopt;
    }
    p += 9;
    if (p < s.size() && s[p] == '.') {
      ++p;
      int scale = 100;
      while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
        ms += (s[p] - '0') * scale;  // sub-millisecond digits are dropped
        scale /= 10;
        ++p;
      }
    }
  }
  int offset_min = 0;
  if (p < s.size()) {
    if (s[p] == 'Z' && p + 1 == s.size()) {
      ++p;
    } else if ((s[p] == '+' || s[p] == '-') && s.size() == p + 6 && s[p + 3] == ':') {
      int oh, om;
      if (!digits(s, p + 1, 2, oh) || !digits(s, p + 4, 2, om)) return std::nullopt;
      offset_min = (s[p] == '-' ? -1 : 1) * (oh * 60 + om);
      p += 6;
    } else {
      return std::nullopt;
    }
  }
  // Every input record carries timestamps: a plain calendar check and days-from-civil
  // (proleptic Gregorian) instead of std::chrono's heavier conversions.
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 || sec > 60) {
    return std::nullopt;
  }
  const int yy = y - (mo <= 2);
  const int era = (yy >= 0 ? yy : yy - 399) / 400;
  const int yoe = yy - era * 400;
  const int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = static_cast<int64_t>(era) * 146097 + doe - 719468;
  return ((days * 24 + h) * 60 + mi - offset_min) * 60000LL + sec * 1000LL + ms;
}

namespace {

// yyyy-MM-dd<sep>HH:mm:ss.SSS<suffix>
std::string format_utc_ms(TimestampMs ms, char sep, const char* suffix) {
  using namespace std::chrono;
  const auto tp = sys_time<milliseconds>{milliseconds{ms}};
  const auto day_point = floor<days>(tp);
  const year_month_day ymd{day_point};
  const hh_mm_ss hms{tp - day_point};
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02u%c%02d:%02d:%02d.%03d%s", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), sep,
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()), suffix);
  return buf;
}

}  // namespace

std::string format_iso8601_ms(TimestampMs ms) { return format_utc_ms(ms, 'T', "Z"); }

std::string format_sql_timestamp_ms(TimestampMs ms) { return format_utc_ms(ms, ' ', ""); }

}  // namespace eddy
