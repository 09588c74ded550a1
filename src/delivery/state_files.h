// Where a delivery stream's worker keeps state.json and intent.json (delivery_state.h). On one
// machine they are files in the delivery stream's folder. In cluster mode they are blobs every
// node can read (common/blob_store.h), named after the delivery stream's incarnation, and the node
// that runs the worker claims them first: a node that lost the delivery stream to another can no
// longer save positions or record an intent (fencing), so objects stay exactly-once across owner
// changes.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/blob_store.h"
#include "common/clock.h"
#include "common/error.h"

namespace eddy::delivery {

class StateFiles {
 public:
  // Files in `dir`.
  explicit StateFiles(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // Blobs "<prefix>/<file>" in `blobs`.
  StateFiles(std::shared_ptr<BlobStore> blobs, std::string prefix)
      : blobs_(std::move(blobs)), prefix_(std::move(prefix)) {}

  bool shared() const { return blobs_ != nullptr; }
  // Makes this node the only one whose writes succeed from now on (files: nothing to do).
  Status claim() const;
  // The bytes of `file`; nothing if there is none (or it was removed). An error when it cannot be
  // read now: the caller tries again rather than start over.
  Result<std::optional<std::string>> read(std::string_view file) const;
  Status write(std::string_view file, std::string_view text) const;
  // A removed blob is written empty, which keeps this writer's claim.
  Status remove(std::string_view file) const;
  // Keeps `text`, the unreadable contents of `file`, as `<file>.unreadable-<now>[-n]` for a person
  // to look at, and removes `file`; returns what happened, for the report.
  std::string keep_aside(std::string_view file, std::string_view text, TimestampMs now) const;
  // Removes both files for good (the delivery stream is deleted).
  Status remove_all() const;
  // Where `file` is, for messages.
  std::string where(std::string_view file) const;

 private:
  std::string blob(std::string_view file) const { return prefix_ + "/" + std::string(file); }

  std::filesystem::path dir_;
  std::shared_ptr<BlobStore> blobs_;
  std::string prefix_;
};

}  // namespace eddy::delivery
