#include "delivery/bucket_sink.h"

#include "common/file_util.h"

namespace eddy::delivery {

Result<std::string> BucketSink::bucket_from_arn(std::string_view arn) {
  constexpr std::string_view kPrefix = "arn:aws:s3:::";
  if (!arn.starts_with(kPrefix) || arn.size() == kPrefix.size() || arn.find('/') != std::string_view::npos) {
    return make_error(Errc::kInvalidArgument, "BucketARN must look like arn:aws:s3:::bucket-name, got " + std::string(arn));
  }
  return std::string(arn.substr(kPrefix.size()));
}

Status BucketSink::put(const std::string& bucket, const std::string& key, std::string_view bytes) const {
  if (key.empty() || key.find("..") != std::string::npos || key.front() == '/') {
    return make_error(Errc::kInvalidArgument, "object key '" + key + "' is not allowed in a bucket directory");
  }
  const auto path = root_ / bucket / key;
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return make_error(Errc::kIo, "create " + path.parent_path().string() + ": " + ec.message());
  return write_file_atomic(path, bytes);
}

}  // namespace eddy::delivery
