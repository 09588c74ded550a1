// Lines of a file descriptor without a copy or allocation per line. A regular file is mapped
// (the kernel's read copy was a visible share of `eddy sql run`); a pipe is read in large blocks,
// its lines coming as soon as they arrive. Each line is a view valid until the next call and is
// followed by at least kPadding readable bytes (what simdjson needs to parse it in place).
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace eddy {

class LineReader {
 public:
  static constexpr size_t kPadding = 64;  // >= simdjson::SIMDJSON_PADDING

  explicit LineReader(int fd, size_t block = 1 << 20);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line without its '\n' (a last line without one counts too); false at the end.
  // A read error ends the input as well and is kept in error().
  bool next(std::string_view& line);
  // Or: the next run of whole lines (about `block` bytes; each line with its '\n', except a last
  // line without one), also followed by kPadding readable bytes. Do not mix with next().
  bool next_block(std::string_view& lines);
  const Status& error() const { return error_; }
  // Whether `lines` (from next_block) stays valid until the reader is destroyed, not only until
  // the next call: true for the lines of a mapped file, but for its copied tail.
  bool lasting(std::string_view lines) const {
    return map_ != nullptr && lines.data() >= map_ && lines.data() + lines.size() <= map_ + map_size_;
  }

 private:
  bool next_buffered(std::string_view& line);
  void copy_map_tail();
  bool fill();  // reads more into buf_ (after moving the unread rest to its front); false at EOF

  int fd_;
  size_t block_;
  // Mapped file: lines come from map_ while kPadding bytes follow them; the tail is copied to buf_.
  const char* map_ = nullptr;
  size_t map_size_ = 0, map_pos_ = 0;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  Status error_;
};

}  // namespace eddy
