// Named byte strings that must outlive the node that wrote them (cluster mode keeps
// applications' checkpoints in one), with fencing: a writer first claims a name, and a write
// succeeds only while no other writer has claimed it since.
//
// Who calls what: the node that runs an application claims its name when it takes the
// application over, then writes each checkpoint; any node reads and removes. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace eddy {

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  // Makes this writer the only one whose writes of `name` succeed from now on.
  virtual Status claim(const std::string& name) = 0;
  // Replaces the bytes of `name`: after a crash, the previous or these are read. kFenced-like
  // kConcurrentModification if another writer claimed the name since this one did.
  virtual Status write(const std::string& name, std::string_view bytes) = 0;
  virtual Result<std::optional<std::string>> read(const std::string& name) const = 0;
  virtual Status remove(const std::string& name) = 0;
};

}  // namespace eddy
