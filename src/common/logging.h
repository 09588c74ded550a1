// The server's log: one line per event on stderr, as text (`<time> <LEVEL> <component>: message
// key=value ...`) or as one JSON object per line (time, level, component, message and the
// event's fields), at or above the level set (eddy serve --log-level, --log-format).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace eddy {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

using LogFields = std::vector<std::pair<std::string, std::string>>;

// "error", "warn", "info", "debug"; false for another word.
bool parse_log_level(std::string_view text, LogLevel& out);
void set_log_level(LogLevel level);
void set_log_json(bool json);
bool log_enabled(LogLevel level);

// Writes one line (a whole line even when threads log at once).
void log_event(LogLevel level, std::string_view component, std::string_view message, const LogFields& fields = {});

inline void log_error(std::string_view component, std::string_view message, const LogFields& fields = {}) {
  log_event(LogLevel::kError, component, message, fields);
}
inline void log_warn(std::string_view component, std::string_view message, const LogFields& fields = {}) {
  log_event(LogLevel::kWarn, component, message, fields);
}
inline void log_info(std::string_view component, std::string_view message, const LogFields& fields = {}) {
  log_event(LogLevel::kInfo, component, message, fields);
}

}  // namespace eddy
