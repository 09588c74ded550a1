// Hashes and encodings from OpenSSL, wrapped so no other module includes OpenSSL headers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/uint128.h"

namespace eddy {

std::array<uint8_t, 16> md5(std::string_view data);
std::array<uint8_t, 32> sha256(std::string_view data);
std::array<uint8_t, 32> hmac_sha256(std::string_view key, std::string_view data);
std::string to_hex(const uint8_t* data, size_t n);
template <size_t N>
std::string to_hex(const std::array<uint8_t, N>& a) {
  return to_hex(a.data(), N);
}

// Kinesis routing: MD5 of the partition key's UTF-8 bytes read as a big-endian 128-bit integer.
uint128 partition_key_hash(std::string_view partition_key);

// Standard base64 with padding. Decoding is strict (alphabet, padding, length) so a malformed
// blob is reported, not silently mangled.
std::string base64_encode(std::string_view data);
void base64_encode_append(std::string_view data, std::string& out);
// Writes 4*ceil(n/3) characters at `out`; returns the end.
char* base64_encode_to(std::string_view data, char* out);
std::optional<std::string> base64_decode(std::string_view text);

// CRC-32C (Castagnoli); hardware-accelerated where the CPU has SSE4.2.
uint32_t crc32c(std::string_view data, uint32_t seed = 0);

}  // namespace eddy
