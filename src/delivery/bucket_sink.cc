#include "delivery/bucket_sink.h"

#include <unistd.h>

#include <atomic>

#include "common/file_util.h"
#include "common/path_names.h"

namespace eddy::delivery {

Result<std::string> BucketSink::bucket_from_arn(std::string_view arn) {
  return eddy::bucket_from_arn(arn);
}

Status BucketSink::put(const std::string& bucket, const std::string& key, std::string_view bytes) const {
  auto path = object_path(root_ / bucket, key);
  if (!path) return tl::unexpected(path.error());
  std::error_code ec;
  std::filesystem::create_directories(path->parent_path(), ec);
  if (ec) return make_error(Errc::kIo, "create " + path->parent_path().string() + ": " + ec.message());
  std::filesystem::create_directories(root_ / staging_, ec);
  if (ec) return make_error(Errc::kIo, "create " + (root_ / staging_).string() + ": " + ec.message());
  // Several delivery streams may write to one bucket at once: every staged file has its own name.
  static std::atomic<uint64_t> next{0};
  const auto staged = root_ / staging_ / (std::to_string(::getpid()) + "-" + std::to_string(next++));
  auto st = write_file_atomic(*path, bytes, staged);
  if (!st) std::filesystem::remove(staged, ec);
  return st;
}

void BucketSink::discard_staged() const {
  std::error_code ec;
  std::filesystem::remove_all(root_ / staging_, ec);
}

}  // namespace eddy::delivery
