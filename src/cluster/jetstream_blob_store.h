// The blob seam (common/blob_store.h) on JetStream, for applications' checkpoints, C++ job
// libraries and delivery streams' state: the bytes as
// messages of stream EDDY_CKPT (one subject per name, chunks under the servers' message limit),
// and per name a head in key-value bucket eddy_ckpt that lists them. Writing the head is the
// commit point, compare-and-set on the revision this writer holds since its claim, so a node
// that lost an application to another can no longer commit a checkpoint. Design:
// docs/design/cluster-jetstream.md §3.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "cluster/nats_connection.h"
#include "common/blob_store.h"

namespace eddy::cluster {

class JetStreamBlobStore final : public BlobStore {
 public:
  // Blobs of one kind ("app", "job", "dlv"): keys "<kind>.<encoded name>" in bucket eddy_ckpt.
  static Result<std::unique_ptr<JetStreamBlobStore>> open(NatsConnection& nats, const std::string& kind, int replicas);
  ~JetStreamBlobStore() override;

  Status claim(const std::string& name) override;
  Status write(const std::string& name, std::string_view bytes) override;
  Result<std::optional<std::string>> read(const std::string& name) const override;
  Status remove(const std::string& name) override;

 private:
  JetStreamBlobStore(NatsConnection& nats, std::string kind) : nats_(nats), kind_(std::move(kind)) {}
  std::string key(const std::string& name) const;
  std::string subject(const std::string& name) const;
  std::string what(const std::string& name) const;  // for messages

  NatsConnection& nats_;
  std::string kind_;
  kvStore* kv_ = nullptr;
  size_t chunk_bytes_ = 0;
  std::mutex mu_;
  std::map<std::string, uint64_t> held_;  // name -> revision of the head this writer wrote last
};

}  // namespace eddy::cluster
