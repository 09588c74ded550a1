#include "stream/sequence_number.h"

#include "common/uint128.h"

namespace eddy::stream {

namespace {

// Kinesis's sequence numbers have 56 digits (49590338271490256608559692538361571095921575989136588898),
// and clients store and compare them as such: ours are a leading 4 and the number below, padded
// with zeros to 55 digits. Numbers of the older, shorter shape (that number alone) still decode,
// so positions kept by clients across an upgrade stay valid; the new ones compare above them.
constexpr size_t kDigits = 56;
constexpr char kLead = '4';

std::optional<SequencePosition> position_of(uint128 v) {
  const uint128 high = v >> 64;
  if (high == 0 || high > uint128{UINT32_MAX} + 1) return std::nullopt;
  return SequencePosition{static_cast<uint32_t>(high - 1), static_cast<log::Offset>(v)};
}

}  // namespace

std::string encode_sequence_number(uint32_t shard_index, log::Offset offset) {
  const std::string low = to_decimal((uint128{shard_index} + 1) << 64 | uint128{offset});
  std::string out(kDigits - low.size(), '0');
  out[0] = kLead;
  return out + low;
}

std::optional<SequencePosition> decode_sequence_number(std::string_view text) {
  if (text.size() == kDigits) {
    if (text[0] != kLead) return std::nullopt;
    text.remove_prefix(1);
    const size_t zeros = text.find_first_not_of('0');
    if (zeros == std::string_view::npos) return std::nullopt;
    text.remove_prefix(zeros);
  } else if (text.size() > kDigits) {
    return std::nullopt;
  }
  const auto v = parse_decimal_u128(text);
  if (!v) return std::nullopt;
  return position_of(*v);
}

}  // namespace eddy::stream
