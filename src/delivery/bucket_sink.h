// The embedded default destination: a bucket is a directory, arn:aws:s3:::NAME ->
// <data-dir>/bucket/NAME/, and an object appears atomically: it is written and fsynced under
// <data-dir>/bucket/.eddy-staging/ (no bucket name starts with '.'), then renamed into place, so a
// reader of a bucket directory sees whole objects only, never a temporary file.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"

namespace eddy::delivery {

class BucketSink {
 public:
  explicit BucketSink(std::filesystem::path root) : root_(std::move(root)) {}
  // Objects are staged in `<root>/<staging>`, which starts with '.': several nodes sharing one
  // bucket directory (cluster mode) each stage in a folder of their own.
  void set_staging(std::string staging) { staging_ = std::move(staging); }
  // "arn:aws:s3:::NAME" -> NAME, or InvalidArgument.
  static Result<std::string> bucket_from_arn(std::string_view arn);
  // Writes (or rewrites: a retried flush produces the same bytes) bucket/key.
  Status put(const std::string& bucket, const std::string& key, std::string_view bytes) const;
  std::filesystem::path path(const std::string& bucket, const std::string& key) const { return root_ / bucket / key; }
  // Removes what a crash left staged in this sink's staging folder (call before the first put:
  // nothing is writing there then).
  void discard_staged() const;

 private:
  std::filesystem::path root_;
  std::string staging_ = ".eddy-staging";
};

}  // namespace eddy::delivery
