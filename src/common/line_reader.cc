#include "common/line_reader.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14; older kernels answer EINVAL and pages fault in as before
#endif

namespace eddy {
namespace {

// Maps a block's pages in one call: faulting them in one by one on first touch cost several
// per cent of `eddy sql run` (the kernel's trap per fault-around group).
void populate(const char* map, size_t from, size_t to) {
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t start = from / page * page;
  if (to > start) ::madvise(const_cast<char*>(map + start), to - start, MADV_POPULATE_READ);
}

}  // namespace

LineReader::LineReader(int fd, size_t block) : fd_(fd), block_(block), buf_(block + kPadding) {
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      ::madvise(p, static_cast<size_t>(st.st_size), MADV_SEQUENTIAL);
      map_ = static_cast<const char*>(p);
      map_size_ = static_cast<size_t>(st.st_size);
    }
  }
}

LineReader::~LineReader() {
  if (map_) ::munmap(const_cast<char*>(map_), map_size_);
}

bool LineReader::next(std::string_view& line) {
  if (map_ && map_pos_ < map_size_) {
    const char* start = map_ + map_pos_;
    const void* nl = std::memchr(start, '\n', map_size_ - map_pos_);
    const size_t len = nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) : map_size_ - map_pos_;
    if (map_pos_ + len + kPadding <= map_size_) {
      line = {start, len};
      map_pos_ += len + 1;
      return true;
    }
    copy_map_tail();
  }
  return next_buffered(line);
}

// The last bytes of the file: copied, so that the padding after them is ours to read.
void LineReader::copy_map_tail() {
  const size_t rest = map_size_ - map_pos_;
  buf_.assign(rest + kPadding, '\0');
  std::memcpy(buf_.data(), map_ + map_pos_, rest);
  pos_ = 0;
  end_ = rest;
  eof_ = true;
  map_pos_ = map_size_;
}

bool LineReader::next_block(std::string_view& lines) {
  if (map_ && map_pos_ < map_size_) {
    const size_t want = std::min(map_size_, map_pos_ + block_);
    populate(map_, map_pos_, std::min(map_size_, want + kPadding));
    size_t end = map_size_;
    if (want < map_size_) {
      if (const void* nl = ::memrchr(map_ + map_pos_, '\n', want - map_pos_)) {
        end = static_cast<size_t>(static_cast<const char*>(nl) - map_) + 1;
      } else if (const void* next = std::memchr(map_ + want, '\n', map_size_ - want)) {
        end = static_cast<size_t>(static_cast<const char*>(next) - map_) + 1;  // a line longer than the block
      }
    }
    if (end + kPadding <= map_size_) {
      lines = {map_ + map_pos_, end - map_pos_};
      map_pos_ = end;
      return true;
    }
    copy_map_tail();
  }
  for (;;) {
    if (pos_ < end_) {
      const char* start = buf_.data() + pos_;
      if (const void* nl = ::memrchr(start, '\n', end_ - pos_)) {
        const size_t len = static_cast<size_t>(static_cast<const char*>(nl) - start) + 1;
        lines = {start, len};
        pos_ += len;
        return true;
      }
      if (eof_) {
        lines = {start, end_ - pos_};
        pos_ = end_;
        return true;
      }
    } else if (eof_) {
      return false;
    }
    fill();
  }
}

bool LineReader::fill() {
  const size_t rest = end_ - pos_;
  std::memmove(buf_.data(), buf_.data() + pos_, rest);
  pos_ = 0;
  end_ = rest;
  if (buf_.size() - kPadding - end_ < block_ / 2) buf_.resize(buf_.size() * 2);
  ssize_t got;
  do {
    got = ::read(fd_, buf_.data() + end_, buf_.size() - kPadding - end_);
  } while (got < 0 && errno == EINTR);
  if (got < 0) error_ = make_error(Errc::kIo, std::string("read failed: ") + std::strerror(errno));
  if (got <= 0) {
    eof_ = true;
    return false;
  }
  end_ += static_cast<size_t>(got);
  return true;
}

bool LineReader::next_buffered(std::string_view& line) {
  for (;;) {
    const char* start = buf_.data() + pos_;
    if (const void* nl = std::memchr(start, '\n', end_ - pos_)) {
      const size_t len = static_cast<size_t>(static_cast<const char*>(nl) - start);
      line = {start, len};
      pos_ += len + 1;
      return true;
    }
    if (eof_) {
      if (pos_ == end_) return false;
      line = {start, end_ - pos_};
      pos_ = end_;
      return true;
    }
    // Keep the partial line, make room (a line longer than the block grows the buffer), read on.
    fill();
  }
}

}  // namespace eddy
