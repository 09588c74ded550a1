// Kinesis hash keys are unsigned 128-bit integers written as decimal strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace eddy {

using uint128 = unsigned __int128;

inline constexpr uint128 kUint128Max = ~uint128{0};

std::string to_decimal(uint128 v);
// Parses a canonical decimal (no sign, no leading zeros except "0"); nullopt if malformed or > 2^128-1.
std::optional<uint128> parse_decimal_u128(std::string_view s);

}  // namespace eddy
