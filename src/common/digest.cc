#include "common/digest.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

namespace eddy {

std::array<uint8_t, 16> md5(std::string_view data) {
  // Every record is hashed: keep one context per thread and the algorithm fetched once, instead
  // of EVP_Digest's per-call allocation and lookup.
  static EVP_MD* const kMd5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
  thread_local struct Ctx {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(ctx); }
  } t;
  std::array<uint8_t, 16> out{};
  unsigned int len = 0;
  EVP_DigestInit_ex2(t.ctx, kMd5, nullptr);
  EVP_DigestUpdate(t.ctx, data.data(), data.size());
  EVP_DigestFinal_ex(t.ctx, out.data(), &len);
  return out;
}

std::array<uint8_t, 32> sha256(std::string_view data) {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

std::array<uint8_t, 32> hmac_sha256(std::string_view key, std::string_view data) {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &len);
  return out;
}

std::string to_hex(const uint8_t* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

uint128 partition_key_hash(std::string_view partition_key) {
  const auto digest = md5(partition_key);
  uint128 v = 0;
  for (uint8_t b : digest) v = (v << 8) | b;
  return v;
}

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct DecodeTable {
  int8_t v[256];
  constexpr DecodeTable() : v{} {
    for (int i = 0; i < 256; ++i) v[i] = -1;
    for (int i = 0; i < 64; ++i) v[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
};
constexpr DecodeTable kDecode;
}  // namespace

namespace {
// Two output characters per 12 input bits: half the lookups of a per-6-bit encoder.
struct PairTable {
  char t[4096][2];
  constexpr PairTable() : t{} {
    for (int i = 0; i < 4096; ++i) {
      t[i][0] = kAlphabet[i >> 6];
      t[i][1] = kAlphabet[i & 63];
    }
  }
};
constexpr PairTable kPairs;
}  // namespace

void base64_encode_append(std::string_view data, std::string& out) {
  const size_t start = out.size();
  out.resize(start + 4 * ((data.size() + 2) / 3));
  base64_encode_to(data, out.data() + start);
}

char* base64_encode_to(std::string_view data, char* p) {
  const auto* in = reinterpret_cast<const uint8_t*>(data.data());
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t n = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    std::memcpy(p, kPairs.t[n >> 12], 2);
    std::memcpy(p + 2, kPairs.t[n & 0xfff], 2);
    p += 4;
  }
  if (const size_t rest = data.size() - i; rest > 0) {
    uint32_t n = uint32_t{in[i]} << 16;
    if (rest == 2) n |= uint32_t{in[i + 1]} << 8;
    *p++ = kAlphabet[(n >> 18) & 63];
    *p++ = kAlphabet[(n >> 12) & 63];
    *p++ = rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    *p++ = '=';
  }
  return p;
}

std::string base64_encode(std::string_view data) {
  std::string out;
  base64_encode_append(data, out);
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = (text.size() >= 2 && text[text.size() - 2] == '=') ? 2 : 1;
  std::string out;
  out.resize(text.size() / 4 * 3 - pad);
  auto* o = reinterpret_cast<uint8_t*>(out.data());
  const size_t full = text.empty() ? 0 : (pad ? text.size() - 4 : text.size());
  size_t w = 0;
  for (size_t i = 0; i < full; i += 4) {
    const int a = kDecode.v[static_cast<uint8_t>(text[i])], b = kDecode.v[static_cast<uint8_t>(text[i + 1])];
    const int c = kDecode.v[static_cast<uint8_t>(text[i + 2])], d = kDecode.v[static_cast<uint8_t>(text[i + 3])];
    if ((a | b | c | d) < 0) return std::nullopt;
    const uint32_t n = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6) | uint32_t(d);
    o[w++] = static_cast<uint8_t>(n >> 16);
    o[w++] = static_cast<uint8_t>(n >> 8);
    o[w++] = static_cast<uint8_t>(n);
  }
  if (pad) {
    const size_t i = full;
    const int a = kDecode.v[static_cast<uint8_t>(text[i])], b = kDecode.v[static_cast<uint8_t>(text[i + 1])];
    const int c = pad == 1 ? kDecode.v[static_cast<uint8_t>(text[i + 2])] : 0;
    if ((a | b | c) < 0) return std::nullopt;
    const uint32_t n = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6);
    o[w++] = static_cast<uint8_t>(n >> 16);
    if (pad == 1) o[w++] = static_cast<uint8_t>(n >> 8);
  }
  return out;
}

namespace {

// CRC-32C (Castagnoli), the checksum of log batches: SSE4.2 has an instruction for it.
struct Crc32cTable {
  uint32_t t[256];
  constexpr Crc32cTable() : t{} {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
  }
};
constexpr Crc32cTable kCrc32c;

uint32_t crc32c_soft(uint32_t crc, const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) crc = kCrc32c.t[(crc ^ static_cast<uint8_t>(p[i])) & 0xff] ^ (crc >> 8);
  return crc;
}

__attribute__((target("sse4.2"))) uint32_t crc32c_hw(uint32_t crc, const char* p, size_t n) {
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
  }
  auto c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = __builtin_ia32_crc32qi(c32, static_cast<uint8_t>(*p));
  return c32;
}

}  // namespace

uint32_t crc32c(std::string_view data, uint32_t seed) {
  static const bool hw = __builtin_cpu_supports("sse4.2");
  const uint32_t crc = ~seed;
  return ~(hw ? crc32c_hw(crc, data.data(), data.size()) : crc32c_soft(crc, data.data(), data.size()));
}

}  // namespace eddy
