#include "common/line_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace eddy {

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
    const size_t rest = end_ - pos_;
    std::memmove(buf_.data(), start, rest);
    pos_ = 0;
    end_ = rest;
    if (buf_.size() - kPadding - end_ < block_ / 2) buf_.resize(buf_.size() * 2);
    ssize_t got;
    do {
      got = ::read(fd_, buf_.data() + end_, buf_.size() - kPadding - end_);
    } while (got < 0 && errno == EINTR);
    if (got < 0) error_ = make_error(Errc::kIo, std::string("read failed: ") + std::strerror(errno));
    if (got <= 0) eof_ = true;
    else end_ += static_cast<size_t>(got);
  }
}

}  // namespace eddy
