// Lines of a file descriptor without a copy or allocation per line: the descriptor is read in
// large blocks into a reused buffer, and a pipe's lines come as soon as they arrive. Each line is
// a view valid until the next call and is followed by at least kPadding readable bytes (what
// simdjson needs to parse it in place).
//
// Files are read, not mapped: on the machines we measure (virtualised), mapping 1 GB of page
// cache cost more in page-table work than read()'s copy into a buffer that stays in the cache
// (`eddy sql run` over the 10 M-event seed file: 2.95 s mapped, 2.36 s read).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace eddy {

class LineReader {
 public:
  static constexpr size_t kPadding = 64;  // >= simdjson::SIMDJSON_PADDING

  explicit LineReader(int fd, size_t block = 1 << 20);
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line without its '\n' (a last line without one counts too); false at the end.
  // A read error ends the input as well and is kept in error().
  bool next(std::string_view& line);
  // Or: the next run of whole lines (about `block` bytes; each line with its '\n', except a last
  // line without one), also followed by kPadding readable bytes, valid until the next call.
  bool next_block(std::string_view& lines);
  // Or the same read into `own` (the caller's, reused from call to call), so that the lines stay
  // valid while the reader goes on: for blocks handed to other threads. The reader keeps only
  // the partial line after the block.
  bool next_block(std::string& own, std::string_view& lines);
  // Use one of the three for a whole input.
  const Status& error() const { return error_; }

 private:
  bool fill();  // reads more into buf_ (after moving the unread rest to its front); false at EOF
  // read() into dst, up to n bytes: the count, 0 at EOF or on an error (kept in error_).
  size_t read_some(char* dst, size_t n);

  int fd_;
  size_t block_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  Status error_;
};

}  // namespace eddy
