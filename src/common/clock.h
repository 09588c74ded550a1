// Time in eddy is UTC milliseconds since the epoch. Everything that reads the time takes a Clock so
// tests can move it by hand instead of sleeping.
#pragma once

#include <atomic>
#include <cstdint>

namespace eddy {

using TimestampMs = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimestampMs now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimestampMs now_ms() const override;
  static const SystemClock& instance();
};

// A clock that only moves when told to; for tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimestampMs start) : now_(start) {}
  TimestampMs now_ms() const override { return now_.load(); }
  void advance(TimestampMs ms) { now_ += ms; }
  void set(TimestampMs ms) { now_ = ms; }

 private:
  std::atomic<TimestampMs> now_;
};

}  // namespace eddy
