#include "sql/date_format.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>

namespace eddy::sql {

namespace {

constexpr int64_t kDayMs = 86400000LL;
constexpr const char* kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                   "July",    "August",   "September", "October", "November", "December"};
// Indexed by days since 1970-01-01 modulo 7: that day was a Thursday.
constexpr const char* kDays[] = {"Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"};

int64_t day_of(TimestampMs t) {
  return floor_div(t, kDayMs);
}

// 0 = Sunday ... 6 = Saturday.
int weekday(int64_t day) {
  return static_cast<int>(((day + 4) % 7 + 7) % 7);
}

int64_t first_day(int year, unsigned month) {
  return day_of(from_civil(year, month, 1, 0, 0, 0, 0));
}

// Java's week of year and week-based year with the US rules: a week runs Sunday to Saturday and
// week 1 is the one holding January 1, so the last days of December may be week 1 of next year.
std::pair<int, int> week_of_year(int64_t day, int year) {
  const int64_t sunday = day - weekday(day);
  if (sunday + 6 >= first_day(year + 1, 1)) return {1, year + 1};
  const int64_t jan1 = first_day(year, 1);
  return {static_cast<int>((sunday - (jan1 - weekday(jan1))) / 7 + 1), year};
}

std::string pad(int64_t v, size_t width) {
  std::string s = std::to_string(v < 0 ? -v : v);
  if (s.size() < width) s.insert(0, width - s.size(), '0');
  return v < 0 ? "-" + s : s;
}

std::string text_field(const std::string& name, size_t n) {
  return n >= 4 ? name : name.substr(0, 3);
}

}  // namespace

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

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

std::optional<std::string> format_date(const std::string& fmt, TimestampMs t, std::string* error) {
  const Civil c = civil(t);
  const int64_t day = day_of(t);
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
    const int year = c.year;
    switch (ch) {
      case 'G':
        out += year > 0 ? "AD" : "BC";
        break;
      case 'y':
      case 'Y': {
        const int y = ch == 'y' ? year : week_of_year(day, year).second;
        out += n == 2 ? pad(((y % 100) + 100) % 100, 2) : pad(y, n);
        break;
      }
      case 'M':
      case 'L':
        if (n >= 3)
          out += text_field(kMonths[c.month - 1], n);
        else
          out += pad(c.month, n);
        break;
      case 'w':
        out += pad(week_of_year(day, year).first, n);
        break;
      case 'W': {
        const int64_t first = first_day(year, c.month);
        out += pad((static_cast<int64_t>(c.day) - 1 + weekday(first)) / 7 + 1, n);
        break;
      }
      case 'D':
        out += pad(day - first_day(year, 1) + 1, n);
        break;
      case 'd':
        out += pad(c.day, n);
        break;
      case 'F':
        out += pad((c.day - 1) / 7 + 1, n);
        break;
      case 'E':
        out += text_field(kDays[((day % 7) + 7) % 7], n);
        break;
      case 'u': {
        const int w = weekday(day);
        out += pad(w == 0 ? 7 : w, n);
        break;
      }
      case 'a':
        out += c.hour < 12 ? "AM" : "PM";
        break;
      case 'H':
        out += pad(c.hour, n);
        break;
      case 'k':
        out += pad(c.hour == 0 ? 24 : c.hour, n);
        break;
      case 'K':
        out += pad(c.hour % 12, n);
        break;
      case 'h':
        out += pad(c.hour % 12 == 0 ? 12 : c.hour % 12, n);
        break;
      case 'm':
        out += pad(c.minute, n);
        break;
      case 's':
        out += pad(c.second, n);
        break;
      case 'S':  // milliseconds as a number, as Java writes them
        out += pad(c.ms, n);
        break;
      case 'z':
        out += n >= 4 ? "Coordinated Universal Time" : "UTC";
        break;
      case 'Z':
        out += "+0000";
        break;
      case 'X':
        out += "Z";
        break;
      default:
        if (error) *error = std::string("illegal pattern character '") + ch + "' in '" + fmt + "'";
        return std::nullopt;
    }
    i += n;
  }
  return out;
}

namespace {

// The state of one parse: the text, the position, the fields read so far.
struct DateReader {
  const std::string& text;
  size_t p = 0;

  void skip_blanks() {
    while (p < text.size() && text[p] == ' ') ++p;  // SimpleDateFormat skips blanks before numbers
  }

  bool number(size_t max_digits, int& out) {
    skip_blanks();
    const size_t start = p;
    const bool neg = p < text.size() && text[p] == '-';
    if (neg) ++p;
    const size_t digits_start = p;
    int64_t v = 0;
    while (p < text.size() && p - digits_start < max_digits && std::isdigit(static_cast<unsigned char>(text[p]))) {
      v = v * 10 + (text[p] - '0');
      ++p;
    }
    if (p == digits_start) {
      p = start;
      return false;
    }
    out = static_cast<int>(neg ? -v : v);
    return true;
  }

  // Case-insensitive match of one of `names` in full or by its first three letters.
  bool name(const char* const* names, size_t count, int& index) {
    for (size_t k = 0; k < count; ++k) {
      const std::string full = names[k];
      for (size_t len : {full.size(), size_t{3}}) {
        if (p + len > text.size()) continue;
        bool same = true;
        for (size_t j = 0; j < len && same; ++j)
          same = std::tolower(static_cast<unsigned char>(text[p + j])) ==
                 std::tolower(static_cast<unsigned char>(full[j]));
        if (same) {
          index = static_cast<int>(k);
          p += len;
          return true;
        }
      }
    }
    return false;
  }

