// Encryption at rest: StartStreamEncryption and StopStreamEncryption switch a stream's records to
// being sealed with the server's key (common/record_cipher.h) from the next append on, and every
// read opens what is sealed. AWS encrypts with the KMS key the caller names; eddy keeps that key
// id to show it, and encrypts with the local key file given to `eddy serve`.

#include <memory>

#include "stream/stream_store.h"

namespace eddy::stream {

Status StreamStore::start_encryption(const std::string& name, const std::string& key_id) {
  auto s = require_active(name);
  if (!s) return tl::unexpected(s.error());
  if (!options_.cipher) {
    return make_error(Errc::kKmsNotFound,
                      "This eddy server has no key to encrypt records at rest with: start eddy serve with "
                      "--encryption-key-file FILE (32 random bytes as 64 hex digits, e.g. `openssl rand -hex 32 > "
                      "FILE`). The KeyId you give (" +
                          key_id + ") is kept and shown; the records are encrypted with that file's key.");
  }
  std::unique_lock lock((*s)->mu);
  std::string old = std::exchange((*s)->encryption_key_id, key_id);
  Status saved = persist(**s);
  if (!saved) (*s)->encryption_key_id = std::move(old);
  return saved;
}

Status StreamStore::stop_encryption(const std::string& name) {
  auto s = require_active(name);
  if (!s) return tl::unexpected(s.error());
  std::unique_lock lock((*s)->mu);
  // Records sealed so far stay sealed (and readable with the key): AWS does not decrypt them either.
  std::string old = std::exchange((*s)->encryption_key_id, std::string());
  Status saved = persist(**s);
  if (!saved) (*s)->encryption_key_id = std::move(old);
  return saved;
}

Status StreamStore::open_sealed(log::ReadResult& read) const {
  std::shared_ptr<std::vector<std::string>> opened;
  for (auto& r : read.records) {
    if (!r.encrypted) continue;
    if (!options_.cipher) {
      return make_error(Errc::kKmsNotFound,
                        "The records are encrypted at rest and this eddy server has no key: start eddy serve with "
                        "the --encryption-key-file they were written with.");
    }
    if (!opened) {
      opened = std::make_shared<std::vector<std::string>>();
      opened->reserve(read.records.size());  // no reallocation: views point into these strings
    }
    opened->emplace_back();
    if (auto st = options_.cipher->open(r.data, opened->back()); !st) return st;
    r.data = opened->back();  // `encrypted` stays: the record was sealed at rest (GetRecords says KMS)
  }
  if (opened) read.keep_alive.push_back(std::move(opened));
  return {};
}

}  // namespace eddy::stream
