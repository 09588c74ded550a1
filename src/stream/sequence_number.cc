#include "stream/sequence_number.h"

#include "common/uint128.h"

namespace eddy::stream {

std::string encode_sequence_number(uint32_t shard_index, log::Offset offset) {
  return to_decimal((uint128{shard_index} + 1) << 64 | uint128{offset});
}

std::optional<SequencePosition> decode_sequence_number(std::string_view text) {
  const auto v = parse_decimal_u128(text);
  if (!v) return std::nullopt;
  const uint128 high = *v >> 64;
  if (high == 0 || high > uint128{UINT32_MAX} + 1) return std::nullopt;
  return SequencePosition{static_cast<uint32_t>(high - 1), static_cast<log::Offset>(*v)};
}

}  // namespace eddy::stream
