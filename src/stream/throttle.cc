#include "stream/throttle.h"

#include <algorithm>

namespace eddy::stream {

bool TokenBucket::try_take(double n, TimestampMs now) {
  if (last_ms_ == 0) last_ms_ = now;
  if (now > last_ms_) {
    tokens_ = std::min(rate_, tokens_ + rate_ * static_cast<double>(now - last_ms_) / 1000.0);
    last_ms_ = now;
  }
  if (tokens_ <= 0) return false;
  tokens_ -= n;
  return true;
}

bool ShardThrottle::admit_write(size_t bytes, TimestampMs now) {
  std::lock_guard lock(mu_);
  // Check both before taking from either, so a refused record costs nothing.
  TokenBucket records = write_records_, bytes_bucket = write_bytes_;
  if (!records.try_take(1, now) || !bytes_bucket.try_take(static_cast<double>(bytes), now)) return false;
  write_records_ = records;
  write_bytes_ = bytes_bucket;
  return true;
}

bool ShardThrottle::admit_read(TimestampMs now) {
  std::lock_guard lock(mu_);
  TokenBucket calls = read_calls_, bytes = read_bytes_;
  if (!calls.try_take(1, now) || !bytes.try_take(0, now)) return false;
  read_calls_ = calls;
  read_bytes_ = bytes;
  return true;
}

void ShardThrottle::charge_read_bytes(size_t bytes, TimestampMs now) {
  std::lock_guard lock(mu_);
  (void)read_bytes_.try_take(static_cast<double>(bytes), now);
}

}  // namespace eddy::stream
