#include "host/checkpoint_store.h"

#include "common/path_names.h"

namespace eddy::host {

std::filesystem::path LocalCheckpointStore::folder(const std::string& application) const {
  return dir_ / path_component(application);
}

Status LocalCheckpointStore::write(const std::string& application, const Checkpoint& c) {
  return write_checkpoint(folder(application), c);
}

Result<std::optional<Checkpoint>> LocalCheckpointStore::read_latest(const std::string& application) const {
  return read_checkpoint(folder(application));
}

Status LocalCheckpointStore::remove(const std::string& application) {
  std::error_code ec;
  std::filesystem::remove(folder(application) / kCheckpointFile, ec);
  if (ec) return make_error(Errc::kIo, "remove the checkpoint of " + application + ": " + ec.message());
  return {};
}

}  // namespace eddy::host
