#include "log/segment.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/digest.h"
#include "common/file_util.h"
#include "log/file_handles.h"

namespace eddy::log {
namespace {

Status pwrite_all(int fd, std::string_view bytes, uint64_t position, const std::string& what) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(position + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write " + what, errno);
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

// Reads up to `n` bytes at `position`; fewer only at end of file.
Result<size_t> pread_some(int fd, char* buf, size_t n, uint64_t position, const std::string& what) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(position + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return io_error("read " + what, errno);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

}  // namespace

Segment::Segment(std::filesystem::path path, int fd, Offset base)
    : path_(std::move(path)), handle_(FileHandles::shared().add(path_, fd)), base_(base), next_(base) {}

Segment::~Segment() {
  FileHandles::shared().remove(handle_);
}

std::string Segment::file_name(Offset base) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020llu.log", static_cast<unsigned long long>(base));
  return buf;
}

std::filesystem::path Segment::index_path() const {
  auto p = path_;
  p.replace_extension(".index");
  return p;
}

Result<std::shared_ptr<Segment>> Segment::create(const std::filesystem::path& dir, Offset base) {
  auto path = dir / file_name(base);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("create " + path.string(), errno);
  auto seg = std::shared_ptr<Segment>(new Segment(path, fd, base));
  if (auto st = fsync_dir(dir); !st) return tl::unexpected(st.error());
  return seg;
}

Result<std::shared_ptr<Segment>> Segment::open(const std::filesystem::path& path, Offset base, bool recover,
                                               size_t index_interval_bytes) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return io_error("open " + path.string(), errno);
  auto seg = std::shared_ptr<Segment>(new Segment(path, fd, base));
  if (!recover && seg->load_index()) return seg;
  if (auto st = seg->scan(recover, index_interval_bytes); !st) return tl::unexpected(st.error());
  return seg;
}

// Walks every batch from the start. With `truncate_invalid_tail`, the file is cut at the first
// batch that is incomplete, fails its CRC, or does not continue the offset sequence.
Status Segment::scan(bool truncate_invalid_tail, size_t index_interval_bytes) {
  auto file = FileHandles::shared().lease(handle_);
  if (!file) return tl::unexpected(file.error());
  const int fd = file->fd();
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error("stat " + path_.string(), errno);
  const auto file_size = static_cast<uint64_t>(st.st_size);
  index_.clear();
  next_ = base_;
  size_ = 0;
  last_indexed_position_ = 0;
  std::string buf;
  uint64_t pos = 0;
  while (pos < file_size) {
    buf.resize(kBatchHeaderBytes);
    auto got = pread_some(fd, buf.data(), kBatchHeaderBytes, pos, path_.string());
    if (!got) return tl::unexpected(got.error());
    BatchHeader h{};
    if (*got < kBatchHeaderBytes || !decode_batch_header(buf, h) || h.base_offset != next_ ||
        pos + h.total_bytes() > file_size || h.count == 0) {
      break;
    }
    buf.resize(h.total_bytes());
    got = pread_some(fd, buf.data(), h.total_bytes(), pos, path_.string());
    if (!got) return tl::unexpected(got.error());
    if (*got < h.total_bytes() || !verify_batch(buf, h)) break;
    if (index_.empty() || pos - last_indexed_position_ >= index_interval_bytes) {
      index_.push_back({h.base_offset, h.arrival_ms, pos});
      last_indexed_position_ = pos;
    }
    if (next_ == base_) first_ts_ = h.arrival_ms;
    last_ts_ = h.arrival_ms;
    next_ = h.base_offset + h.count;
    pos += h.total_bytes();
  }
  size_ = pos;
  if (pos < file_size) {
    if (!truncate_invalid_tail) {
      return make_error(Errc::kCorruption, "corrupt batch at byte " + std::to_string(pos) + " of " + path_.string());
    }
    if (::ftruncate(fd, static_cast<off_t>(pos)) != 0) return io_error("truncate " + path_.string(), errno);
    if (::fsync(fd) != 0) return io_error("fsync " + path_.string(), errno);
  }
  return {};
}

Status Segment::append(std::string_view batch, Offset base_offset, uint32_t count, TimestampMs arrival_ms,
                       size_t index_interval_bytes) {
  auto file = FileHandles::shared().lease(handle_);
  if (!file) return tl::unexpected(file.error());
  if (auto st = pwrite_all(file->fd(), batch, size_, path_.string()); !st) {
    // Leave no partial batch behind: the next append would otherwise follow garbage.
    if (::ftruncate(file->fd(), static_cast<off_t>(size_)) != 0) { /* recovery truncates it on open */
    }
    return st;
  }
  if (index_.empty() || size_ - last_indexed_position_ >= index_interval_bytes) {
    index_.push_back({base_offset, arrival_ms, size_});
    last_indexed_position_ = size_;
  }
  if (next_ == base_) first_ts_ = arrival_ms;
  last_ts_ = arrival_ms;
  next_ = base_offset + count;
  size_ += batch.size();
  return {};
}

Status Segment::sync() const {
  auto file = FileHandles::shared().lease(handle_);
  if (!file) return tl::unexpected(file.error());
  if (::fdatasync(file->fd()) != 0) return io_error("fdatasync " + path_.string(), errno);
  return {};
}

// Index file: entries (u64 offset, i64 ts, u64 pos), then u64 next_offset, u64 size, i64 first_ts,
// i64 last_ts, u32 crc32c of everything before it.
Status Segment::write_index() const {
  std::string out;
  auto put = [&out](const auto& v) { out.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  for (const auto& e : index_) {
    put(e.offset);
    put(e.arrival_ms);
    put(e.position);
  }
  put(next_);
  put(size_);
  put(first_ts_);
  put(last_ts_);
  put(crc32c(out));
  return write_file_atomic(index_path(), out);
}

bool Segment::load_index() {
  auto bytes = read_file(index_path());
  if (!bytes || bytes->size() < 36 || (bytes->size() - 36) % 24 != 0) return false;
  const std::string& b = *bytes;
  uint32_t crc;
  std::memcpy(&crc, b.data() + b.size() - 4, 4);
  if (crc != crc32c(std::string_view(b).substr(0, b.size() - 4))) return false;
  const size_t n = (b.size() - 36) / 24;
  index_.resize(n);
  for (size_t i = 0; i < n; ++i) std::memcpy(&index_[i], b.data() + i * 24, 24);
  const char* t = b.data() + n * 24;
  std::memcpy(&next_, t, 8);
  std::memcpy(&size_, t + 8, 8);
  std::memcpy(&first_ts_, t + 16, 8);
  std::memcpy(&last_ts_, t + 24, 8);
  auto file = FileHandles::shared().lease(handle_);
  struct stat st {};
  if (!file || ::fstat(file->fd(), &st) != 0 || static_cast<uint64_t>(st.st_size) < size_) return false;
  last_indexed_position_ = index_.empty() ? 0 : index_.back().position;
  return true;
}

void Segment::remove_files() const {
  std::error_code ec;
  std::filesystem::remove(index_path(), ec);
  std::filesystem::remove(path_, ec);
}

Status Segment::read_at(uint64_t position, uint64_t limit, std::string& out) const {
  if (position >= limit) return {};
  const size_t start = out.size();
  out.resize(start + (limit - position));
  auto file = FileHandles::shared().lease(handle_);
  if (!file) return tl::unexpected(file.error());
  auto got = pread_some(file->fd(), out.data() + start, limit - position, position, path_.string());
  if (!got) return tl::unexpected(got.error());
  out.resize(start + *got);
  return {};
}

Result<size_t> Segment::read_into(uint64_t position, char* out, size_t n) const {
  auto file = FileHandles::shared().lease(handle_);
  if (!file) return tl::unexpected(file.error());
  return pread_some(file->fd(), out, n, position, path_.string());
}

uint64_t Segment::seek_past(Offset offset) const {
  auto it = std::upper_bound(index_.begin(), index_.end(), offset,
                             [](Offset o, const IndexEntry& e) { return o < e.offset; });
  return it == index_.end() ? size_ : it->position;
}

uint64_t Segment::seek_offset(Offset offset) const {
  auto it = std::upper_bound(index_.begin(), index_.end(), offset,
                             [](Offset o, const IndexEntry& e) { return o < e.offset; });
  return it == index_.begin() ? 0 : std::prev(it)->position;
}

uint64_t Segment::seek_time(TimestampMs ts) const {
  // Arrival times never decrease within a shard, so the last entry strictly before `ts` is a
  // safe start: every record at or after `ts` follows it.
  auto it = std::lower_bound(index_.begin(), index_.end(), ts,
                             [](const IndexEntry& e, TimestampMs t) { return e.arrival_ms < t; });
  return it == index_.begin() ? 0 : std::prev(it)->position;
}

}  // namespace eddy::log
