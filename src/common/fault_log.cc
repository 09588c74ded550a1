#include "common/fault_log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

namespace eddy {

void log_fault(std::string_view what, std::string_view reason) {
  static std::atomic<int64_t> last_ms{0};
  static std::atomic<uint64_t> suppressed{0};
  const int64_t now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
  int64_t last = last_ms.load(std::memory_order_relaxed);
  if (now - last < 1000 || !last_ms.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    suppressed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const uint64_t more = suppressed.exchange(0, std::memory_order_relaxed);
  std::string line = "eddy: " + std::string(what) + " failed: " + std::string(reason.substr(0, 500));
  if (more) line += " (and " + std::to_string(more) + " more faults since the last line)";
  line += "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace eddy
