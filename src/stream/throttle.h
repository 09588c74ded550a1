// Per-shard throughput limits, Kinesis values, enforced only with `eddy serve --enforce-limits`.
#pragma once

#include <mutex>

#include "common/clock.h"

namespace eddy::stream {

// A token bucket refilled continuously at `rate` per second, holding at most one second's worth.
class TokenBucket {
 public:
  explicit TokenBucket(double rate_per_s) : rate_(rate_per_s), tokens_(rate_per_s) {}
  // Takes `n` tokens if available (the bucket may go negative by one oversized request, as a
  // single 1 MiB record must still pass an idle shard).
  bool try_take(double n, TimestampMs now);

 private:
  double rate_;
  double tokens_;
  TimestampMs last_ms_ = 0;
};

struct ShardLimits {
  static constexpr double kWriteBytesPerS = 1024.0 * 1024.0;
  static constexpr double kWriteRecordsPerS = 1000.0;
  static constexpr double kReadBytesPerS = 2.0 * 1024.0 * 1024.0;
  static constexpr double kReadCallsPerS = 5.0;
};

class ShardThrottle {
 public:
  // Admits one record write of `bytes`; false means ProvisionedThroughputExceeded.
  bool admit_write(size_t bytes, TimestampMs now);
  // Admits one GetRecords call; `bytes_last_call` charges the previous call's payload.
  bool admit_read(TimestampMs now);
  void charge_read_bytes(size_t bytes, TimestampMs now);

 private:
  std::mutex mu_;
  TokenBucket write_bytes_{ShardLimits::kWriteBytesPerS};
  TokenBucket write_records_{ShardLimits::kWriteRecordsPerS};
  TokenBucket read_bytes_{ShardLimits::kReadBytesPerS};
  TokenBucket read_calls_{ShardLimits::kReadCallsPerS};
};

}  // namespace eddy::stream
