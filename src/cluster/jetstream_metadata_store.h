// The metadata seam (common/metadata_store.h) on a JetStream key-value bucket shared by every
// node: documents under "<kind>.<encoded name>", revisions are the bucket's sequence numbers, and
// every change is compare-and-set, so two nodes racing to create one name get one success and one
// kResourceInUse. Thread-safe (libnats is); each call is a round trip to the servers.
#pragma once

#include <string>

#include "cluster/nats_connection.h"
#include "common/metadata_store.h"

namespace eddy::cluster {

// A name as one KV key token: [A-Za-z0-9_-] kept, every other byte as '=' and two hex digits
// (KV keys allow [-/_=.a-zA-Z0-9], and '.' separates tokens). Reversible; nullopt if not a token.
std::string encode_key_token(std::string_view name);
std::optional<std::string> decode_key_token(std::string_view token);

class JetStreamMetadataStore final : public MetadataStore {
 public:
  // Opens (creating if needed) bucket `bucket` with `replicas` copies; documents of this store
  // are the keys under `kind` ("streams", "apps", "deliveries").
  static Result<std::unique_ptr<JetStreamMetadataStore>> open(NatsConnection& nats, const std::string& bucket,
                                                              const std::string& kind, int replicas);
  ~JetStreamMetadataStore() override;

  Result<std::vector<std::string>> names() const override;
  Result<std::optional<Document>> get(std::string_view name) const override;
  Result<uint64_t> put(std::string_view name, std::string_view value, uint64_t expected) override;
  Status remove(std::string_view name, uint64_t expected) override;

 private:
  JetStreamMetadataStore(NatsConnection& nats, std::string bucket, std::string kind)
      : nats_(nats), bucket_(std::move(bucket)), kind_(std::move(kind)) {}
  std::string key(std::string_view name) const { return kind_ + "." + encode_key_token(name); }
  // After a refused write: a conflict (the document moved on) or the servers' failure.
  Error refused(natsStatus status, std::string_view name, uint64_t expected, const char* what) const;

  NatsConnection& nats_;
  std::string bucket_;
  std::string kind_;
  kvStore* kv_ = nullptr;
};

}  // namespace eddy::cluster