  bool literal(const std::string& s) {
    if (text.compare(p, s.size(), s) != 0) return false;
    p += s.size();
    return true;
  }

  // A zone: UTC, GMT (optionally followed by an offset), Z, or +hh[[:]mm]. Minutes east of UTC.
  bool zone(int& minutes) {
    minutes = 0;
    if (literal("UTC") || literal("GMT")) {
      if (p >= text.size() || (text[p] != '+' && text[p] != '-')) return true;
    } else if (literal("Z")) {
      return true;
    }
    if (p >= text.size() || (text[p] != '+' && text[p] != '-')) return false;
    const int sign = text[p++] == '-' ? -1 : 1;
    int hh = 0, mm = 0;
    const size_t start = p;
    if (!number(2, hh) || p - start != 2) return false;
    if (p < text.size() && text[p] == ':') ++p;
    const size_t mstart = p;
    if (number(2, mm) && p - mstart != 2) return false;
    if (hh > 23 || mm > 59) return false;
    minutes = sign * (hh * 60 + mm);
    return true;
  }
};

}  // namespace

std::optional<TimestampMs> parse_date(const std::string& fmt, const std::string& text) {
  int y = 1970, mo = 1, d = 1, h = 0, mi = 0, s = 0, ms = 0, doy = 0, zone_minutes = 0;
  bool pm = false, clock12 = false;
  DateReader r{text};
  for (size_t i = 0; i < fmt.size();) {
    const char ch = fmt[i];
    if (ch == '\'') {
      const size_t end = fmt.find('\'', i + 1);
      const std::string lit =
          end == i + 1 ? "'" : fmt.substr(i + 1, (end == std::string::npos ? fmt.size() : end) - i - 1);
      if (!r.literal(lit)) return std::nullopt;
      i = end == std::string::npos ? fmt.size() : end + 1;
      continue;
    }
    if (!std::isalpha(static_cast<unsigned char>(ch))) {
      if (!r.literal(std::string(1, ch))) return std::nullopt;
      ++i;
      continue;
    }
    size_t n = 1;
    while (i + n < fmt.size() && fmt[i + n] == ch) ++n;
    // Adjacent numeric fields (yyyyMMdd) read exactly their width.
    const bool next_is_field = i + n < fmt.size() && std::isalpha(static_cast<unsigned char>(fmt[i + n]));
    const size_t width = next_is_field ? n : 9;
    const size_t two = std::max<size_t>(width, 2);
    int ignored = 0;
    bool ok = true;
    switch (ch) {
      case 'G':
        ok = r.literal("AD") || r.literal("BC");
        break;
      case 'y':
      case 'Y':
        if (n == 2) {
          ok = r.number(2, y);
          if (ok) y += 2000;
        } else {
          ok = r.number(std::max<size_t>(width, 4), y);
        }
        break;
      case 'M':
      case 'L':
        if (n >= 3) {
          ok = r.name(kMonths, 12, mo);
          ++mo;
        } else {
          ok = r.number(two, mo);
        }
        break;
      case 'd':
        ok = r.number(two, d);
        break;
      case 'D':
        ok = r.number(std::max<size_t>(width, 3), doy);
        break;
      case 'E':
        ok = r.name(kDays, 7, ignored);
        break;
      case 'w':
      case 'W':
      case 'F':
      case 'u':
        ok = r.number(two, ignored);
        break;
      case 'H':
      case 'k':
        ok = r.number(two, h);
        if (ok && ch == 'k' && h == 24) h = 0;
        break;
      case 'h':
      case 'K':
        ok = r.number(two, h);
        clock12 = true;
        break;
      case 'm':
        ok = r.number(two, mi);
        break;
      case 's':
        ok = r.number(two, s);
        break;
      case 'S': {
        r.skip_blanks();
        const size_t start = r.p;
        int v = 0;
        ok = r.number(std::max<size_t>(width, 3), v);
        const size_t digits = r.p - start;
        ms = digits >= 3 ? v / static_cast<int>(std::pow(10, digits - 3))
                         : v * static_cast<int>(std::pow(10, 3 - digits));
        // A longer fraction than its width (microseconds after SSS) is read whole.
        while (ok && r.p < text.size() && std::isdigit(static_cast<unsigned char>(text[r.p])) && !next_is_field) ++r.p;
        break;
      }
      case 'a':
        if (r.literal("PM") || r.literal("pm"))
          pm = true;
        else
          ok = r.literal("AM") || r.literal("am");
        break;
      case 'z':
      case 'Z':
      case 'X':
        ok = r.zone(zone_minutes);
        break;
      default:
        ok = false;
    }
    if (!ok) return std::nullopt;
    i += n;
  }
  // h and K are clock hours: 12 o'clock is 0, PM adds 12. With H or k, as in Java, AM/PM is read
  // and not used.
  if (clock12) {
    if (h == 12) h = 0;
    if (pm && h < 12) h += 12;
  }
  using namespace std::chrono;
  if (doy > 0) {
    if (doy > 366) return std::nullopt;
    const auto date = sys_days{year_month_day{year{y}, month{1}, day{1}}} + days{doy - 1};
    const year_month_day ymd{date};
    if (static_cast<int>(ymd.year()) != y) return std::nullopt;
    mo = static_cast<int>(static_cast<unsigned>(ymd.month()));
    d = static_cast<int>(static_cast<unsigned>(ymd.day()));
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return std::nullopt;
  return from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d), h, mi, s, ms) - zone_minutes * 60000LL;
}

}  // namespace eddy::sql
