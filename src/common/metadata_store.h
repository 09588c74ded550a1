// Small documents under names — a stream's settings and shards, an application's configuration,
// a delivery stream's — changed by compare-and-set: the seam between the hosts and where their
// metadata lives. FileMetadataStore (one file per name, written atomically) is today's; cluster
// mode puts a replicated key-value bucket behind the same calls, where two nodes racing to create
// one name must see one success and one conflict.
//
// Thread-safe. Revisions are per name and increase with every write; 0 means "no such name".
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace eddy {

class MetadataStore {
 public:
  struct Document {
    std::string value;
    uint64_t revision = 0;
  };
  virtual ~MetadataStore() = default;

  // Every name that has a document (sorted).
  virtual Result<std::vector<std::string>> names() const = 0;
  virtual Result<std::optional<Document>> get(std::string_view name) const = 0;
  // Writes `value` if `name`'s revision is `expected` (0: the name must have no document) and
  // returns the new revision. If another write came first: kResourceInUse when creating (what AWS
  // answers a second CreateStream), kConcurrentModification when updating.
  virtual Result<uint64_t> put(std::string_view name, std::string_view value, uint64_t expected) = 0;
  // Removes the document if its revision is `expected` (kConcurrentModification otherwise), at
  // once and for good.
  virtual Status remove(std::string_view name, uint64_t expected) = 0;
};

// <dir>/<path_component(name)>/<file>: the layout eddy's data directory has always had
// (apps/<name>/app.json), so the entity's folder holds its other files too. Revisions live in
// memory: one process writes a data directory. A document names its entity (`name_of` reads it),
// so names() also finds folders an older eddy named after the raw name, and moves them.
class FileMetadataStore final : public MetadataStore {
 public:
  using NameOf = std::function<Result<std::string>(std::string_view document)>;
  FileMetadataStore(std::filesystem::path dir, std::string file, NameOf name_of)
      : dir_(std::move(dir)), file_(std::move(file)), name_of_(std::move(name_of)) {}

  Result<std::vector<std::string>> names() const override;
  Result<std::optional<Document>> get(std::string_view name) const override;
  Result<uint64_t> put(std::string_view name, std::string_view value, uint64_t expected) override;
  Status remove(std::string_view name, uint64_t expected) override;

  // The folder that holds `name`'s document (and the entity's other files).
  std::filesystem::path folder(std::string_view name) const;

 private:
  uint64_t revision_of(const std::string& name) const;  // needs mu_

  std::filesystem::path dir_;
  std::string file_;
  NameOf name_of_;
  mutable std::mutex mu_;
  mutable std::map<std::string, uint64_t> revisions_;  // names seen by this process
  uint64_t removals_ = 0;
};

}  // namespace eddy
