// Pacing for producers: a token bucket filled at `rate` tokens per second up to `capacity`.
// It starts empty, so a run never opens with a burst; the capacity lets a producer that was
// briefly held up (a slow answer) catch up, so the average rate holds on a loaded machine.
// Times are seconds on any monotonic clock, passed in, so tests need no sleeping.
#pragma once

#include <algorithm>
#include <cstddef>

namespace eddy::cli {

class TokenBucket {
 public:
  TokenBucket(double rate, double capacity, double now_s) : rate_(rate), capacity_(capacity), last_s_(now_s) {}

  // Takes up to `want` whole tokens available at `now_s`; returns how many were taken.
  size_t take(size_t want, double now_s) {
    refill(now_s);
    const size_t n = std::min(want, static_cast<size_t>(tokens_));
    tokens_ -= static_cast<double>(n);
    return n;
  }

  // Seconds from `now_s` until `n` whole tokens are available (0 if they are).
  double wait_for(size_t n, double now_s) {
    refill(now_s);
    const double missing = static_cast<double>(n) - tokens_;
    return missing <= 0 ? 0 : missing / rate_;
  }

 private:
  void refill(double now_s) {
    if (now_s > last_s_) {
      tokens_ = std::min(capacity_, tokens_ + (now_s - last_s_) * rate_);
      last_s_ = now_s;
    }
  }

  double rate_, capacity_, last_s_;
  double tokens_ = 0;
};

}  // namespace eddy::cli
