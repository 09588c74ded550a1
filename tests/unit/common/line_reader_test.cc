#include "common/line_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace eddy {
namespace {

std::vector<std::string> read_all(LineReader& r) {
  std::vector<std::string> out;
  std::string_view line;
  while (r.next(line)) {
    // Every line is followed by kPadding readable bytes (ASan catches a read past them).
    volatile char sink = 0;
    for (size_t i = 0; i < LineReader::kPadding; ++i) sink = sink + line.data()[line.size() + i];
    out.emplace_back(line);
  }
  return out;
}

// Blocks of whole lines, split back into lines; `own`: into a buffer of the caller's, whose
// earlier blocks must stay as they were while the reader goes on.
std::vector<std::string> read_blocks(LineReader& r, bool own) {
  std::vector<std::string> out;
  std::vector<std::string> buffers(3);
  std::vector<std::pair<std::string_view, std::string>> kept;  // blocks and a copy of each
  std::string_view block;
  for (size_t n = 0; own ? r.next_block(buffers[n % 3], block) : r.next_block(block); ++n) {
    EXPECT_FALSE(block.empty());
    volatile char sink = 0;
    for (size_t i = 0; i < LineReader::kPadding; ++i) sink = sink + block.data()[block.size() + i];
    if (own) {
      kept.emplace_back(block, std::string(block));
      if (kept.size() > 2) kept.erase(kept.begin());
      for (const auto& [view, copy] : kept) EXPECT_EQ(view, copy);
    }
    size_t start = 0;
    while (start < block.size()) {
      const size_t nl = block.find('\n', start);
      const size_t end = nl == std::string_view::npos ? block.size() : nl;
      out.emplace_back(block.substr(start, end - start));
      start = end + 1;
    }
  }
  return out;
}

// The same lines from a file and from a pipe, line by line and in blocks, with and without a
// final newline, with lines longer than the block.
TEST(LineReader, FilesAndPipesGiveTheSameLines) {
  std::vector<std::string> want;
  std::string text;
  for (int i = 0; i < 3000; ++i) {
    std::string line(static_cast<size_t>(i % 7 == 0 ? 3000 : i % 50), static_cast<char>('a' + i % 26));
    want.push_back(line);
    text += line + "\n";
  }
  for (bool final_newline : {true, false}) {
    std::string body = text;
    if (!final_newline) {
      body += "last";
      want.push_back("last");
    }
    char path[] = "/tmp/eddy-line-reader-XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, body.data(), body.size()), static_cast<ssize_t>(body.size()));
    ::lseek(fd, 0, SEEK_SET);
    {
      LineReader file(fd);
      EXPECT_EQ(read_all(file), want);
    }
    for (bool own : {false, true}) {
      ::lseek(fd, 0, SEEK_SET);
      LineReader file(fd, 1000);
      EXPECT_EQ(read_blocks(file, own), want) << (own ? "own buffers" : "the reader's buffer");
      EXPECT_TRUE(file.error().has_value());
    }
    ::close(fd);
    const std::string command = "cat " + std::string(path);
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    {
      LineReader piped(::fileno(pipe), 1024);
      EXPECT_EQ(read_all(piped), want);
      EXPECT_TRUE(piped.error().has_value());
    }
    ::pclose(pipe);
    pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    {
      LineReader piped(::fileno(pipe), 1024);
      EXPECT_EQ(read_blocks(piped, true), want);
    }
    ::pclose(pipe);
    ::unlink(path);
    if (!final_newline) want.pop_back();
  }
}

}  // namespace
}  // namespace eddy
