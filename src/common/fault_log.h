// Server faults (a failed write, a full disk) go to the server's log (component "fault", level
// error) with their reason, while the caller gets AWS's retryable InternalFailure without the
// detail. Rate-limited (a burst of 20 lines, then one a second, with a count of those left out):
// a full disk fails every request, and the log must not fill what is left of it.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace eddy {

void log_fault(std::string_view what, std::string_view reason);

// The rate limit and the line of log_fault, apart from the process's one log so that a test can
// drive its own with its own clock.
class FaultLines {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr double kBurst = 20;     // a rare fault right after another is still logged
  static constexpr double kPerSecond = 1;  // a disk failing every request cannot fill itself

  explicit FaultLines(Clock::time_point start) : last_(start) {}

  // The line to log for a fault at `now`, or nothing while the limit holds it back.
  std::optional<std::string> line(std::string_view what, std::string_view reason, Clock::time_point now);

 private:
  std::mutex mu_;
  double tokens_ = kBurst;
  Clock::time_point last_;
  uint64_t suppressed_ = 0;
};

}  // namespace eddy
