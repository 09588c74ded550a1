#include "common/fault_log.h"

#include "common/logging.h"

#include <algorithm>

namespace eddy {

std::optional<std::string> FaultLines::line(std::string_view what, std::string_view reason, Clock::time_point now) {
  uint64_t more = 0;
  {
    std::lock_guard lock(mu_);
    tokens_ = std::min(kBurst, tokens_ + std::chrono::duration<double>(now - last_).count() * kPerSecond);
    last_ = std::max(last_, now);
    if (tokens_ < 1) {
      ++suppressed_;
      return std::nullopt;
    }
    tokens_ -= 1;
    more = std::exchange(suppressed_, 0);
  }
  std::string out = std::string(what) + " failed: " + std::string(reason.substr(0, 500));
  if (more) out += " (and " + std::to_string(more) + " more faults since the last line)";
  return out;
}

void log_fault(std::string_view what, std::string_view reason) {
  static FaultLines lines(FaultLines::Clock::now());
  if (auto line = lines.line(what, reason, FaultLines::Clock::now())) log_error("fault", *line);
}

}  // namespace eddy
