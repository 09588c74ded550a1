// Sequence numbers as Kinesis clients see them: 56-digit decimal strings, strictly increasing
// within a shard when compared as integers. We encode (shard index + 1) in the high 64 bits and
// the log offset in the low 64 of the number after the leading digit (sequence_number.cc), so a
// number also tells which shard it belongs to.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "log/record.h"

namespace eddy::stream {

struct SequencePosition {
  uint32_t shard_index;
  log::Offset offset;
};

std::string encode_sequence_number(uint32_t shard_index, log::Offset offset);
std::optional<SequencePosition> decode_sequence_number(std::string_view text);

}  // namespace eddy::stream
