#include "common/uint128.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace eddy {

std::string to_decimal(uint128 v) {
  // Sequence numbers are formatted per record on the hot path: at most two 128-bit divisions,
  // then 64-bit conversions.
  constexpr uint64_t kTen19 = 10000000000000000000ull;
  char buf[48];
  char* end = buf + sizeof(buf);
  if (v <= UINT64_MAX) {
    auto r = std::to_chars(buf, end, static_cast<uint64_t>(v));
    return std::string(buf, r.ptr);
  }
  const auto low = static_cast<uint64_t>(v % kTen19);
  const uint128 high = v / kTen19;
  std::string out = to_decimal(high);
  char digits[20];
  auto r = std::to_chars(digits, digits + sizeof(digits), low);
  out.append(19 - static_cast<size_t>(r.ptr - digits), '0');
  out.append(digits, r.ptr);
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
