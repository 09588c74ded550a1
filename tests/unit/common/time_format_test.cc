#include "common/time_format.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace eddy {
namespace {

// The minute cache in front of the parser must never change an answer: the same text gives the
// same value whatever came before it, including zones, bad seconds and the other separator.
TEST(TimeFormat, MinuteCacheGivesTheSameValuesAsAColdParse) {
  EXPECT_EQ(parse_iso8601_ms("2021-01-31T14:05:47.190"), 1612101947190);
  EXPECT_EQ(parse_iso8601_ms("2021-01-31T14:05:48.5"), 1612101948500);
  EXPECT_EQ(parse_iso8601_ms("2021-01-31T14:05:48.5+01:00"), 1612101948500 - 3600000);  // same prefix, a zone
  EXPECT_EQ(parse_iso8601_ms("2021-01-31T14:05:49Z"), 1612101949000);
  EXPECT_EQ(parse_iso8601_ms("2021-01-31T14:05:49"), 1612101949000);
  EXPECT_EQ(parse_iso8601_ms("2021-01-31 14:05:49.001"), 1612101949001);
  EXPECT_FALSE(parse_iso8601_ms("2021-01-31T14:05:61").has_value());
  EXPECT_FALSE(parse_iso8601_ms("2021-01-31T14:05:4x").has_value());
  EXPECT_FALSE(parse_iso8601_ms("2021-01-31T14:05:49.1x").has_value());
  for (const char* sep : {"T", " "}) {  // fractions of every length, with the minute cached
    const std::string minute = std::string("2021-01-31") + sep + "14:05:";
    EXPECT_EQ(parse_iso8601_ms(minute + "49"), 1612101949000);
    EXPECT_EQ(parse_iso8601_ms(minute + "49."), 1612101949000);
    EXPECT_EQ(parse_iso8601_ms(minute + "49.7"), 1612101949700);
    EXPECT_EQ(parse_iso8601_ms(minute + "49.07"), 1612101949070);
    EXPECT_EQ(parse_iso8601_ms(minute + "49.007"), 1612101949007);
    EXPECT_EQ(parse_iso8601_ms(minute + "49.0079"), 1612101949007);
    EXPECT_EQ(parse_iso8601_ms(minute + "47.190114"), 1612101947190);
    EXPECT_EQ(parse_iso8601_ms(minute + "47.1901149999"), 1612101947190);
    EXPECT_FALSE(parse_iso8601_ms(minute + "49.12x").has_value());
    EXPECT_FALSE(parse_iso8601_ms(minute + "49.1234x").has_value());
    EXPECT_FALSE(parse_iso8601_ms(minute + "49.x").has_value());
  }
  EXPECT_EQ(parse_iso8601_ms("1969-12-31T23:59:59.500"), -500);
  EXPECT_EQ(parse_iso8601_ms("1969-12-31T23:59:01.250"), -58750);

  // Random walks over a few minutes, checked against the value computed from the fields.
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    const int minute = static_cast<int>(rng() % 5), sec = static_cast<int>(rng() % 60),
              ms = static_cast<int>(rng() % 1000);
    const bool iso = rng() % 2;
    char text[40];
    std::snprintf(text, sizeof text, "2021-01-31%c14:0%d:%02d.%03d%s", iso ? 'T' : ' ', minute, sec, ms,
                  rng() % 7 == 0 ? "Z" : "");
    const int64_t want = 1612101600000LL + minute * 60000LL + sec * 1000LL + ms;
    ASSERT_EQ(parse_iso8601_ms(text), want) << text;
  }
}

}  // namespace
}  // namespace eddy
