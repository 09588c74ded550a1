#include "stream/hash_range.h"

namespace eddy::stream {

std::vector<HashKeyRange> split_evenly(uint32_t n) {
  std::vector<HashKeyRange> out;
  if (n == 0) return out;
  // floor(2^128 / n) computed without 2^128: (2^128 - 1) / n, plus one when n divides 2^128.
  uint128 width = kUint128Max / n;
  if (kUint128Max % n == n - 1) width += 1;
  for (uint32_t i = 0; i < n; ++i) {
    const uint128 start = width * i;
    const uint128 end = (i + 1 == n) ? kUint128Max : width * (i + 1) - 1;
    out.push_back({start, end});
  }
  return out;
}

}  // namespace eddy::stream
