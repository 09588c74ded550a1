#include "web/disk_usage.h"

#include <sys/statvfs.h>

namespace eddy::web {

DiskUsage::Figures DiskUsage::get() {
  std::lock_guard lock(mu_);
  const TimestampMs now = clock_.now_ms();
  if (walked_ms_ != INT64_MIN && now - walked_ms_ < refresh_ms_) return last_;
  Figures f;
  std::error_code ec;
  // Links are not followed: the directory's own files only, and no loop.
  for (std::filesystem::recursive_directory_iterator
           it(dir_, std::filesystem::directory_options::skip_permission_denied, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    if (++f.files > kMaxFiles) {
      f.partial = true;
      break;
    }
    std::error_code e;
    if (it->is_regular_file(e)) f.used_bytes += it->file_size(e);
  }
  if (struct statvfs fs{}; statvfs(dir_.c_str(), &fs) == 0) {
    f.filesystem_size_bytes = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize;
    f.filesystem_avail_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  }
  last_ = f;
  walked_ms_ = now;
  return f;
}

}  // namespace eddy::web
