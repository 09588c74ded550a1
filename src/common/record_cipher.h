// Encryption of records at rest (StartStreamEncryption): AES-256-GCM with a key from a local key
// file given to `eddy serve --encryption-key-file`. A sealed record is
//
//   u8 version (1) | 4 bytes of the key's fingerprint | 12-byte nonce | ciphertext | 16-byte tag
//
// so a record sealed under another key is recognised as such instead of failing as corrupt. The
// nonce is random per record (2^-32 collision odds are reached after ~2^32 records per key).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"

namespace eddy {

class RecordCipher {
 public:
  static constexpr size_t kOverhead = 1 + 4 + 12 + 16;

  // The file holds 32 bytes as 64 hexadecimal digits (e.g. `openssl rand -hex 32`), optionally
  // followed by a newline.
  static Result<RecordCipher> from_key_file(const std::filesystem::path& file);
  static Result<RecordCipher> from_key(std::string_view key32);

  // "eddy-local-" and the first 8 hex digits of the key's SHA-256: names the key without showing it.
  const std::string& key_id() const { return key_id_; }

  void seal(std::string_view plain, std::string& out) const;  // appends to `out`
  // Appends the plaintext to `out`; kKmsNotFound when sealed under another key, kCorruption when
  // the tag does not match.
  Status open(std::string_view sealed, std::string& out) const;

 private:
  std::string key_;
  std::string fingerprint_;  // 4 bytes
  std::string key_id_;
};

}  // namespace eddy
