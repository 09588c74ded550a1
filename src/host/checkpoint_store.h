// Where applications' checkpoints are kept: the seam between the application host and its
// storage. LocalCheckpointStore (<apps>/<name>/checkpoint, written atomically) is today's; in
// cluster mode checkpoints must outlive the node that took them, so another implementation keeps
// them where every node can read them.
//
// Who calls what: a runner writes (its own thread, one write at a time per application); the
// host reads the latest when it starts an application and removes them when it is deleted.
// Thread-safe across applications.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common/blob_store.h"
#include "common/error.h"
#include "host/checkpoint.h"

namespace eddy::host {

class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;
  // Replaces the application's checkpoint: after a crash, the previous one or this one is read.
  virtual Status write(const std::string& application, const Checkpoint& c) = 0;
  // The latest; nothing if the application never took one (or they were removed).
  virtual Result<std::optional<Checkpoint>> read_latest(const std::string& application) const = 0;
  virtual Status remove(const std::string& application) = 0;
  // Called by the node taking an application over, before it reads the latest checkpoint: from
  // then on a node that ran it before can no longer write one. One machine: nothing to do.
  virtual Status claim(const std::string& application) {
    (void)application;
    return {};
  }
};

// Checkpoints kept as bytes in a BlobStore (common/blob_store.h): cluster mode's, in JetStream.
class BlobCheckpointStore final : public CheckpointStore {
 public:
  explicit BlobCheckpointStore(std::unique_ptr<BlobStore> blobs) : blobs_(std::move(blobs)) {}
  Status write(const std::string& application, const Checkpoint& c) override {
    return blobs_->write(application, encode_checkpoint(c));
  }
  Result<std::optional<Checkpoint>> read_latest(const std::string& application) const override;
  Status remove(const std::string& application) override { return blobs_->remove(application); }
  Status claim(const std::string& application) override { return blobs_->claim(application); }

 private:
  std::unique_ptr<BlobStore> blobs_;
};

class LocalCheckpointStore final : public CheckpointStore {
 public:
  explicit LocalCheckpointStore(std::filesystem::path apps_dir) : dir_(std::move(apps_dir)) {}
  Status write(const std::string& application, const Checkpoint& c) override;
  Result<std::optional<Checkpoint>> read_latest(const std::string& application) const override;
  Status remove(const std::string& application) override;

 private:
  std::filesystem::path folder(const std::string& application) const;
  std::filesystem::path dir_;
};

}  // namespace eddy::host
