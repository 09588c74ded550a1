// A one-line progress report on stderr, refreshed at most once a second: totals and rates.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace eddy::cli {

class Progress {
 public:
  explicit Progress(std::string verb) : verb_(std::move(verb)), start_(Clock::now()), last_(start_) {}

  void update(uint64_t records, uint64_t failed, bool force = false) {
    const auto now = Clock::now();
    if (!force && now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\r%s %llu records (%.0f records/s), %llu failed   ", verb_.c_str(),
                 static_cast<unsigned long long>(records), secs > 0 ? static_cast<double>(records) / secs : 0.0,
                 static_cast<unsigned long long>(failed));
    std::fflush(stderr);
    shown_ = true;
  }

  void finish(uint64_t records, uint64_t failed) {
    update(records, failed, true);
    if (shown_) std::fputc('\n', stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::string verb_;
  Clock::time_point start_, last_;
  bool shown_ = false;
};

}  // namespace eddy::cli
