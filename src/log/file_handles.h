// Descriptors of segment files, bounded. A node holds thousands of shards (and delivery
// journals), each with at least one segment file; if each kept its file open, a node under the
// common limit of 1,024 descriptors would stop near a thousand shards. Instead a segment leases
// its descriptor for each read, write or sync; past the limit, the least recently used idle
// descriptors are closed and reopened when next leased. Mappings (Segment::map) outlive the
// descriptor they were made from, so readers of mapped segments need none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <list>
#include <mutex>
#include <unordered_map>

#include "common/error.h"

namespace eddy::log {

class FileHandles {
 public:
  // The node's own: a quarter of the soft descriptor limit (the rest for sockets and the rest of
  // the server), at least 32, at most 4,096.
  static FileHandles& shared();

  explicit FileHandles(size_t limit) : limit_(limit) {}
  FileHandles(const FileHandles&) = delete;
  FileHandles& operator=(const FileHandles&) = delete;

  class Lease {
   public:
    Lease(Lease&& o) noexcept : owner_(o.owner_), id_(o.id_), fd_(o.fd_) { o.owner_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease();
    int fd() const { return fd_; }

   private:
    friend class FileHandles;
    Lease(FileHandles* owner, uint64_t id, int fd) : owner_(owner), id_(id), fd_(fd) {}
    FileHandles* owner_;
    uint64_t id_;
    int fd_;
  };

  // Takes over `fd`, open on `path` (reopened O_RDWR); returns the file's id.
  uint64_t add(std::filesystem::path path, int fd);
  // The file's descriptor, open until the lease ends (reopened if it was closed).
  Result<Lease> lease(uint64_t id);
  // Closes the file's descriptor and forgets it (no lease may be held).
  void remove(uint64_t id);

  size_t open_count() const;
  size_t limit() const;
  void set_limit(size_t limit);

 private:
  struct Entry {
    std::filesystem::path path;
    int fd = -1;
    int leases = 0;
    std::list<uint64_t>::iterator idle;  // valid when open and not leased
  };
  void release(uint64_t id);
  void close_idle_over_limit();  // with mu_ held

  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Entry> entries_;
  std::list<uint64_t> idle_;  // open and not leased, least recently used first
  uint64_t next_id_ = 1;
  size_t open_ = 0;
  size_t limit_;
};

}  // namespace eddy::log
