// Calendar arithmetic on epoch milliseconds (UTC) and java.text.SimpleDateFormat patterns, as the
// KDA date-time conversion functions use them (sqlref/sql-reference-datetime-conversion-functions).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"

namespace eddy::sql {

int64_t floor_div(int64_t a, int64_t b);

struct Civil {
  int year;
  unsigned month, day;
  int hour, minute, second, ms;
};

Civil civil(TimestampMs t);
TimestampMs from_civil(int y, unsigned mo, unsigned d, int h, int mi, int s, int ms);

// Formats `t` with every letter of SimpleDateFormat's table (G y Y M L w W D d F E u a H k K h m s
// S z Z X), in UTC and English, as Java does with the US locale: weeks start on Sunday and week 1
// is the week holding January 1. Other letters are an error (Java throws); quoted text is copied.
std::optional<std::string> format_date(const std::string& pattern, TimestampMs t, std::string* error = nullptr);

// Parses `text` with a SimpleDateFormat pattern. Missing fields default to 1970-01-01
// 00:00:00.000; text after the pattern is ignored, as SimpleDateFormat.parse does. A zone (z, Z,
// X: "UTC", "GMT", "Z", +hh, +hhmm, +hh:mm) shifts the result to UTC. Unlike Java, S reads a
// fraction of a second ("47.190114" is 47.190 s, not 190,114 ms): producers write microseconds.
// Week fields (w W F u E Y) are read and checked for shape, not used for the date.
std::optional<TimestampMs> parse_date(const std::string& pattern, const std::string& text);

}  // namespace eddy::sql
