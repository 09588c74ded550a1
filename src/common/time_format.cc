#include "common/time_format.h"

#include <chrono>
#include <cstdio>
#include <cstring>

namespace eddy {
namespace {

// Every input record carries timestamps, so this is on the hot path: fixed-width digit groups
// read without loops over the string or calls, and a plain calendar check with days-from-civil
// (proleptic Gregorian) instead of std::chrono's heavier conversions.
inline unsigned digit(char c) {
  return static_cast<unsigned>(static_cast<unsigned char>(c)) - '0';
}

// N digits at p; the caller has checked the length.
template <int N>
[[gnu::always_inline]] inline bool fixed_digits(const char* p, int& out) {
  unsigned v = 0;
  bool ok = true;
  for (int i = 0; i < N; ++i) {
    const unsigned d = digit(p[i]);
    ok &= d <= 9;
    v = v * 10 + d;
  }
  out = static_cast<int>(v);
  return ok;
}

}  // namespace

namespace {

// The whole grammar; parse_iso8601_ms adds a cache in front.
std::optional<TimestampMs> parse_iso8601_full(std::string_view s) {
  const char* c = s.data();
  const size_t n = s.size();
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (n < 10 || !fixed_digits<4>(c, y) || c[4] != '-' || !fixed_digits<2>(c + 5, mo) || c[7] != '-' ||
      !fixed_digits<2>(c + 8, d)) {
    return std::nullopt;
  }
  size_t p = 10;
  int ms = 0;
  if (p < n && (c[p] == 'T' || c[p] == ' ')) {
    if (n < p + 9 || !fixed_digits<2>(c + p + 1, h) || c[p + 3] != ':' || !fixed_digits<2>(c + p + 4, mi) ||
        c[p + 6] != ':' || !fixed_digits<2>(c + p + 7, sec)) {
      return std::nullopt;
    }
    p += 9;
    if (p < n && c[p] == '.') {
      ++p;
      // Milliseconds from the first three fraction digits; further digits are dropped.
      static constexpr int kScale[] = {100, 10, 1};
      for (int i = 0; p < n && digit(c[p]) <= 9; ++p, ++i) {
        if (i < 3) ms += static_cast<int>(digit(c[p])) * kScale[i];
      }
    }
  }
  int offset_min = 0;
  if (p < n) {
    if (c[p] == 'Z' && p + 1 == n) {
      ++p;
    } else if ((c[p] == '+' || c[p] == '-') && n == p + 6 && c[p + 3] == ':') {
      int oh, om;
      if (!fixed_digits<2>(c + p + 1, oh) || !fixed_digits<2>(c + p + 4, om)) return std::nullopt;
      offset_min = (c[p] == '-' ? -1 : 1) * (oh * 60 + om);
      p += 6;
    } else {
      return std::nullopt;
    }
  }
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

// Timestamps of a stream mostly share their date, hour and minute with the one before: the
// value of the last "yyyy-MM-dd?HH:mm" prefix seen is kept per thread (one slot for 'T', one for
// ' ', since records often carry both forms), and only seconds and fraction are parsed then.
struct MinuteCache {
  char prefix[16] = {};
  int64_t minute_ms = 0;
  bool valid = false;
};

}  // namespace

bool parse_iso8601_ms(std::string_view s, TimestampMs& out) {
  const char* c = s.data();
  const size_t n = s.size();
  // Fast path: "yyyy-MM-dd?HH:mm:ss[.f...]" (no zone) whose minute prefix is the cached one.
  if (n >= 19 && (c[10] == 'T' || c[10] == ' ')) {
    thread_local MinuteCache cache[2];
    MinuteCache& m = cache[c[10] == 'T'];
    if (m.valid && std::memcmp(m.prefix, c, 16) == 0 && c[16] == ':') {
      int sec;
      if (fixed_digits<2>(c + 17, sec) && sec <= 60) {
        size_t p = 19;
        int ms = 0;
        if (p < n && c[p] == '.') {
          ++p;
          if (p + 3 <= n && fixed_digits<3>(c + p, ms)) {
            p += 3;  // the usual milliseconds, or more digits (dropped below)
          } else {
            static constexpr int kScale[] = {100, 10, 1};
            for (int i = 0; p < n && digit(c[p]) <= 9 && i < 3; ++p, ++i)
              ms += static_cast<int>(digit(c[p])) * kScale[i];
          }
          while (p < n && digit(c[p]) <= 9) ++p;
        }
        if (p == n) {
          out = m.minute_ms + sec * 1000LL + ms;
          return true;
        }
      }
    }
    auto full = parse_iso8601_full(s);
    size_t end = 19;
    if (end < n && c[end] == '.') {
      for (++end; end < n && digit(c[end]) <= 9; ++end) {
      }
    }
    if (full && c[16] == ':' && end == n) {
      // Cached only without a zone: an offset would make the same prefix another minute.
      int sec = 0;
      (void)fixed_digits<2>(c + 17, sec);
      int ms = static_cast<int>(*full % 1000);
      if (ms < 0) ms += 1000;
      std::memcpy(m.prefix, c, 16);
      m.minute_ms = *full - sec * 1000LL - ms;
      m.valid = true;
    }
    if (!full) return false;
    out = *full;
    return true;
  }
  const auto full = parse_iso8601_full(s);
  if (!full) return false;
  out = *full;
  return true;
}

std::optional<TimestampMs> parse_iso8601_ms(std::string_view s) {
  TimestampMs ms;
  if (!parse_iso8601_ms(s, ms)) return std::nullopt;
  return ms;
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

std::string format_iso8601_ms(TimestampMs ms) {
  return format_utc_ms(ms, 'T', "Z");
}

std::string format_sql_timestamp_ms(TimestampMs ms) {
  return format_utc_ms(ms, ' ', "");
}

}  // namespace eddy
