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

Result<std::optional<Checkpoint>> BlobCheckpointStore::read_latest(const std::string& application) const {
  auto bytes = blobs_->read(application);
  if (!bytes) return tl::unexpected(bytes.error());
  if (!*bytes) return std::nullopt;
  auto c = decode_checkpoint(**bytes);
  if (!c) return tl::unexpected(c.error());
  return std::optional<Checkpoint>(std::move(*c));
}

}  // namespace eddy::host
