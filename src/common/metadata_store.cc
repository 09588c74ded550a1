#include "common/metadata_store.h"

#include <algorithm>

#include <unistd.h>

#include "common/fault_log.h"
#include "common/file_util.h"
#include "common/path_names.h"

namespace eddy {

namespace {
// Folders being removed. '~' is in no name AWS accepts, and path_component writes it as %7E: no
// entity's folder, of this eddy or an older one, starts with this.
constexpr const char* kRemoving = ".removing~";
}  // namespace

std::filesystem::path FileMetadataStore::folder(std::string_view name) const {
  return dir_ / path_component(name);
}

uint64_t FileMetadataStore::revision_of(const std::string& name) const {
  auto it = revisions_.find(name);
  if (it != revisions_.end()) return it->second;
  // Not seen by this process: written by an earlier one, or never.
  std::error_code ec;
  const uint64_t r = std::filesystem::exists(folder(name) / file_, ec) ? 1 : 0;
  revisions_[name] = r;
  return r;
}

Result<std::vector<std::string>> FileMetadataStore::names() const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return make_error(Errc::kIo, "cannot create " + dir_.string() + ": " + ec.message());
  std::vector<std::string> out;
  std::lock_guard lock(mu_);
  for (const auto& d : std::filesystem::directory_iterator(dir_, ec)) {
    if (d.path().filename().string().starts_with(kRemoving)) {  // a removal a crash interrupted
      std::error_code gone;
      std::filesystem::remove_all(d.path(), gone);
      continue;
    }
    auto text = read_file(d.path() / file_);
    if (!text) continue;
    auto name = name_of_(*text);
    if (!name)
      return make_error(Errc::kCorruption, "cannot read " + (d.path() / file_).string() + ": " + name.error().message);
    if (auto st = move_to_entry(d.path(), folder(*name)); !st) return tl::unexpected(st.error());
    out.push_back(*name);
  }
  if (ec) return make_error(Errc::kIo, "cannot list " + dir_.string() + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::optional<MetadataStore::Document>> FileMetadataStore::get(std::string_view name) const {
  std::lock_guard lock(mu_);
  const std::string key(name);
  const uint64_t revision = revision_of(key);
  if (revision == 0) return std::optional<Document>{};
  auto text = read_file(folder(name) / file_);
  if (!text) return tl::unexpected(text.error());
  return std::optional<Document>{Document{std::move(*text), revision}};
}

Result<uint64_t> FileMetadataStore::put(std::string_view name, std::string_view value, uint64_t expected) {
  std::lock_guard lock(mu_);
  const std::string key(name);
  const uint64_t revision = revision_of(key);
  if (revision != expected) {
    if (expected == 0) return make_error(Errc::kResourceInUse, key + " already exists");
    return make_error(Errc::kConcurrentModification, key + " was changed meanwhile (revision " +
                                                         std::to_string(revision) + ", not " +
                                                         std::to_string(expected) + "); read it again");
  }
  std::error_code ec;
  std::filesystem::create_directories(folder(name), ec);
  if (ec) return make_error(Errc::kIo, "create " + folder(name).string() + ": " + ec.message());
  if (auto st = write_file_atomic(folder(name) / file_, value); !st) return tl::unexpected(st.error());
  revisions_[key] = revision + 1;
  return revision + 1;
}

Status FileMetadataStore::remove(std::string_view name, uint64_t expected) {
  std::lock_guard lock(mu_);
  const std::string key(name);
  const uint64_t revision = revision_of(key);
  if (revision != expected) {
    return make_error(Errc::kConcurrentModification, key + " was changed meanwhile (revision " +
                                                         std::to_string(revision) + ", not " +
                                                         std::to_string(expected) + ")");
  }
  // The whole folder: the entity's other files go with its document. The rename is the durable
  // removal (a crash after it never brings the entity back); what is left of the folder after a
  // crash is cleared by the next names().
  const auto doomed = dir_ / (kRemoving + std::to_string(++removals_) + "-" + std::to_string(::getpid()));
  std::error_code ec;
  std::filesystem::rename(folder(name), doomed, ec);
  if (ec) return make_error(Errc::kIo, "remove " + folder(name).string() + ": " + ec.message());
  revisions_[key] = 0;
  if (auto st = fsync_dir(dir_); !st) log_fault("removing " + key, st.error().message);
  std::filesystem::remove_all(doomed, ec);
  if (ec) log_fault("removing " + doomed.string(), ec.message());  // cleared by the next names()
  return {};
}

}  // namespace eddy
