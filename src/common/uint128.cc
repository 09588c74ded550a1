#include "common/uint128.h"

#include <algorithm>

namespace eddy {

std::string to_decimal(uint128 v) {
  if (v == 0) return "0";
  std::string out;
  while (v != 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::optional<uint128> parse_decimal_u128(std::string_view s) {
  if (s.empty() || s.size() > 39) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  uint128 v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<unsigned>(c - '0');
    if (v > (kUint128Max - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

}  // namespace eddy
