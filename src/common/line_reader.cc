#include "common/line_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace eddy {

LineReader::LineReader(int fd, size_t block) : fd_(fd), block_(block), buf_(block + kPadding) {}

bool LineReader::next_block(std::string_view& lines) {
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

bool LineReader::next_block(std::string& own, std::string_view& lines) {
  own.assign(buf_.data() + pos_, end_ - pos_);  // the partial line the last block left: no '\n' in it
  pos_ = end_ = 0;
  for (;;) {
    if (eof_) {
      if (own.empty()) return false;
      lines = own;  // a last line without '\n'
      own.append(kPadding, '\0');
      lines = {own.data(), lines.size()};
      return true;
    }
    const size_t had = own.size();
    own.resize(had + block_);
    const size_t got = read_some(own.data() + had, block_);
    own.resize(had + got);
    if (const void* nl = ::memrchr(own.data() + had, '\n', got)) {
      const size_t len = static_cast<size_t>(static_cast<const char*>(nl) - own.data()) + 1;
      end_ = own.size() - len;  // the partial line after the block waits in buf_ (it fits: <= block_)
      std::memcpy(buf_.data(), own.data() + len, end_);
      own.resize(len);
      own.append(kPadding, '\0');
      lines = {own.data(), len};
      return true;
    }
    // No line ends in what came: a line longer than the block, or the end. Read on.
  }
}

size_t LineReader::read_some(char* dst, size_t n) {
  ssize_t got;
  do {
    got = ::read(fd_, dst, n);
  } while (got < 0 && errno == EINTR);
  if (got < 0) error_ = make_error(Errc::kIo, std::string("read failed: ") + std::strerror(errno));
  if (got <= 0) {
    eof_ = true;
    return 0;
  }
  return static_cast<size_t>(got);
}

bool LineReader::fill() {
  const size_t rest = end_ - pos_;
  std::memmove(buf_.data(), buf_.data() + pos_, rest);
  pos_ = 0;
  end_ = rest;
  if (buf_.size() - kPadding - end_ < block_ / 2) buf_.resize(buf_.size() * 2);
  const size_t got = read_some(buf_.data() + end_, buf_.size() - kPadding - end_);
  end_ += got;
  return got > 0;
}

bool LineReader::next(std::string_view& line) {
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
