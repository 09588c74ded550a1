#include "common/record_cipher.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace eddy {

namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kNonce = 12, kTag = 16, kFingerprint = 4;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<RecordCipher> RecordCipher::from_key_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return make_error(Errc::kIo, "cannot read the encryption key file " + file.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  const auto bad = [&] {
    return make_error(Errc::kInvalidArgument, "the encryption key file " + file.string() +
                                                  " must hold 32 bytes as 64 hexadecimal digits (make one with "
                                                  "`openssl rand -hex 32 > " +
                                                  file.string() + "`)");
  };
  if (text.size() != 64) return bad();
  std::string key(32, '\0');
  for (size_t i = 0; i < 32; ++i) {
    const int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return bad();
    key[i] = static_cast<char>(hi << 4 | lo);
  }
  return from_key(key);
}

Result<RecordCipher> RecordCipher::from_key(std::string_view key32) {
  if (key32.size() != 32) return make_error(Errc::kInvalidArgument, "an encryption key has 32 bytes");
  RecordCipher c;
  c.key_ = std::string(key32);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(c.key_.data()), c.key_.size(), digest);
  c.fingerprint_.assign(reinterpret_cast<const char*>(digest), kFingerprint);
  static constexpr char kHex[] = "0123456789abcdef";
  c.key_id_ = "eddy-local-";
  for (size_t i = 0; i < 4; ++i) {
    c.key_id_ += kHex[digest[i] >> 4];
    c.key_id_ += kHex[digest[i] & 0xf];
  }
  return c;
}

void RecordCipher::seal(std::string_view plain, std::string& out) const {
  const size_t start = out.size();
  out.resize(start + kOverhead + plain.size());
  auto* p = reinterpret_cast<unsigned char*>(out.data() + start);
  p[0] = kVersion;
  std::memcpy(p + 1, fingerprint_.data(), kFingerprint);
  unsigned char* nonce = p + 1 + kFingerprint;
  RAND_bytes(nonce, kNonce);
  unsigned char* body = nonce + kNonce;
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int n = 0;
  EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, reinterpret_cast<const unsigned char*>(key_.data()), nonce);
  EVP_EncryptUpdate(ctx.get(), body, &n, reinterpret_cast<const unsigned char*>(plain.data()),
                    static_cast<int>(plain.size()));
  int tail = 0;
  EVP_EncryptFinal_ex(ctx.get(), body + n, &tail);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, body + plain.size());
}

Status RecordCipher::open(std::string_view sealed, std::string& out) const {
  if (sealed.size() < kOverhead || static_cast<uint8_t>(sealed[0]) != kVersion) {
    return make_error(Errc::kCorruption, "an encrypted record is malformed");
  }
  if (sealed.substr(1, kFingerprint) != fingerprint_) {
    return make_error(Errc::kKmsNotFound, "a record was encrypted with another key than " + key_id_);
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(sealed.data() + 1 + kFingerprint);
  const auto* body = nonce + kNonce;
  const size_t len = sealed.size() - kOverhead;
  const size_t start = out.size();
  out.resize(start + len);
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int n = 0, tail = 0;
  EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, reinterpret_cast<const unsigned char*>(key_.data()), nonce);
  EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data() + start), &n, body, static_cast<int>(len));
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, const_cast<unsigned char*>(body + len));
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data() + start + n), &tail) != 1) {
    out.resize(start);
    return make_error(Errc::kCorruption, "an encrypted record failed its authentication tag");
  }
  return {};
}

}  // namespace eddy
