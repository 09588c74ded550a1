// Text forms of UTC timestamps.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"

namespace eddy {

// "2016-04-04T19:58:46.480-00:00", "2016-04-04T19:58:46Z", "2016-04-04 19:58:46.123": UTC
// milliseconds; an offset suffix is applied. nullopt if the text is not such a timestamp.
std::optional<TimestampMs> parse_iso8601_ms(std::string_view text);
// The same into `ms`; false if the text is not such a timestamp (for hot paths: no optional
// returned through memory).
bool parse_iso8601_ms(std::string_view text, TimestampMs& ms);
// "2016-04-04T19:58:46.480Z"
std::string format_iso8601_ms(TimestampMs ms);
// "2016-04-04 19:58:46.480", the SQL TIMESTAMP text form
std::string format_sql_timestamp_ms(TimestampMs ms);

}  // namespace eddy
