#include "common/logging.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>

#include <nlohmann/json.hpp>

#include "common/time_format.h"

namespace eddy {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_json{false};
std::mutex g_write_mu;

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "info";
}

}  // namespace

bool parse_log_level(std::string_view text, LogLevel& out) {
  for (LogLevel l : {LogLevel::kError, LogLevel::kWarn, LogLevel::kInfo, LogLevel::kDebug}) {
    if (text == level_name(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

void set_log_level(LogLevel level) {
  g_level = static_cast<int>(level);
}
void set_log_json(bool json) {
  g_json = json;
}
bool log_enabled(LogLevel level) {
  return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed);
}

void log_event(LogLevel level, std::string_view component, std::string_view message, const LogFields& fields) {
  if (!log_enabled(level)) return;
  const auto now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::string line;
  if (g_json.load(std::memory_order_relaxed)) {
    nlohmann::json j = {
        {"time", format_iso8601_ms(now)}, {"level", level_name(level)}, {"component", component}, {"message", message}};
    for (const auto& [k, v] : fields) j[k] = v;
    // Replacement characters for invalid UTF-8: a name from a request must not break the line.
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line =
        format_iso8601_ms(now) + " " + level_name(level) + " " + std::string(component) + ": " + std::string(message);
    for (const auto& [k, v] : fields) {
      line += " " + k + "=";
      // Quoted when it would not read back as one word.
      const bool plain = !v.empty() && v.find_first_of(" \t\n\"=") == std::string::npos;
      line += plain ? v : nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  }
  line += '\n';
  std::lock_guard lock(g_write_mu);
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n <= 0) break;  // stderr closed or full: the event is lost, the server goes on
    done += static_cast<size_t>(n);
  }
}

}  // namespace eddy
