#include "common/fault_log.h"

#include "common/logging.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>

namespace eddy {

namespace {
// A burst of this many lines, then one a second: a rare fault right after another is still
// logged, and a full disk failing every request cannot fill what is left of it.
constexpr double kBurst = 20;
constexpr double kPerSecond = 1;
}  // namespace

void log_fault(std::string_view what, std::string_view reason) {
  static std::mutex mu;
  static double tokens = kBurst;
  static std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
  static uint64_t suppressed = 0;
  uint64_t more = 0;
  {
    std::lock_guard lock(mu);
    const auto now = std::chrono::steady_clock::now();
    tokens = std::min(kBurst, tokens + std::chrono::duration<double>(now - last).count() * kPerSecond);
    last = now;
    if (tokens < 1) {
      ++suppressed;
      return;
    }
    tokens -= 1;
    more = suppressed;
    suppressed = 0;
  }
  std::string line = std::string(what) + " failed: " + std::string(reason.substr(0, 500));
  if (more) line += " (and " + std::to_string(more) + " more faults since the last line)";
  log_error("fault", line);
}

}  // namespace eddy
