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

// The same lines from a mapped file and from a pipe, with and without a final newline, with
// lines longer than the block, and lines at the very end of the file (inside the padding).
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
      LineReader mapped(fd);
      EXPECT_EQ(read_all(mapped), want);
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
    ::unlink(path);
    if (!final_newline) want.pop_back();
  }
}

}  // namespace
}  // namespace eddy
