// The records a worker holds for its next object, by the destination's buffering hints: an object
// goes when the buffer holds SizeInMBs, or IntervalInSeconds after the oldest buffered record
// arrived, whichever comes first. An object holds one buffer's worth, like Firehose's; what does
// not fit is read again for the next.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "common/clock.h"
#include "delivery/delivery_state.h"
#include "delivery/source_reader.h"

namespace eddy::delivery {

class DeliveryBuffer {
 public:
  DeliveryBuffer(uint64_t size_bytes, TimestampMs interval_ms, bool append_newline)
      : size_bytes_(size_bytes), interval_ms_(interval_ms), append_newline_(append_newline) {}

  // Reads from every shard that is ready (lineage order) until the buffer is full; returns the
  // number of records taken in. A shard read to its end goes into `state.finished`, and its
  // position to its end.
  size_t fill(const SourceReader& source, DeliveryPositions& state);
  bool due(TimestampMs now) const;

  struct Batch {
    SourceRanges ranges;
    std::vector<SourceRecord> records;
  };
  // Empties the buffer into one object's batch; reading goes on after it.
  Batch take();
  // Empties the buffer and reads again from `positions`: the destination refused the batch, and
  // its records must never be dropped.
  void read_again_from(const std::map<uint32_t, uint64_t>& positions);

  uint64_t bytes() const { return bytes_; }
  size_t records() const { return records_.size(); }

 private:
  uint64_t size_bytes_;
  TimestampMs interval_ms_;
  bool append_newline_;
  std::vector<SourceRecord> records_;
  SourceRanges ranges_;
  uint64_t bytes_ = 0;
  TimestampMs started_ = 0;               // arrival of the oldest buffered record
  std::map<uint32_t, uint64_t> read_to_;  // read (into the buffer) up to
};

}  // namespace eddy::delivery
