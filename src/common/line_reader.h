// Lines of a file descriptor, read in large blocks: no per-line copy or allocation. Each line is
// a view into the block, valid until the next call, and followed by at least kPadding readable
// bytes (what simdjson needs to parse it in place). A pipe's lines come as soon as they arrive.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace eddy {

class LineReader {
 public:
  static constexpr size_t kPadding = 64;  // >= simdjson::SIMDJSON_PADDING

  explicit LineReader(int fd, size_t block = 1 << 20) : fd_(fd), block_(block), buf_(block + kPadding) {}

  // The next line without its '\n' (a last line without one counts too); false at the end.
  // A read error ends the input as well and is kept in error().
  bool next(std::string_view& line);
  const Status& error() const { return error_; }

 private:
  int fd_;
  size_t block_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  Status error_;
};

}  // namespace eddy
