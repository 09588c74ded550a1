// Kinesis hash-key ranges: the 128-bit key space split between a stream's open shards.
#pragma once

#include <cstdint>
#include <vector>

#include "common/uint128.h"

namespace eddy::stream {

struct HashKeyRange {
  uint128 start;
  uint128 end;  // inclusive

  bool contains(uint128 key) const { return start <= key && key <= end; }
  bool overlaps(const HashKeyRange& o) const { return start <= o.end && o.start <= end; }
};

// Splits [0, 2^128-1] into n ranges as CreateStream does: width floor(2^128 / n), the last range
// ending at 2^128-1.
std::vector<HashKeyRange> split_evenly(uint32_t n);

}  // namespace eddy::stream
