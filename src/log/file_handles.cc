#include "log/file_handles.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace eddy::log {

FileHandles& FileHandles::shared() {
  static FileHandles handles([] {
    rlimit rl{};
    size_t soft = 1024;
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) soft = static_cast<size_t>(rl.rlim_cur);
    return std::clamp<size_t>(soft / 4, 32, 4096);
  }());
  return handles;
}

FileHandles::Lease::~Lease() {
  if (owner_) owner_->release(id_);
}

uint64_t FileHandles::add(std::filesystem::path path, int fd) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_id_++;
  Entry& e = entries_[id];
  e.path = std::move(path);
  e.fd = fd;
  e.idle = idle_.insert(idle_.end(), id);
  ++open_;
  close_idle_over_limit();
  return id;
}

Result<FileHandles::Lease> FileHandles::lease(uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end())
    return make_error(Errc::kInternal, "segment file handle " + std::to_string(id) + " unknown");
  Entry& e = it->second;
  if (e.fd < 0) {
    // Room first, so that the limit holds while this one opens.
    ++open_;
    close_idle_over_limit();
    e.fd = ::open(e.path.c_str(), O_RDWR | O_CLOEXEC);
    if (e.fd < 0) {
      --open_;
      return io_error("reopen " + e.path.string(), errno);
    }
  } else if (e.leases == 0) {
    idle_.erase(e.idle);
  }
  ++e.leases;
  return Lease(this, id, e.fd);
}

void FileHandles::release(uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  if (--e.leases > 0) return;
  e.idle = idle_.insert(idle_.end(), id);
  close_idle_over_limit();
}

void FileHandles::remove(uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  if (e.fd >= 0) {
    if (e.leases == 0) idle_.erase(e.idle);
    ::close(e.fd);
    --open_;
  }
  entries_.erase(it);
}

void FileHandles::close_idle_over_limit() {
  while (open_ > limit_ && !idle_.empty()) {
    Entry& e = entries_.at(idle_.front());
    idle_.pop_front();
    ::close(e.fd);
    e.fd = -1;
    --open_;
  }
}

size_t FileHandles::open_count() const {
  std::lock_guard lock(mu_);
  return open_;
}

size_t FileHandles::limit() const {
  std::lock_guard lock(mu_);
  return limit_;
}

void FileHandles::set_limit(size_t limit) {
  std::lock_guard lock(mu_);
  limit_ = std::max<size_t>(limit, 1);
  close_idle_over_limit();
}

}  // namespace eddy::log
